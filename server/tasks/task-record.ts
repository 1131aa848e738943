import { randomBytes } from 'node:crypto';
import type { CallToolResult, ElicitRequestFormParams, ElicitResult } from '@modelcontextprotocol/server';
import { JsonRpcErrorCode } from '../mcp/jsonrpc-errors.js';

/**
 * Where a task is in its life. One vocabulary for every way a task is created (a `backgroundTask`, a 2025-11-25
 * task-augmented call, a 2026-07-28 server-directed task); `task-views.ts` renders it for each era.
 *
 * - `working`: running (or queued for a run slot; `statusMessage` says so).
 * - `input_required`: waiting for the person (outstanding `inputRequests`).
 * - `completed`: ended with a tool result whose `isError` is not set.
 * - `failed`: ended with a tool result whose `isError` is set (timeout, budget, busy, a tool error).
 * - `error`: ended with a JSON-RPC error instead of a result.
 * - `cancelled`: cancelled on request (`tasks/cancel`, `claude_abort`, `claude_background_tasks stop`).
 * - `interrupted`: the process running it stopped or died; the work did not continue.
 */
export type TaskState = 'working' | 'input_required' | 'completed' | 'failed' | 'error' | 'cancelled' | 'interrupted';

/** States a task never leaves (both specs: a terminal status is final). */
export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set(['completed', 'failed', 'error', 'cancelled', 'interrupted']);

/** How a task was created. */
export type TaskOrigin = 'background' | 'task-2025' | 'task-2026';

/** A question the task waits for the person to answer (an elicitation form), under its input key. */
export interface PendingInput {
  method: 'elicitation/create';
  params: ElicitRequestFormParams;
  askedAt: string;
}

/** A JSON-RPC error a task ended with (`error` state). */
export interface TaskError {
  code: number;
  message: string;
  data?: unknown;
}

/**
 * What a task's work reports beyond its result, for listings and for running it again: the Claude session it
 * works in, its figures, and the request a restart runs.
 */
export interface TaskFacts {
  sessionId?: string;
  costUsd?: number;
  numTurns?: number;
  durationMs?: number;
  /** What `claude_background_tasks restart` runs again (a Claude run request, stored as data). */
  request?: Record<string, unknown>;
  /** Why a task that ended with a tool error failed, by the tool's error category. */
  failure?: { category: string; message: string };
  /** The first 500 characters of the prompt, for listings. */
  promptPreview?: string;
}

/** One task as stored on the storage port (namespace `claude-tasks`). */
export interface TaskRecord extends TaskFacts {
  /** 128 random bits, base64url; a legacy record's is a UUID. */
  taskId: string;
  /** `Caller.principalId` of the creator; every read and write checks it, and another owner's task is "not found". */
  owner: string;
  /** What runs it: `claude-run` (a stored Claude request) or `tool-call` (a tool call run detached); others plug in. */
  kind: string;
  origin: TaskOrigin;
  /** The tool the task answers for. */
  tool: string;
  state: TaskState;
  /** The last progress line, or the question waited for. */
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  /** How long the task is kept, from `createdAt` (reported as `ttl` / `ttlMs`). */
  ttlMs: number;
  /** How often clients should poll (reported as `pollInterval` / `pollIntervalMs`). */
  pollIntervalMs: number;
  /** Outstanding questions, by input key; answered ones are removed. */
  inputRequests?: Record<string, PendingInput>;
  /** Input keys handed out so far (keys are never reused). */
  inputSeq: number;
  /** The terminal tool result (`completed`, `failed`). */
  result?: CallToolResult;
  /** The terminal JSON-RPC error (`error`, `interrupted`). */
  error?: TaskError;
  startedAt?: string;
  endedAt?: string;
  /** Runs so far (`restart` adds one). */
  attempts: number;
  /** Final answer, or the failure message. */
  summary?: string;
  /** Refreshed while the task runs; a running task whose heartbeat stopped belongs to a process that died. */
  heartbeatAt?: string;
  /**
   * With several replicas: the replica running the task (its presence id, server/cluster/replicas.ts). Once that
   * replica's lease has run out, another replica marks the task `interrupted`.
   */
  replica?: string;
  /** Transcript tail: one line per text, tool use, subagent event. */
  log: string[];
}

/** Transcript lines kept per task. */
export const LOG_LINES = 200;

/** A new task id: 128 bits from the CSPRNG, base64url (bearer-like ids must not be guessable). */
export function newTaskId(): string {
  return randomBytes(16).toString('base64url');
}

/** Whether `state` is terminal. */
export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.has(state);
}

/**
 * Whether a task may move from `from` to `to`: between `working` and `input_required` freely, from either to any
 * terminal state, and never out of a terminal one.
 */
export function canTransition(from: TaskState, to: TaskState): boolean {
  if (isTerminal(from)) return false;
  return from !== to || to === 'working' || to === 'input_required';
}

/** Clamps a requested retention to the operator's bounds; `null` and absent take the default. */
export function clampTtl(requested: number | null | undefined, bounds: { defaultMs: number; minMs: number; maxMs: number }): number {
  const wanted = typeof requested === 'number' && Number.isFinite(requested) ? Math.round(requested) : bounds.defaultMs;
  return Math.min(bounds.maxMs, Math.max(bounds.minMs, wanted));
}

/** The least a record is kept once it ends (so a task that outran its ttl can still be read), and while it runs. */
const KEEP_ENDED_MS = 10 * 60_000;
const KEEP_RUNNING_MS = 3600_000;

/**
 * Seconds the storage keeps a record saved now: never before `createdAt + ttlMs`; a running task at least an hour
 * past its last save (heartbeats renew it), an ended one at least ten minutes.
 */
export function storageTtlSeconds(record: Pick<TaskRecord, 'createdAt' | 'ttlMs' | 'state'>, now = Date.now()): number {
  const remaining = Date.parse(record.createdAt) + record.ttlMs - now;
  const floor = isTerminal(record.state) ? KEEP_ENDED_MS : KEEP_RUNNING_MS;
  return Math.ceil(Math.max(remaining, floor) / 1000);
}

/** Appends `line` to a record's transcript tail. */
export function appendLog(record: TaskRecord, line: string): void {
  record.log.push(line);
  if (record.log.length > LOG_LINES) record.log.splice(0, record.log.length - LOG_LINES);
}

/** A background task as stored before tasks had states (`status`, `error: { category, message }`). */
interface LegacyRecord {
  taskId: string;
  owner: string;
  status: 'running' | 'completed' | 'failed' | 'aborted' | 'interrupted';
  promptPreview?: string;
  request?: Record<string, unknown>;
  sessionId?: string;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  costUsd?: number;
  numTurns?: number;
  summary?: string;
  error?: { category: string; message: string };
  attempts?: number;
  heartbeatAt?: string;
  log?: string[];
}

const LEGACY_STATES: Record<LegacyRecord['status'], TaskState> = {
  running: 'working',
  completed: 'completed',
  failed: 'failed',
  aborted: 'cancelled',
  interrupted: 'interrupted',
};

/** Retention of legacy background records (what they were stored with). */
const LEGACY_TTL_MS = 7 * 24 * 3600_000;

/**
 * A stored value as a {@link TaskRecord}: current records as they are, background records of the previous format
 * (same namespace) converted, so listings, logs and restart keep working across the upgrade.
 */
export function normalizeRecord(value: unknown, pollIntervalMs: number): TaskRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const raw = value as Partial<TaskRecord> & Partial<LegacyRecord>;
  if (typeof raw.taskId !== 'string' || typeof raw.owner !== 'string') return undefined;
  if (typeof raw.state === 'string') return raw as TaskRecord;
  if (typeof raw.status !== 'string' || !(raw.status in LEGACY_STATES)) return undefined;
  const legacy = raw as LegacyRecord;
  const state = LEGACY_STATES[legacy.status];
  const text = legacy.summary ?? '';
  return {
    taskId: legacy.taskId,
    owner: legacy.owner,
    kind: 'claude-run',
    origin: 'background',
    tool: 'claude_ask',
    state,
    createdAt: legacy.createdAt,
    lastUpdatedAt: legacy.endedAt ?? legacy.heartbeatAt ?? legacy.startedAt ?? legacy.createdAt,
    ttlMs: LEGACY_TTL_MS,
    pollIntervalMs,
    inputSeq: 0,
    attempts: legacy.attempts ?? 1,
    log: legacy.log ?? [],
    ...(legacy.promptPreview !== undefined ? { promptPreview: legacy.promptPreview } : {}),
    ...(legacy.request ? { request: legacy.request } : {}),
    ...(legacy.sessionId ? { sessionId: legacy.sessionId } : {}),
    ...(legacy.startedAt ? { startedAt: legacy.startedAt } : {}),
    ...(legacy.endedAt ? { endedAt: legacy.endedAt } : {}),
    ...(legacy.durationMs !== undefined ? { durationMs: legacy.durationMs } : {}),
    ...(legacy.costUsd !== undefined ? { costUsd: legacy.costUsd } : {}),
    ...(legacy.numTurns !== undefined ? { numTurns: legacy.numTurns } : {}),
    ...(legacy.summary !== undefined ? { summary: legacy.summary } : {}),
    ...(legacy.heartbeatAt ? { heartbeatAt: legacy.heartbeatAt } : {}),
    ...(legacy.error ? { failure: legacy.error } : {}),
    ...(state === 'completed' || state === 'failed'
      ? { result: { content: [{ type: 'text' as const, text }], ...(state === 'failed' ? { isError: true } : {}) } }
      : {}),
    ...(state === 'interrupted' ? { error: interruptedError(text || 'the server stopped while the task was running') } : {}),
  };
}

/** An answer to an elicitation as clients send it back (`{ action, content? }`); anything else is ignored. */
export function isElicitAnswer(value: unknown): value is ElicitResult {
  if (typeof value !== 'object' || value === null) return false;
  const { action, content } = value as { action?: unknown; content?: unknown };
  return (
    (action === 'accept' || action === 'decline' || action === 'cancel') &&
    (content === undefined || (typeof content === 'object' && content !== null))
  );
}

/** The JSON-RPC error of an `interrupted` task. */
export function interruptedError(message: string): TaskError {
  return { code: JsonRpcErrorCode.InternalError, message };
}
