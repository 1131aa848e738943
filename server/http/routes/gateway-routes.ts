import express, { type Request, type RequestHandler, type Router } from 'express';
import { SCOPES, scopeCovers } from '../../auth/scopes.js';
import { AppError, AppErrorCode } from '../../errors/app-error.js';
import type { GatewayService } from '../../gateway/gateway-service.js';
import { processUsage, type ResourceThresholds } from '../../gateway/process-usage.js';
import type { ServerEndpoints } from '../../gateway/server-endpoints.js';
import type { Caller } from '../../mcp/caller.js';
import type { SessionRegistry } from '../../mcp/session-registry.js';
import type { SseEndpoint } from '../../mcp/sse-endpoint.js';
import type { StreamableEndpoint } from '../../mcp/streamable-endpoint.js';
import { mcpRouter, type McpRouterOptions } from './mcp-routes.js';

/** Options of {@link gatewayMcpRouter}. */
export interface GatewayMcpRouterOptions extends Omit<McpRouterOptions, 'streamable' | 'sse'> {
  endpoints: ServerEndpoints;
}

function serverName(req: Request): string {
  const name = req.params?.name;
  return typeof name === 'string' ? name : '';
}

function endpointsOf(endpoints: ServerEndpoints, name: string) {
  const found = endpoints.get(name);
  if (!found) throw new AppError(AppErrorCode.NotFound, `No upstream server named "${name}"`);
  return found;
}

/**
 * `/servers/{name}/mcp` (Streamable HTTP) and `/servers/{name}/sse` + `/messages` (legacy SSE): one upstream,
 * unprefixed, through the same authentication, origin checks and session handling as `/mcp` (the same router,
 * mounted with a `:name` prefix and endpoints chosen per request).
 */
export function gatewayMcpRouter(options: GatewayMcpRouterOptions): Router {
  const { endpoints } = options;
  const streamable: StreamableEndpoint = {
    handle: (req, res, body, caller) => endpointsOf(endpoints, serverName(req as Request)).streamable.handle(req, res, body, caller),
    answerPending: (error) => endpoints.answerPending(error),
    close: () => endpoints.close(),
    get transportCount() {
      return 0;
    },
  };
  const sse: SseEndpoint = {
    open: (req, res, caller, messagesPath) => {
      const name = serverName(req as Request);
      return endpointsOf(endpoints, name).sse.open(req, res, caller, messagesPath.replace(':name', encodeURIComponent(name)));
    },
    post: (req, res, body, caller, sessionId) =>
      endpointsOf(endpoints, serverName(req as Request)).sse.post(req, res, body, caller, sessionId),
  } as SseEndpoint;
  return mcpRouter({ ...options, prefix: `${options.prefix}/servers/:name`, streamable, sse });
}

/** The MCP paths host routing rewrites (everything the MCP router serves). */
const HOST_ROUTED = new Set(['/mcp', '/sse', '/messages', '/mcp/sse', '/mcp/message']);

/**
 * `{name}.{BASE_DOMAIN}` host routing: a request for `/mcp`, `/sse` or `/messages` on that host is served as
 * `/servers/{name}/...`, so each upstream gets a URL of its own without proxy rules.
 */
export function hostRouting({ baseDomain, prefix }: { baseDomain: string; prefix: string }): RequestHandler {
  const suffix = `.${baseDomain.toLowerCase()}`;
  return function routeByHost(req, _res, next) {
    const host = req.hostname?.toLowerCase();
    if (!host || !host.endsWith(suffix)) return next();
    const name = host.slice(0, -suffix.length);
    if (!name || name.includes('.')) return next();
    const url = new URL(req.url, 'http://x');
    const path = url.pathname.slice(prefix.length);
    if (!url.pathname.startsWith(prefix) || !HOST_ROUTED.has(path)) return next();
    req.url = `${prefix}/servers/${encodeURIComponent(name)}${path}${url.search}`;
    next();
  };
}

/** Options of {@link gatewayOpsRouter}. */
export interface GatewayOpsRouterOptions {
  gateway: GatewayService;
  sessions: SessionRegistry;
  authenticate: (req: Request) => Promise<Caller>;
  thresholds: ResourceThresholds;
}

/**
 * Operator endpoints (`claude:admin` when authentication is on; the local caller has every scope):
 * `/listmcp`, `/listtools/{name}`, `/health/servers`, `/health/resources`, `POST /cleanup`,
 * `POST /servers/{name}/restart`.
 */
export function gatewayOpsRouter({ gateway, sessions, authenticate, thresholds }: GatewayOpsRouterOptions): Router {
  const router = express.Router();
  const { registry } = gateway;
  const requireOperator: RequestHandler = async function requireOperator(req, res, next) {
    const caller = await authenticate(req);
    if (!scopeCovers(caller.scopes, SCOPES.admin))
      throw new AppError(AppErrorCode.Forbidden, `This endpoint needs the ${SCOPES.admin} scope`);
    res.setHeader('Cache-Control', 'no-store');
    next();
  };

  router.get('/listmcp', requireOperator, function listMcp(_req, res) {
    res.json({
      servers: registry
        .list()
        .map((s) => ({
          name: s.name,
          running: s.status === 'running',
          status: s.status,
          pid: s.pid ?? null,
          ...s.describe(),
          isolation: s.config.isolation,
          protocolVersion: s.live?.protocolVersion ?? null,
          tools: s.catalog.tools.length,
        })),
    });
  });

  router.get('/listtools/:name', requireOperator, function listTools(req, res) {
    const supervisor = registry.get(req.params.name as string);
    if (!supervisor) throw new AppError(AppErrorCode.NotFound, `No upstream server named "${req.params.name as string}"`);
    const { prefix = supervisor.name } = supervisor.config;
    res.json({
      server: supervisor.name,
      status: supervisor.status,
      tools: supervisor.catalog.tools.map((tool) => ({
        name: tool.name,
        aggregatedName: prefix === false ? tool.name : `${prefix}__${tool.name}`,
        description: tool.description ?? null,
      })),
    });
  });

  router.get('/health/servers', requireOperator, function serverHealth(_req, res) {
    const servers = Object.fromEntries(registry.list().map((s) => [s.name, { status: s.status, ...s.health }]));
    const all = Object.values(servers);
    const count = (status: string) => all.filter((s) => s.status === status).length;
    res.json({
      servers,
      summary: {
        total: all.length,
        running: count('running'),
        starting: count('starting') + count('restarting'),
        failed: count('failed'),
        disabled: count('disabled'),
        healthy: all.length === count('running') + count('disabled'),
      },
    });
  });

  router.get('/health/resources', requireOperator, async function resourceHealth(_req, res) {
    const pids = registry.list().flatMap((s) => (s.pid ? [{ name: s.name, pid: s.pid }] : []));
    res.json(await processUsage([{ name: 'gateway', pid: process.pid }, ...pids], thresholds));
  });

  router.post('/cleanup', requireOperator, async function cleanup(_req, res) {
    const closedSessions = await sessions.sweepIdle();
    const restarted = registry
      .list()
      .filter((s) => s.status === 'failed')
      .map((s) => s.name);
    for (const name of restarted) void registry.get(name)?.restart();
    res.json({ closedSessions, restarted });
  });

  router.post('/servers/:name/restart', requireOperator, async function restartServer(req, res) {
    const supervisor = registry.get(req.params.name as string);
    if (!supervisor) throw new AppError(AppErrorCode.NotFound, `No upstream server named "${req.params.name as string}"`);
    await supervisor.restart();
    res.json({
      server: supervisor.name,
      status: supervisor.status,
      pid: supervisor.pid ?? null,
      restartCount: supervisor.health.restartCount,
    });
  });

  return router;
}
