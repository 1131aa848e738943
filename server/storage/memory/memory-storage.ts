import { randomUUID } from 'node:crypto';
import type { QueueItem, Storage } from '../types.js';
import { checkClaimMax, checkDuration, checkStep, compareIds, decodeValue, encodeValue, parseCounter, ttlToMs } from '../port-semantics.js';

/** Options of {@link createMemoryStorage}. */
export interface MemoryStorageOptions {
  /** How often expired entries are dropped, in milliseconds (default 60 000). Reads never see them regardless. */
  sweepIntervalMs?: number;
}

/** A stored entry: JSON text so callers get copies, as they would from a real backend. */
interface Entry {
  /** The value as JSON text. */
  json: string;
  /** Epoch milliseconds, or `undefined` for no expiry. */
  expiresAt: number | undefined;
}

/** A queued item with the bookkeeping `claim` orders by. */
interface Job {
  /** The public item id. */
  id: string;
  /** The payload as JSON text. */
  json: string;
  /** Completed `retry` calls. */
  attempts: number;
  /** Epoch ms. */
  enqueuedAt: number;
  /** Epoch ms from which `claim` may hand the item out; pushed forward by leases and retry delays. */
  availableAt: number;
  /** Enqueue order, the tie-breaker for equal availability times. */
  sequence: number;
}

/**
 * A process-local {@link Storage} on `Map`s, for tests and single-process development. Nothing survives a restart
 * and nothing is shared between processes.
 *
 * Every operation completes synchronously inside its promise, so the atomicity the port asks for (`take`,
 * `setIfAbsent`, `setIfPresent`, `increment`, `claim`) holds by construction on Node's single thread.
 */
export function createMemoryStorage({ sweepIntervalMs = 60_000 }: MemoryStorageOptions = {}): Storage {
  const namespaces = new Map<string, Map<string, Entry>>();
  const queues = new Map<string, Map<string, Job>>();
  let sequence = 0;

  const isLive = (entry: Entry, now: number): boolean => entry.expiresAt === undefined || entry.expiresAt > now;

  /** The live entry, deleting it on the way if it has expired (lazy expiry). */
  function liveEntry(ns: string, id: string, now = Date.now()): Entry | undefined {
    const entries = namespaces.get(ns);
    const entry = entries?.get(id);
    if (!entries || !entry) return undefined;
    if (isLive(entry, now)) return entry;
    entries.delete(id);
    return undefined;
  }

  function write(ns: string, id: string, json: string, ttlMs: number | undefined, now = Date.now()): void {
    let entries = namespaces.get(ns);
    if (!entries) namespaces.set(ns, (entries = new Map()));
    entries.set(id, { json, expiresAt: ttlMs === undefined ? undefined : now + ttlMs });
  }

  function removeEntry(ns: string, id: string): void {
    const entries = namespaces.get(ns);
    entries?.delete(id);
    if (entries?.size === 0) namespaces.delete(ns);
  }

  function sweep(): void {
    const now = Date.now();
    for (const [ns, entries] of namespaces) {
      for (const [id, entry] of entries) if (!isLive(entry, now)) entries.delete(id);
      if (entries.size === 0) namespaces.delete(ns);
    }
  }

  // unref'd: a forgotten close() in a test must not keep the process alive.
  let sweeper: NodeJS.Timeout | undefined = setInterval(sweep, sweepIntervalMs);
  sweeper.unref();

  return {
    kind: 'memory',
    shared: false,

    async get<T>(ns: string, id: string): Promise<T | undefined> {
      const entry = liveEntry(ns, id);
      return entry ? decodeValue<T>(entry.json) : undefined;
    },

    async set<T>(ns: string, id: string, value: T, ttlSeconds?: number): Promise<void> {
      write(ns, id, encodeValue(value), ttlToMs(ttlSeconds));
    },

    async setIfAbsent<T>(ns: string, id: string, value: T, ttlSeconds?: number): Promise<boolean> {
      const json = encodeValue(value);
      const ttlMs = ttlToMs(ttlSeconds);
      if (liveEntry(ns, id)) return false;
      write(ns, id, json, ttlMs);
      return true;
    },

    async setIfPresent<T>(ns: string, id: string, value: T, ttlSeconds?: number): Promise<boolean> {
      const json = encodeValue(value);
      const ttlMs = ttlToMs(ttlSeconds);
      if (!liveEntry(ns, id)) return false;
      write(ns, id, json, ttlMs);
      return true;
    },

    async take<T>(ns: string, id: string): Promise<T | undefined> {
      const entry = liveEntry(ns, id);
      if (!entry) return undefined;
      removeEntry(ns, id);
      return decodeValue<T>(entry.json);
    },

    async delete(ns: string, id: string): Promise<boolean> {
      if (!liveEntry(ns, id)) return false;
      removeEntry(ns, id);
      return true;
    },

    async list<T>(ns: string, prefix = ''): Promise<Array<{ id: string; value: T }>> {
      const entries = namespaces.get(ns);
      if (!entries) return [];
      const now = Date.now();
      const ids = [...entries.keys()].filter((id) => id.startsWith(prefix) && liveEntry(ns, id, now)).sort(compareIds);
      return ids.map((id) => ({ id, value: decodeValue<T>((entries.get(id) as Entry).json) }));
    },

    async increment(ns: string, id: string, by = 1, ttlSeconds?: number): Promise<number> {
      checkStep(by);
      const ttlMs = ttlToMs(ttlSeconds);
      const entry = liveEntry(ns, id);
      if (!entry) {
        write(ns, id, encodeValue(by), ttlMs);
        return by;
      }
      const next = parseCounter(entry.json) + by;
      entry.json = encodeValue(next);
      return next;
    },

    async enqueue<T>(queue: string, payload: T, options: { delayMs?: number } = {}): Promise<string> {
      const json = encodeValue(payload);
      const delayMs = checkDuration('delayMs', options.delayMs ?? 0);
      const now = Date.now();
      let jobs = queues.get(queue);
      if (!jobs) queues.set(queue, (jobs = new Map()));
      const id = randomUUID();
      jobs.set(id, { id, json, attempts: 0, enqueuedAt: now, availableAt: now + delayMs, sequence: ++sequence });
      return id;
    },

    async enqueueMany<T>(queue: string, payloads: readonly T[], options: { delayMs?: number } = {}): Promise<string[]> {
      // Everything is checked and encoded before anything is stored, so a bad payload stores none of them.
      const jsons = payloads.map((payload) => encodeValue(payload));
      const delayMs = checkDuration('delayMs', options.delayMs ?? 0);
      if (jsons.length === 0) return [];
      const now = Date.now();
      let jobs = queues.get(queue);
      if (!jobs) queues.set(queue, (jobs = new Map()));
      const ids: string[] = [];
      for (const json of jsons) {
        const id = randomUUID();
        jobs.set(id, { id, json, attempts: 0, enqueuedAt: now, availableAt: now + delayMs, sequence: ++sequence });
        ids.push(id);
      }
      return ids;
    },

    async claim<T>(queue: string, options: { max: number; leaseMs: number }): Promise<Array<QueueItem<T>>> {
      const max = checkClaimMax(options.max);
      const leaseMs = checkDuration('leaseMs', options.leaseMs, true);
      const now = Date.now();
      const due = [...(queues.get(queue)?.values() ?? [])]
        .filter((job) => job.availableAt <= now)
        .sort((a, b) => a.availableAt - b.availableAt || a.sequence - b.sequence)
        .slice(0, max);
      return due.map((job) => {
        job.availableAt = now + leaseMs;
        return { id: job.id, payload: decodeValue<T>(job.json), attempts: job.attempts, enqueuedAt: job.enqueuedAt };
      });
    },

    async ack(queue: string, id: string): Promise<boolean> {
      return queues.get(queue)?.delete(id) ?? false;
    },

    async ackMany(queue: string, ids: readonly string[]): Promise<number> {
      const jobs = queues.get(queue);
      let removed = 0;
      for (const id of ids) if (jobs?.delete(id)) removed += 1;
      return removed;
    },

    async retry(queue: string, id: string, options: { delayMs: number }): Promise<boolean> {
      const delayMs = checkDuration('delayMs', options.delayMs);
      const job = queues.get(queue)?.get(id);
      if (!job) return false;
      job.attempts += 1;
      job.availableAt = Date.now() + delayMs;
      return true;
    },

    async release(queue: string, ids: readonly string[], options: { delayMs?: number } = {}): Promise<number> {
      const availableAt = Date.now() + checkDuration('delayMs', options.delayMs ?? 0);
      const jobs = queues.get(queue);
      let released = 0;
      for (const id of ids) {
        const job = jobs?.get(id);
        if (!job) continue;
        job.availableAt = availableAt;
        released += 1;
      }
      return released;
    },

    async size(queue: string): Promise<number> {
      return queues.get(queue)?.size ?? 0;
    },

    async ping(): Promise<void> {
      if (!sweeper) throw new Error('memory storage is closed');
    },

    async close(): Promise<void> {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
    },
  };
}
