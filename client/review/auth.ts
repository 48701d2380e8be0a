/**
 * The reviewer tool's access rule: one shared token. The login link trades it for an HttpOnly,
 * SameSite=Strict cookie; scripts may send it as `Authorization: Bearer`. A state change also
 * needs the `X-Darkroom: 1` header, which a cross-site form or image cannot send, so a page on
 * another site cannot make a reviewer's browser decide anything.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SESSION_COOKIE = 'darkroom_review';
export const CSRF_HEADER = 'x-darkroom';

/** A fresh random token for a login link. */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Equal strings, in time that does not depend on where they differ (both are hashed first). */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || out.has(name)) continue;
    try {
      out.set(name, decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      // A malformed cookie is one we did not set: ignore it.
    }
  }
  return out;
}

export class Auth {
  /** The cookie holds a value derived from the token, so the token itself never sits in the browser's cookie jar. */
  private readonly session: string;

  constructor(private readonly token: string) {
    if (token.length < 16) throw new Error('the review token must be at least 16 characters');
    this.session = createHmac('sha256', token).update('darkroom-review-session/v1').digest('base64url');
  }

  checkToken(candidate: string | null | undefined): boolean {
    return typeof candidate === 'string' && safeEqual(candidate, this.token);
  }

  /** `Set-Cookie` value after a successful login. */
  sessionCookie(secure: boolean): string {
    return `${SESSION_COOKIE}=${this.session}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  }

  /** True when the request carries the session cookie or the bearer token. */
  isAuthenticated(req: IncomingMessage): boolean {
    const auth = req.headers.authorization;
    if (auth && /^Bearer\s+/i.test(auth)) return this.checkToken(auth.replace(/^Bearer\s+/i, '').trim());
    const cookie = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
    return typeof cookie === 'string' && safeEqual(cookie, this.session);
  }

  /** True when a state-changing request carries the header only same-origin scripts can set. */
  static hasCsrfHeader(req: IncomingMessage): boolean {
    return req.headers[CSRF_HEADER] === '1';
  }
}
