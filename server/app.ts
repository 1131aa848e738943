import type { IncomingMessage, RequestListener } from 'node:http';
import express, { type RequestHandler } from 'express';
import type { AuthServer, ProtectedResource } from './auth/auth-server.js';
import type { Config } from './config/schema.js';
import type { SandboxStatus } from './claude/sandbox.js';
import type { EventBus } from './events/bus.js';
import { accessLog } from './http/middleware/access-log.js';
import { bearerAuthentication } from './http/middleware/bearer-auth.js';
import { requireToolScopes } from './http/middleware/tool-step-up.js';
import { publicCors } from './http/middleware/cors.js';
import { errorHandler, notFound } from './http/middleware/error-handler.js';
import { requireAllowedHost } from './http/middleware/host-check.js';
import { compileOriginAllowList } from './http/middleware/origin-check.js';
import { closeConnectionsWhileDraining, refuseWhileDraining } from './http/middleware/drain.js';
import { requestContext } from './http/middleware/request-context.js';
import { apiSecurityHeaders, documentSecurityHeaders } from './http/middleware/security-headers.js';
import { httpMetrics } from './http/middleware/http-metrics.js';
import { metricsRouter } from './http/routes/metrics-routes.js';
import type { Metrics } from './metrics/metrics.js';
import type { RateLimits } from './limits/rate-limits.js';
import { limitMcpRequests, oauthAbuseCeiling } from './http/middleware/rate-limit.js';
import { OAUTH_PATHS } from './http/routes/oauth/metadata.js';
import type { RequestStats } from './metrics/request-stats.js';
import type { GatewayService } from './gateway/gateway-service.js';
import type { ServerEndpoints } from './gateway/server-endpoints.js';
import { DirectRoutes, type ExpressReadyClasses } from './http/direct-routes.js';
import { gatewayMcpRouter, gatewayOpsRouter, hostRouting } from './http/routes/gateway-routes.js';
import { healthRouter } from './http/routes/health-routes.js';
import { mcpRouter, type Authenticate } from './http/routes/mcp-routes.js';
import { oauthRouter } from './http/routes/oauth/oauth-router.js';
import { protectedResourceRouter } from './http/routes/oauth/resource-router.js';
import type { Logger } from './logging/logger.js';
import { LOCAL_CALLER, type Caller } from './mcp/caller.js';
import type { SessionRegistry } from './mcp/session-registry.js';
import type { SseEndpoint } from './mcp/sse-endpoint.js';
import type { StreamableEndpoint } from './mcp/streamable-endpoint.js';
import type { Storage } from './storage/types.js';

/** Everything the HTTP app needs, built by `container.ts` (or by a test with fakes). */
export interface AppDeps {
  config: Config;
  logger: Logger;
  /** The public base URL (BASE_URL or derived), without trailing slash. */
  publicUrl: string;
  version: string;
  startedAt: number;
  transports: readonly string[];
  sessions: SessionRegistry;
  storage: Pick<Storage, 'ping' | 'kind'>;
  streamable: StreamableEndpoint;
  sse: SseEndpoint;
  /**
   * Resolves the caller of an MCP request. Defaults to bearer authentication against {@link AppDeps.auth}; without
   * either every request is the local owner (authentication off).
   */
  authenticate?: Authenticate;
  /** The built-in OAuth authorization server (AUTH_MODE=oauth); its routes are mounted and it authenticates MCP requests. */
  auth?: AuthServer;
  /** External-AS mode: only protected-resource metadata is served, and MCP requests are checked against that AS. */
  resourceServer?: ProtectedResource;
  /** Audit events of the OAuth routes go here. */
  events?: EventBus;
  /** Problems /health reports loudly (e.g. authentication disabled on a public interface). */
  warnings?: readonly string[];
  /** The scope a caller lacks for an existing tool of `/mcp` (the server factory's), for step-up challenges. */
  scopeNeeded?: (caller: Caller, toolName: string) => string | undefined;
  /** Claude's sandbox as the start-up probe found it, shown on /health. */
  sandbox?: SandboxStatus;
  /** True once shutdown started. */
  draining: () => boolean;
  /** The MCP gateway: per-upstream endpoints, host routing and operator endpoints are mounted when present. */
  gateway?: { service: GatewayService; endpoints: ServerEndpoints };
  /** Prometheus metrics and request totals: every request is measured; `/metrics` is served when METRICS_ENABLED. */
  metrics?: { metrics: Metrics; requestStats: RequestStats };
  /** Rate limits (RATE_LIMIT_ENABLED): MCP routes are limited per client, per tool and globally; OAuth gets an abuse ceiling. */
  rateLimits?: RateLimits;
  /** The HTTP server's request and response classes, given the app's prototypes here (see expressReadyClasses). */
  classes?: ExpressReadyClasses;
  /** Whether a request was forwarded here by another replica of the cluster (its limits were counted there). */
  forwarded?: (req: IncomingMessage) => boolean;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * Builds the app: the Express app, fronted by the direct MCP routes (see {@link DirectRoutes}), as one request
 * listener. Never listens and never reads the environment: `main.ts` does both.
 */
export function createApp(deps: AppDeps): RequestListener {
  const { config, logger } = deps;
  const app = express();
  deps.classes?.adopt(app);
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', trustProxySetting(config.trustProxy));

  // Every request goes through these first, whether Express routes it or DirectRoutes does (see below).
  const prelude: RequestHandler[] = [requestContext(), closeConnectionsWhileDraining(deps.draining), accessLog(logger)];
  if (deps.metrics) prelude.push(httpMetrics({ metrics: deps.metrics.metrics, stats: deps.metrics.requestStats }));
  // DNS-rebinding protection: a loopback-bound server must not answer pages that resolved evil.com to 127.0.0.1.
  const hostCheck =
    LOOPBACK_HOSTS.has(config.host) || config.host.startsWith('127.')
      ? [requireAllowedHost([...config.allowedHosts, new URL(deps.publicUrl).hostname])]
      : [];
  const headers = { hsts: deps.publicUrl.startsWith('https://') };
  // The MCP routes DirectRoutes serves answer programs, not browsers: they get the API header set.
  const directPrelude = [...prelude, apiSecurityHeaders(headers), ...hostCheck];
  prelude.push(documentSecurityHeaders(headers), ...hostCheck);
  app.use(prelude);

  // The MCP routes come first: they serve nearly every request, which then skips the other routers' route matching.
  // A request another replica forwarded here was counted there (server/cluster).
  const forwarded = deps.forwarded;
  const limit = deps.rateLimits ? limitMcpRequests(deps.rateLimits, forwarded ? (req) => !forwarded(req) : undefined) : undefined;
  const protectedBy = deps.auth ?? deps.resourceServer;
  const authenticate =
    deps.authenticate ?? (protectedBy ? bearerAuthentication(protectedBy.authenticate, deps.events) : async () => LOCAL_CALLER);
  const isOriginAllowed = compileOriginAllowList(config.allowedOrigins);
  const direct = new DirectRoutes();
  const routedByHost =
    deps.gateway && config.baseDomain ? hostRouting({ baseDomain: config.baseDomain, prefix: config.mcpPathPrefix }) : undefined;
  if (routedByHost) app.use(routedByHost);
  if (deps.gateway) {
    // Each upstream's endpoint is a protected resource of its own (tokens for it, or for the whole server).
    const forServer = deps.auth?.authenticateServer;
    const byServer = new Map<string, Authenticate>();
    const authenticateServer: Authenticate = forServer
      ? function authenticateServerRequest(req) {
          const name = typeof req.params?.name === 'string' ? req.params.name : '';
          let chosen = byServer.get(name);
          if (!chosen) {
            if (byServer.size >= 1_000) byServer.clear();
            byServer.set(name, (chosen = bearerAuthentication(forServer(name), deps.events)));
          }
          return chosen(req);
        }
      : authenticate;
    app.use(
      gatewayMcpRouter({
        prefix: config.mcpPathPrefix,
        endpoints: deps.gateway.endpoints,
        authenticate: deps.authenticate ?? authenticateServer,
        isOriginAllowed,
        maxBodyBytes: config.maxBodyBytes,
        direct,
        draining: deps.draining,
        ...(limit ? { limit } : {}),
      }),
    );
  }
  const stepUp =
    protectedBy && deps.scopeNeeded
      ? requireToolScopes({ scopeNeeded: deps.scopeNeeded, refuse: protectedBy.authenticate.stepUp })
      : undefined;
  app.use(
    mcpRouter({
      direct,
      ...(stepUp ? { stepUp } : {}),
      prefix: config.mcpPathPrefix,
      streamable: deps.streamable,
      sse: deps.sse,
      authenticate,
      isOriginAllowed,
      maxBodyBytes: config.maxBodyBytes,
      draining: deps.draining,
      ...(limit ? { limit } : {}),
    }),
  );
  app.use(['/.well-known', '/health'], publicCors());
  app.use(
    healthRouter({
      version: deps.version,
      startedAt: deps.startedAt,
      transports: deps.transports,
      sessions: () => deps.sessions.stats(),
      storage: deps.storage,
      config: { sessionTimeoutMs: config.sessionTimeoutMs, cleanupIntervalMs: config.cleanupIntervalMs },
      draining: deps.draining,
      warnings: deps.warnings,
      ...(deps.sandbox ? { sandbox: deps.sandbox } : {}),
      ...(deps.gateway ? { requiredUpstreamsDown: deps.gateway.service.requiredDown } : {}),
      ...(deps.metrics ? { requests: () => deps.metrics!.requestStats.summary() } : {}),
    }),
  );
  if (deps.metrics && config.metricsEnabled) {
    app.use(metricsRouter({ metrics: deps.metrics.metrics, ...(config.metricsToken ? { token: config.metricsToken } : {}) }));
  }
  // Past health and metrics, nothing new starts while the server drains (an OAuth exchange starts over elsewhere).
  app.use(refuseWhileDraining(deps.draining));
  if (deps.auth && deps.rateLimits) {
    const oauthPaths = [
      OAUTH_PATHS.token,
      OAUTH_PATHS.register,
      OAUTH_PATHS.revoke,
      OAUTH_PATHS.introspect,
      OAUTH_PATHS.authorize,
      OAUTH_PATHS.login,
      OAUTH_PATHS.consent,
    ];
    app.use(oauthAbuseCeiling(deps.rateLimits, [...oauthPaths, ...oauthPaths.map((path) => `/oauth${path}`)]));
  }
  if (deps.auth)
    app.use(
      oauthRouter({ auth: deps.auth, events: deps.events, ...(deps.gateway ? { upstreams: upstreamNames(deps.gateway.service) } : {}) }),
    );
  else if (deps.resourceServer) app.use(protectedResourceRouter({ urls: deps.resourceServer.urls }));
  if (deps.gateway) {
    app.use(
      gatewayOpsRouter({
        gateway: deps.gateway.service,
        sessions: deps.sessions,
        authenticate,
        thresholds: { rssMb: config.gatewayAlertRssMb, cpuPercent: config.gatewayAlertCpuPercent },
      }),
    );
  }
  app.use(notFound);
  const translateErrors = errorHandler(logger);
  app.use(translateErrors);
  const hostSuffix = routedByHost ? `.${config.baseDomain!.toLowerCase()}` : undefined;
  return direct.listener(app, {
    prelude: directPrelude,
    onError: translateErrors,
    // Host routing rewrites the path first, which only the Express app does: such requests go there.
    ...(hostSuffix
      ? { bypass: (req) => `${req.headers.host ?? ''} ${String(req.headers['x-forwarded-host'] ?? '')}`.toLowerCase().includes(hostSuffix) }
      : {}),
  });
}

/** TRUST_PROXY as Express expects it: a comma list becomes an array of addresses/subnets. */
function trustProxySetting(value: Config['trustProxy']): boolean | number | string[] {
  if (typeof value !== 'string') return value;
  return value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}

/** The gateway's upstream names, as the auth server asks about them. */
function upstreamNames(gateway: GatewayService): { has(name: string): boolean } {
  return { has: (name) => gateway.registry.get(name) !== undefined };
}
