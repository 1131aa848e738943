import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { KeyValueStore, QueueItem, Storage, WorkQueue } from '../types.js';
import { checkClaimMax, checkDuration, checkStep, decodeValue, encodeValue, parseCounter, ttlToMs } from '../port-semantics.js';
import { migrate } from './migrations.js';

/** Options of {@link createSqliteStorage}. */
export interface SqliteStorageOptions {
  /** Database file. Its parent directory is created if missing. */
  path: string;
  /** How long a write waits for another connection's lock before failing with SQLITE_BUSY, in ms (default 5000). */
  busyTimeoutMs?: number;
  /** How often expired entries are deleted, in milliseconds (default 60 000). Reads never see them regardless. */
  sweepIntervalMs?: number;
}

/** A `kv` row as the queries select it. */
interface KvRow {
  /** JSON text. */
  value: string;
  /** Epoch ms, or null for never. */
  expires_at: number | null;
}

/** A `queue` row as `claim` selects it. */
interface QueueRow {
  /** Enqueue order; the row's key for the lease update. */
  sequence: number;
  /** The public item id. */
  id: string;
  /** JSON text. */
  payload: string;
  /** Completed `retry` calls. */
  attempts: number;
  /** Epoch ms. */
  enqueued_at: number;
}

/**
 * The embedded default {@link Storage}: one SQLite file, durable across restarts, shareable by several processes on
 * the same machine (not over a network filesystem: WAL needs shared memory).
 *
 * better-sqlite3 is synchronous, so within one process nothing interleaves. Every read-modify-write runs in an
 * IMMEDIATE transaction, which takes the write lock before reading: two processes on one file serialise instead of
 * both reading the old state (a DEFERRED transaction would read first and could hand out one code twice).
 */
export function createSqliteStorage({ path, busyTimeoutMs = 5000, sweepIntervalMs = 60_000 }: SqliteStorageOptions): Storage {
  const db = openDatabase(path, busyTimeoutMs);
  const sql = prepareStatements(db);
  const sweep = () => {
    try {
      sql.sweepKv.run(Date.now());
    } catch {
      // A busy or closing database is not worth crashing over: reads filter expired rows and the next sweep retries.
    }
  };
  // unref'd: the sweep must never be what keeps the process alive.
  let sweeper: NodeJS.Timeout | undefined = setInterval(sweep, sweepIntervalMs);
  sweeper.unref();
  return {
    kind: 'sqlite',
    shared: false,
    ...keyValueOperations(db, sql),
    ...queueOperations(db, sql),
    async ping(): Promise<void> {
      sql.ping.get();
    },

    async close(): Promise<void> {
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      if (db.open) db.close();
    },
  };
}

/** Opens the file with the settings every connection needs, and brings the schema up to date. */
function openDatabase(path: string, busyTimeoutMs: number): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    // Set before anything that might wait on another process's lock, the WAL switch and migrations included.
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    db.pragma('journal_mode = WAL');
    // FULL, not NORMAL: with WAL, NORMAL never corrupts the file, but a power loss or OS crash can drop the last
    // commits, and the port promises that an enqueued item (the webhook outbox) survives a crash once acknowledged.
    db.pragma('synchronous = FULL');
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** Every statement, prepared once per connection. */
function prepareStatements(db: Database.Database) {
  return {
    getKv: db.prepare<[string, string], KvRow>('SELECT value, expires_at FROM kv WHERE ns = ? AND id = ?'),
    deleteExpiredKey: db.prepare<[string, string, number]>(
      'DELETE FROM kv WHERE ns = ? AND id = ? AND expires_at IS NOT NULL AND expires_at <= ?',
    ),
    upsertKv: db.prepare<[string, string, string, number | null]>(
      `INSERT INTO kv (ns, id, value, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (ns, id) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    ),
    // Inserts, or replaces only an expired entry.
    insertIfAbsent: db.prepare<{ ns: string; id: string; value: string; expiresAt: number | null; now: number }>(
      `INSERT INTO kv (ns, id, value, expires_at) VALUES (:ns, :id, :value, :expiresAt)
       ON CONFLICT (ns, id) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
       WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= :now`,
    ),
    // Replaces only a live entry: an expired or deleted one is left as it is (absent), never re-created.
    updateIfLive: db.prepare<{ ns: string; id: string; value: string; expiresAt: number | null; now: number }>(
      `UPDATE kv SET value = :value, expires_at = :expiresAt
       WHERE ns = :ns AND id = :id AND (expires_at IS NULL OR expires_at > :now)`,
    ),
    // DELETE ... RETURNING reads and removes at once: of two takers only one gets the row back.
    takeKv: db.prepare<[string, string], KvRow>('DELETE FROM kv WHERE ns = ? AND id = ? RETURNING value, expires_at'),
    deleteKv: db.prepare<[string, string, number]>('DELETE FROM kv WHERE ns = ? AND id = ? AND (expires_at IS NULL OR expires_at > ?)'),
    // substr, not LIKE: LIKE is case-insensitive and treats `%`/`_` in the prefix as wildcards.
    listKv: db.prepare<{ ns: string; prefix: string; now: number }, { id: string; value: string }>(
      `SELECT id, value FROM kv
       WHERE ns = :ns AND id >= :prefix AND substr(id, 1, length(:prefix)) = :prefix
         AND (expires_at IS NULL OR expires_at > :now)
       ORDER BY id`,
    ),
    sweepKv: db.prepare<[number]>('DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?'),
    enqueue: db.prepare<[string, string, string, number, number]>(
      'INSERT INTO queue (id, queue, payload, available_at, enqueued_at) VALUES (?, ?, ?, ?, ?)',
    ),
    due: db.prepare<[string, number, number], QueueRow>(
      `SELECT sequence, id, payload, attempts, enqueued_at FROM queue
       WHERE queue = ? AND available_at <= ? ORDER BY available_at, sequence LIMIT ?`,
    ),
    lease: db.prepare<[number, number]>('UPDATE queue SET available_at = ? WHERE sequence = ?'),
    ack: db.prepare<[string, string]>('DELETE FROM queue WHERE queue = ? AND id = ?'),
    retry: db.prepare<[number, string, string]>('UPDATE queue SET attempts = attempts + 1, available_at = ? WHERE queue = ? AND id = ?'),
    release: db.prepare<[number, string, string]>('UPDATE queue SET available_at = ? WHERE queue = ? AND id = ?'),
    size: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM queue WHERE queue = ?'),
    ping: db.prepare('SELECT 1'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

const isLive = (row: KvRow, now: number): boolean => row.expires_at === null || row.expires_at > now;

/** The key-value half of the port. */
function keyValueOperations(db: Database.Database, sql: Statements): KeyValueStore {
  function read<T>(ns: string, id: string): T | undefined {
    const now = Date.now();
    const row = sql.getKv.get(ns, id);
    if (!row) return undefined;
    if (isLive(row, now)) return decodeValue<T>(row.value);
    // Lazy expiry; the condition guards against deleting a value someone re-set since we read.
    sql.deleteExpiredKey.run(ns, id, now);
    return undefined;
  }

  const increment = db.transaction((ns: string, id: string, by: number, ttlMs: number | undefined): number => {
    const now = Date.now();
    const row = sql.getKv.get(ns, id);
    if (row && isLive(row, now)) {
      const next = parseCounter(row.value) + by;
      // Keeps expires_at: a window's TTL is fixed when the counter is created.
      sql.upsertKv.run(ns, id, encodeValue(next), row.expires_at);
      return next;
    }
    sql.upsertKv.run(ns, id, encodeValue(by), ttlMs === undefined ? null : now + ttlMs);
    return by;
  });

  // Single statements are atomic already; the IMMEDIATE wrappers make the write lock explicit and up front, so the
  // guarantee does not hinge on SQLite's statement-level locking details when two processes race.
  const setIfAbsent = db.transaction(
    (args: { ns: string; id: string; value: string; expiresAt: number | null; now: number }): boolean =>
      sql.insertIfAbsent.run(args).changes === 1,
  );
  const setIfPresent = db.transaction(
    (args: { ns: string; id: string; value: string; expiresAt: number | null; now: number }): boolean =>
      sql.updateIfLive.run(args).changes === 1,
  );
  const take = db.transaction((ns: string, id: string): KvRow | undefined => sql.takeKv.get(ns, id));

  return {
    async get<T>(ns: string, id: string): Promise<T | undefined> {
      return read<T>(ns, id);
    },

    async set<T>(ns: string, id: string, value: T, ttlSeconds?: number): Promise<void> {
      const ttlMs = ttlToMs(ttlSeconds);
      sql.upsertKv.run(ns, id, encodeValue(value), ttlMs === undefined ? null : Date.now() + ttlMs);
    },

    async setIfAbsent<T>(ns: string, id: string, value: T, ttlSeconds?: number): Promise<boolean> {
      const ttlMs = ttlToMs(ttlSeconds);
      const now = Date.now();
      const expiresAt = ttlMs === undefined ? null : now + ttlMs;
      return setIfAbsent.immediate({ ns, id, value: encodeValue(value), expiresAt, now });
    },

    async setIfPresent<T>(ns: string, id: string, value: T, ttlSeconds?: number): Promise<boolean> {
      const ttlMs = ttlToMs(ttlSeconds);
      const now = Date.now();
      const expiresAt = ttlMs === undefined ? null : now + ttlMs;
      return setIfPresent.immediate({ ns, id, value: encodeValue(value), expiresAt, now });
    },

    async take<T>(ns: string, id: string): Promise<T | undefined> {
      const row = take.immediate(ns, id);
      // An expired row is deleted all the same: that is the lazy expiry.
      return row && isLive(row, Date.now()) ? decodeValue<T>(row.value) : undefined;
    },

    async delete(ns: string, id: string): Promise<boolean> {
      return sql.deleteKv.run(ns, id, Date.now()).changes > 0;
    },

    async list<T>(ns: string, prefix = ''): Promise<Array<{ id: string; value: T }>> {
      return sql.listKv.all({ ns, prefix, now: Date.now() }).map((row) => ({ id: row.id, value: decodeValue<T>(row.value) }));
    },

    async increment(ns: string, id: string, by = 1, ttlSeconds?: number): Promise<number> {
      return increment.immediate(ns, id, checkStep(by), ttlToMs(ttlSeconds));
    },
  };
}

/** The work-queue half of the port (the outboxes). */
function queueOperations(db: Database.Database, sql: Statements): WorkQueue {
  const enqueueMany = db.transaction((queue: string, jsons: readonly string[], delayMs: number): string[] => {
    const now = Date.now();
    return jsons.map((json) => {
      const id = randomUUID();
      sql.enqueue.run(id, queue, json, now + delayMs, now);
      return id;
    });
  });

  const ackMany = db.transaction((queue: string, ids: readonly string[]): number => {
    let removed = 0;
    for (const id of ids) removed += sql.ack.run(queue, id).changes;
    return removed;
  });

  const release = db.transaction((queue: string, ids: readonly string[], availableAt: number): number => {
    let released = 0;
    for (const id of ids) released += sql.release.run(availableAt, queue, id).changes;
    return released;
  });

  const claim = db.transaction((queue: string, max: number, leaseMs: number): QueueRow[] => {
    const now = Date.now();
    const rows = sql.due.all(queue, now, max);
    for (const row of rows) sql.lease.run(now + leaseMs, row.sequence);
    return rows;
  });

  return {
    async enqueue<T>(queue: string, payload: T, options: { delayMs?: number } = {}): Promise<string> {
      const delayMs = checkDuration('delayMs', options.delayMs ?? 0);
      const id = randomUUID();
      const now = Date.now();
      sql.enqueue.run(id, queue, encodeValue(payload), now + delayMs, now);
      return id;
    },

    async enqueueMany<T>(queue: string, payloads: readonly T[], options: { delayMs?: number } = {}): Promise<string[]> {
      const jsons = payloads.map((payload) => encodeValue(payload));
      const delayMs = checkDuration('delayMs', options.delayMs ?? 0);
      // One transaction, so one commit (and one fsync) for the whole burst, and all-or-nothing.
      return jsons.length === 0 ? [] : enqueueMany.immediate(queue, jsons, delayMs);
    },

    async claim<T>(queue: string, options: { max: number; leaseMs: number }): Promise<Array<QueueItem<T>>> {
      const rows = claim.immediate(queue, checkClaimMax(options.max), checkDuration('leaseMs', options.leaseMs, true));
      return rows.map((row) => ({ id: row.id, payload: decodeValue<T>(row.payload), attempts: row.attempts, enqueuedAt: row.enqueued_at }));
    },

    async ack(queue: string, id: string): Promise<boolean> {
      return sql.ack.run(queue, id).changes > 0;
    },

    async ackMany(queue: string, ids: readonly string[]): Promise<number> {
      return ids.length === 0 ? 0 : ackMany.immediate(queue, ids);
    },

    async retry(queue: string, id: string, options: { delayMs: number }): Promise<boolean> {
      const delayMs = checkDuration('delayMs', options.delayMs);
      return sql.retry.run(Date.now() + delayMs, queue, id).changes > 0;
    },

    async release(queue: string, ids: readonly string[], options: { delayMs?: number } = {}): Promise<number> {
      const delayMs = checkDuration('delayMs', options.delayMs ?? 0);
      return ids.length === 0 ? 0 : release.immediate(queue, ids, Date.now() + delayMs);
    },

    async size(queue: string): Promise<number> {
      return sql.size.get(queue)?.n ?? 0;
    },
  };
}
