import { Redis } from 'ioredis';

/**
 * The Redis the tests use: REDIS_URL, default redis://127.0.0.1:6379. Locally an absent Redis skips the Redis cases
 * with a visible message; with CI=true they run anyway and fail, because a CI job that silently skipped Redis would
 * prove nothing (as test/contract/storage.test.ts does).
 */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether Redis answers a PING within a second. */
export async function redisReachable(): Promise<boolean> {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Why the Redis cases are skipped (printed), or `undefined` when they run: Redis answers, or CI=true. */
export async function redisSkipReason(what: string): Promise<string | undefined> {
  if (process.env.CI === 'true' || (await redisReachable())) return undefined;
  const reason = `Redis unreachable at ${REDIS_URL}: ${what} skipped (set CI=true to fail instead)`;
  console.warn(reason);
  return reason;
}

/** Deletes every key under `prefix` (a test's own key prefix). */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await redis.del(...keys);
    }
  } catch {
    // Redis is gone: nothing of ours is left in it to delete
  } finally {
    redis.disconnect();
  }
}
