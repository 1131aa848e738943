import { IncomingMessage, ServerResponse, type RequestListener } from 'node:http';
import type { ErrorRequestHandler, Express, NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError, AppErrorCode } from '../errors/app-error.js';

/** One method's handler chain on one route template. */
type Chains = Map<string, readonly RequestHandler[]>;

interface PatternRoute {
  template: string;
  regex: RegExp;
  names: readonly string[];
  chains: Chains;
}

/** What {@link DirectRoutes.listener} runs around a matched route's chain. */
export interface DirectListenerOptions {
  /** The app-level middleware every request goes through first (request id, access log, metrics, headers...). */
  prelude: readonly RequestHandler[];
  /** The app's error translator: errors of a direct route are answered exactly as Express would have them. */
  onError: ErrorRequestHandler;
  /** Requests to leave to Express even on a registered path (e.g. ones host routing rewrites). */
  bypass?: (req: IncomingMessage) => boolean;
}

interface Match {
  chain: readonly RequestHandler[];
  template: string;
  params: Record<string, string>;
}

/**
 * Routes that nearly every request takes (the MCP endpoints), served ahead of Express: one exact lookup, then the
 * app's prelude middleware and the route's handler chain, run in a plain loop. Express's router instead tests each
 * app-level layer and each registered route in turn and allocates per step, a visible share of a relayed tool call's
 * CPU and allocations on this server (docs/benchmarks.md).
 *
 * Only canonical paths are taken here: exactly the template (`/mcp`, `/servers/x/mcp`), any query string. Anything
 * else — a trailing slash, other letter case, a method not registered — goes to the Express app, whose routers serve
 * the same routes with the same handlers, so behaviour is the same either way. Handlers see what Express would give
 * them: the app's request and response prototypes, `req.params`, `req.route.path` (the template, for the metrics
 * label), `req.baseUrl` and `req.originalUrl`. Errors, thrown or rejected, go to the app's error translator.
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

  /** The route `req` takes here, if any. */
  private match(req: IncomingMessage): Match | undefined {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    const method = req.method ?? 'GET';
    const exact = this.exact.get(path)?.get(method);
    if (exact) return { chain: exact, template: path, params: {} };
    for (const route of this.patterns) {
      const chain = route.chains.get(method);
      const found = chain && route.regex.exec(path);
      if (!found) continue;
      const params: Record<string, string> = {};
      try {
        route.names.forEach((name, index) => (params[name] = decodeURIComponent(found[index + 1]!)));
      } catch {
        // A malformed escape: the router answers it as it always did.
        return undefined;
      }
      return { chain: chain!, template: route.template, params };
    }
    return undefined;
  }

  /** The server's request listener: registered routes here, everything else through `app`. */
  listener(app: Express, options: DirectListenerOptions): RequestListener {
    // Each route's chain with the prelude in front, built on first use instead of per request.
    const withPrelude = new WeakMap<readonly RequestHandler[], readonly RequestHandler[]>();
    const fullChain = (chain: readonly RequestHandler[]) => {
      let full = withPrelude.get(chain);
      if (!full) withPrelude.set(chain, (full = [...options.prelude, ...chain]));
      return full;
    };
    return (incoming, outgoing) => {
      const match = options.bypass?.(incoming) ? undefined : this.match(incoming);
      if (!match) return app(incoming, outgoing);
      // What Express's app.handle does before routing: link request and response and give them the app's prototypes
      // (req.get, req.ip with the trust-proxy setting, res.status...), and what its router sets on the way.
      const req = incoming as Request;
      const res = outgoing as Response;
      req.res = res;
      res.req = req;
      // Instances of expressReadyClasses() already inherit from the app's prototypes: changing an object's prototype
      // per request costs a new hidden class and its allocations.
      if (!Object.prototype.isPrototypeOf.call(app.request, req)) Object.setPrototypeOf(req, app.request);
      if (!Object.prototype.isPrototypeOf.call(app.response, res)) Object.setPrototypeOf(res, app.response);
      res.locals ??= Object.create(null) as Record<string, unknown>;
      req.originalUrl ??= req.url;
      req.baseUrl = '';
      const onError = (error: unknown) => options.onError(error, req, res, () => undefined);
      run(fullChain(match.chain), match.template, match.params, req, res, (error?: unknown) =>
        // A chain ends by answering; one that runs out of handlers answered nothing, which is a route that does not exist.
        onError(error ?? new AppError(AppErrorCode.NotFound, `No route for ${req.method} ${match.template}`)),
      );
    };
  }
}

function run(
  handlers: readonly RequestHandler[],
  template: string,
  params: Record<string, string>,
  req: Request,
  res: Response,
  done: NextFunction,
): void {
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

/** Request and response classes for `http.createServer` whose instances inherit an Express app's prototypes. */
export interface ExpressReadyClasses {
  IncomingMessage: typeof IncomingMessage;
  ServerResponse: typeof ServerResponse;
  /** Puts `app`'s request and response prototypes under the classes (once, when the app exists). */
  adopt(app: Express): void;
}

/**
 * Node request and response classes that can be given an Express app's prototypes once, so requests start out with
 * `req.get`, `res.status` and the rest instead of having their prototype swapped on every request (which Express and
 * {@link DirectRoutes.listener} otherwise do, at the cost of a new hidden class per object).
 */
export function expressReadyClasses(): ExpressReadyClasses {
  class AppRequest extends IncomingMessage {}
  class AppResponse<Req extends IncomingMessage = IncomingMessage> extends ServerResponse<Req> {}
  return {
    IncomingMessage: AppRequest,
    ServerResponse: AppResponse as typeof ServerResponse,
    adopt(app) {
      Object.setPrototypeOf(AppRequest.prototype, app.request);
      Object.setPrototypeOf(AppResponse.prototype, app.response);
    },
  };
}
