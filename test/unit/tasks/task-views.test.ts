import { describe, expect, it } from '@jest/globals';
import { ProtocolError } from '@modelcontextprotocol/server';
import type { TaskRecord } from '../../../server/tasks/task-record.js';
import { backgroundStatus, backgroundView, created2026, detailed2026, result2025, task2025 } from '../../../server/tasks/task-views.js';

const base: TaskRecord = {
  taskId: 'AAAAAAAAAAAAAAAAAAAAAA',
  owner: 'o',
  kind: 'tool-call',
  origin: 'task-2026',
  tool: 'claude_ask',
  state: 'working',
  statusMessage: 'tool: Read a.ts',
  createdAt: '2026-01-01T00:00:00.000Z',
  lastUpdatedAt: '2026-01-01T00:00:05.000Z',
  ttlMs: 60_000,
  pollIntervalMs: 2000,
  inputSeq: 0,
  attempts: 1,
  log: [],
};
const question = {
  method: 'elicitation/create' as const,
  params: { mode: 'form' as const, message: 'Allow?', requestedSchema: { type: 'object' as const, properties: {} } },
  askedAt: base.createdAt,
};
const ok = { content: [{ type: 'text' as const, text: 'done' }], structuredContent: { result: 'done' }, _meta: { 'claude-code-mcp/x': 1 } };
const toolError = { content: [{ type: 'text' as const, text: 'timeout: too long' }], isError: true };

describe('2025-11-25 views', () => {
  it('name the fields ttl and pollInterval, carry no resultType, and map states to the five statuses', () => {
    expect(task2025(base)).toEqual({
      taskId: base.taskId,
      status: 'working',
      statusMessage: 'tool: Read a.ts',
      createdAt: base.createdAt,
      lastUpdatedAt: base.lastUpdatedAt,
      ttl: 60_000,
      pollInterval: 2000,
    });
    const statuses = (['input_required', 'completed', 'failed', 'error', 'interrupted', 'cancelled'] as const).map(
      (state) => task2025({ ...base, state }).status,
    );
    expect(statuses).toEqual(['input_required', 'completed', 'failed', 'failed', 'failed', 'cancelled']);
    expect(task2025({ ...base, state: 'input_required', inputRequests: { 'input-1': question } })).not.toHaveProperty('inputRequests');
  });

  it('tasks/result: the tool result (isError too) with the related-task _meta beside its own; an error as a JSON-RPC error', () => {
    expect(result2025({ ...base, state: 'completed', result: ok })).toEqual({
      ...ok,
      _meta: { 'claude-code-mcp/x': 1, 'io.modelcontextprotocol/related-task': { taskId: base.taskId } },
    });
    expect(result2025({ ...base, state: 'failed', result: toolError })).toMatchObject({ isError: true });
    const thrown = (record: TaskRecord) => {
      try {
        result2025(record);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(thrown({ ...base, state: 'error', error: { code: -32001, message: 'upstream gone' } })).toMatchObject({
      code: -32001,
      message: expect.stringContaining('upstream gone'),
    });
    expect(thrown({ ...base, state: 'interrupted', error: { code: -32603, message: 'stopped' } })).toBeInstanceOf(ProtocolError);
    expect(thrown({ ...base, state: 'cancelled' })).toMatchObject({ code: -32603 });
  });
});

describe('2026-07-28 views', () => {
  it('CreateTaskResult is flat, with ttlMs and pollIntervalMs, and nothing but the task', () => {
    const created = created2026({ ...base, result: ok, inputRequests: { 'input-1': question } });
    expect(created).toEqual({
      resultType: 'task',
      taskId: base.taskId,
      status: 'working',
      statusMessage: 'tool: Read a.ts',
      createdAt: base.createdAt,
      lastUpdatedAt: base.lastUpdatedAt,
      ttlMs: 60_000,
      pollIntervalMs: 2000,
    });
  });

  it('DetailedTask: outstanding inputRequests, the result inline (a tool error is completed), a JSON-RPC error failed', () => {
    expect(detailed2026({ ...base, state: 'input_required', inputRequests: { 'input-1': question } })).toMatchObject({
      status: 'input_required',
      inputRequests: { 'input-1': { method: 'elicitation/create', params: question.params } },
    });
    expect(detailed2026({ ...base, state: 'completed', result: ok })).toMatchObject({ status: 'completed', result: ok });
    expect(detailed2026({ ...base, state: 'failed', result: toolError })).toMatchObject({ status: 'completed', result: { isError: true } });
    expect(detailed2026({ ...base, state: 'error', error: { code: -32602, message: 'bad' } })).toMatchObject({
      status: 'failed',
      error: { code: -32602 },
    });
    const interrupted = detailed2026({ ...base, state: 'interrupted', error: { code: -32603, message: 'stopped' } });
    expect(interrupted).toMatchObject({ status: 'failed', error: { code: -32603 } });
    expect(interrupted).not.toHaveProperty('result');
    expect(detailed2026({ ...base, state: 'cancelled' })).toMatchObject({ status: 'cancelled' });
    for (const state of ['working', 'completed', 'cancelled'] as const) {
      const view = detailed2026({ ...base, state, result: ok });
      expect(view).not.toHaveProperty('ttl');
      expect(view).not.toHaveProperty('pollInterval');
      expect(view).not.toHaveProperty('requestState');
    }
  });
});

describe('claude_background_tasks view', () => {
  it('keeps the statuses background tasks always had', () => {
    expect(
      (['working', 'input_required', 'completed', 'failed', 'error', 'interrupted', 'cancelled'] as const).map(backgroundStatus),
    ).toEqual(['running', 'input_required', 'completed', 'failed', 'failed', 'interrupted', 'aborted']);
    const view = backgroundView({
      ...base,
      state: 'failed',
      promptPreview: 'p',
      failure: { category: 'timeout', message: 'm' },
      request: { prompt: 'secret' },
      endedAt: base.lastUpdatedAt,
    });
    expect(view).toMatchObject({
      status: 'failed',
      prompt: 'p',
      tool: 'claude_ask',
      error: { category: 'timeout', message: 'm' },
      endedAt: base.lastUpdatedAt,
    });
    expect(view).not.toHaveProperty('request');
    expect(view).not.toHaveProperty('statusMessage');
  });
});
