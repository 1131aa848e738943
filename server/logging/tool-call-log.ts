import { toolOutcome, type ToolCallInterceptor, type ToolOutcome } from '../mcp/tool-interceptor.js';
import type { Logger } from './logger.js';

/**
 * One structured line per tool call, of every provider, when it ends: `message: "tool call"`, `channel: "tool"`,
 * clientId, sessionId, tool, durationMs, outcome (`ok`, `error`), requestId and transport. Arguments
 * and results are never logged: they may hold prompts, code and secrets. The line is written in the turn after the
 * call ends, once its answer is on the wire.
 */
export function toolCallLog(logger: Logger): ToolCallInterceptor {
  return async function logToolCall(call, next) {
    const started = performance.now();
    let outcome: ToolOutcome = 'error';
    try {
      const result = await next();
      outcome = toolOutcome(result, undefined);
      return result;
    } catch (error) {
      outcome = toolOutcome(undefined, error);
      throw error;
    } finally {
      const line = {
        channel: 'tool',
        tool: call.tool,
        clientId: call.serving.caller.principalId,
        sessionId: call.sessionId,
        requestId: call.requestId,
        transport: call.serving.mode,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        outcome,
      };
      // Written after the answer has gone out: formatting and writing a line was a visible part of a short call's
      // latency (docs/benchmarks.md).
      setImmediate(() => logger.info('tool call', line));
    }
  };
}
