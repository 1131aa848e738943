import type { Request } from 'express';
import type { BearerAuthenticator } from '../../auth/bearer-authenticator.js';
import { OAuthError, OAuthErrorCode } from '../../auth/oauth-error.js';
import type { EventBus } from '../../events/bus.js';
import type { Caller } from '../../mcp/caller.js';

/**
 * Adapts the domain's bearer authenticator to the MCP routes' `authenticate` hook: every request (including each
 * POST of an existing session) is authenticated on its own; a token in the query string is never accepted
 * (RFC 6750 §2.3 is not supported, checklist B.13). Refused credentials (not a first request without any) are
 * audited as `auth.denied`.
 */
export function bearerAuthentication(authenticator: BearerAuthenticator, events?: EventBus): (req: Request) => Promise<Caller> {
  return async function authenticateRequest(req) {
    const query = req.query as Record<string, unknown>;
    try {
      return await authenticator({ authorization: req.headers.authorization, tokenInQuery: query.access_token !== undefined });
    } catch (error) {
      if (error instanceof OAuthError && req.headers.authorization) {
        events?.emit('auth.denied', { reason: error.code === OAuthErrorCode.InsufficientScope ? 'insufficient_scope' : error.code });
      }
      throw error;
    }
  };
}
