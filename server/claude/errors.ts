import type { CallToolResult } from '@modelcontextprotocol/server';

/**
 * Why a Claude tool call failed. Every failure reaches the client as a tool error (`isError: true`,
 * `structuredContent.error = { category, message }`), never as a crashed request, so agents can branch on it.
 */
export const CLAUDE_ERROR_CATEGORIES = [
  'cli_not_found',
  'auth_failed',
  'rate_limited',
  'overloaded',
  'timeout',
  'aborted',
  'max_turns',
  'budget_exceeded',
  'permission_denied',
  'workspace_denied',
  'sandbox_unavailable',
  'session_not_found',
  'not_found',
  'invalid_input',
  'busy',
  'internal',
] as const;

/** One of {@link CLAUDE_ERROR_CATEGORIES}. */
export type ClaudeErrorCategory = (typeof CLAUDE_ERROR_CATEGORIES)[number];

/** A categorised failure of a Claude tool. `message` is shown to the client: no secrets, no internals. */
export class ClaudeError extends Error {
  constructor(
    readonly category: ClaudeErrorCategory,
    message: string,
    /** Partial outcome worth returning with the error (e.g. the text written before a timeout). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ClaudeError';
  }
}

/** The failure when the sandbox is required and cannot run: nothing runs unsandboxed. */
export function sandboxUnavailable(problem?: string): ClaudeError {
  return new ClaudeError(
    'sandbox_unavailable',
    `Claude runs are sandboxed on this server and the sandbox cannot start${problem ? ` (${problem})` : ''}; ask the operator (see docs/security.md)`,
  );
}

/**
 * `_meta` key of a failed call's details: `{ error: { category, message }, ...partial figures }` (docs/tools.md
 * "Errors"). They are not `structuredContent`: that must match the tool's `outputSchema`, and the v1 SDK client (so
 * mcp-remote and Inspector) rejects a result whose `structuredContent` does not, even when `isError` is set.
 */
export const ERROR_META_KEY = 'claude-code-mcp/error';

/** What {@link ERROR_META_KEY} holds. */
export type ToolErrorDetails = Record<string, unknown> & { error: { category: ClaudeErrorCategory; message: string } };

/**
 * The tool result for a failure: the text `category: message` every client shows, and the details under
 * {@link ERROR_META_KEY}. Unknown errors become `internal` with a generic message; their detail belongs in the log,
 * not in the answer.
 */
export function toolErrorResult(error: unknown): CallToolResult & { _meta: { [ERROR_META_KEY]: ToolErrorDetails } } {
  const known = error instanceof ClaudeError ? error : new ClaudeError('internal', 'internal error while running Claude Code');
  return {
    isError: true,
    content: [{ type: 'text', text: `${known.category}: ${known.message}` }],
    _meta: { [ERROR_META_KEY]: { ...(known.details ?? {}), error: { category: known.category, message: known.message } } },
  };
}

/** Maps an API error status reported by Claude Code (`api_error_status`) to a category. */
export function categoryOfApiStatus(status: number | undefined): ClaudeErrorCategory {
  if (status === 401 || status === 403) return 'auth_failed';
  if (status === 429) return 'rate_limited';
  if (status === 529) return 'overloaded';
  return 'internal';
}
