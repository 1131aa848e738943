import { Redis } from 'ioredis';
import type { QueueItem, Storage } from '../types.js';
import { checkClaimMax, checkDuration, checkStep, compareIds, decodeValue, encodeValue, ttlToMs } from '../port-semantics.js';
import { scripts } from './redis-scripts.js';

/** Options of {@link createRedisStorage}. */
export interface RedisStorageOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. */
  url: string;
  /** Put in front of every key, so several deployments (or test runs) can share one Redis. May be empty. */
  keyPrefix: string;
  /**
   * Receives connection errors (refused, reset, DNS). Calls fail on their own; this is for logs. Without it they
   * are dropped rather than printed by ioredis as "Unhandled error event".
   */
  onError?: (error: Error) => void;
}

/** The registered scripts, as ioredis exposes them after `defineCommand`. */
type ScriptCommands = { [name in keyof typeof scripts]: (...args: Array<string | number>) => Promise<unknown> };

/**
 * A {@link Storage} on Redis, for several replicas sharing state.
 *
 * Key layout, each name length-prefixed so that no namespace/id pair can produce another pair's key
 * (`ns="a", id="b:c"` is `kv:1:a:b:c`, `ns="a:b", id="c"` is `kv:3:a:b:c`):
 * - `{prefix}kv:{len}:{ns}:{id}` — the JSON value, with `PX` when it has a TTL;
 * - `{prefix}kvi:{len}:{ns}` — ZSET of the namespace's ids scored by expiry time (`+inf` = never), for `list`
 *   without `SCAN`ning the whole keyspace; expired ids are pruned on every write and list of the namespace;
 * - `{prefix}q:{len}:{queue}:due` — ZSET of item ids scored by the time they may next be claimed;
 * - `{prefix}q:{len}:{queue}:payloads` / `:meta` — HASHes id -> payload JSON / `attempts:enqueuedAt`;
 * - `{prefix}q:{len}:{queue}:seq` — the id counter.
 *
 * Every script declares the keys it touches, but keys carry no hash tags: this targets one Redis (or a primary
 * with replicas), not Redis Cluster.
 */
export function createRedisStorage({ url, keyPrefix, onError }: RedisStorageOptions): Storage {
  let lastError: Error | undefined;
  const redis = new Redis(url, {
    // Connect on the first command or ping(), not in the constructor, so building the storage never throws or
    // logs before anyone asked for Redis.
    lazyConnect: true,
    // With the default (20) a call made while Redis is down waits through ~20 reconnect attempts; with 1 it fails
    // after the first failed reconnect (well under a second on a refused connection), and health checks show it.
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
  });
  redis.on('error', (error: Error) => {
    lastError = error;
    onError?.(error);
  });
  for (const [name, definition] of Object.entries(scripts)) redis.defineCommand(name, definition);
  const run = redis as unknown as ScriptCommands;

  const name = (kind: string, value: string): string => `${keyPrefix}${kind}:${value.length}:${value}`;
  const valueKey = (ns: string, id: string): string => `${name('kv', ns)}:${id}`;
  const indexKey = (ns: string): string => name('kvi', ns);
  const queueKeys = (queue: string) => {
    const base = name('q', queue);
    return { due: `${base}:due`, payloads: `${base}:payloads`, meta: `${base}:meta`, seq: `${base}:seq` };
  };

  let connecting: Promise<void> | undefined;
  let closed = false;

  return {
    kind: 'redis',
    shared: true,

    async get<T>(ns: string, id: string): Promise<T | undefined> {
      const json = await redis.get(valueKey(ns, id));
      return json === null ? undefined : decodeValue<T>(json);
    },

    async set<T>(ns: string, id: string, value: T, ttlSeconds?: number): Promise<void> {
      const ttl = ttlToMs(ttlSeconds) ?? '';
      await run.kvSet(valueKey(ns, id), indexKey(ns), id, encodeValue(value), ttl, '');
    },

    async setIfAbsent<T>(ns: string, id: string, value: T, ttlSeconds?: number): Promise<boolean> {
      const ttl = ttlToMs(ttlSeconds) ?? '';
      return (await run.kvSet(valueKey(ns, id), indexKey(ns), id, encodeValue(value), ttl, 'NX')) === 1;
    },

    async setIfPresent<T>(ns: string, id: string, value: T, ttlSeconds?: number): Promise<boolean> {
      const ttl = ttlToMs(ttlSeconds) ?? '';
      return (await run.kvSet(valueKey(ns, id), indexKey(ns), id, encodeValue(value), ttl, 'XX')) === 1;
    },

    async take<T>(ns: string, id: string): Promise<T | undefined> {
      const json = (await run.kvTake(valueKey(ns, id), indexKey(ns), id)) as string | null;
      return json === null ? undefined : decodeValue<T>(json);
    },

    async delete(ns: string, id: string): Promise<boolean> {
      return (await run.kvDelete(valueKey(ns, id), indexKey(ns), id)) === 1;
    },

    async list<T>(ns: string, prefix = ''): Promise<Array<{ id: string; value: T }>> {
      const ids = ((await run.kvIds(indexKey(ns))) as string[]).filter((id) => id.startsWith(prefix)).sort(compareIds);
      if (ids.length === 0) return [];
      const values = await redis.mget(ids.map((id) => valueKey(ns, id)));
      // A null is an entry deleted or expired between the two round trips: it is gone, so it is left out.
      return ids.flatMap((id, i) => {
        const json = values[i];
        return json === null || json === undefined ? [] : [{ id, value: decodeValue<T>(json) }];
      });
    },

    async increment(ns: string, id: string, by = 1, ttlSeconds?: number): Promise<number> {
      const ttl = ttlToMs(ttlSeconds) ?? '';
      return Number(await run.kvIncrement(valueKey(ns, id), indexKey(ns), id, checkStep(by), ttl));
    },

    async enqueue<T>(queue: string, payload: T, options: { delayMs?: number } = {}): Promise<string> {
      const delayMs = checkDuration('delayMs', options.delayMs ?? 0);
      const keys = queueKeys(queue);
      return (await run.queueEnqueue(keys.due, keys.payloads, keys.meta, keys.seq, encodeValue(payload), delayMs)) as string;
    },

    async enqueueMany<T>(queue: string, payloads: readonly T[], options: { delayMs?: number } = {}): Promise<string[]> {
      const jsons = payloads.map((payload) => encodeValue(payload));
      const delayMs = checkDuration('delayMs', options.delayMs ?? 0);
      if (jsons.length === 0) return [];
      const keys = queueKeys(queue);
      return (await run.queueEnqueueMany(keys.due, keys.payloads, keys.meta, keys.seq, delayMs, ...jsons)) as string[];
    },

    async claim<T>(queue: string, options: { max: number; leaseMs: number }): Promise<Array<QueueItem<T>>> {
      const max = checkClaimMax(options.max);
      const leaseMs = checkDuration('leaseMs', options.leaseMs, true);
      const keys = queueKeys(queue);
      const flat = (await run.queueClaim(keys.due, keys.payloads, keys.meta, max, leaseMs)) as string[];
      const items: Array<QueueItem<T>> = [];
      for (let i = 0; i + 2 < flat.length; i += 3) {
        const [id, json, meta] = [flat[i] as string, flat[i + 1] as string, flat[i + 2] as string];
        // An item without a payload can only come from a hand-edited keyspace; skipping beats crashing the claimer.
        if (json === '') continue;
        const [attempts = '0', enqueuedAt = '0'] = meta.split(':');
        items.push({ id, payload: decodeValue<T>(json), attempts: Number(attempts), enqueuedAt: Number(enqueuedAt) });
      }
      return items;
    },

    async ack(queue: string, id: string): Promise<boolean> {
      const keys = queueKeys(queue);
      return (await run.queueAck(keys.due, keys.payloads, keys.meta, id)) === 1;
    },

    async ackMany(queue: string, ids: readonly string[]): Promise<number> {
      if (ids.length === 0) return 0;
      const keys = queueKeys(queue);
      return Number(await run.queueAckMany(keys.due, keys.payloads, keys.meta, ...ids));
    },

    async retry(queue: string, id: string, options: { delayMs: number }): Promise<boolean> {
      const delayMs = checkDuration('delayMs', options.delayMs);
      const keys = queueKeys(queue);
      return (await run.queueRetry(keys.due, keys.meta, id, delayMs)) === 1;
    },

    async release(queue: string, ids: readonly string[], options: { delayMs?: number } = {}): Promise<number> {
      const delayMs = checkDuration('delayMs', options.delayMs ?? 0);
      if (ids.length === 0) return 0;
      return Number(await run.queueRelease(queueKeys(queue).due, delayMs, ...ids));
    },

    async size(queue: string): Promise<number> {
      return redis.zcard(queueKeys(queue).due);
    },

    async ping(): Promise<void> {
      if (closed) throw new Error('redis storage is closed');
      try {
        if (redis.status === 'wait') {
          // Shared so concurrent first pings do not call connect() twice (ioredis rejects the second call).
          connecting ??= redis.connect().finally(() => (connecting = undefined));
          await connecting;
        }
        await redis.ping();
      } catch (error) {
        // While disconnected ioredis reports "Connection is closed." or a retry-limit error; the socket error says why.
        const reason = redis.status !== 'ready' && lastError ? lastError.message : (error as Error).message;
        throw new Error(`Redis is unreachable: ${reason}`, { cause: error });
      }
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (redis.status === 'ready') {
        // QUIT lets replies in flight arrive; disconnect() is the fallback when the server vanished meanwhile.
        await redis.quit().catch(() => redis.disconnect());
      } else {
        redis.disconnect();
      }
    },
  };
}
