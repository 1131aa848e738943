import { randomUUID } from 'node:crypto';
import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { EventBus } from '../events/bus.js';
import { durably } from '../events/durable-writes.js';
import type { Logger } from '../logging/logger.js';
import type { KeyValueStore } from '../storage/types.js';
import { ClaudeError } from './errors.js';
import type { ClaudeExecutor, RunOutcome, RunRequest } from './executor.js';
import { progressObserver } from './progress.js';
import type { SessionStore } from './session-store.js';

/** Lifecycle of a background task. `interrupted`: it was running when the server stopped or died. */
export type TaskStatus = 'running' | 'completed' | 'failed' | 'aborted' | 'interrupted';

/** A background task as stored (durably, on the storage port). */
export interface TaskRecord {
  taskId: string;
  owner: string;
  status: TaskStatus;
  /** The first 500 characters of the prompt, for listings. */
  promptPreview: string;
  /** What to run again on restart (the validated request minus callbacks). */
  request: StoredRequest;
  sessionId?: string;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  costUsd?: number;
  numTurns?: number;
  /** Final answer, or the error message. */
  summary?: string;
  error?: { category: string; message: string };
  /** Runs so far (restart adds one). */
  attempts: number;
  /** Refreshed while the task runs; a `running` task whose heartbeat stopped belongs to a process that died. */
  heartbeatAt?: string;
  /** Transcript tail: one line per text, tool use, subagent event. */
  log: string[];
}

/** The serialisable part of a {@link RunRequest}. */
export type StoredRequest = Omit<RunRequest, 'owner' | 'signal' | 'onMessage' | 'canUseTool' | 'includePartialMessages'>;

const NS = 'claude-tasks';
const LOG_LINES = 200;
const TTL_SECONDS = 7 * 24 * 3600;

/** Options of {@link BackgroundTasks}. */
export interface BackgroundTasksOptions {
  store: KeyValueStore;
  executor: ClaudeExecutor;
  sessions: SessionStore;
  events: EventBus;
  logger: Logger;
  /** MAX_ASYNC_PROCESSES: background runs alive at once (queued or running). */
  maxTasks: number;
  /** ASYNC_PROCESS_TIMEOUT_MS: time limit of one background run. */
  timeoutMs: number;
  /**
   * Storage shared with other replicas (Redis). Then only tasks whose heartbeat stopped are marked `interrupted`
   * (another replica may be running the rest); otherwise every `running` record left over is stale.
   */
  shared?: boolean;
  /** Heartbeat period; a task is presumed dead after three missed beats. */
  heartbeatMs?: number;
}

/**
 * Background Claude runs: started by `claude_ask` with `backgroundTask: true`, answered at once with a task id, run
 * detached from the request (a client disconnect does not stop them) and recorded durably so `list` and `logs`
 * work after a restart; a task that was running when the server stopped is shown as `interrupted`.
 */
export class BackgroundTasks {
  /** Task id -> executor run id, for the runs alive in this process. */
  private readonly live = new Map<string, { runId?: string; done: Promise<void> }>();

  constructor(private readonly options: BackgroundTasksOptions) {}

  /**
   * Marks tasks left `running` by a process that stopped or died as `interrupted`. Call at startup; with shared
   * storage call it periodically too (see {@link BackgroundTasksOptions.shared}).
   */
  async recover(now = Date.now()): Promise<number> {
    let count = 0;
    const staleBefore = now - 3 * (this.options.heartbeatMs ?? 10_000);
    for (const { value } of await this.options.store.list<TaskRecord>(NS)) {
      const stale = !this.options.shared || !value.heartbeatAt || Date.parse(value.heartbeatAt) < staleBefore;
      if (value.status === 'running' && !this.live.has(value.taskId) && stale) {
        await this.save({ ...value, status: 'interrupted', endedAt: new Date().toISOString(), summary: 'the server stopped while the task was running' });
        count += 1;
      }
    }
    if (count > 0) this.options.logger.warn('background tasks interrupted by a restart', { count });
    return count;
  }

  /** Starts a task for `owner`; returns its record at once. `busy` when MAX_ASYNC_PROCESSES are alive. */
  async start(owner: string, request: StoredRequest): Promise<TaskRecord> {
    if (this.live.size >= this.options.maxTasks) {
      throw new ClaudeError('busy', `${this.options.maxTasks} background tasks are already running; wait for one to finish or stop one`);
    }
    const record: TaskRecord = {
      taskId: randomUUID(),
      owner,
      status: 'running',
      promptPreview: request.prompt.slice(0, 500),
      request,
      createdAt: new Date().toISOString(),
      attempts: 0,
      log: [],
    };
    return this.launch(record);
  }

  /** The owner's tasks, newest first. */
  async list(owner: string): Promise<TaskRecord[]> {
    const all = await this.options.store.list<TaskRecord>(NS);
    return all.map((entry) => entry.value).filter((task) => task.owner === owner).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** The task when `owner` owns it; `not_found` otherwise, whether it exists or not. */
  async get(owner: string, taskId: string): Promise<TaskRecord> {
    const record = await this.options.store.get<TaskRecord>(NS, taskId);
    if (!record || record.owner !== owner) throw new ClaudeError('not_found', `no task ${taskId}`);
    return record;
  }

  /** Interrupts a running task of `owner`; resolves with its final record. */
  async stop(owner: string, taskId: string): Promise<TaskRecord> {
    const record = await this.get(owner, taskId);
    const live = this.live.get(taskId);
    if (!live?.runId || !this.options.executor.stopRun(owner, live.runId)) return record;
    await live.done;
    return this.get(owner, taskId);
  }

  /** Runs a finished task again, resuming its session when it has one. */
  async restart(owner: string, taskId: string): Promise<TaskRecord> {
    const record = await this.get(owner, taskId);
    if (this.live.has(taskId)) throw new ClaudeError('invalid_input', `task ${taskId} is still running; stop it first`);
    if (this.live.size >= this.options.maxTasks) throw new ClaudeError('busy', `${this.options.maxTasks} background tasks are already running`);
    const request: StoredRequest = record.sessionId ? { ...record.request, resume: record.sessionId, forkSession: false } : record.request;
    const { startedAt: _s, endedAt: _e, durationMs: _d, summary: _m, error: _r, ...rest } = record;
    return this.launch({ ...rest, request, status: 'running', log: [...record.log, `--- restart ${record.attempts + 1} ---`] });
  }

  /** Waits for every task alive in this process to settle (shutdown aborts them through the executor). */
  async drain(): Promise<void> {
    await Promise.all([...this.live.values()].map((entry) => entry.done));
  }

  private async launch(initial: TaskRecord): Promise<TaskRecord> {
    const startedAt = new Date().toISOString();
    let record: TaskRecord = { ...initial, attempts: initial.attempts + 1, startedAt, heartbeatAt: startedAt };
    await this.save(record);
    const { events, executor, logger } = this.options;
    events.emit('background_task.started', { taskId: record.taskId, owner: record.owner });
    let resolveDone!: () => void;
    const entry: { runId?: string; done: Promise<void> } = { done: new Promise<void>((resolve) => (resolveDone = resolve)) };
    this.live.set(record.taskId, entry);

    let dirty = false;
    let flushing: Promise<void> = Promise.resolve();
    const flush = () => {
      if (!dirty) return;
      dirty = false;
      flushing = flushing
        .then(() => this.save(record))
        .catch((error: unknown) => void logger.warn('task record not saved', { error }));
    };
    const flushTimer = setInterval(flush, 500);
    flushTimer.unref();
    const heartbeat = setInterval(() => {
      record.heartbeatAt = new Date().toISOString();
      dirty = true;
    }, this.options.heartbeatMs ?? 10_000);
    heartbeat.unref();
    const append = progressObserver(async (_n, line) => {
      record.log.push(line);
      if (record.log.length > LOG_LINES) record.log.splice(0, record.log.length - LOG_LINES);
      dirty = true;
    }, record.taskId);
    const onMessage = (message: SDKMessage) => {
      if (message.type === 'system' && message.subtype === 'init' && record.sessionId !== message.session_id) {
        record.sessionId = message.session_id;
        dirty = true;
        this.options.sessions.save({ sessionId: message.session_id, owner: record.owner, cwd: record.request.cwd }).catch(() => undefined);
      }
      append(message);
    };

    const run = executor.run(
      { ...record.request, owner: record.owner, onMessage, timeoutMs: this.options.timeoutMs },
      { onQueued: (live) => (entry.runId = live.id) },
    );
    // The record says how the task ended only once the event saying so is stored (events/durable-writes.ts).
    void run
      .then(
        (outcome: RunOutcome) => {
          record = { ...record, ...figures(outcome), status: 'completed', summary: outcome.result };
          return durably(() => events.emit('background_task.completed', { taskId: record.taskId, owner: record.owner, costUsd: outcome.costUsd, durationMs: outcome.durationMs }));
        },
        (error: unknown) => {
          const known = error instanceof ClaudeError ? error : new ClaudeError('internal', 'internal error');
          const outcome = known.details as Partial<RunOutcome> | undefined;
          const status: TaskStatus = /shutting down/.test(known.message) ? 'interrupted' : known.category === 'aborted' ? 'aborted' : 'failed';
          record = {
            ...record,
            ...(outcome?.sessionId ? figures(outcome as RunOutcome) : {}),
            status,
            summary: known.message,
            error: { category: known.category, message: known.message },
          };
          return durably(() => events.emit('background_task.failed', { taskId: record.taskId, owner: record.owner, category: known.category, status }));
        },
      )
      .then(async () => {
        clearInterval(flushTimer);
        clearInterval(heartbeat);
        record.endedAt = new Date().toISOString();
        await flushing;
        await this.save(record);
      })
      .catch((error: unknown) => logger.error('background task bookkeeping failed', { error, taskId: record.taskId }))
      .finally(() => {
        this.live.delete(record.taskId);
        resolveDone();
      });
    return record;
  }

  private save(record: TaskRecord): Promise<void> {
    return this.options.store.set(NS, record.taskId, record, TTL_SECONDS);
  }
}

function figures(outcome: RunOutcome): Partial<TaskRecord> {
  return { sessionId: outcome.sessionId, durationMs: outcome.durationMs, costUsd: outcome.costUsd, numTurns: outcome.numTurns };
}
