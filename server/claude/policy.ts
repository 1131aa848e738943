import type { PermissionMode } from '@anthropic-ai/claude-agent-sdk';
import { ClaudeError } from './errors.js';

/** Permission modes from the most restrictive to the most permissive. */
export const PERMISSION_MODES = [
  'plan',
  'dontAsk',
  'default',
  'acceptEdits',
  'auto',
  'bypassPermissions',
] as const satisfies readonly PermissionMode[];

/**
 * Tools that execute code the model writes (and whatever that code starts). A caller needs the right to execute
 * (CLAUDE_EXEC_TOOLS: the `claude:exec` scope by default) to use them; without it they are removed from every run.
 * Caller-supplied hooks are shell commands too and follow the same rule (claude-tool-provider.ts).
 */
export const EXEC_TOOLS: readonly string[] = ['Bash', 'Monitor', 'PowerShell', 'Workflow'];

/** The ceilings the operator sets (config group Claude). */
export interface RunPolicy {
  maxPermissionMode: PermissionMode;
  disallowedTools: readonly string[];
  defaultAllowedTools: readonly string[];
  maxBudgetUsd: number;
  maxTurns: number;
}

/** What a caller asked for; every field optional. */
export interface RequestedLimits {
  permissionMode?: PermissionMode;
  allowedTools?: readonly string[];
  disallowedTools?: readonly string[];
  maxTurns?: number;
  maxBudgetUsd?: number;
}

/** The limits a run actually gets. */
export interface EffectiveLimits {
  permissionMode: PermissionMode;
  allowedTools: string[];
  disallowedTools: string[];
  maxTurns: number;
  maxBudgetUsd: number;
}

/**
 * Applies the operator's ceilings to a request: a permission mode above the ceiling is refused (not silently
 * lowered: the caller should know it did not get what it asked for); operator-disallowed tools are always
 * disallowed and never allowed; turns and budget are clamped to the ceilings. Without `mayExecute`, a request that
 * names a code-executing tool in `allowedTools` is refused, and those tools are disallowed for the run.
 */
export function applyPolicy(
  policy: RunPolicy,
  requested: RequestedLimits,
  { defaultMode = 'default', mayExecute = true }: { defaultMode?: PermissionMode; mayExecute?: boolean } = {},
): EffectiveLimits {
  const mode = requested.permissionMode ?? (rank(defaultMode) <= rank(policy.maxPermissionMode) ? defaultMode : policy.maxPermissionMode);
  if (rank(mode) > rank(policy.maxPermissionMode)) {
    throw new ClaudeError('permission_denied', `permissionMode ${mode} is above what this server allows (${policy.maxPermissionMode})`);
  }
  if (!mayExecute) {
    const asked = (requested.allowedTools ?? []).filter((tool) => EXEC_TOOLS.includes(baseName(tool)));
    if (asked.length > 0) {
      throw new ClaudeError(
        'permission_denied',
        `allowedTools: ${asked.join(', ')} executes code, which needs the claude:exec scope on this server`,
      );
    }
  }
  const withheld = mayExecute ? [] : EXEC_TOOLS;
  const disallowed = unique([...policy.disallowedTools, ...withheld, ...(requested.disallowedTools ?? [])]);
  const banned = new Set([...policy.disallowedTools, ...withheld]);
  const allowed = unique([...(requested.allowedTools ?? policy.defaultAllowedTools)]).filter(
    (tool) => !banned.has(tool) && !banned.has(baseName(tool)),
  );
  return {
    permissionMode: mode,
    allowedTools: allowed,
    disallowedTools: disallowed,
    maxTurns: Math.min(requested.maxTurns ?? policy.maxTurns, policy.maxTurns),
    maxBudgetUsd: Math.min(requested.maxBudgetUsd ?? policy.maxBudgetUsd, policy.maxBudgetUsd),
  };
}

function rank(mode: PermissionMode): number {
  return PERMISSION_MODES.indexOf(mode as (typeof PERMISSION_MODES)[number]);
}

/** `Bash(rm *)` -> `Bash`. */
function baseName(tool: string): string {
  const paren = tool.indexOf('(');
  return paren < 0 ? tool : tool.slice(0, paren);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
