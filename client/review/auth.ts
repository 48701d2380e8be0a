/**
 * The reviewer tool's access rule: one shared token. The login link trades it for an HttpOnly,
 * SameSite=Strict session cookie that expires (signed with its issue time, so the server, not
 * the browser, decides when); scripts may send the token as `Authorization: Bearer`. A state change also
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

export interface AuthOptions {
  /** How long a login lasts; the cookie's Max-Age, and checked again by the server on every request. @default 12 h */
  sessionTtlMs?: number;
  /** Mark the cookie `Secure`: the tool is reached over https (behind a TLS proxy). @default false */
  secure?: boolean;
  /** @default Date.now */
  clock?: () => number;
}

export const DEFAULT_SESSION_TTL_MS = 12 * 3600 * 1000;

/** `<issued-at, base 36 ms>.<HMAC of it>`: a browser can keep the cookie past Max-Age, but not re-date it. */
const SESSION_VALUE = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/;

/** How far in the future an issued-at may be: two servers' clocks never agree exactly. */
const CLOCK_SKEW_MS = 60_000;

export type SessionState = 'valid' | 'expired' | 'none';

export class Auth {
  /** Sessions are signed with a key derived from the token, so the token itself never sits in the browser's cookie jar, and a new token ends every session. */
  private readonly key: Buffer;
  private readonly ttlMs: number;
  private readonly clock: () => number;

  constructor(private readonly token: string, private readonly opts: AuthOptions = {}) {
    if (token.length < 16) throw new Error('the review token must be at least 16 characters');
    this.key = createHmac('sha256', token).update('darkroom-review-session/v2').digest();
    this.ttlMs = opts.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS;
    if (!Number.isFinite(this.ttlMs) || this.ttlMs < 1000) throw new Error('the review session TTL must be at least 1s');
    this.clock = opts.clock ?? Date.now;
  }

  private sign(issuedAt: string): string {
    return createHmac('sha256', this.key).update(issuedAt).digest('base64url');
  }

  checkToken(candidate: string | null | undefined): boolean {
    return typeof candidate === 'string' && safeEqual(candidate, this.token);
  }

  /** `Set-Cookie` value after a successful login: a session issued now. */
  sessionCookie(): string {
    const issuedAt = Math.floor(this.clock()).toString(36);
    const maxAge = Math.max(1, Math.floor(this.ttlMs / 1000));
    return `${SESSION_COOKIE}=${issuedAt}.${this.sign(issuedAt)}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${this.opts.secure ? '; Secure' : ''}`;
  }

  /** Whether the request carries a session the server issued and that has not expired (or the bearer token). */
  session(req: IncomingMessage): SessionState {
    const auth = req.headers.authorization;
    if (auth && /^Bearer\s+/i.test(auth)) return this.checkToken(auth.replace(/^Bearer\s+/i, '').trim()) ? 'valid' : 'none';
    const m = SESSION_VALUE.exec(parseCookies(req.headers.cookie).get(SESSION_COOKIE) ?? '');
    if (!m || !safeEqual(m[2]!, this.sign(m[1]!))) return 'none';
    const age = this.clock() - parseInt(m[1]!, 36);
    return age < this.ttlMs && age > -CLOCK_SKEW_MS ? 'valid' : 'expired';
  }

  /** True when the request carries a live session cookie or the bearer token. */
  isAuthenticated(req: IncomingMessage): boolean {
    return this.session(req) === 'valid';
  }

  /** True when a state-changing request carries the header only same-origin scripts can set. */
  static hasCsrfHeader(req: IncomingMessage): boolean {
    return req.headers[CSRF_HEADER] === '1';
  }
}
