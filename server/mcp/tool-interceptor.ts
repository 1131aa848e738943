import type { CallToolResult } from '@modelcontextprotocol/server';
import type { ToolCall } from './tool-provider.js';

export type { ToolCall } from './tool-provider.js';

/**
 * Runs around every tool call of every provider (metrics, the per-call log line). It calls `next()` to run the tool,
 * or returns/throws without calling it to refuse the call. Errors thrown here become tool error results; results
 * with `isError` are tool errors.
 */
export type ToolCallInterceptor = (call: ToolCall, next: () => Promise<CallToolResult>) => Promise<CallToolResult>;

/**
 * How a tool call that ran ended: `ok`, or `error` (a result with `isError`, or a thrown error). Calls refused by a
 * rate limit never reach the tool; they are counted in `rate_limit_rejections_total{scope="tool"}`.
 */
export type ToolOutcome = 'ok' | 'error';

/** The outcome of a finished call. */
export function toolOutcome(result: CallToolResult | undefined, error: unknown): ToolOutcome {
  return error !== undefined || result?.isError ? 'error' : 'ok';
}

/** Runs `run` for `call` inside `interceptors`, outermost first. */
export function intercept(
  call: ToolCall,
  interceptors: readonly ToolCallInterceptor[],
  run: (call: ToolCall) => Promise<CallToolResult>,
): Promise<CallToolResult> {
  const step = (index: number): Promise<CallToolResult> =>
    index < interceptors.length ? interceptors[index]!(call, () => step(index + 1)) : run(call);
  return step(0);
}
