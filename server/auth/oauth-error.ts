/**
 * OAuth error codes this server answers with: RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2,
 * RFC 8707 §2 and RFC 7009 §2.2.1. Each has a fixed HTTP status in {@link OAUTH_ERROR_STATUS}.
 */
export enum OAuthErrorCode {
  InvalidRequest = 'invalid_request',
  InvalidClient = 'invalid_client',
  InvalidGrant = 'invalid_grant',
  UnauthorizedClient = 'unauthorized_client',
  UnsupportedGrantType = 'unsupported_grant_type',
  UnsupportedResponseType = 'unsupported_response_type',
  InvalidScope = 'invalid_scope',
  InvalidTarget = 'invalid_target',
  AccessDenied = 'access_denied',
  InvalidRedirectUri = 'invalid_redirect_uri',
  InvalidClientMetadata = 'invalid_client_metadata',
  InvalidToken = 'invalid_token',
  InsufficientScope = 'insufficient_scope',
  UnsupportedTokenType = 'unsupported_token_type',
  ServerError = 'server_error',
  TemporarilyUnavailable = 'temporarily_unavailable',
}

/** Status of each {@link OAuthErrorCode}; client mistakes are always 4xx (checklist I.48). */
export const OAUTH_ERROR_STATUS: Readonly<Record<OAuthErrorCode, number>> = {
  [OAuthErrorCode.InvalidRequest]: 400,
  [OAuthErrorCode.InvalidClient]: 401,
  [OAuthErrorCode.InvalidGrant]: 400,
  [OAuthErrorCode.UnauthorizedClient]: 400,
  [OAuthErrorCode.UnsupportedGrantType]: 400,
  [OAuthErrorCode.UnsupportedResponseType]: 400,
  [OAuthErrorCode.InvalidScope]: 400,
  [OAuthErrorCode.InvalidTarget]: 400,
  [OAuthErrorCode.AccessDenied]: 403,
  [OAuthErrorCode.InvalidRedirectUri]: 400,
  [OAuthErrorCode.InvalidClientMetadata]: 400,
  [OAuthErrorCode.InvalidToken]: 401,
  [OAuthErrorCode.InsufficientScope]: 403,
  [OAuthErrorCode.UnsupportedTokenType]: 400,
  [OAuthErrorCode.ServerError]: 500,
  [OAuthErrorCode.TemporarilyUnavailable]: 503,
};

/**
 * An OAuth protocol error. Domain code throws it; `http/middleware/error-handler.ts` renders it as
 * `{"error","error_description"}` JSON (RFC 6749 §5.2) with `Cache-Control: no-store`, plus `WWW-Authenticate`
 * when {@link OAuthError.challenge} is set. `message` is shown to the client: never put secrets in it.
 */
export class OAuthError extends Error {
  readonly status: number;

  constructor(
    readonly code: OAuthErrorCode,
    message: string,
    /** A complete `WWW-Authenticate` header value to send with the error (RFC 6750 §3, RFC 6749 §5.2 Basic). */
    readonly challenge?: string,
    /** Overrides the status of the code (e.g. 400 for `invalid_client` when no Basic credentials were used). */
    status?: number,
  ) {
    super(message);
    this.name = 'OAuthError';
    this.status = status ?? OAUTH_ERROR_STATUS[code];
  }
}

/** Shorthand for `new OAuthError(code, message)`, for use in expressions. */
export function oauthError(code: OAuthErrorCode, message: string): OAuthError {
  return new OAuthError(code, message);
}
