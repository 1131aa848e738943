import type { Config } from '../config/schema.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { createRateLimits, type RateLimits, type RateLimitSettings } from './rate-limits.js';

/** `name=value` list entries (RATE_LIMIT_TOOL_WEIGHTS, RATE_LIMIT_CLIENTS) as a record. */
export function pairs(entries: readonly string[]): Record<string, number> {
  const record: Record<string, number> = {};
  for (const entry of entries) {
    const at = entry.lastIndexOf('=');
    record[entry.slice(0, at)] = Number(entry.slice(at + 1));
  }
  return record;
}

/** The limit settings of a config. */
export function rateLimitSettings(config: Config): RateLimitSettings {
  return {
    requests: config.rateLimitRequests,
    windowMs: config.rateLimitWindowMs,
    toolPoints: config.rateLimitToolPoints,
    globalRequests: config.rateLimitGlobalRequests,
    oauthRequests: config.rateLimitOAuthRequests,
    toolWeights: pairs(config.rateLimitToolWeights),
    clientRequests: pairs(config.rateLimitClients),
  };
}

/**
 * The rate limits of a config: in Redis when STORAGE=redis (one limit shared by every replica; its own connection,
 * failing fast so the insurance limiter answers at once while Redis is down), in memory otherwise.
 */
export async function createConfiguredRateLimits(options: { config: Config; logger: Logger; metrics?: Metrics; events?: EventBus }): Promise<RateLimits> {
  const { config, logger } = options;
  if (config.storage !== 'redis' || !config.redisUrl) return createRateLimits({ ...options, settings: rateLimitSettings(config) });
  const { Redis } = await import('ioredis');
  const redis = new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  redis.on('error', (error: Error) => logger.debug('rate-limit Redis connection', { error: error.message }));
  // Give the connection a moment so the first requests use the shared limit; never block start-up on Redis.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    timer.unref();
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return createRateLimits({ ...options, settings: rateLimitSettings(config), redis, keyPrefix: config.redisKeyPrefix });
}
