import type { Storage } from './types.js';

/** Which adapter {@link createStorage} builds, with what that adapter needs (already validated by config). */
export type CreateStorageOptions =
  | { kind: 'memory' }
  | { kind: 'sqlite'; path: string }
  | { kind: 'redis'; url: string; keyPrefix: string; onError?: (error: Error) => void };

/**
 * Builds the configured storage adapter and proves it usable before returning, so a wrong path or an unreachable
 * Redis stops the server at startup with a message naming the setting, instead of failing the first request.
 *
 * @throws Error starting with `REDIS_URL:` when Redis does not answer a ping (the connection is closed first),
 *   or naming the file when SQLite cannot open or migrate it.
 */
export async function createStorage(options: CreateStorageOptions): Promise<Storage> {
  // Adapters are imported on demand: loading ioredis and better-sqlite3 when neither is used costs start-up time.
  switch (options.kind) {
    case 'memory': {
      const { createMemoryStorage } = await import('./memory/memory-storage.js');
      return createMemoryStorage();
    }
    case 'sqlite': {
      const { createSqliteStorage } = await import('./sqlite/sqlite-storage.js');
      try {
        return createSqliteStorage({ path: options.path });
      } catch (error) {
        throw new Error(`cannot open SQLite storage at ${options.path}: ${(error as Error).message}`, { cause: error });
      }
    }
    case 'redis': {
      const { createRedisStorage } = await import('./redis/redis-storage.js');
      const storage = createRedisStorage(options);
      try {
        await storage.ping();
      } catch (error) {
        await storage.close();
        throw new Error(`REDIS_URL: cannot reach Redis at ${redactUrl(options.url)}: ${(error as Error).message}`, { cause: error });
      }
      return storage;
    }
  }
}

/** The URL without its password, fit for an error message that may end up in logs. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
