import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';

/** What a limit counts: MCP requests of one client, tool cost of one client, all MCP requests, OAuth requests. */
export type LimitScope = 'client' | 'tool' | 'global' | 'oauth';

/** The numbers behind the limits (from config: RATE_LIMIT_*). */
export interface RateLimitSettings {
  /** RATE_LIMIT_REQUESTS: MCP HTTP requests per client per window. */
  requests: number;
  /** RATE_LIMIT_WINDOW_MS. */
  windowMs: number;
  /** RATE_LIMIT_TOOL_POINTS: tool cost points per client per window (a call costs its weight). */
  toolPoints: number;
  /** RATE_LIMIT_GLOBAL_REQUESTS: MCP HTTP requests per window across every client (one server, or every replica on Redis). */
  globalRequests: number;
  /** RATE_LIMIT_OAUTH_REQUESTS: abuse ceiling of OAuth endpoint requests per address per window. */
  oauthRequests: number;
  /** Cost of a tool call by tool name; tools not listed cost 1. */
  toolWeights: Readonly<Record<string, number>>;
  /** Per-client request limits replacing `requests` (tool points scale by the same factor). */
  clientRequests: Readonly<Record<string, number>>;
}

/** A decision with what the `RateLimit`/`RateLimit-Policy` headers report (draft-ietf-httpapi-ratelimit-headers). */
export interface LimitDecision {
  allowed: boolean;
  scope: LimitScope;
  /** Quota of the window. */
  limit: number;
  remaining: number;
  /** Seconds until the window resets (at least 1). */
  resetSeconds: number;
  windowSeconds: number;
}

/** Per-client, per-tool, global and OAuth limits, on memory or a shared Redis. */
export interface RateLimits {
  /** One MCP HTTP request of `key` (`client:<id>` or `ip:<address>`): the global ceiling, then the client's limit. */
  consumeRequest(key: string, clientId?: string): Promise<LimitDecision>;
  /** One tool call of `key`, costing the tool's weight. */
  consumeTool(key: string, tool: string, clientId?: string): Promise<LimitDecision>;
  /** One request to an OAuth endpoint from `address` (abuse ceiling only). */
  consumeOAuth(address: string): Promise<LimitDecision>;
  /** The weight of a tool call. */
  weightOf(tool: string): number;
  close(): Promise<void>;
}

/** Options of {@link createRateLimits}. */
export interface RateLimitsOptions {
  settings: RateLimitSettings;
  /** A Redis client for limits shared by every replica; memory when absent. */
  redis?: Redis;
  /** Key prefix in Redis (REDIS_KEY_PREFIX). */
  keyPrefix?: string;
  logger: Logger;
  metrics?: Metrics;
  events?: EventBus;
}

/** Claude runs spawn a process and spend money; catalogue and status calls are cheap. Config weights override these. */
export const DEFAULT_TOOL_WEIGHTS: Readonly<Record<string, number>> = Object.freeze({ claude_ask: 10, claude_plan: 10, claude_resume: 10 });

/**
 * Builds the limiters. On Redis every limiter is a `RateLimiterRedis` (atomic across replicas) backed by an in-memory
 * insurance limiter of the same quota: when Redis does not answer, requests are still limited per process, and each
 * fallback is counted (`rate_limit_insurance_total`) and logged (at most once a minute).
 */
export function createRateLimits(options: RateLimitsOptions): RateLimits {
  const { settings, redis, logger, metrics, events } = options;
  const duration = Math.max(1, Math.ceil(settings.windowMs / 1000));
  const prefix = `${options.keyPrefix ?? ''}rl:`;
  let lastFallbackLog = 0;

  const build = (name: string, points: number): Limiter => {
    const memory = new RateLimiterMemory({ points, duration, keyPrefix: name });
    if (!redis)
      return {
        points,
        consume: (key, cost) => memory.consume(key, cost),
        refund: (key, cost) => memory.reward(key, cost).then(() => undefined),
      };
    const shared = new RateLimiterRedis({
      storeClient: redis,
      points,
      duration,
      keyPrefix: `${prefix}${name}`,
      rejectIfRedisNotReady: true,
    });
    return {
      points,
      async consume(key, cost) {
        try {
          return await shared.consume(key, cost);
        } catch (error) {
          if (error instanceof RateLimiterRes) throw error;
          metrics?.rateLimitInsurance.inc();
          if (Date.now() - lastFallbackLog > 60_000) {
            lastFallbackLog = Date.now();
            logger.warn('rate limits: Redis unavailable, using the in-memory insurance limiter', {
              error: (error as Error).message,
              category: 'storage',
            });
          }
          return memory.consume(key, cost);
        }
      },
      async refund(key, cost) {
        await shared.reward(key, cost).catch(() => memory.reward(key, cost));
      },
    };
  };

  const global = build('global', settings.globalRequests);
  const oauth = build('oauth', settings.oauthRequests);
  const clients = new Map<number, Limiter>();
  const tools = new Map<number, Limiter>();
  const cached = (map: Map<number, Limiter>, name: string, points: number) => {
    let limiter = map.get(points);
    if (!limiter) map.set(points, (limiter = build(`${name}${points}`, points)));
    return limiter;
  };
  const clientLimiter = (clientId?: string) =>
    cached(clients, 'client', (clientId && settings.clientRequests[clientId]) || settings.requests);
  const toolLimiter = (clientId?: string) => {
    const override = clientId ? settings.clientRequests[clientId] : undefined;
    const points = override ? Math.max(1, Math.round((settings.toolPoints * override) / settings.requests)) : settings.toolPoints;
    return cached(tools, 'tool', points);
  };

  const weightOf = (tool: string) => settings.toolWeights[tool] ?? DEFAULT_TOOL_WEIGHTS[tool] ?? 1;

  async function decide(
    limiter: Limiter,
    scope: LimitScope,
    key: string,
    cost: number,
    detail: { clientId?: string; tool?: string },
  ): Promise<LimitDecision> {
    try {
      const res = await limiter.consume(key, cost);
      return {
        allowed: true,
        scope,
        limit: limiter.points,
        remaining: res.remainingPoints,
        resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
        windowSeconds: duration,
      };
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const retryAfter = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      // A refused tool call runs nothing, so it spends nothing: a cheap tool may still fit in what is left.
      if (scope === 'tool') await limiter.refund(key, cost).catch(() => undefined);
      metrics?.rateLimitRejections.inc({ scope });
      events?.emit('rate_limit.exceeded', {
        scope,
        retryAfterSeconds: retryAfter,
        ...(detail.clientId ? { clientId: detail.clientId } : {}),
        ...(detail.tool ? { tool: detail.tool } : {}),
      });
      return { allowed: false, scope, limit: limiter.points, remaining: 0, resetSeconds: retryAfter, windowSeconds: duration };
    }
  }

  return {
    async consumeRequest(key, clientId) {
      const overall = await decide(global, 'global', 'all', 1, { clientId });
      if (!overall.allowed) return overall;
      return decide(clientLimiter(clientId), 'client', key, 1, { clientId });
    },
    consumeTool(key, tool, clientId) {
      return decide(toolLimiter(clientId), 'tool', key, weightOf(tool), { clientId, tool });
    },
    consumeOAuth(address) {
      return decide(oauth, 'oauth', address, 1, {});
    },
    weightOf,
    async close() {
      redis?.disconnect();
    },
  };
}

interface Limiter {
  points: number;
  consume(key: string, cost: number): Promise<RateLimiterRes>;
  /** Gives back points a refused consumption added. */
  refund(key: string, cost: number): Promise<void>;
}
