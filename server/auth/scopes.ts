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

/**
 * Basic use: what a client gets when it asks for no scope (RFC 6749 §3.3), what the 401 challenge names and what the
 * protected-resource metadata advertises (checklist B.11). MCP clients pick their scopes from exactly those two places
 * (MCP-Auth "Scope Selection Strategy"), so this is what a user signing in with any client's defaults can do: every
 * Claude tool but plugin installs, and the gateway's tools as MCP_TOOL_POLICY_PATH allows. More (`claude:exec`,
 * `claude:admin`) is asked for by step-up: a 403 `insufficient_scope` naming it when a call needs it.
 */
export const DEFAULT_SCOPES: readonly string[] = [SCOPES.tools, SCOPES.ask, SCOPES.plan, SCOPES.gatewayAll];

/** What an MCP endpoint request needs at least (a token without it gets 403 `insufficient_scope`, checklist B.12). */
export const MCP_ENDPOINT_SCOPES: readonly string[] = [SCOPES.tools];

/** `offline_access` (OIDC): accepted so SDK clients that add it work; refresh tokens are issued regardless. */
export const OFFLINE_ACCESS = 'offline_access';

const GATEWAY_SCOPE = /^gateway:[A-Za-z0-9._-]+$/;

/** What a scope lets an application do, in words a person approving it understands (the consent page). */
export interface ScopeDescription {
  scope: string;
  text: string;
  /** Set for scopes that let the application do much more than read and ask: shown as a warning. */
  warning?: string;
}

const DESCRIPTIONS: Record<string, Omit<ScopeDescription, 'scope'>> = {
  [SCOPES.tools]: { text: 'Connect to this server and see the tools you may use.' },
  [SCOPES.ask]: {
    text: 'Run Claude Code on your behalf in your workspace: read and edit files there, continue your sessions, manage your tasks and checkpoints.',
  },
  [SCOPES.plan]: { text: 'Run Claude Code in plan mode: read files in your workspace and propose changes, without changing anything.' },
  [SCOPES.exec]: {
    text: 'Let Claude Code run commands and programs (Bash and other code-executing tools) in your workspace.',
    warning: 'Commands run inside the sandbox, but can change or delete anything in your workspace.',
  },
  [SCOPES.admin]: {
    text: 'Administer Claude Code on this server: install plugins for everyone.',
    warning: 'Plugins change what every user of this server runs. Approve only if you administer this server.',
  },
  [SCOPES.gatewayAll]: { text: 'Use the tools of every MCP server this server connects to.' },
  [OFFLINE_ACCESS]: { text: 'Stay connected: keep access without signing in again.' },
};

/** {@link ScopeDescription} of `scope` (a `gateway:<server>` scope names its server). */
export function describeScope(scope: string): ScopeDescription {
  const known = DESCRIPTIONS[scope];
  if (known) return { scope, ...known };
  if (GATEWAY_SCOPE.test(scope)) return { scope, text: `Use the tools of the MCP server "${scope.slice('gateway:'.length)}".` };
  return { scope, text: 'A permission this server does not describe.' };
}

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

/**
 * The scope list a step-up challenge names (checklist B.12: every scope the operation needs, in one challenge): what
 * the token already has (so the new token can do what the old one did) plus `needed`, without `*`.
 */
export function stepUpScopes(granted: readonly string[], needed: readonly string[]): string[] {
  return [...new Set([...granted, ...needed])].filter((scope) => scope !== '*' && isKnownScope(scope));
}

/** The scopes of `needed` that `granted` does not cover. */
export function missingScopes(granted: readonly string[], needed: readonly string[]): string[] {
  return needed.filter((scope) => !scopeCovers(granted, scope));
}
