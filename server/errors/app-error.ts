/**
 * Codes of HTTP-level problems the server answers itself (not OAuth, not JSON-RPC). Each has a fixed status and an
 * entry in docs/errors.md saying what it means and how to solve it.
 */
export enum AppErrorCode {
  NotFound = 'not_found',
  MethodNotAllowed = 'method_not_allowed',
  BodyTooLarge = 'body_too_large',
  InvalidJson = 'invalid_json',
  InvalidRequest = 'invalid_request',
  UnsupportedMediaType = 'unsupported_media_type',
  OriginNotAllowed = 'origin_not_allowed',
  HostNotAllowed = 'host_not_allowed',
  /** Authenticated, but without the scope the operation needs (operator endpoints need `claude:admin`). */
  Forbidden = 'forbidden',
  SessionNotFound = 'session_not_found',
  /** An operator endpoint with its own bearer token (`/metrics` with METRICS_TOKEN) got no or a wrong token. */
  Unauthorized = 'unauthorized',
  /** A rate limit refused the request; `retryAfter` (seconds) says when to retry. */
  RateLimited = 'rate_limited',
  SessionRequired = 'session_required',
  TooManySessions = 'too_many_sessions',
  /** Something the server depends on (its storage, an external authorization server) did not answer; retry later. */
  ServiceUnavailable = 'service_unavailable',
  /** The server is draining for a shutdown: new work goes elsewhere (503, Retry-After). */
  ShuttingDown = 'shutting_down',
  Internal = 'internal_error',
}

/** Status of each {@link AppErrorCode}. Client mistakes are 4xx; only our own faults are 5xx. */
export const APP_ERROR_STATUS: Readonly<Record<AppErrorCode, number>> = {
  [AppErrorCode.NotFound]: 404,
  [AppErrorCode.MethodNotAllowed]: 405,
  [AppErrorCode.BodyTooLarge]: 413,
  [AppErrorCode.InvalidJson]: 400,
  [AppErrorCode.InvalidRequest]: 400,
  [AppErrorCode.UnsupportedMediaType]: 415,
  [AppErrorCode.OriginNotAllowed]: 403,
  [AppErrorCode.HostNotAllowed]: 403,
  [AppErrorCode.Forbidden]: 403,
  [AppErrorCode.SessionNotFound]: 404,
  [AppErrorCode.Unauthorized]: 401,
  [AppErrorCode.RateLimited]: 429,
  [AppErrorCode.SessionRequired]: 400,
  [AppErrorCode.TooManySessions]: 503,
  [AppErrorCode.ServiceUnavailable]: 503,
  [AppErrorCode.ShuttingDown]: 503,
  [AppErrorCode.Internal]: 500,
};

/**
 * A problem with a stable code and status. Domain code throws it; the one translator in
 * `http/middleware/error-handler.ts` turns it into a JSON body (`{ error, message }`, or a JSON-RPC error on MCP
 * routes). `message` is shown to the client, so it must never carry secrets or internals.
 */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: AppErrorCode,
    message: string,
    /** Extra fields for the JSON body (e.g. `retryAfter`). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = APP_ERROR_STATUS[code];
  }
}
