/**
 * The storage port: a small TTL key-value store plus a leased work queue.
 *
 * Every durable thing the server keeps (OAuth clients, one-time codes, refresh families, API keys, checkpoints,
 * background tasks, the webhook outbox) sits in a typed repository on top of this port. Adapters: memory (tests),
 * SQLite (the embedded default) and Redis (several replicas). One contract suite (`test/contract/storage.test.ts`)
 * runs against all three, so behaviour is the same whichever is configured.
 *
 * Values are JSON-serialisable data. Namespaces (`ns`) and ids are free-form strings; adapters must not interpret
 * them beyond keeping namespaces apart (`ns="a", id="b:c"` never collides with `ns="a:b", id="c"`).
 */
export interface KeyValueStore {
  /** The value stored under `ns`/`id`, or `undefined` when absent or expired. */
  get<T = unknown>(ns: string, id: string): Promise<T | undefined>;

  /**
   * Stores `value`, replacing any previous one. With `ttlSeconds` (> 0) the entry expires after that long:
   * `get`, `take`, `list`, `setIfAbsent` and `setIfPresent` treat it as absent from then on. Without it the entry
   * never expires.
   */
  set<T = unknown>(ns: string, id: string, value: T, ttlSeconds?: number): Promise<void>;

  /**
   * Stores `value` only when no live entry exists. Atomic: of several concurrent callers with the same key exactly
   * one gets `true`. Used for uniqueness and replay markers.
   */
  setIfAbsent<T = unknown>(ns: string, id: string, value: T, ttlSeconds?: number): Promise<boolean>;

  /**
   * Replaces the entry with `value` only when a live one exists, and returns whether it did; never creates an
   * entry. The TTL is replaced as `set` replaces it (`ttlSeconds` omitted: the entry no longer expires).
   *
   * Atomic: the liveness check and the write are one step, so against a concurrent `delete` or `take` of the same
   * key either the replace happens first (and the delete then removes the new value) or the delete does (and this
   * returns `false`). An entry deleted last stays deleted. This is what lets a refresh slide a grant's lifetime
   * without re-creating a grant revoked meanwhile (RFC 9700 §4.14.2).
   */
  setIfPresent<T = unknown>(ns: string, id: string, value: T, ttlSeconds?: number): Promise<boolean>;

  /**
   * Atomically reads and deletes the entry. Of several concurrent `take`s of one key exactly one receives the value;
   * the others receive `undefined`. This is what makes authorization codes single-use.
   */
  take<T = unknown>(ns: string, id: string): Promise<T | undefined>;

  /** Deletes the entry; `true` when a live entry was removed. */
  delete(ns: string, id: string): Promise<boolean>;

  /** The live entries of a namespace whose id starts with `prefix` (all when omitted), ordered by id. */
  list<T = unknown>(ns: string, prefix?: string): Promise<Array<{ id: string; value: T }>>;

  /**
   * Atomically adds `by` to an integer counter (created at 0) and returns the new value. `ttlSeconds` applies when
   * the counter is created and is left alone afterwards (fixed windows).
   */
  increment(ns: string, id: string, by?: number, ttlSeconds?: number): Promise<number>;
}

/** One item of a {@link WorkQueue}, as handed out by {@link WorkQueue.claim}. */
export interface QueueItem<T = unknown> {
  /** Unique, assigned at enqueue time; stable across retries. */
  id: string;
  payload: T;
  /** Completed `retry` calls so far (0 on the first delivery attempt); a lease that merely ran out does not count. */
  attempts: number;
  /** Enqueue time, epoch milliseconds. */
  enqueuedAt: number;
}

/**
 * A durable, leased work queue: the shape a transactional outbox needs.
 *
 * `enqueue` returns only after the item is stored (on SQLite: committed to disk), so an event acknowledged after it
 * survives a crash. `claim` leases items: a leased item is invisible to other claimers until `leaseMs` passes;
 * if the claimer dies without `ack` or `retry`, the item becomes claimable again. Items of one queue are claimed
 * in order of availability time, then enqueue order.
 */
export interface WorkQueue {
  /** Stores an item, available after `delayMs` (default 0). Returns its id. */
  enqueue<T = unknown>(queue: string, payload: T, options?: { delayMs?: number }): Promise<string>;

  /**
   * Stores several items of one queue in the order given, all available after `delayMs` (default 0), atomically:
   * when it resolves every item is stored (on SQLite: in one committed transaction), when it rejects none is.
   * Returns their ids, in the same order. This is what lets a burst of outbox writes cost one commit instead of one
   * per item; an empty list stores nothing and resolves to `[]`.
   */
  enqueueMany<T = unknown>(queue: string, payloads: readonly T[], options?: { delayMs?: number }): Promise<string[]>;

  /**
   * Leases up to `max` available items for `leaseMs` and returns them, incrementing nothing: `attempts` counts
   * completed `retry` calls. Atomic across concurrent claimers and processes: one item is never handed to two
   * claimers within its lease.
   */
  claim<T = unknown>(queue: string, options: { max: number; leaseMs: number }): Promise<Array<QueueItem<T>>>;

  /** Removes a claimed item for good (delivered, or moved elsewhere). `false` when it no longer exists. */
  ack(queue: string, id: string): Promise<boolean>;

  /**
   * Removes several claimed items for good in one atomic step (on SQLite: one committed transaction) and returns
   * how many still existed. Ids that no longer exist, or belong to another queue, are skipped, as `ack` would.
   */
  ackMany(queue: string, ids: readonly string[]): Promise<number>;

  /** Releases a claimed item for another attempt after `delayMs`, incrementing `attempts`. */
  retry(queue: string, id: string, options: { delayMs: number }): Promise<boolean>;

  /**
   * Ends the lease of claimed items without counting an attempt: they become claimable again after `delayMs`
   * (default 0), keeping their place in enqueue order among items available at the same time. For a claimer that
   * took more items than it will handle (shutting down, or pausing a failing endpoint), so they need not wait for
   * their lease to run out. Returns how many still existed; unknown ids are skipped.
   */
  release(queue: string, ids: readonly string[], options?: { delayMs?: number }): Promise<number>;

  /** Number of items in the queue, leased or not. */
  size(queue: string): Promise<number>;
}

/** The whole port: what `container.ts` builds from config and hands to every repository. */
export interface Storage extends KeyValueStore, WorkQueue {
  /** Adapter name, for health and logs only: `memory`, `sqlite` or `redis`. Behaviour keys on {@link shared}. */
  readonly kind: 'memory' | 'sqlite' | 'redis';

  /**
   * True when several server processes (replicas) are meant to run on this storage at once (Redis): work one replica
   * started may be watched by another, and process-local shortcuts (a memory rate limit) are not enough. SQLite is
   * one server's store, even though the CLI's commands open the same file.
   */
  readonly shared: boolean;

  /** Resolves when the backend answers (a cheap round trip); rejects with the reason otherwise. Used by `/health/ready`. */
  ping(): Promise<void>;

  /** Releases connections, timers and file handles. Idempotent. */
  close(): Promise<void>;
}
