/**
 * A route table: method, path pattern, handler. A pattern is `/`-separated segments: literal
 * text, `:name` for one non-empty segment, or a final `*` for the rest of the path (`rest`).
 * A path no route matches is 404; a path that routes match only under other methods is 405,
 * with the methods they answer (for an `Allow` header).
 */

export type Method = 'GET' | 'HEAD' | 'POST';

/** The param names in a path pattern: `/a/:x/b/:y` → `'x' | 'y'`; a final `*` is `'rest'`. */
type ParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : P extends `${string}*`
      ? 'rest'
      : never;

/** A handler's params for a path pattern: `/api/briefs/:id/review` → `{ id: string }`. */
export type PathParams<P extends string> = { [K in ParamNames<P>]: string };

type Params = Readonly<Record<string, string>>;

export interface HttpRoute<C> {
  method: Method;
  path: string;
  handler: (ctx: C, params: Params) => Promise<void> | void;
  /** Answered without a login. */
  public: boolean;
}

/** A row of the table; the handler's `params` are typed from the pattern. */
export function route<C, P extends string>(method: Method, path: P, handler: (ctx: C, params: PathParams<P>) => Promise<void> | void, opts: { public?: boolean } = {}): HttpRoute<C> {
  if (!path.startsWith('/')) throw new Error(`route ${path}: a path pattern starts with /`);
  return { method, path, handler: handler as HttpRoute<C>['handler'], public: opts.public ?? false };
}

export type Match<C> =
  | { status: 200; route: HttpRoute<C>; params: Params; public: boolean }
  | { status: 404; public: false }
  | { status: 405; allow: Method[]; public: boolean };

const segments = (path: string) => path.split('/').slice(1);

/** The params when `path` fits `pattern` (both as segments), else undefined. */
function fit(pattern: readonly string[], path: readonly string[]): Params | undefined {
  const params: Record<string, string> = {};
  for (const [i, p] of pattern.entries()) {
    const segment = path[i];
    if (segment === undefined) return undefined;
    if (p === '*') {
      params.rest = path.slice(i).join('/');
      return params;
    }
    if (p.startsWith(':')) {
      if (!segment) return undefined;
      params[p.slice(1)] = segment;
    } else if (p !== segment) return undefined;
  }
  return pattern.length === path.length ? params : undefined;
}

export class Router<C> {
  private readonly table: ReadonlyArray<{ route: HttpRoute<C>; pattern: string[] }>;

  constructor(routes: readonly HttpRoute<C>[]) {
    this.table = routes.map((r) => ({ route: r, pattern: segments(r.path) }));
  }

  /** The route for `method` on `path` (the path only: no query), or why there is none. */
  match(method: string, path: string): Match<C> {
    const found = this.table.flatMap(({ route, pattern }) => {
      const params = fit(pattern, segments(path));
      return params ? [{ route, params }] : [];
    });
    if (found.length === 0) return { status: 404, public: false };
    const isPublic = found.every((f) => f.route.public);
    const hit = found.find((f) => f.route.method === method);
    if (hit) return { status: 200, ...hit, public: hit.route.public };
    return { status: 405, allow: [...new Set(found.map((f) => f.route.method))], public: isPublic };
  }
}
