import express, { type Request, type RequestHandler, type Router } from 'express';
import { AppError, AppErrorCode } from '../../errors/app-error.js';
import { currentContext } from '../../logging/context.js';
import type { Caller } from '../../mcp/caller.js';
import { isJsonRpcPayload } from '../../mcp/jsonrpc.js';
import type { SseEndpoint } from '../../mcp/sse-endpoint.js';
import type { StreamableEndpoint } from '../../mcp/streamable-endpoint.js';
import type { DirectRoutes } from '../direct-routes.js';
import { mcpCors } from '../middleware/cors.js';
import { drainGate } from '../middleware/drain.js';
import { markMcpRoute } from '../middleware/error-handler.js';
import { jsonBody } from '../middleware/json-body.js';
import { requireAllowedOrigin } from '../middleware/origin-check.js';

/** Resolves the caller of a request; throws to refuse it. */
export type Authenticate = (req: Request) => Promise<Caller>;

/** Options of {@link mcpRouter}. */
export interface McpRouterOptions {
  /** `MCP_PATH_PREFIX`: empty or `/something`. */
  prefix: string;
  streamable: StreamableEndpoint;
  sse: SseEndpoint;
  authenticate: Authenticate;
  isOriginAllowed: (origin: string) => boolean;
  maxBodyBytes: number;
  /** Rate limits, run after authentication and body parsing (absent: no limits). */
  limit?: RequestHandler;
  /** Also registers the Streamable HTTP chains here, for dispatch ahead of the router (see {@link DirectRoutes}). */
  direct?: DirectRoutes;
  /** Step-up for tool calls that need a scope the token lacks (absent: no step-up, e.g. authentication off). */
  stepUp?: RequestHandler;
  /** True once shutdown started: new work is refused, what finishes work in flight passes (see drainGate). */
  draining?: () => boolean;
}

/**
 * Every MCP route: Streamable HTTP at `{prefix}/mcp`, legacy HTTP+SSE at `{prefix}/sse` + `{prefix}/messages`, and
 * the aliases `{prefix}/mcp/sse` + `{prefix}/mcp/message` some older clients use.
 */
export function mcpRouter(options: McpRouterOptions): Router {
  const { prefix, streamable, sse, authenticate } = options;
  const router = express.Router();
  // strict: false lets a valid-JSON-but-not-JSON-RPC body reach the SDK, which answers it with -32600.
  const json = jsonBody({ limit: options.maxBodyBytes });
  const jsonRpc: RequestHandler = function requireJsonRpc(req, _res, next) {
    // No parsed body means a non-JSON content type: the SDK answers that with 415.
    if (req.body === undefined || isJsonRpcPayload(req.body)) return next();
    next(new AppError(AppErrorCode.InvalidRequest, 'Invalid Request: the body is not a JSON-RPC 2.0 message'));
  };
  const guard = [markMcpRoute, mcpCors(options.isOriginAllowed), requireAllowedOrigin(options.isOriginAllowed)];
  const limited = options.limit ? [options.limit] : [];
  const scoped = options.stepUp ? [options.stepUp] : [];
  const drain = options.draining ? [drainGate(options.draining)] : [];

  // Authentication comes first: an unauthenticated request gets its 401 challenge whatever its body (checklist B.8).
  const identify: RequestHandler = async function identifyCaller(req, res, next) {
    const caller = await authenticate(req);
    res.locals.caller = caller;
    const context = currentContext();
    if (context) context.principalId = caller.principalId;
    next();
  };

  const streamableHandler: RequestHandler = async function serveStreamable(req, res) {
    await streamable.handle(req, res, req.body, res.locals.caller as Caller);
  };

  router.all(`${prefix}/mcp`, ...guard, (req, res, next) => {
    if (['POST', 'GET', 'DELETE'].includes(req.method)) return next();
    res.setHeader('Allow', 'GET, POST, DELETE, OPTIONS');
    next(new AppError(AppErrorCode.MethodNotAllowed, `${req.method} is not supported on the MCP endpoint`));
  });
  const chains: Record<'POST' | 'GET' | 'DELETE', RequestHandler[]> = {
    POST: [identify, json, jsonRpc, ...drain, ...scoped, ...limited, streamableHandler],
    GET: [identify, ...drain, ...limited, streamableHandler],
    DELETE: [identify, ...drain, ...limited, streamableHandler],
  };
  router.post(`${prefix}/mcp`, ...chains.POST);
  router.get(`${prefix}/mcp`, ...chains.GET);
  router.delete(`${prefix}/mcp`, ...chains.DELETE);
  for (const [method, chain] of Object.entries(chains)) options.direct?.add(`${prefix}/mcp`, method, [...guard, ...chain]);

  const sseRoutes: Array<[string, string]> = [
    [`${prefix}/sse`, `${prefix}/messages`],
    [`${prefix}/mcp/sse`, `${prefix}/mcp/message`],
  ];
  for (const [streamPath, messagesPath] of sseRoutes) {
    const open: RequestHandler[] = [
      ...guard,
      identify,
      ...drain,
      ...limited,
      async function openSse(req, res) {
        await sse.open(req, res, res.locals.caller as Caller, messagesPath);
      },
    ];
    const post: RequestHandler[] = [
      ...guard,
      identify,
      json,
      jsonRpc,
      ...drain,
      ...scoped,
      ...limited,
      async function postSse(req, res) {
        const sessionId = typeof req.query.sessionId === 'string' ? req.query.sessionId : undefined;
        await sse.post(req, res, req.body, res.locals.caller as Caller, sessionId);
      },
    ];
    // A browser client sends custom headers (Authorization, MCP-Protocol-Version), so it preflights both paths.
    router.options([streamPath, messagesPath], ...guard);
    router.get(streamPath, ...open);
    router.post(messagesPath, ...post);
    options.direct?.add(streamPath, 'GET', open);
    options.direct?.add(messagesPath, 'POST', post);
  }
  return router;
}
