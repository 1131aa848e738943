import type { KeyValueStore } from '../storage/types.js';

/** Options of {@link createLoginThrottle}. */
export interface LoginThrottleOptions {
  store: KeyValueStore;
  /** Failed attempts allowed per username within the window. */
  maxFailuresPerUser: number;
  /** Failed attempts allowed per client address (higher: an office or a proxy shares one). */
  maxFailuresPerAddress: number;
  windowSeconds: number;
}

/**
 * Password guessing brake for the sign-in forms: failures are counted per username and per client address in a
 * fixed window (atomic `increment`, so it holds across replicas); past the limit, sign-in is refused until the window
 * ends — even with the right password, so guessing cannot be confirmed.
 */
export interface LoginThrottle {
  /** True when either key has used up its failures. */
  blocked(username: string, address: string): Promise<boolean>;
  /** Counts a failed attempt against both keys. */
  failed(username: string, address: string): Promise<void>;
}

const NS = 'auth:login-failures';

/** Creates the {@link LoginThrottle}. */
export function createLoginThrottle(options: LoginThrottleOptions): LoginThrottle {
  const { store, windowSeconds } = options;
  const keys = (username: string, address: string): Array<[string, number]> => [
    [`user:${username.toLowerCase()}`, options.maxFailuresPerUser],
    [`addr:${address}`, options.maxFailuresPerAddress],
  ];
  return {
    async blocked(username, address) {
      for (const [key, limit] of keys(username, address)) {
        // increment by 0 reads the counter the same way on every adapter (a counter is not a plain value in Redis).
        if ((await store.increment(NS, key, 0, windowSeconds)) >= limit) return true;
      }
      return false;
    },
    async failed(username, address) {
      for (const [key] of keys(username, address)) await store.increment(NS, key, 1, windowSeconds);
    },
  };
}
