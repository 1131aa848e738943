import express, { type Router } from 'express';
import { hashToken, safeEqual } from '../../auth/secrets.js';
import { AppError, AppErrorCode } from '../../errors/app-error.js';
import type { Metrics } from '../../metrics/metrics.js';

/** Options of {@link metricsRouter}. */
export interface MetricsRouterOptions {
  metrics: Metrics;
  /** METRICS_TOKEN: when set, scrapes must send `Authorization: Bearer <token>`. */
  token?: string;
}

/**
 * `GET /metrics`: the Prometheus text exposition (format 0.0.4) of the server's own registry. It sits outside OAuth:
 * scrapers authenticate with the static METRICS_TOKEN, or the endpoint is left to network policy.
 */
export function metricsRouter({ metrics, token }: MetricsRouterOptions): Router {
  const router = express.Router();
  router.get('/metrics', async function scrapeMetrics(req, res) {
    if (token) {
      const presented = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '')?.[1];
      if (!presented || !safeEqual(hashToken(presented), hashToken(token))) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
        throw new AppError(AppErrorCode.Unauthorized, 'The metrics endpoint needs the METRICS_TOKEN bearer token');
      }
    }
    const { contentType, body } = await metrics.scrape();
    res.setHeader('Cache-Control', 'no-store');
    res.type(contentType).send(body);
  });
  return router;
}
