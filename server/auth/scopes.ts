import { OAuthError, OAuthErrorCode } from './oauth-error.js';

/**
 * The documented scope set (docs/oauth.md). `claude:admin` implies `claude:ask` and `claude:plan`; `gateway:*`
 * implies every `gateway:<server>`; `*` (API keys only) implies everything.
 */
export const SCOPES = {
  /** Connect to the MCP endpoint and list/call tools the other scopes allow. The minimal scope for basic use. */
  tools: 'mcp:tools',
  ask: 'claude:ask',
  plan: 'claude:plan',
  /** Code-executing tools (Bash, Monitor...) and hooks in Claude runs, when CLAUDE_EXEC_TOOLS=scope. Never a default. */
  exec: 'claude:exec',
  admin: 'claude:admin',
  gatewayAll: 'gateway:*',
} as const;

/** Scopes advertised in metadata. `offline_access` is accepted but never advertised in PRM (checklist B.11). */
export const SUPPORTED_SCOPES: readonly string[] = [SCOPES.tools, SCOPES.ask, SCOPES.plan, SCOPES.exec, SCOPES.admin, SCOPES.gatewayAll];

/** Scopes granted when a client asks for none (RFC 6749 §3.3): basic use. */
export const DEFAULT_SCOPES: readonly string[] = [SCOPES.tools, SCOPES.ask, SCOPES.plan];

/** What an MCP endpoint request needs at least (sent in 401/403 challenges, checklist B.8/B.12). */
export const MCP_ENDPOINT_SCOPES: readonly string[] = [SCOPES.tools];

/** `offline_access` (OIDC): accepted so SDK clients that add it work; refresh tokens are issued regardless. */
export const OFFLINE_ACCESS = 'offline_access';

const GATEWAY_SCOPE = /^gateway:[A-Za-z0-9._-]+$/;

/** True when `scope` is one this server knows (including `gateway:<server>` and `offline_access`). */
export function isKnownScope(scope: string): boolean {
  return SUPPORTED_SCOPES.includes(scope) || scope === OFFLINE_ACCESS || GATEWAY_SCOPE.test(scope);
}

/** Splits a space-delimited scope string (RFC 6749 §3.3) into unique scopes, in order. */
export function parseScope(value: string | undefined): string[] {
  if (!value) return [];
  return [...new Set(value.split(' ').filter((part) => part.length > 0))];
}

/**
 * The scopes to grant for a request: the defaults when none were asked for, otherwise the asked ones, all of which
 * must be known (else `invalid_scope`, checklist E.32).
 */
export function resolveRequestedScopes(requested: string | undefined): string[] {
  const scopes = parseScope(requested);
  if (scopes.length === 0) return [...DEFAULT_SCOPES];
  const unknown = scopes.filter((scope) => !isKnownScope(scope));
  if (unknown.length > 0) throw new OAuthError(OAuthErrorCode.InvalidScope, `Unknown scope: ${unknown.join(' ')}`);
  return scopes;
}

/** True when `granted` covers `needed`, honouring the hierarchy described at {@link SCOPES}. */
export function scopeCovers(granted: readonly string[], needed: string): boolean {
  if (granted.includes('*') || granted.includes(needed)) return true;
  if ((needed === SCOPES.ask || needed === SCOPES.plan) && granted.includes(SCOPES.admin)) return true;
  if (needed.startsWith('gateway:') && granted.includes(SCOPES.gatewayAll)) return true;
  return false;
}

/** The scopes of `needed` that `granted` does not cover. */
export function missingScopes(granted: readonly string[], needed: readonly string[]): string[] {
  return needed.filter((scope) => !scopeCovers(granted, scope));
}
