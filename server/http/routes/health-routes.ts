import express, { type Router } from 'express';
import type { RequestSummary } from '../../metrics/request-stats.js';
import type { SessionStats } from '../../mcp/session-registry.js';
import type { Storage } from '../../storage/types.js';

/** Options of {@link healthRouter}. */
export interface HealthRouterOptions {
  version: string;
  startedAt: number;
  transports: readonly string[];
  sessions: () => SessionStats;
  storage: Pick<Storage, 'ping' | 'kind'>;
  config: { sessionTimeoutMs: number; cleanupIntervalMs: number };
  /** True while the server is shutting down: readiness fails so load balancers stop sending traffic. */
  draining: () => boolean;
  /** Configuration problems to report on every /health answer (e.g. authentication disabled on a public interface). */
  warnings?: readonly string[];
  /** Gateway upstreams marked `required` that are not running yet; readiness fails while any is listed. */
  requiredUpstreamsDown?: () => string[];
  /** Whether Claude runs are sandboxed and can start (CLAUDE_SANDBOX and the start-up probe). */
  sandbox?: { mode: string; ready: boolean; problem?: string };
  /** HTTP request totals since start (totalRequests, successfulRequests, failedRequests, averageResponseTime). */
  requests?: () => RequestSummary;
}

/**
 * `GET /health` (liveness plus a summary; always 200 while the process serves) and `GET /health/ready`
 * (readiness: storage answers and the server is not draining; 503 otherwise).
 */
export function healthRouter(options: HealthRouterOptions): Router {
  const router = express.Router();

  router.get('/health', function health(_req, res) {
    const { active, limit, oldest, newest, averageAgeSeconds } = options.sessions();
    res.setHeader('Cache-Control', 'no-store');
    res.json({
      status: options.draining() ? 'draining' : 'ok',
      version: options.version,
      uptime: Math.round((Date.now() - options.startedAt) / 100) / 10,
      transports: options.transports,
      sessions: { active, limit, oldest, newest, averageAgeSeconds },
      config: options.config,
      ...(options.sandbox ? { sandbox: options.sandbox } : {}),
      ...(options.requests ? options.requests() : {}),
      ...(options.warnings?.length ? { warnings: options.warnings } : {}),
    });
  });

  router.get('/health/ready', async function ready(_req, res) {
    const started = Date.now();
    let storage: { ok: boolean; kind: string; latencyMs: number; error?: string };
    try {
      await withTimeout(options.storage.ping(), 2000);
      storage = { ok: true, kind: options.storage.kind, latencyMs: Date.now() - started };
    } catch (error) {
      storage = { ok: false, kind: options.storage.kind, latencyMs: Date.now() - started, error: (error as Error).message };
    }
    const draining = options.draining();
    const waiting = options.requiredUpstreamsDown?.() ?? [];
    const ok = storage.ok && !draining && waiting.length === 0;
    const upstreams = options.requiredUpstreamsDown ? { upstreams: { ok: waiting.length === 0, waiting } } : {};
    res.setHeader('Cache-Control', 'no-store');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not_ready', draining, checks: { storage, ...upstreams } });
  });

  return router;
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
