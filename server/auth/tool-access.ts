import { readFileSync } from 'node:fs';
import type { Caller } from '../mcp/caller.js';
import { SCOPES, scopeCovers } from './scopes.js';

/** Per-client tool allow/deny lists (the seed's `users.json` idea): glob patterns of tool names, `*` any run of characters. */
export interface ToolPolicy {
  /** When present, only matching tools are visible. */
  allow?: string[];
  /** Matching tools are hidden even if allowed. */
  deny?: string[];
}

/** Policies by client id; the `*` entry applies to every client (both apply when both exist). */
export type ToolPolicies = Readonly<Record<string, ToolPolicy>>;

/**
 * The scope a tool needs (docs/oauth.md "Scopes"): `claude_plan` needs `claude:plan`, plugin installs `claude:admin`,
 * other `claude_*` tools `claude:ask`, a gateway tool `<server>__<tool>` needs `gateway:<server>`, anything else
 * (`server_status`) just `mcp:tools`.
 */
export function requiredScopeForTool(name: string): string {
  if (name === 'claude_plan') return SCOPES.plan;
  if (name === 'claude_plugin_install') return SCOPES.admin;
  if (name.startsWith('claude_')) return SCOPES.ask;
  const separator = name.indexOf('__');
  if (separator > 0) return `gateway:${name.slice(0, separator)}`;
  return SCOPES.tools;
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

function compile(policy: ToolPolicy | undefined): ((name: string) => boolean) | undefined {
  if (!policy) return undefined;
  const allow = policy.allow?.map(globToRegExp);
  const deny = (policy.deny ?? []).map(globToRegExp);
  return (name) => (!allow || allow.some((re) => re.test(name))) && !deny.some((re) => re.test(name));
}

/**
 * Whether `caller` may see and call the tool `name`: its scopes cover {@link requiredScopeForTool} and the policies
 * for its client (and `*`) let the name through. The MCP server factory hides every other tool, so `tools/list`
 * shows only callable tools and calling a hidden one is an unknown-tool error.
 */
export function createToolAccess(policies: ToolPolicies = {}): ToolAccessRules {
  const everyone = compile(policies['*']);
  const byClient = new Map(
    Object.entries(policies)
      .filter(([id]) => id !== '*')
      .map(([id, policy]) => [id, compile(policy)!]),
  );
  const policyAllows = (caller: Caller, name: string) => {
    if (everyone && !everyone(name)) return false;
    const own = byClient.get(caller.oauthClientId ?? caller.principalId);
    return !own || own(name);
  };
  const mayUseTool = (caller: Caller, name: string) => scopeCovers(caller.scopes, requiredScopeForTool(name)) && policyAllows(caller, name);
  return Object.assign(mayUseTool, {
    scopeNeeded(caller: Caller, name: string) {
      const scope = requiredScopeForTool(name);
      return !scopeCovers(caller.scopes, scope) && policyAllows(caller, name) ? scope : undefined;
    },
  });
}

/** {@link createToolAccess}'s answer: whether a caller may use a tool, and what scope would let it. */
export type ToolAccessRules = ((caller: Caller, name: string) => boolean) & {
  /**
   * The scope `caller` lacks for `name` when that scope is all that stands in its way (the client policies let the
   * name through): what a step-up challenge asks for. Undefined when the caller may use it, or may never.
   */
  scopeNeeded(caller: Caller, name: string): string | undefined;
};

/** Reads MCP_TOOL_POLICY_PATH: `{"<client_id>|*": {"allow": ["claude_*"], "deny": ["claude_plugin_install"]}}`. */
export function loadToolPolicies(file: string | undefined): ToolPolicies {
  if (!file) return {};
  const document: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!document || typeof document !== 'object' || Array.isArray(document))
    throw new Error(`${file}: expected a JSON object of policies by client id`);
  for (const [client, policy] of Object.entries(document as Record<string, unknown>)) {
    const { allow, deny } = (policy ?? {}) as ToolPolicy;
    for (const list of [allow, deny]) {
      if (list !== undefined && (!Array.isArray(list) || list.some((entry) => typeof entry !== 'string'))) {
        throw new Error(`${file}: ${client}: "allow" and "deny" must be arrays of tool-name patterns`);
      }
    }
  }
  return document as ToolPolicies;
}
