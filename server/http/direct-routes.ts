import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** One method's handler chain on one route template. */
type Chains = Map<string, readonly RequestHandler[]>;

interface PatternRoute {
  template: string;
  regex: RegExp;
  names: readonly string[];
  chains: Chains;
}

/**
 * Routes that nearly every request takes (the MCP endpoints), dispatched by one exact lookup instead of Express's
 * router testing each registered route's pattern in turn and dispatching through a route stack: that walk was about
 * a tenth of a tool call's CPU on this server.
 *
 * Only canonical paths are taken here: exactly the template (`/mcp`, `/servers/x/mcp`), any query string. Anything
 * else — a trailing slash, other letter case, a method not registered — falls through to the regular routers, which
 * serve the same routes with the same handlers, so behaviour is the same either way. Handlers see what the router
 * would give them: `req.params`, and `req.route.path` (the template, for the metrics label). Errors, thrown or
 * rejected, go to the app's error handler as with Express.
 */
export class DirectRoutes {
  private readonly exact = new Map<string, Chains>();
  private readonly patterns: PatternRoute[] = [];

  /**
   * Registers `handlers` for `method` on `template`. `:name` segments match one non-empty path segment each.
   * @throws Error when the template has a parameter that is not a whole segment.
   */
  add(template: string, method: string, handlers: readonly RequestHandler[]): this {
    const names: string[] = [];
    const source = template
      .split('/')
      .map((segment) => {
        if (!segment.startsWith(':')) {
          if (segment.includes(':')) throw new Error(`${template}: a parameter must be a whole path segment`);
          return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        }
        names.push(segment.slice(1));
        return '([^/]+)';
      })
      .join('/');
    if (names.length === 0) {
      const chains = this.exact.get(template) ?? new Map();
      chains.set(method, handlers);
      this.exact.set(template, chains);
      return this;
    }
    let route = this.patterns.find((candidate) => candidate.template === template);
    if (!route) {
      route = { template, regex: new RegExp(`^${source}$`), names, chains: new Map() };
      this.patterns.push(route);
    }
    route.chains.set(method, handlers);
    return this;
  }

  /** The middleware serving registered routes; mount it where the routers it stands in front of are mounted. */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const url = req.url;
      const query = url.indexOf('?');
      const path = query === -1 ? url : url.slice(0, query);
      const exact = this.exact.get(path)?.get(req.method);
      if (exact) return run(exact, path, {}, req, res, next);
      for (const route of this.patterns) {
        const chain = route.chains.get(req.method);
        const match = chain && route.regex.exec(path);
        if (!match) continue;
        const params: Record<string, string> = {};
        try {
          route.names.forEach((name, index) => (params[name] = decodeURIComponent(match[index + 1]!)));
        } catch {
          // A malformed escape: the router answers it as it always did.
          return next();
        }
        return run(chain!, route.template, params, req, res, next);
      }
      next();
    };
  }
}

function run(handlers: readonly RequestHandler[], template: string, params: Record<string, string>, req: Request, res: Response, done: NextFunction): void {
  req.params = params;
  (req as { route?: unknown }).route = { path: template };
  let index = 0;
  const next: NextFunction = (error?: unknown) => {
    if (error !== undefined && error !== null && error !== 'route' && error !== 'router') return done(error);
    const handler = handlers[index++];
    if (!handler || error === 'route' || error === 'router') return done();
    try {
      const result: unknown = handler(req, res, next);
      if (result instanceof Promise) result.then(undefined, (failure: unknown) => next(failure ?? new Error('Rejected promise')));
    } catch (failure) {
      next(failure);
    }
  };
  next();
}
