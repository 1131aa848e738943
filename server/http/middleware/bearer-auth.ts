import type { Request } from 'express';
import type { BearerAuthenticator } from '../../auth/bearer-authenticator.js';
import type { Caller } from '../../mcp/caller.js';

/**
 * Adapts the domain's bearer authenticator to the MCP routes' `authenticate` hook: every request (including each
 * POST of an existing session) is authenticated on its own; a token in the query string is never accepted
 * (RFC 6750 §2.3 is not supported, checklist B.13).
 */
export function bearerAuthentication(authenticator: BearerAuthenticator): (req: Request) => Promise<Caller> {
  return function authenticateRequest(req) {
    const query = req.query as Record<string, unknown>;
    return authenticator({ authorization: req.headers.authorization, tokenInQuery: query.access_token !== undefined });
  };
}
