import type { ToolCallInterceptor } from '../mcp/tool-interceptor.js';
import { toolOutcome } from '../mcp/tool-interceptor.js';
import type { Metrics } from './metrics.js';

/** Counts every tool call (`mcp_tool_calls_total`) and times it (`mcp_tool_duration_seconds`), for every provider. */
export function toolMetrics(metrics: Metrics): ToolCallInterceptor {
  return async function measureToolCall(call, next) {
    const end = metrics.mcpToolDuration.startTimer({ tool: call.tool });
    try {
      const result = await next();
      metrics.mcpToolCalls.inc({ tool: call.tool, outcome: toolOutcome(result, undefined) });
      end();
      return result;
    } catch (error) {
      metrics.mcpToolCalls.inc({ tool: call.tool, outcome: toolOutcome(undefined, error) });
      end();
      throw error;
    }
  };
}
