import type { Config } from '../config/schema.js';
import type { RateLimitSettings } from './rate-limits.js';

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
