import type { CallToolResult } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import { defineTool, type ToolSpec } from '../mcp/define-tool.js';
import type { ToolCall, ToolDefinition } from '../mcp/tool-provider.js';
import { ClaudeError, ERROR_META_KEY, toolErrorResult } from './errors.js';
import { describeIssues } from './tool-schemas.js';

/** A tool body: gets parsed arguments and the call, returns a result with `structuredContent`, throws {@link ClaudeError}s. */
export type ToolBody<A> = (args: A, call: ToolCall) => Promise<CallToolResult & { structuredContent: Record<string, unknown> }>;

/** A Claude tool's description and schemas, as for {@link defineTool}; the tool validates its own arguments. */
export type ClaudeToolSpec<S extends z.ZodType> = Omit<ToolSpec<S>, 'validate'>;

/**
 * Returns `claudeTool(name, spec, body)`, which defines a Claude tool: its body gets the arguments parsed with
 * `spec.input` (bad input -> `invalid_input`), `tool.called` / `tool.completed` / `tool.error` are emitted, and every
 * failure becomes a categorised tool error.
 */
export function createToolHandler(events: EventBus, logger: Logger) {
  return function claudeTool<S extends z.ZodType>(tool: string, spec: ClaudeToolSpec<S>, body: ToolBody<z.infer<S>>): ToolDefinition {
    const schema = spec.input;
    return defineTool(tool, { ...spec, validate: false }, async (_unvalidated, call): Promise<CallToolResult> => {
      const raw = call.args;
      const { caller } = call;
      const started = Date.now();
      const sessionHint = typeof raw.sessionId === 'string' ? raw.sessionId : undefined;
      events.emit('tool.called', { tool, owner: caller.principalId, ...(sessionHint ? { sessionId: sessionHint } : {}) });
      try {
        const parsed = schema.safeParse(raw);
        if (!parsed.success) throw new ClaudeError('invalid_input', describeIssues(parsed.error));
        const result = await body(parsed.data, call);
        const s = result.structuredContent;
        events.emit('tool.completed', {
          tool,
          owner: caller.principalId,
          durationMs: Date.now() - started,
          ...(typeof s.sessionId === 'string' ? { sessionId: s.sessionId } : {}),
          ...(typeof s.costUsd === 'number' ? { costUsd: s.costUsd } : {}),
          ...(typeof s.numTurns === 'number' ? { numTurns: s.numTurns } : {}),
          ...(typeof raw.model === 'string' ? { model: raw.model } : {}),
          ...(isUsage(s.usage) ? { usage: s.usage } : {}),
        });
        return result;
      } catch (error) {
        const result = toolErrorResult(error);
        if (!(error instanceof ClaudeError)) logger.error('claude tool failed', { tool, error, category: 'internal' });
        const s = result._meta[ERROR_META_KEY];
        call.task?.annotate({ failure: s.error });
        events.emit('tool.error', {
          tool,
          owner: caller.principalId,
          durationMs: Date.now() - started,
          category: s.error.category,
          message: s.error.message,
          ...(typeof s.sessionId === 'string' ? { sessionId: s.sessionId } : sessionHint ? { sessionId: sessionHint } : {}),
          ...(typeof s.costUsd === 'number' ? { costUsd: s.costUsd } : {}),
          ...(typeof raw.model === 'string' ? { model: raw.model } : {}),
        });
        return result;
      }
    });
  };
}

type Usage = { inputTokens: number; outputTokens: number; cacheReadInputTokens: number; cacheCreationInputTokens: number };

function isUsage(value: unknown): value is Usage {
  if (!value || typeof value !== 'object') return false;
  const usage = value as Record<string, unknown>;
  return ['inputTokens', 'outputTokens', 'cacheReadInputTokens', 'cacheCreationInputTokens'].every((key) => typeof usage[key] === 'number');
}
