import type { KeyValueStore } from '../storage/types.js';
import { normalizeRecord, storageTtlSeconds, type TaskRecord } from './task-record.js';

/** Records; the namespace background tasks always used, so records written before tasks had states stay readable. */
const RECORDS = 'claude-tasks';
/** `{owner}\n{createdAt}\n{taskId}` -> `{}`: an owner's tasks without scanning everyone's. */
const OWNER_INDEX = 'task-owner-index';
/** `{taskId}\n{key}` -> the answer to one question; the first answer wins. */
const INBOX = 'task-inbox';
/** `{taskId}` -> `{ cancel: true }`: a cancel asked for on a replica that is not running the task. */
const CONTROL = 'task-control';
/** `{taskId}` -> `{ replica }`: the tasks running now and where, so a sweep for dead replicas reads only these. */
const RUNNING = 'task-running';
/** `{taskId}` -> `{ by }`: which replica marks a dead replica's task; the first to claim it does, once. */
const SWEEP = 'task-sweep';
/** How long a sweep claim holds: longer than any one sweep takes. */
const SWEEP_CLAIM_SECONDS = 600;

/**
 * Task records on the storage port, and the two mailboxes through which any replica reaches the one running a task
 * (answers to its questions, a cancel). Only the process running a task writes its record; everything else writes
 * the mailboxes, which the runner reads.
 */
export class TaskStore {
  constructor(
    private readonly store: KeyValueStore & { readonly shared?: boolean },
    /** Reported for records written before `pollIntervalMs` existed. */
    private readonly pollIntervalMs: number,
  ) {}

  /** Whether several processes share the storage (a task may be running on another replica). */
  get shared(): boolean {
    return this.store.shared === true;
  }

  /** Stores a new record and its owner-index entry; resolves once both are stored (durable before it is announced). */
  async create(record: TaskRecord): Promise<void> {
    await this.save(record);
    await this.index(record);
  }

  /** Replaces the record, with the storage lifetime its state and ttl call for. */
  save(record: TaskRecord): Promise<void> {
    return this.store.set(RECORDS, record.taskId, record, storageTtlSeconds(record));
  }

  /** Writes (or renews) the owner-index entry of `record`, with the record's lifetime. */
  index(record: TaskRecord): Promise<void> {
    return this.store.set(OWNER_INDEX, indexId(record), {}, storageTtlSeconds(record));
  }

  /** The record, whoever owns it (for the runtime and recovery only). */
  async read(taskId: string): Promise<TaskRecord | undefined> {
    return normalizeRecord(await this.store.get(RECORDS, taskId), this.pollIntervalMs);
  }

  /** The record when `owner` owns it; `undefined` for another owner's task exactly as for one that does not exist. */
  async owned(owner: string, taskId: string): Promise<TaskRecord | undefined> {
    const record = await this.read(taskId);
    return record?.owner === owner ? record : undefined;
  }

  /** The owner's tasks, newest first. */
  async listOwned(owner: string): Promise<TaskRecord[]> {
    const entries = await this.store.list(OWNER_INDEX, `${owner}\n`);
    const records = await Promise.all(entries.map(({ id }) => this.owned(owner, id.slice(id.lastIndexOf('\n') + 1))));
    return records.filter((record): record is TaskRecord => record !== undefined).reverse();
  }

  /** Every record (recovery at startup); records written before the owner index existed are indexed on the way. */
  async all(): Promise<TaskRecord[]> {
    const records: TaskRecord[] = [];
    for (const { value } of await this.store.list<{ state?: unknown }>(RECORDS)) {
      const record = normalizeRecord(value, this.pollIntervalMs);
      if (!record) continue;
      if (value.state === undefined) await this.index(record);
      records.push(record);
    }
    return records;
  }

  /** Stores the answer to question `key` of a task unless one is there already; true when this one was stored. */
  putAnswer(record: TaskRecord, key: string, answer: unknown): Promise<boolean> {
    return this.store.setIfAbsent(INBOX, `${record.taskId}\n${key}`, answer, storageTtlSeconds(record));
  }

  /** Takes the answer to question `key`, if one came. */
  takeAnswer(taskId: string, key: string): Promise<unknown> {
    return this.store.take(INBOX, `${taskId}\n${key}`);
  }

  /** Leaves a cancel for the replica running the task. */
  requestCancel(record: TaskRecord): Promise<void> {
    return this.store.set(CONTROL, record.taskId, { cancel: true }, storageTtlSeconds(record));
  }

  /** Whether a cancel was left for the task. */
  async cancelRequested(taskId: string): Promise<boolean> {
    return (await this.store.get(CONTROL, taskId)) !== undefined;
  }

  /** Drops a cancel left for a task that has ended, so running it again (restart) does not cancel the new run. */
  async clearCancel(taskId: string): Promise<void> {
    await this.store.delete(CONTROL, taskId);
  }

  /** Records (or renews) that `record` runs on its replica; the entry lives as long as a running record. */
  markRunning(record: TaskRecord): Promise<void> {
    return this.store.set(RUNNING, record.taskId, { replica: record.replica }, storageTtlSeconds(record));
  }

  /** Removes the task from the running ones. */
  async markEnded(taskId: string): Promise<void> {
    await this.store.delete(RUNNING, taskId);
  }

  /** The tasks recorded as running, with the replica running each. */
  async running(): Promise<Array<{ taskId: string; replica?: string }>> {
    return (await this.store.list<{ replica?: string }>(RUNNING)).map(({ id, value }) => ({
      taskId: id,
      ...(value.replica ? { replica: value.replica } : {}),
    }));
  }

  /**
   * Claims the marking of an abandoned task for replica `by`: true for exactly one of several replicas sweeping at
   * once (an atomic `setIfAbsent`), so the task ends once and its end is announced once.
   */
  claimSweep(taskId: string, by: string): Promise<boolean> {
    return this.store.setIfAbsent(SWEEP, taskId, { by }, SWEEP_CLAIM_SECONDS);
  }
}

/** Ids sort by owner, then creation time. */
function indexId(record: TaskRecord): string {
  return `${record.owner}\n${record.createdAt}\n${record.taskId}`;
}
