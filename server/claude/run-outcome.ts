import type { SDKResultMessage } from '@anthropic-ai/claude-agent-sdk';
import { categoryOfApiStatus, ClaudeError, sandboxUnavailable } from './errors.js';
import type { RunOutcome, StopReason } from './executor.js';

/** The error for a run stopped on purpose (abort, timeout, shutdown). */
export function stopError(reason: StopReason, when: string, details?: Record<string, unknown>): ClaudeError {
  if (reason === 'timeout') return new ClaudeError('timeout', `the run exceeded its time limit and was interrupted ${when}`, details);
  if (reason === 'shutdown') return new ClaudeError('aborted', `the server is shutting down; the run was interrupted ${when}`, details);
  return new ClaudeError('aborted', `the run was aborted ${when}`, details);
}

/** What is known of an interrupted run: its outcome when it produced one, else its session. */
export function partial(result: SDKResultMessage | undefined, sessionId: string | undefined): Record<string, unknown> | undefined {
  if (result) return toOutcome(result) as unknown as Record<string, unknown>;
  return sessionId ? { sessionId } : undefined;
}

/** The result message as the tools report it. */
export function toOutcome(result: SDKResultMessage): RunOutcome {
  const usage = result.usage as unknown as Record<string, number | undefined>;
  return {
    result: result.subtype === 'success' ? result.result : (result.errors ?? []).join('\n'),
    sessionId: result.session_id,
    isError: result.is_error,
    subtype: result.subtype,
    numTurns: result.num_turns,
    costUsd: result.total_cost_usd,
    usage: {
      inputTokens: usage.input_tokens ?? 0,
      outputTokens: usage.output_tokens ?? 0,
      cacheReadInputTokens: usage.cache_read_input_tokens ?? 0,
      cacheCreationInputTokens: usage.cache_creation_input_tokens ?? 0,
    },
    durationMs: result.duration_ms,
    permissionDenials: result.permission_denials.map((d) => ({ toolName: d.tool_name, toolUseId: d.tool_use_id, toolInput: d.tool_input })),
    ...(result.subtype === 'success' && result.structured_output !== undefined ? { structuredOutput: result.structured_output } : {}),
  };
}

/** Turns error results into categorised errors carrying the outcome; successful ones pass. */
export function classify(result: SDKResultMessage, outcome: RunOutcome, apiErrorStatus: number | undefined): void {
  const details = outcome as unknown as Record<string, unknown>;
  switch (result.subtype) {
    case 'success':
      if (!result.is_error) return;
      throw new ClaudeError(
        categoryOfApiStatus(apiErrorStatus),
        firstLine(result.result) || 'the Anthropic API answered an error',
        details,
      );
    case 'error_max_turns':
      throw new ClaudeError('max_turns', `the run reached its turn limit after ${result.num_turns} turns`, details);
    case 'error_max_budget_usd':
      throw new ClaudeError('budget_exceeded', `the run reached its budget (spent $${result.total_cost_usd.toFixed(4)})`, details);
    default: {
      const errors = (result.errors ?? []).join('\n');
      if ((result as { startup_failure_reason?: string }).startup_failure_reason === 'sandbox_required_unavailable') {
        throw sandboxUnavailable();
      }
      if (/No conversation found/i.test(errors)) throw new ClaudeError('session_not_found', 'no such session', details);
      throw new ClaudeError('internal', firstLine(errors) || 'Claude Code reported an error during execution', details);
    }
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.slice(0, 500);
}
