import { ProtocolError, type CallToolResult } from '@modelcontextprotocol/server';
import type { Logger } from '../logging/logger.js';
import { JsonRpcErrorCode } from '../mcp/jsonrpc-errors.js';
import type { InputAsker } from '../mcp/tool-provider.js';
import type { TaskError, TaskFacts, TaskOrigin } from './task-record.js';

/** What a task's work gets from the runtime. */
export interface TaskWorkContext {
  readonly taskId: string;
  readonly owner: string;
  /** Aborted when the task is cancelled or the server shuts down; the work must then end soon. */
  readonly signal: AbortSignal;
  /** Puts a question to the person (the task goes `input_required`); absent when its creator cannot answer. */
  readonly ask?: InputAsker;
  /** One progress line: the task's `statusMessage` and a transcript line. */
  progress(line: string): void;
  /** Facts for listings and restart. */
  annotate(facts: TaskFacts): void;
}

/**
 * The work a task runs. The runtime knows nothing of what it does: a Claude run, a tool call run detached from its
 * request, or (next) a relay of an upstream server's own task, which would poll the upstream in `run`, relay its
 * questions through `ask` and forward a cancel when `signal` aborts.
 */
export interface TaskWork {
  /** Recorded as the task's `kind` (`claude-run`, `tool-call`, `upstream`...). */
  readonly kind: string;
  /**
   * Runs to the end. Resolves with the tool result the call answers (`isError` included: the task is then `failed`);
   * rejects with a {@link ProtocolError} when the call would have answered a JSON-RPC error (the task is `error`).
   */
  run(context: TaskWorkContext): Promise<CallToolResult>;
}

/** What {@link TaskRuntime.start} creates. */
export interface TaskSpec {
  owner: string;
  tool: string;
  origin: TaskOrigin;
  work: TaskWork;
  /** The client's wish (2025 `task.ttl`), clamped to the operator's bounds; absent: the default. */
  ttlMs?: number | null;
  /** Whether the creator can answer questions (it declared elicitation); otherwise the work gets no `ask`. */
  canAsk: boolean;
  promptPreview?: string;
  request?: Record<string, unknown>;
}

/** Refused: MAX_ASYNC_PROCESSES tasks are alive. */
export class TaskLimitReached extends Error {
  constructor(readonly limit: number) {
    super(`${limit} tasks are already running; wait for one to finish or cancel one`);
    this.name = 'TaskLimitReached';
  }
}

/** Refused: the task is still running. */
export class TaskStillRunning extends Error {
  constructor(readonly taskId: string) {
    super(`task ${taskId} is still running; stop it first`);
    this.name = 'TaskStillRunning';
  }
}

/** A thrown value as the JSON-RPC error a task ends with: a ProtocolError's own; anything else an internal error. */
export function asTaskError(error: unknown, logger: Logger): TaskError {
  if (error instanceof ProtocolError)
    return { code: error.code, message: error.message, ...(error.data !== undefined ? { data: error.data } : {}) };
  logger.error('task work failed', { error, category: 'internal' });
  return { code: JsonRpcErrorCode.InternalError, message: 'Internal error' };
}

/** The first text block of a result (a task's summary). */
export function firstText(result: CallToolResult): string {
  const block = result.content?.find((item) => item.type === 'text');
  return block && block.type === 'text' ? block.text : '';
}

/** Largest result kept with a task (serialised); a larger one is replaced by an error saying so. */
const MAX_RESULT_BYTES = 1 << 20;

/** `result`, or an error saying it was too large to keep. */
export function bounded(result: CallToolResult): CallToolResult {
  const size = Buffer.byteLength(JSON.stringify(result));
  if (size <= MAX_RESULT_BYTES) return result;
  return {
    isError: true,
    content: [{ type: 'text', text: `the result (${size} bytes) exceeds the ${MAX_RESULT_BYTES} bytes a task keeps` }],
  };
}

/** `facts` without its `undefined` members (so annotating never erases what is known). */
export function definedOnly<T extends object>(facts: T): Partial<T> {
  return Object.fromEntries(Object.entries(facts).filter(([, value]) => value !== undefined)) as Partial<T>;
}
