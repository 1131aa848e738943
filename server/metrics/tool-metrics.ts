import type { CallToolResult } from '@modelcontextprotocol/server';
import type { ToolCallInterceptor } from '../mcp/tool-interceptor.js';
import type { Metrics } from './metrics.js';

/** How a tool call ended: a result, a tool error (`isError`), a refusal by a rate limit, or a thrown error. */
export type ToolOutcome = 'ok' | 'error' | 'rate_limited';

/** Errors that carry this marker were refusals by a rate limit (see limits/). */
export function isRateLimitRefusal(error: unknown): boolean {
  return !!error && typeof error === 'object' && (error as { rateLimited?: unknown }).rateLimited === true;
}

/** The outcome of a finished call. */
export function outcomeOf(result: CallToolResult | undefined, error: unknown): ToolOutcome {
  if (error !== undefined) return isRateLimitRefusal(error) ? 'rate_limited' : 'error';
  return result?.isError ? 'error' : 'ok';
}

/** Counts every tool call (`mcp_tool_calls_total`) and times it (`mcp_tool_duration_seconds`), for every provider. */
export function toolMetrics(metrics: Metrics): ToolCallInterceptor {
  return async function measureToolCall(call, next) {
    const end = metrics.mcpToolDuration.startTimer({ tool: call.tool });
    try {
      const result = await next();
      metrics.mcpToolCalls.inc({ tool: call.tool, outcome: outcomeOf(result, undefined) });
      end();
      return result;
    } catch (error) {
      const outcome = outcomeOf(undefined, error);
      metrics.mcpToolCalls.inc({ tool: call.tool, outcome });
      if (outcome !== 'rate_limited') end();
      throw error;
    }
  };
}
