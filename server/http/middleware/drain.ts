import type { Request, RequestHandler } from 'express';
import { AppError, AppErrorCode } from '../../errors/app-error.js';
import { classifyJsonRpc } from '../../mcp/jsonrpc.js';

/** What a request refused while draining is told: come back (to another replica) in a second. */
export const SHUTTING_DOWN_MESSAGE = 'The server is shutting down; retry the request (another instance will take it)';

function shuttingDown(): AppError {
  return new AppError(AppErrorCode.ShuttingDown, SHUTTING_DOWN_MESSAGE, { retryAfter: 1 });
}

/** Whether a POST body carries a JSON-RPC request (new work), as opposed to only notifications and responses. */
function carriesRequest(body: unknown): boolean {
  return (Array.isArray(body) ? body : [body]).some((message) => classifyJsonRpc(message) === 'request');
}

/**
 * While draining, every answer asks the client to close its connection, so keep-alive connections end with the
 * request they carry and the next one goes to a listening instance. First in the prelude.
 */
export function closeConnectionsWhileDraining(draining: () => boolean): RequestHandler {
  return function closeWhileDraining(_req, res, next) {
    if (draining()) res.setHeader('Connection', 'close');
    next();
  };
}

/**
 * The MCP routes while draining: what finishes work in flight still passes — a POST of only notifications and
 * responses (a cancellation, an answer to an elicitation), a GET resuming a stream (`Last-Event-ID`), a DELETE —
 * and new work (a request, a new session, a new stream) gets 503 `shutting_down` with `Retry-After`.
 */
export function drainGate(draining: () => boolean): RequestHandler {
  return function refuseNewMcpWork(req: Request, _res, next) {
    if (!draining()) return next();
    const finishing =
      req.method === 'DELETE' ||
      (req.method === 'GET' && req.headers['last-event-id'] !== undefined) ||
      (req.method === 'POST' && !carriesRequest(req.body));
    next(finishing ? undefined : shuttingDown());
  };
}

/** Every other route but health and metrics, while draining: 503 `shutting_down` (an OAuth exchange starts over elsewhere). */
export function refuseWhileDraining(draining: () => boolean): RequestHandler {
  return function refuseNewWork(_req, _res, next) {
    next(draining() ? shuttingDown() : undefined);
  };
}
