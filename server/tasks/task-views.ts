import { ProtocolError, RELATED_TASK_META_KEY, type CallToolResult } from '@modelcontextprotocol/server';
import { JsonRpcErrorCode } from '../mcp/jsonrpc-errors.js';
import { isTerminal, type TaskRecord, type TaskState } from './task-record.js';

/**
 * How a task looks on the wire of each era, and in `claude_background_tasks`. Pure functions of the record; one
 * table (docs/tools.md "Tasks") says the same:
 *
 * | state          | 2025-11-25 `status`            | 2026-07-28 `status`              | claude_background_tasks |
 * |----------------|--------------------------------|----------------------------------|-------------------------|
 * | working        | working                        | working                          | running                 |
 * | input_required | input_required                 | input_required + `inputRequests` | input_required          |
 * | completed      | completed                      | completed + `result`             | completed               |
 * | failed         | failed (`tasks/result`: result)| completed + `result.isError`     | failed                  |
 * | error          | failed (`tasks/result`: error) | failed + `error`                 | failed                  |
 * | interrupted    | failed (`tasks/result`: error) | failed + `error` (-32603)        | interrupted             |
 * | cancelled      | cancelled                      | cancelled                        | aborted                 |
 */

/** `Task.status` of both eras. */
export type WireTaskStatus = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';

const STATUS_2025: Record<TaskState, WireTaskStatus> = {
  working: 'working',
  input_required: 'input_required',
  completed: 'completed',
  failed: 'failed',
  error: 'failed',
  interrupted: 'failed',
  cancelled: 'cancelled',
};

const STATUS_2026: Record<TaskState, WireTaskStatus> = { ...STATUS_2025, failed: 'completed' };

/** The 2025-11-25 `Task` (tasks/get, tasks/cancel, tasks/list, `CreateTaskResult.task`). */
export function task2025(record: TaskRecord) {
  return {
    taskId: record.taskId,
    status: STATUS_2025[record.state],
    ...(record.statusMessage ? { statusMessage: record.statusMessage } : {}),
    createdAt: record.createdAt,
    lastUpdatedAt: record.lastUpdatedAt,
    ttl: record.ttlMs,
    pollInterval: record.pollIntervalMs,
  };
}

/**
 * What 2025-11-25 `tasks/result` answers for a task in a terminal state: exactly what the call would have answered
 * (the tool result, `isError` included, or its JSON-RPC error, thrown), with the related-task `_meta`.
 */
export function result2025(record: TaskRecord): CallToolResult {
  if ((record.state === 'completed' || record.state === 'failed') && record.result) {
    return { ...record.result, _meta: { ...record.result._meta, [RELATED_TASK_META_KEY]: { taskId: record.taskId } } };
  }
  if (record.state === 'cancelled') throw new ProtocolError(JsonRpcErrorCode.InternalError, `task ${record.taskId} was cancelled`);
  const error = record.error ?? {
    code: JsonRpcErrorCode.InternalError,
    message: record.statusMessage ?? 'the task ended without a result',
  };
  throw new ProtocolError(error.code, error.message, error.data);
}

/** The 2026-07-28 `Task` fields shared by `CreateTaskResult` and `DetailedTask`. */
function task2026(record: TaskRecord) {
  return {
    taskId: record.taskId,
    status: STATUS_2026[record.state],
    ...(record.statusMessage ? { statusMessage: record.statusMessage } : {}),
    createdAt: record.createdAt,
    lastUpdatedAt: record.lastUpdatedAt,
    ttlMs: record.ttlMs,
    pollIntervalMs: record.pollIntervalMs,
  };
}

/** The flat 2026-07-28 `CreateTaskResult`: no `result`, `error`, `inputRequests` or `requestState`. */
export function created2026(record: TaskRecord) {
  return { resultType: 'task' as const, ...task2026(record) };
}

/**
 * The 2026-07-28 `DetailedTask` of `tasks/get`: outstanding `inputRequests` while `input_required`, the tool result
 * inline (as the call would have answered it, `isError` included) once completed, the JSON-RPC error once failed.
 */
export function detailed2026(record: TaskRecord) {
  const base = task2026(record);
  switch (record.state) {
    case 'input_required':
      return {
        ...base,
        inputRequests: Object.fromEntries(
          Object.entries(record.inputRequests ?? {}).map(([key, input]) => [key, { method: input.method, params: input.params }]),
        ),
      };
    case 'completed':
    case 'failed':
      return record.result
        ? { ...base, result: record.result }
        : {
            ...base,
            status: 'failed' as const,
            error: { code: JsonRpcErrorCode.InternalError, message: 'the task ended without a result' },
          };
    case 'error':
    case 'interrupted':
      return {
        ...base,
        error: record.error ?? { code: JsonRpcErrorCode.InternalError, message: record.statusMessage ?? 'the task failed' },
      };
    default:
      return base;
  }
}

/** `claude_background_tasks` statuses (the vocabulary background tasks always had, plus `input_required`). */
export type BackgroundStatus = 'running' | 'input_required' | 'completed' | 'failed' | 'aborted' | 'interrupted';

const BACKGROUND_STATUS: Record<TaskState, BackgroundStatus> = {
  working: 'running',
  input_required: 'input_required',
  completed: 'completed',
  failed: 'failed',
  error: 'failed',
  interrupted: 'interrupted',
  cancelled: 'aborted',
};

/** The status `claude_background_tasks` and `claude_abort` show. */
export function backgroundStatus(state: TaskState): BackgroundStatus {
  return BACKGROUND_STATUS[state];
}

/** A task as `claude_background_tasks` lists it (no stored request, no result body). */
export function backgroundView(record: TaskRecord) {
  const ended = isTerminal(record.state);
  return {
    taskId: record.taskId,
    status: backgroundStatus(record.state),
    prompt: record.promptPreview ?? '',
    tool: record.tool,
    ...(record.sessionId ? { sessionId: record.sessionId } : {}),
    createdAt: record.createdAt,
    ...(record.startedAt ? { startedAt: record.startedAt } : {}),
    ...(record.endedAt && ended ? { endedAt: record.endedAt } : {}),
    ...(record.durationMs !== undefined ? { durationMs: record.durationMs } : {}),
    ...(record.costUsd !== undefined ? { costUsd: record.costUsd } : {}),
    ...(record.numTurns !== undefined ? { numTurns: record.numTurns } : {}),
    attempts: record.attempts,
    ...(record.statusMessage && !ended ? { statusMessage: record.statusMessage } : {}),
    ...(record.summary ? { summary: record.summary.slice(0, 4000) } : {}),
    ...(record.failure ? { error: record.failure } : {}),
  };
}
