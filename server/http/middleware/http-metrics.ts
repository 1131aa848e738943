import type { Request, RequestHandler } from 'express';
import { isGrantType } from '../../auth/grant-types/registry.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { RequestStats } from '../../metrics/request-stats.js';

/** Options of {@link httpMetrics}. */
export interface HttpMetricsOptions {
  metrics: Metrics;
  /** Totals for `/health`. */
  stats: RequestStats;
}

/** JSON-RPC methods of MCP counted under their own name; anything else is `other` (labels stay bounded). */
const MCP_METHODS = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'server/discover',
]);

const HTTP_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

/**
 * Times every HTTP request into `http_request_duration_seconds` labelled by the route *template* that answered
 * (`/servers/:name/mcp`, never the raw path; `unmatched` for 404s), counts MCP JSON-RPC requests by method and
 * outcome, OAuth token issuance by grant type (a grant type of the registry, else `other`) and OAuth errors by
 * endpoint, and keeps the `/health` totals. Everything is recorded when the response closes, so streams count once,
 * when they end.
 */
export function httpMetrics({ metrics, stats }: HttpMetricsOptions): RequestHandler {
  return function httpMetricsMiddleware(req, res, next) {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      const status = res.statusCode;
      const route = routeTemplate(req);
      // A stream the client closes is not a failure: only the status decides.
      stats.record(status < 400, durationMs);
      metrics.httpRequestDuration.observe(
        { route, method: HTTP_METHODS.has(req.method) ? req.method : 'other', status: String(status) },
        durationMs / 1000,
      );
      if (res.locals.mcpRoute && req.method === 'POST') countMcpRequests(metrics, req.body, status);
      const oauthError = res.locals.oauthError as string | undefined;
      if (oauthError) metrics.oauthErrors.inc({ endpoint: route, error: oauthError });
      if (req.method === 'POST' && route.endsWith('/token') && status === 200) {
        const grantType = (req.body as { grant_type?: unknown } | undefined)?.grant_type;
        metrics.oauthTokensIssued.inc({ grant_type: typeof grantType === 'string' && isGrantType(grantType) ? grantType : 'other' });
      }
    });
    next();
  };
}

/** The template of the route that handled the request, as registered (`/listtools/:name`), or `unmatched`. */
export function routeTemplate(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path !== 'string') return 'unmatched';
  return `${req.baseUrl}${path}` || '/';
}

/**
 * JSON-RPC requests (not notifications, not responses) of one POST, by method. The outcome is the HTTP one: a
 * request refused before it reached the MCP server (401, 404 session, 429, 4xx/5xx) is `error`; JSON-RPC errors
 * carried inside a 200 answer count as `ok` here (tool failures are in `mcp_tool_calls_total`).
 */
function countMcpRequests(metrics: Metrics, body: unknown, status: number): void {
  const messages = Array.isArray(body) ? body : [body];
  const outcome = status < 400 ? 'ok' : 'error';
  for (const message of messages) {
    if (!message || typeof message !== 'object') continue;
    const { method, id } = message as { method?: unknown; id?: unknown };
    if (typeof method !== 'string' || id === undefined) continue;
    metrics.mcpRequests.inc({ method: MCP_METHODS.has(method) ? method : 'other', outcome });
  }
}
