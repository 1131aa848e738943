import type { KeyValueStore } from '../storage/types.js';

const NS = 'auth:revocation';
const GENERATION = 'generation';

/** Options of {@link createRevocations}. */
export interface RevocationsOptions {
  store: KeyValueStore;
  /**
   * How long (ms) a reading of the shared generation may be reused before storage is read again. `0` (the default)
   * reads it on every {@link Revocations.generation} call, so a revocation made by any process sharing the storage
   * takes effect on the very next request (checklist J.52). A positive value bounds how late a revocation made by
   * *another* process is seen here; revocations made through this object are seen at once either way.
   */
  checkIntervalMs?: number;
  now?: () => number;
}

/**
 * The revocation generation: one counter in storage that every revocation (a grant and so its refresh family, one
 * access token, an API key) increments *after* it has deleted or marked what it revokes. Caches of verified
 * credentials remember the generation at which they last confirmed a credential was live and confirm it again once
 * the generation has moved. A request then costs one small read instead of a signature check plus a read per
 * revocation record, and a revocation still takes effect on the next request in every process sharing the storage:
 * the API, the `clients`/`keys`/`users` commands and other replicas alike.
 */
export interface Revocations {
  /** Records that something was revoked. Call it only after the revoked record is gone from storage. */
  revoked(): Promise<void>;
  /**
   * The current generation. Opaque: compare two readings for equality only. Read it *before* confirming a
   * credential is live, and stamp the confirmation with that reading, so a revocation racing the confirmation is
   * caught by the next one.
   */
  generation(): Promise<number>;
}

/** Creates {@link Revocations} over the storage port. */
export function createRevocations(options: RevocationsOptions): Revocations {
  const { store } = options;
  const interval = options.checkIntervalMs ?? 0;
  const now = options.now ?? Date.now;
  let last: { value: number; at: number } | undefined;
  // Revocations made here so far: a reading that was in flight while one completed must not be reused afterwards.
  let local = 0;

  return {
    async revoked() {
      await store.increment(NS, GENERATION);
      // The next check reads storage again, whatever the interval.
      local += 1;
      last = undefined;
    },
    async generation() {
      if (interval > 0 && last && now() - last.at < interval) return last.value;
      const at = now();
      const before = local;
      const value = (await store.get<number>(NS, GENERATION)) ?? 0;
      if (local === before) last = { value, at };
      return value;
    },
  };
}
