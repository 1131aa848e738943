import type { Request, RequestHandler, Response } from 'express';
import { AppError, AppErrorCode } from '../../errors/app-error.js';
import type { LimitDecision, RateLimits } from '../../limits/rate-limits.js';
import type { Caller } from '../../mcp/caller.js';
import { JsonRpcErrorCode, jsonRpcRequestError } from '../../mcp/jsonrpc-errors.js';

/**
 * `RateLimit-Policy` and `RateLimit` header values (draft-ietf-httpapi-ratelimit-headers-09: a named policy with
 * quota `q` and window `w` seconds; remaining `r` and seconds to reset `t`).
 */
export function rateLimitHeaders(decision: LimitDecision): Record<string, string> {
  return {
    'RateLimit-Policy': `"${decision.scope}";q=${decision.limit};w=${decision.windowSeconds}`,
    RateLimit: `"${decision.scope}";r=${decision.remaining};t=${decision.resetSeconds}`,
  };
}

/**
 * The key a caller's limits are counted under: the owning client id when authenticated (API key, OAuth token), the
 * address otherwise (authentication off). The override id is the OAuth client id, so per-client overrides in config
 * name the registered client, not each of its users.
 */
function limitKey(req: Request, caller: Caller | undefined): { key: string; clientId?: string } {
  if (!caller || caller.method === 'none') return { key: `ip:${req.ip ?? 'unknown'}` };
  return { key: `client:${caller.principalId}`, clientId: caller.oauthClientId ?? caller.principalId };
}

function refuse(res: Response, decision: LimitDecision): never {
  for (const [name, value] of Object.entries(rateLimitHeaders(decision))) res.setHeader(name, value);
  throw new AppError(AppErrorCode.RateLimited, `Rate limit exceeded (${decision.scope}); retry in ${decision.resetSeconds} s`, {
    retryAfter: decision.resetSeconds,
    scope: decision.scope,
  });
}

/** `tools/call` requests in a JSON-RPC payload: their ids and tool names. */
function toolCalls(body: unknown): Array<{ id: string | number; name: string }> {
  const messages = Array.isArray(body) ? body : [body];
  const calls: Array<{ id: string | number; name: string }> = [];
  for (const message of messages) {
    if (!message || typeof message !== 'object') continue;
    const { method, id, params } = message as { method?: unknown; id?: unknown; params?: { name?: unknown } };
    if (method !== 'tools/call' || (typeof id !== 'string' && typeof id !== 'number')) continue;
    calls.push({ id, name: typeof params?.name === 'string' ? params.name : '' });
  }
  return calls;
}

/**
 * Rate limits of the MCP routes, after authentication and body parsing: the global ceiling and the client's request
 * limit answer 429 (`Retry-After`, `RateLimit-Policy`, `RateLimit`); a `tools/call` over the client's tool budget
 * answers, on Streamable HTTP, a JSON-RPC error for that request id carrying `data.retryAfter` (the session stays
 * usable), and 429 on legacy SSE, whose POST answers are not read as JSON-RPC.
 */
export function limitMcpRequests(limits: RateLimits, counted: (req: Request) => boolean = () => true): RequestHandler {
  return async function limitMcpRequest(req, res, next) {
    if (!counted(req)) return next();
    const { key, clientId } = limitKey(req, res.locals.caller as Caller | undefined);
    const decision = await limits.consumeRequest(key, clientId);
    if (!decision.allowed) refuse(res, decision);
    for (const [name, value] of Object.entries(rateLimitHeaders(decision))) res.setHeader(name, value);
    if (req.method !== 'POST') return next();
    const calls = toolCalls(req.body);
    for (const call of calls) {
      const tool = await limits.consumeTool(key, call.name, clientId);
      if (tool.allowed) continue;
      if (!req.path.endsWith('/mcp') || calls.length > 1) refuse(res, tool);
      for (const [name, value] of Object.entries(rateLimitHeaders(tool))) res.setHeader(name, value);
      res.setHeader('Retry-After', String(tool.resetSeconds));
      res
        .status(200)
        .json(
          jsonRpcRequestError(
            call.id,
            JsonRpcErrorCode.ServerError,
            `Rate limit exceeded for ${call.name || 'tools'}; retry in ${tool.resetSeconds} s`,
            { error: AppErrorCode.RateLimited, scope: 'tool', tool: call.name, retryAfter: tool.resetSeconds },
          ),
        );
      return;
    }
    next();
  };
}

/**
 * The OAuth endpoints' abuse ceiling: a high per-address quota (RATE_LIMIT_OAUTH_REQUESTS per window), never a tight
 * per-IP limit, because Claude.ai and other hosted clients register and exchange tokens from shared egress
 * addresses (checklist item 6).
 */
export function oauthAbuseCeiling(limits: RateLimits, paths: readonly string[]): RequestHandler {
  const guarded = new Set(paths);
  return async function limitOAuthRequest(req, res, next) {
    if (!guarded.has(req.path) || req.method === 'OPTIONS') return next();
    const decision = await limits.consumeOAuth(req.ip ?? 'unknown');
    if (!decision.allowed) {
      res.setHeader('Retry-After', String(decision.resetSeconds));
      refuse(res, decision);
    }
    next();
  };
}
