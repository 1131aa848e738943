import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { OAuthError, OAuthErrorCode } from '../../auth/oauth-error.js';
import { AppError, AppErrorCode } from '../../errors/app-error.js';
import type { Logger } from '../../logging/logger.js';
import { JsonRpcErrorCode, jsonRpcTransportError } from '../../mcp/jsonrpc-errors.js';
import { drainThen } from './json-body.js';

/** Marks a route as an MCP endpoint, so its errors are rendered as JSON-RPC error responses. */
export const markMcpRoute: RequestHandler = function markMcpRoute(_req, res, next) {
  res.locals.mcpRoute = true;
  next();
};

/** The JSON 404 for every path nothing else answered. */
export const notFound: RequestHandler = function notFound(req, _res, next) {
  next(new AppError(AppErrorCode.NotFound, `No route for ${req.method} ${req.path}`));
};

/**
 * body-parser failures, by their `type`, as our own errors; any other 4xx `http-errors` error (Express's router on a
 * path it cannot decode, body-parser on a body that does not inflate) is the client's mistake, answered 400.
 */
function fromHttpError(error: Error & { type?: string; status?: number; expose?: boolean }): AppError | undefined {
  switch (error.type) {
    case 'entity.too.large':
      return new AppError(AppErrorCode.BodyTooLarge, 'Request body too large (MAX_BODY_BYTES)');
    case 'entity.parse.failed':
      return new AppError(AppErrorCode.InvalidJson, 'Parse error: request body is not valid JSON');
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new AppError(AppErrorCode.UnsupportedMediaType, error.message ?? 'Unsupported encoding');
    case 'request.aborted':
    case 'request.size.invalid':
      return new AppError(AppErrorCode.InvalidJson, 'Request body was cut short');
    default:
      if (
        (error.expose === true || error instanceof URIError) &&
        typeof error.status === 'number' &&
        error.status >= 400 &&
        error.status < 500
      ) {
        return new AppError(AppErrorCode.InvalidRequest, `Bad request: ${error.message ?? 'malformed request'}`);
      }
      return undefined;
  }
}

function jsonRpcCode(code: AppErrorCode): JsonRpcErrorCode {
  switch (code) {
    case AppErrorCode.InvalidJson:
      return JsonRpcErrorCode.ParseError;
    case AppErrorCode.InvalidRequest:
      return JsonRpcErrorCode.InvalidRequest;
    case AppErrorCode.SessionNotFound:
      return JsonRpcErrorCode.SessionNotFound;
    case AppErrorCode.Internal:
      return JsonRpcErrorCode.InternalError;
    default:
      return JsonRpcErrorCode.ServerError;
  }
}

function render(res: Response, error: AppError, requestId: string | undefined): void {
  const retryAfter = error.details?.retryAfter;
  if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(retryAfter));
  res.status(error.status);
  if (res.locals.mcpRoute) {
    res.json(jsonRpcTransportError(jsonRpcCode(error.code), error.message, { error: error.code, requestId, ...error.details }));
  } else {
    res.json({ error: error.code, message: error.message, requestId, ...error.details });
  }
}

/**
 * OAuth errors as RFC 6749 §5.2 JSON (`error`, `error_description`), never cached, with the challenge header when the
 * error carries one (RFC 6750 §3, Basic for `invalid_client`). A 5xx hides its message.
 */
function renderOAuth(res: Response, error: OAuthError, logger: Logger, path: string): void {
  if (error.challenge) res.setHeader('WWW-Authenticate', error.challenge);
  res.setHeader('Cache-Control', 'no-store');
  res.status(error.status);
  // Read by the metrics middleware (oauth_errors_total): the code, never the description.
  res.locals.oauthError = error.status >= 500 ? OAuthErrorCode.ServerError : error.code;
  if (error.status >= 500) {
    logger.warn('oauth server error', { error: error.message, path, category: 'internal' });
    res.json({ error: OAuthErrorCode.ServerError });
    return;
  }
  logger.debug('oauth error', { code: error.code, status: error.status, path, category: 'client' });
  res.json({ error: error.code, error_description: error.message });
}

/**
 * Whether a body is still coming in that nothing read: the request was refused before its body (authentication,
 * routing, the drain gate). Answering then closing a connection the client is still writing to resets it, and the
 * client often never reads the answer; so the rest is read first, within the bounds a 413 is drained with.
 */
function unreadBody(req: Request, res: Response): boolean {
  if (req.complete || req.readableEnded || req.destroyed || res.locals.bodyAbandoned === true) return false;
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length']) > 0;
}

/**
 * The one error translator. Known problems keep their status and message; anything else is logged with its stack
 * and answered as an opaque 500 carrying only the request id — internals never reach the client.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return function translateError(error: unknown, req, res, _next) {
    const requestId = res.locals.requestId as string | undefined;
    const known = error instanceof AppError ? error : fromHttpError(error as Error);
    if (res.headersSent) {
      logger.warn('error after response started', { error, path: req.path, category: 'internal' });
      res.end();
      return;
    }
    if (unreadBody(req, res)) return drainThen(req, res, 0, () => translateError(error, req, res, _next));
    if (error instanceof OAuthError) {
      renderOAuth(res, error, logger, req.path);
      return;
    }
    if (known) {
      // A shutdown's refusals are expected, one per request that arrives while draining: not a fault.
      if (known.status >= 500 && known.code !== AppErrorCode.ShuttingDown)
        logger.warn('request refused', {
          code: known.code,
          path: req.path,
          category: 'internal',
          ...(known.cause ? { cause: known.cause } : {}),
        });
      else logger.debug('client error', { code: known.code, status: known.status, path: req.path, category: 'client' });
      render(res, known, requestId);
      return;
    }
    logger.error('unhandled error', { error, method: req.method, path: req.path, category: 'internal' });
    render(res, new AppError(AppErrorCode.Internal, 'Internal server error'), requestId);
  };
}
