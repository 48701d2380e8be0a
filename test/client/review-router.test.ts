/** The reviewer tool's route table: which handler a request reaches, and 404/405 when none does. */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { route, Router, type PathParams } from '../../client/review/router';

const calls: string[] = [];
const handler = (name: string) => (_ctx: unknown, params: object) => void calls.push(`${name} ${JSON.stringify(params)}`);

const router = new Router<unknown>([
  route('GET', '/login', handler('login'), { public: true }),
  route('GET', '/', handler('queue')),
  route('GET', '/briefs/:id', handler('brief')),
  route('GET', '/blobs/*', handler('blob')),
  route('HEAD', '/blobs/*', handler('blob')),
  route('GET', '/api/briefs/:id', handler('apiBrief')),
  route('POST', '/api/briefs/:id/review', handler('review')),
]);

/** Runs what `method path` matches and says what it reached. */
function reach(method: string, path: string): string {
  const m = router.match(method, path);
  if (m.status !== 200) return m.status === 405 ? `405 allow ${m.allow.join(',')}` : '404';
  calls.length = 0;
  void m.route.handler(undefined, m.params);
  return calls[0]!;
}

describe('router', () => {
  it('reaches the handler for a method and path, with the params named in the pattern', () => {
    expect(reach('GET', '/')).toBe('queue {}');
    expect(reach('GET', '/briefs/brief-1')).toBe('brief {"id":"brief-1"}');
    expect(reach('POST', '/api/briefs/b%20x/review')).toBe('review {"id":"b%20x"}');
    expect(reach('GET', '/blobs/b/candidates/r1-c01.png')).toBe('blob {"rest":"b/candidates/r1-c01.png"}');
    expect(reach('HEAD', '/blobs/a//b')).toBe('blob {"rest":"a//b"}');
    // The rest may be empty (the handler refuses an empty key), but the slash is needed.
    expect(reach('GET', '/blobs/')).toBe('blob {"rest":""}');
  });

  it('answers 404 for a path no route has: extra or missing segments, empty params, unknown prefixes', () => {
    for (const path of ['/nothing', '/briefs', '/briefs/', '/briefs/a/b', '/api/briefs/', '/api/briefs/a/review/x', '/blobs', '//', '/login/']) {
      expect({ path, got: reach('GET', path) }).toEqual({ path, got: '404' });
    }
    expect(router.match('PUT', '/nothing')).toEqual({ status: 404, public: false });
  });

  it('answers 405 with the methods the path does take, each once', () => {
    expect(reach('POST', '/')).toBe('405 allow GET');
    expect(reach('PUT', '/briefs/x')).toBe('405 allow GET');
    expect(reach('GET', '/api/briefs/x/review')).toBe('405 allow POST');
    expect(reach('DELETE', '/blobs/a.png')).toBe('405 allow GET,HEAD');
    // HEAD is only answered where a route says so.
    expect(reach('HEAD', '/')).toBe('405 allow GET');
  });

  it('says whether the path is answered without a login, for a wrong method too', () => {
    expect(router.match('GET', '/login')).toMatchObject({ status: 200, public: true });
    expect(router.match('POST', '/login')).toEqual({ status: 405, allow: ['GET'], public: true });
    expect(router.match('GET', '/')).toMatchObject({ status: 200, public: false });
    expect(router.match('POST', '/')).toMatchObject({ status: 405, public: false });
  });

  it('refuses a pattern that is not a path, and types params from the pattern', () => {
    expect(() => route('GET', 'briefs/:id', handler('x'))).toThrow(/starts with \//);
    expectTypeOf<PathParams<'/api/briefs/:id/review'>>().toEqualTypeOf<{ id: string }>();
    expectTypeOf<PathParams<'/a/:x/b/:y'>>().toEqualTypeOf<{ x: string; y: string }>();
    expectTypeOf<PathParams<'/blobs/*'>>().toEqualTypeOf<{ rest: string }>();
    expectTypeOf<keyof PathParams<'/'>>().toEqualTypeOf<never>();
  });
});
