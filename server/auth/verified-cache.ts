/** Options of {@link createVerifiedCache}. */
export interface VerifiedCacheOptions {
  /** Most entries kept; beyond it the least recently used one is dropped. */
  maxEntries: number;
  now?: () => number;
}

/** One remembered verification. */
export interface VerifiedEntry<T> {
  readonly value: T;
  /** Epoch ms from which the entry is never returned again (the credential's own expiry). */
  readonly expiresAt: number;
  /** The revocation generation at which the credential was last confirmed live; `undefined`: not yet. */
  liveAt?: number;
}

/**
 * A bounded, least-recently-used memory of credentials this process has already verified, keyed by a hash of the
 * credential (never the credential itself). An entry is never returned at or after its `expiresAt`, so a cached
 * token stops working exactly when an uncached one would. What is still live is decided by the caller against the
 * revocation generation (see `revocations.ts`).
 */
export interface VerifiedCache<T> {
  /** The live entry for `key`, marked most recently used; expired entries are dropped and not returned. */
  get(key: string): VerifiedEntry<T> | undefined;
  /** Remembers `value` until `expiresAt`, evicting the least recently used entry when full. Returns the entry. */
  set(key: string, value: T, expiresAt: number): VerifiedEntry<T>;
  delete(key: string): void;
  /** Number of entries held (expired ones included until they are touched or evicted). */
  readonly size: number;
}

/**
 * Creates a {@link VerifiedCache}. A `Map` keeps insertion order, which is all an LRU needs: a hit is re-inserted at
 * the end and eviction takes the first key.
 */
export function createVerifiedCache<T>(options: VerifiedCacheOptions): VerifiedCache<T> {
  const now = options.now ?? Date.now;
  const max = Math.max(1, Math.floor(options.maxEntries));
  const entries = new Map<string, VerifiedEntry<T>>();

  return {
    get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      entries.delete(key);
      if (now() >= entry.expiresAt) return undefined;
      entries.set(key, entry);
      return entry;
    },
    set(key, value, expiresAt) {
      const entry: VerifiedEntry<T> = { value, expiresAt };
      entries.delete(key);
      entries.set(key, entry);
      while (entries.size > max) entries.delete(entries.keys().next().value!);
      return entry;
    },
    delete(key) {
      entries.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}
