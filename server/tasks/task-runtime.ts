import type { CallToolResult, ElicitRequestFormParams, ElicitResult } from '@modelcontextprotocol/server';
import type { EventBus } from '../events/bus.js';
import { answerBarrier, durably } from '../events/durable-writes.js';
import { currentContext, runWithContext } from '../logging/context.js';
import type { Logger } from '../logging/logger.js';
import {
  appendLog,
  canTransition,
  clampTtl,
  interruptedError,
  isTerminal,
  newTaskId,
  type TaskError,
  type TaskRecord,
  type TaskState,
} from './task-record.js';
import type { TaskStore } from './task-store.js';
import { backgroundStatus } from './task-views.js';
import {
  asTaskError,
  bounded,
  definedOnly,
  firstText,
  TaskLimitReached,
  TaskStillRunning,
  type TaskSpec,
  type TaskWork,
  type TaskWorkContext,
} from './task-work.js';

/** This replica's standing among several sharing storage (server/cluster/replicas.ts gives one). */
export interface ReplicaLiveness {
  /** This replica's id, recorded on the tasks it runs. */
  readonly id: string;
  /** Whether replica `id` still holds its lease. */
  alive(id: string): Promise<boolean>;
}

/** Options of {@link TaskRuntime}. */
export interface TaskRuntimeOptions {
  store: TaskStore;
  events: EventBus;
  logger: Logger;
  /** MAX_ASYNC_PROCESSES: tasks alive at once in this process; more are refused ({@link TaskLimitReached}). */
  maxLive: number;
  /** Suggested client polling interval (TASK_POLL_INTERVAL_MS). */
  pollIntervalMs: number;
  /** Retention: the default (TASK_TTL_MS), the bounds a client's wish is clamped to (TASK_MAX_TTL_MS). */
  ttl: { defaultMs: number; minMs: number; maxMs: number };
  /**
   * Heartbeat period. With shared storage and no {@link presence}, a running task is presumed dead after three
   * missed beats.
   */
  heartbeatMs?: number;
  /**
   * With several replicas: this replica. Its tasks carry its id, and a task counts as abandoned once its replica's
   * lease has run out ({@link TaskRuntime.sweep} marks it `interrupted`).
   */
  presence?: ReplicaLiveness;
  /** How often a running task's record is written and its mailboxes read (default 500 ms). */
  flushMs?: number;
}

interface Question {
  resolve(answer: ElicitResult): void;
}

/** A task running in this process. */
interface LiveTask {
  record: TaskRecord;
  controller: AbortController;
  questions: Map<string, Question>;
  lastLine?: string;
  dirty: boolean;
  /** Saves in order. */
  saving: Promise<void>;
  done: Promise<void>;
}

/**
 * Runs tasks detached from the requests that created them, and keeps their records: durable before a task id is
 * handed out, written as the work progresses (every `flushMs`), final only once the event saying how it ended is
 * stored (events/durable-writes.ts). One runtime serves every origin (background tasks, 2025-11-25 task-augmented
 * calls, 2026-07-28 tasks), so they share one limit, one listing and one cancel.
 *
 * Only the process running a task writes its record. Answers and cancels that reach another replica go through the
 * store's mailboxes, which the runner reads on its flush tick.
 */
export class TaskRuntime {
  private readonly live = new Map<string, LiveTask>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private shuttingDown = false;

  constructor(private readonly options: TaskRuntimeOptions) {}

  /** Tasks alive in this process. */
  get liveCount(): number {
    return this.live.size;
  }

  /**
   * Creates a task and starts its work; resolves with the record once it is stored, so an immediate `tasks/get`
   * finds it. Throws {@link TaskLimitReached} when MAX_ASYNC_PROCESSES tasks are alive.
   */
  async start(spec: TaskSpec): Promise<TaskRecord> {
    if (this.live.size >= this.options.maxLive) throw new TaskLimitReached(this.options.maxLive);
    return this.launch(
      { ...this.newRecord(spec, spec.work.kind), ...(spec.request ? { request: spec.request } : {}) },
      spec.work,
      spec.canAsk,
      true,
    );
  }

  /** A task already ended, stored as such (a task request refused for the limit still gets a task, as the spec has it). */
  async settled(spec: Omit<TaskSpec, 'work' | 'canAsk'> & { kind: string }, result: CallToolResult): Promise<TaskRecord> {
    const record = this.newRecord(spec, spec.kind);
    Object.assign(record, {
      state: result.isError ? 'failed' : 'completed',
      endedAt: record.createdAt,
      result,
      summary: firstText(result),
    });
    await this.options.store.create(record);
    return record;
  }

  private newRecord(spec: Omit<TaskSpec, 'work' | 'canAsk'>, kind: string): TaskRecord {
    const now = new Date().toISOString();
    return {
      taskId: newTaskId(),
      owner: spec.owner,
      kind,
      origin: spec.origin,
      tool: spec.tool,
      state: 'working',
      createdAt: now,
      lastUpdatedAt: now,
      ttlMs: clampTtl(spec.ttlMs, this.options.ttl),
      pollIntervalMs: this.options.pollIntervalMs,
      inputSeq: 0,
      attempts: 0,
      log: [],
      ...(spec.promptPreview !== undefined ? { promptPreview: spec.promptPreview.slice(0, 500) } : {}),
    };
  }

  /** The task when `owner` owns it (the freshest copy: this process's live one, else the stored one). */
  async get(owner: string, taskId: string): Promise<TaskRecord | undefined> {
    const live = this.live.get(taskId);
    if (live) return live.record.owner === owner ? { ...live.record } : undefined;
    const record = await this.options.store.owned(owner, taskId);
    if (!record || isTerminal(record.state) || !this.options.store.shared) return record;
    // Running on another replica: a cancel left for it already counts (2025: cancelled before the answer).
    return (await this.options.store.cancelRequested(taskId)) ? { ...record, state: 'cancelled', statusMessage: 'cancelled' } : record;
  }

  /** The owner's tasks, newest first, whatever created them. */
  async list(owner: string): Promise<TaskRecord[]> {
    const records = await this.options.store.listOwned(owner);
    return records.map((record) => {
      const live = this.live.get(record.taskId);
      return live ? { ...live.record } : record;
    });
  }

  /** A live task of `owner` matching `predicate` (a task working on a session). */
  findLive(owner: string, predicate: (record: TaskRecord) => boolean): TaskRecord | undefined {
    for (const live of this.live.values()) if (live.record.owner === owner && predicate(live.record)) return { ...live.record };
    return undefined;
  }

  /**
   * Cancels a task of `owner`: it is `cancelled` at once (and stays so whatever its work does next), and its work
   * is stopped (a Claude run is interrupted, then killed after RUN_INTERRUPT_GRACE_MS). Resolves with the record
   * (unchanged when it had already ended), or `undefined` when `owner` has no such task.
   */
  async cancel(owner: string, taskId: string): Promise<TaskRecord | undefined> {
    const live = this.live.get(taskId);
    if (live) {
      if (live.record.owner !== owner) return undefined;
      if (!isTerminal(live.record.state)) await this.cancelLive(live, "cancelled at the client's request");
      return { ...live.record };
    }
    const record = await this.options.store.owned(owner, taskId);
    if (!record || isTerminal(record.state)) return record;
    if (!(await this.abandoned(record, Date.now()))) {
      await this.options.store.requestCancel(record);
      return { ...record, state: 'cancelled', statusMessage: 'cancelled' };
    }
    // No process runs it any more: it ends here (unless another replica is ending it right now).
    return (await this.endAbandoned(record, 'cancelled', "cancelled at the client's request")) ?? (await this.get(owner, taskId));
  }

  /**
   * Cancels a live task and waits (bounded) until its work has stopped, here or on the replica running it; for the
   * tools that report the end.
   */
  async stop(owner: string, taskId: string, waitMs: number): Promise<TaskRecord | undefined> {
    const record = await this.cancel(owner, taskId);
    if (!record) return undefined;
    const live = this.live.get(taskId);
    const timeout = new Promise((resolve) => setTimeout(resolve, waitMs).unref());
    if (live) await Promise.race([live.done, timeout]);
    else if (this.options.store.shared) await Promise.race([this.storedEnd(taskId, waitMs), timeout]);
    return this.get(owner, taskId);
  }

  /**
   * Answers question `key` of a task of `owner` (`tasks/update`, or the answer to an elicitation sent on
   * `tasks/result`). The first answer wins; an unknown or already answered key is ignored. False when `owner` has
   * no such task.
   */
  async answer(owner: string, taskId: string, key: string, answer: ElicitResult): Promise<boolean> {
    const live = this.live.get(taskId);
    if (live) {
      if (live.record.owner !== owner) return false;
      live.questions.get(key)?.resolve(answer);
      return true;
    }
    const record = await this.options.store.owned(owner, taskId);
    if (!record) return false;
    if (record.inputRequests?.[key]) await this.options.store.putAnswer(record, key, answer);
    return true;
  }

  /** Resolves when the task changes in this process, after `timeoutMs`, or when `signal` aborts. */
  waitForChange(taskId: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(taskId);
      if (!set) this.waiters.set(taskId, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(taskId);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  /**
   * Runs a task of `owner` that has ended again, with `work` (restart); `attempts` grows. Throws when it is still
   * running or the limit is reached.
   */
  async rerun(record: TaskRecord, work: TaskWork, canAsk: boolean): Promise<TaskRecord> {
    if (this.live.has(record.taskId) || !isTerminal(record.state)) throw new TaskStillRunning(record.taskId);
    if (this.live.size >= this.options.maxLive) throw new TaskLimitReached(this.options.maxLive);
    // A cancel left for the run that ended must not cancel this one.
    if (this.options.store.shared) await this.options.store.clearCancel(record.taskId);
    const {
      startedAt: _s,
      endedAt: _e,
      durationMs: _d,
      summary: _m,
      failure: _f,
      result: _r,
      error: _x,
      inputRequests: _i,
      ...rest
    } = record;
    const again: TaskRecord = {
      ...rest,
      kind: work.kind,
      state: 'working',
      statusMessage: 'restarted',
      lastUpdatedAt: new Date().toISOString(),
      log: [...record.log, `--- restart ${record.attempts + 1} ---`],
    };
    return this.launch(again, work, canAsk, false);
  }

  /**
   * Marks tasks left running by a process that stopped or died as `interrupted`, reading every record. Call at
   * startup. With shared storage only abandoned tasks are taken (another replica may be running the rest).
   */
  async recover(now = Date.now()): Promise<number> {
    const count = await this.interruptAbandoned(await this.options.store.all(), now);
    if (count > 0) this.options.logger.warn('tasks interrupted by a restart', { count });
    return count;
  }

  /**
   * With several replicas, every replica calls this periodically: marks the running tasks of replicas whose lease
   * ran out as `interrupted`, reading only the records of running tasks. Of replicas sweeping at once, one marks
   * each task (an atomic claim), so its end is recorded and announced once.
   */
  async sweep(now = Date.now()): Promise<number> {
    const { store, logger } = this.options;
    const records: TaskRecord[] = [];
    for (const { taskId } of await store.running()) {
      if (this.live.has(taskId)) continue;
      const record = await store.read(taskId);
      if (record && !isTerminal(record.state)) records.push(record);
      // An entry whose task ended (its replica stopped before removing it) is only left over.
      else await store.markEnded(taskId);
    }
    const count = await this.interruptAbandoned(records, now);
    if (count > 0) logger.warn('tasks of a replica that stopped answering marked interrupted', { count, category: 'cluster' });
    return count;
  }

  /** Shutdown, first step: tasks ending from now on are `interrupted`, and every live task's work is told to stop. */
  beginShutdown(): void {
    this.shuttingDown = true;
    for (const live of this.live.values()) live.controller.abort('shutdown');
  }

  /** Resolves once every task of this process has ended and its record is stored. */
  async drain(): Promise<void> {
    await Promise.all([...this.live.values()].map((live) => live.done));
  }

  private async interruptAbandoned(records: readonly TaskRecord[], now: number): Promise<number> {
    let count = 0;
    for (const record of records) {
      if (isTerminal(record.state) || this.live.has(record.taskId) || !(await this.abandoned(record, now))) continue;
      if (await this.endAbandoned(record, 'interrupted', 'the server stopped while the task was running')) count += 1;
    }
    return count;
  }

  /**
   * Whether no process runs a task that is not live here: with one process, always; with a replica recorded on it,
   * when that replica's lease has run out; otherwise (records of earlier versions) when its heartbeat stopped.
   */
  private async abandoned(record: TaskRecord, now: number): Promise<boolean> {
    const { store, presence } = this.options;
    if (!store.shared) return true;
    if (presence && record.replica) return record.replica !== presence.id && !(await presence.alive(record.replica));
    const staleBefore = now - 3 * (this.options.heartbeatMs ?? 10_000);
    return !record.heartbeatAt || Date.parse(record.heartbeatAt) < staleBefore;
  }

  /**
   * Ends a task no process runs any more (`interrupted`, or `cancelled` on request), unless another replica claimed
   * it first (then `undefined`). The claim is per run, so a task restarted since can be ended again.
   */
  private async endAbandoned(record: TaskRecord, state: 'interrupted' | 'cancelled', why: string): Promise<TaskRecord | undefined> {
    const { store, presence } = this.options;
    if (store.shared && !(await store.claimSweep(`${record.taskId}\n${record.attempts}`, presence?.id ?? 'replica'))) return undefined;
    const ended = this.transition(record, state, why);
    if (state === 'interrupted') {
      ended.error = interruptedError(why);
      ended.summary = why;
    }
    await this.announceEnd(ended);
    await store.save(ended);
    if (store.shared) await store.markEnded(record.taskId);
    return ended;
  }

  /** Resolves once the stored record of a task running elsewhere has ended (polled), or after `waitMs`. */
  private async storedEnd(taskId: string, waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      const record = await this.options.store.read(taskId);
      if (!record || isTerminal(record.state)) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.options.flushMs ?? 500, 200)).unref());
    }
  }

  private async launch(initial: TaskRecord, work: TaskWork, canAsk: boolean, create: boolean): Promise<TaskRecord> {
    const startedAt = new Date().toISOString();
    const { store, presence } = this.options;
    const record: TaskRecord = {
      ...initial,
      attempts: initial.attempts + 1,
      startedAt,
      heartbeatAt: startedAt,
      ...(presence ? { replica: presence.id } : {}),
    };
    let resolveDone!: () => void;
    const live: LiveTask = {
      record,
      controller: new AbortController(),
      questions: new Map(),
      dirty: false,
      saving: Promise.resolve(),
      done: new Promise<void>((resolve) => (resolveDone = resolve)),
    };
    // The slot is taken before the first write, so concurrent starts cannot pass the limit together.
    this.live.set(record.taskId, live);
    try {
      if (create) await store.create(record);
      else await store.save(record);
      if (store.shared) await store.markRunning(record);
    } catch (error) {
      this.live.delete(record.taskId);
      resolveDone();
      throw error;
    }
    const { events, logger } = this.options;
    events.emit('background_task.started', { taskId: record.taskId, owner: record.owner });

    const flushTimer = setInterval(() => void this.tick(live), this.options.flushMs ?? 500);
    flushTimer.unref();
    const heartbeat = setInterval(() => {
      live.record.heartbeatAt = new Date().toISOString();
      live.dirty = true;
      store.index(live.record).catch(() => undefined);
      if (store.shared) store.markRunning(live.record).catch(() => undefined);
    }, this.options.heartbeatMs ?? 10_000);
    heartbeat.unref();

    const context: TaskWorkContext = {
      taskId: record.taskId,
      owner: record.owner,
      signal: live.controller.signal,
      ...(canAsk ? { ask: (params: ElicitRequestFormParams, signal: AbortSignal) => this.ask(live, params, signal) } : {}),
      progress: (line) => {
        // Keep-alives repeat the last line: the task's figures change, its transcript does not.
        if (line !== live.lastLine) appendLog(live.record, line);
        live.lastLine = line;
        if (live.record.state === 'working') live.record.statusMessage = line.slice(0, 500);
        this.touch(live);
      },
      annotate: (facts) => {
        Object.assign(live.record, definedOnly(facts));
        live.dirty = true;
      },
    };

    // The work runs in a request context of its own: events it emits (a tool call's `tool.completed`) are held there,
    // and the task is recorded as ended only once they are stored.
    const parent = currentContext();
    void runWithContext(parent?.requestId === undefined ? {} : { requestId: parent.requestId }, async () => {
      let outcome: { result: CallToolResult } | { error: TaskError };
      try {
        outcome = { result: await work.run(context) };
      } catch (error) {
        outcome = { error: asTaskError(error, logger) };
      }
      await answerBarrier();
      return outcome;
    })
      .then((outcome) => this.finish(live, outcome))
      .catch((error: unknown) => logger.error('task bookkeeping failed', { error, taskId: record.taskId }))
      .finally(() => {
        clearInterval(flushTimer);
        clearInterval(heartbeat);
        this.live.delete(record.taskId);
        this.changed(record.taskId);
        resolveDone();
      });
    return { ...record };
  }

  /** Records how a task's work ended (unless it had already ended: cancelled), once the event saying so is stored. */
  private async finish(live: LiveTask, outcome: { result: CallToolResult } | { error: TaskError }): Promise<void> {
    const record = live.record;
    record.endedAt = new Date().toISOString();
    if (record.durationMs === undefined && record.startedAt) record.durationMs = Date.parse(record.endedAt) - Date.parse(record.startedAt);
    delete record.inputRequests;
    if (!isTerminal(record.state)) {
      let ended: TaskRecord;
      if (this.shuttingDown) {
        ended = this.transition(record, 'interrupted', 'the server shut down while the task was running');
        ended.error = interruptedError(ended.statusMessage!);
        ended.summary = ended.statusMessage;
      } else if ('result' in outcome) {
        const result = bounded(outcome.result);
        ended = this.transition(record, result.isError ? 'failed' : 'completed', result.isError ? 'failed' : 'completed');
        ended.result = result;
        ended.summary = firstText(result);
      } else {
        ended = this.transition(record, 'error', outcome.error.message);
        ended.error = outcome.error;
        ended.summary = outcome.error.message;
      }
      live.record = ended;
      await this.announceEnd(ended);
    }
    const { store } = this.options;
    await live.saving;
    await store.save(live.record);
    await store.index(live.record);
    if (store.shared) {
      await store.markEnded(record.taskId);
      await store.clearCancel(record.taskId);
    }
  }

  /** The record in `state` (a copy), with `statusMessage` and `lastUpdatedAt`; throws on an illegal transition. */
  private transition(record: TaskRecord, state: TaskState, statusMessage: string): TaskRecord {
    if (!canTransition(record.state, state))
      throw new Error(`task ${record.taskId}: ${record.state} -> ${state} is not a legal transition`);
    const now = new Date().toISOString();
    return { ...record, state, statusMessage, lastUpdatedAt: now, ...(isTerminal(state) ? { endedAt: record.endedAt ?? now } : {}) };
  }

  /** Emits the event of a task's end and resolves once it is stored (before the record may say the task ended). */
  private async announceEnd(record: TaskRecord): Promise<void> {
    const { events } = this.options;
    const status = backgroundStatus(record.state);
    await durably(() =>
      record.state === 'completed'
        ? events.emit('background_task.completed', {
            taskId: record.taskId,
            owner: record.owner,
            costUsd: record.costUsd ?? 0,
            durationMs: record.durationMs ?? 0,
          })
        : events.emit('background_task.failed', {
            taskId: record.taskId,
            owner: record.owner,
            category:
              record.failure?.category ??
              (record.state === 'cancelled' ? 'aborted' : record.state === 'interrupted' ? 'aborted' : 'internal'),
            status,
          }),
    );
  }

  private async cancelLive(live: LiveTask, why: string): Promise<void> {
    const ended = this.transition(live.record, 'cancelled', why);
    delete ended.inputRequests;
    ended.summary ??= why;
    live.record = ended;
    await this.announceEnd(ended);
    live.controller.abort('cancelled');
    for (const question of live.questions.values()) question.resolve({ action: 'cancel' });
    await this.saveNow(live);
  }

  /** Puts a question to the person: `input_required` until the answer comes, `signal` aborts or the task ends. */
  private async ask(live: LiveTask, params: ElicitRequestFormParams, signal: AbortSignal): Promise<ElicitResult> {
    if (signal.aborted || live.controller.signal.aborted) throw new Error('the task is ending');
    const record = live.record;
    const key = `input-${(record.inputSeq += 1)}`;
    record.inputRequests = { ...record.inputRequests, [key]: { method: 'elicitation/create', params, askedAt: new Date().toISOString() } };
    record.state = 'input_required';
    record.statusMessage = params.message.slice(0, 500);
    appendLog(record, `waiting for input: ${params.message.slice(0, 200)}`);
    let onAbort: (() => void) | undefined;
    // Listening before the state is saved: an answer may come as soon as a client sees the question.
    const answered = new Promise<ElicitResult>((resolve, reject) => {
      live.questions.set(key, { resolve });
      onAbort = () => reject(new Error('no answer came'));
      signal.addEventListener('abort', onAbort, { once: true });
      live.controller.signal.addEventListener('abort', onAbort, { once: true });
    });
    answered.catch(() => undefined);
    try {
      await this.saveNow(live);
      return await answered;
    } finally {
      if (onAbort) {
        signal.removeEventListener('abort', onAbort);
        live.controller.signal.removeEventListener('abort', onAbort);
      }
      live.questions.delete(key);
      const current = live.record;
      if (current.inputRequests) {
        delete current.inputRequests[key];
        if (Object.keys(current.inputRequests).length === 0) delete current.inputRequests;
      }
      if (current.state === 'input_required' && !current.inputRequests) {
        current.state = 'working';
        current.statusMessage = 'working';
      }
      this.touch(live);
      await this.saveNow(live);
    }
  }

  /** Flush tick: writes a changed record; with shared storage also reads the task's mailboxes. */
  private async tick(live: LiveTask): Promise<void> {
    if (this.options.store.shared && !isTerminal(live.record.state)) {
      try {
        for (const key of live.questions.keys()) {
          const answer = await this.options.store.takeAnswer(live.record.taskId, key);
          if (answer !== undefined) live.questions.get(key)?.resolve(answer as ElicitResult);
        }
        if (await this.options.store.cancelRequested(live.record.taskId)) await this.cancelLive(live, "cancelled at the client's request");
      } catch (error) {
        this.options.logger.warn('task mailboxes not read', { error, taskId: live.record.taskId });
      }
    }
    if (live.dirty) this.enqueueSave(live);
  }

  private touch(live: LiveTask): void {
    live.record.lastUpdatedAt = new Date().toISOString();
    live.dirty = true;
    this.changed(live.record.taskId);
  }

  private saveNow(live: LiveTask): Promise<void> {
    this.changed(live.record.taskId);
    return this.enqueueSave(live);
  }

  private enqueueSave(live: LiveTask): Promise<void> {
    live.dirty = false;
    live.saving = live.saving
      .then(() => this.options.store.save(live.record))
      .catch((error: unknown) => void this.options.logger.warn('task record not saved', { error, taskId: live.record.taskId }));
    return live.saving;
  }

  private changed(taskId: string): void {
    const set = this.waiters.get(taskId);
    if (set) for (const wake of [...set]) wake();
  }
}
