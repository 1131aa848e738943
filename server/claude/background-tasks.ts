import type { CallToolResult } from '@modelcontextprotocol/server';
import { detachCall } from '../tasks/detached-call.js';
import type { TaskRecord } from '../tasks/task-record.js';
import type { TaskRuntime } from '../tasks/task-runtime.js';
import { TaskLimitReached, TaskStillRunning, type TaskWork } from '../tasks/task-work.js';
import type { ToolCall } from '../mcp/tool-provider.js';
import { runResult, type ClaudeRuns, type StoredRequest } from './claude-runs.js';
import { ClaudeError, ERROR_META_KEY, toolErrorResult } from './errors.js';

/** Options of {@link createBackgroundTasks}. */
export interface BackgroundTasksOptions {
  runtime: TaskRuntime;
  runs: Pick<ClaudeRuns, 'runFor'>;
  /** ASYNC_PROCESS_TIMEOUT_MS: time limit of one background run. */
  timeoutMs: number;
  /** How long `stop` waits for the run to end after interrupting it (RUN_INTERRUPT_GRACE_MS plus a margin). */
  stopWaitMs: number;
}

/**
 * The Claude tools' side of tasks: `claude_ask` with `backgroundTask: true`, and `claude_background_tasks` and
 * `claude_abort` over every task of the caller (whatever created it: `backgroundTask`, a 2025-11-25 task-augmented
 * call, a 2026-07-28 task). The records, limits and cancel are the task runtime's (tasks/task-runtime.ts).
 */
export interface BackgroundTasks {
  /**
   * Starts `request` detached from `call`; resolves with the record at once. Its permission prompts reach the person
   * only when the client can follow tasks (`ToolCall.answersTasks`); otherwise the operator's policy decides. `busy`
   * when MAX_ASYNC_PROCESSES tasks are alive.
   */
  start(call: ToolCall, request: StoredRequest): Promise<TaskRecord>;
  /** The owner's tasks, newest first. */
  list(owner: string): Promise<TaskRecord[]>;
  /** The task when `owner` owns it; `not_found` otherwise, whether it exists or not. */
  get(owner: string, taskId: string): Promise<TaskRecord>;
  /** Cancels a running task of `owner` (the same operation as `tasks/cancel`) and waits for its run to end. */
  stop(owner: string, taskId: string): Promise<TaskRecord>;
  /** The owner's task running a Claude run on `sessionId` in this process, if any. */
  runningOn(owner: string, sessionId: string): TaskRecord | undefined;
  /** Runs an ended task again, resuming its session when it has one; from `call` (the restarting caller's). */
  restart(call: ToolCall, taskId: string): Promise<TaskRecord>;
}

/** Creates the Claude tools' view of the task runtime. */
export function createBackgroundTasks({ runtime, runs, timeoutMs, stopWaitMs }: BackgroundTasksOptions): BackgroundTasks {
  /** A Claude run as task work: its result is what `claude_ask` answers (an error as the tool error result). */
  const work = (call: ToolCall, request: StoredRequest): TaskWork => ({
    kind: 'claude-run',
    async run(context) {
      const detached = detachCall(call, {
        signal: context.signal,
        progress: (line) => {
          if (line !== undefined) context.progress(line);
        },
        ...(context.ask ? { ask: context.ask } : {}),
        task: { taskId: context.taskId, annotate: (facts) => context.annotate(facts) },
      });
      try {
        const outcome = await runs.runFor({ call: detached, request: { ...request, timeoutMs } });
        return runResult(outcome, request.cwd);
      } catch (error) {
        const result = toolErrorResult(error);
        context.annotate({ failure: result._meta[ERROR_META_KEY].error });
        return result as CallToolResult;
      }
    },
  });

  const get = async (owner: string, taskId: string) => {
    const record = await runtime.get(owner, taskId);
    if (!record) throw new ClaudeError('not_found', `no task ${taskId}`);
    return record;
  };

  return {
    async start(call, request) {
      try {
        return await runtime.start({
          owner: call.caller.principalId,
          tool: call.tool,
          origin: 'background',
          work: work(call, request),
          // Kept as long as the operator allows any task (TASK_MAX_TTL_MS): `claude_background_tasks` is their history.
          ttlMs: Number.MAX_SAFE_INTEGER,
          canAsk: call.answersTasks === true,
          promptPreview: request.prompt,
          request: { ...request },
        });
      } catch (error) {
        throw asClaudeError(error);
      }
    },
    list: (owner) => runtime.list(owner),
    runningOn: (owner, sessionId) => runtime.findLive(owner, (record) => record.sessionId === sessionId),
    get,
    async stop(owner, taskId) {
      const record = await runtime.stop(owner, taskId, stopWaitMs);
      if (!record) throw new ClaudeError('not_found', `no task ${taskId}`);
      return record;
    },
    async restart(call, taskId) {
      const record = await get(call.caller.principalId, taskId);
      const stored = record.request as StoredRequest | undefined;
      if (!stored || typeof stored.prompt !== 'string')
        throw new ClaudeError('invalid_input', `task ${taskId} did not run Claude and cannot be restarted`);
      const request: StoredRequest = record.sessionId ? { ...stored, resume: record.sessionId, forkSession: false } : stored;
      try {
        return await runtime.rerun({ ...record, request: { ...request } }, work(call, request), false);
      } catch (error) {
        throw asClaudeError(error);
      }
    },
  };
}

function asClaudeError(error: unknown): unknown {
  if (error instanceof TaskLimitReached) return new ClaudeError('busy', error.message);
  if (error instanceof TaskStillRunning) return new ClaudeError('invalid_input', error.message);
  return error;
}
