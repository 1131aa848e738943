import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { AppDeps } from './app.js';
import { createAuthServer, createExternalResourceServer, type AuthServer, type ProtectedResource } from './auth/auth-server.js';
import { sandboxWarnings } from './claude/sandbox.js';
import { authWarnings, effectiveAuthMode, sqliteFile } from './config/load.js';
import { createServerEndpoints } from './gateway/server-endpoints.js';
import { createSseEndpoint, type SseEndpoint } from './mcp/sse-endpoint.js';
import { createStreamableEndpoint, type StreamableEndpoint } from './mcp/streamable-endpoint.js';
import { claudeChildEnvironment } from './config/child-env.js';
import type { Config } from './config/schema.js';
import { createClaudeService, serverPaths, type ClaudeService } from './claude/claude-service.js';
import { createToolAccess, loadToolPolicies } from './auth/tool-access.js';
import { createEventBus, type EventBus } from './events/bus.js';
import { gatewayVariables, upstreamBaseEnvironment } from './config/gateway-env.js';
import { createGatewayService, type GatewayService } from './gateway/gateway-service.js';
import type { Logger } from './logging/logger.js';
import { observeAudit } from './logging/audit-log.js';
import { toolCallLog } from './logging/tool-call-log.js';
import { observeEvents } from './metrics/event-metrics.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { RequestStats } from './metrics/request-stats.js';
import { toolMetrics } from './metrics/tool-metrics.js';
import type { ToolCallInterceptor } from './mcp/tool-interceptor.js';
import type { Cluster } from './cluster/cluster.js';
import { createCallActivity, type CallActivity } from './mcp/call-activity.js';
import type { JsonRpcErrorObject } from './mcp/jsonrpc-errors.js';
import type { RateLimits } from './limits/rate-limits.js';
import { configuredEndpoints, createWebhookService, type WebhookService } from './webhooks/webhook-service.js';
import { createServerFactory, type ServerFactory } from './mcp/server-factory.js';
import { createServerStatusProvider } from './mcp/server-status-provider.js';
import { SessionRegistry } from './mcp/session-registry.js';
import type { ToolProvider } from './mcp/tool-provider.js';
import { createStorage } from './storage/create-storage.js';
import { createTaskService, type TaskService } from './tasks/task-service.js';
import type { Storage } from './storage/types.js';
import { VERSION } from './version.js';

/** Every long-lived part of a running server, built from config in one place. */
export interface Container {
  config: Config;
  logger: Logger;
  events: EventBus;
  storage: Storage;
  sessions: SessionRegistry;
  factory: ServerFactory;
  /**
   * A server factory over other providers with the same access rules, per-call layers (metrics, the tool-call log)
   * and tasks as {@link factory}: `/servers/{name}/mcp` serves one upstream this way (with tasks when it runs them).
   */
  assemble(name: string, providers: readonly ToolProvider[]): ServerFactory;
  /** Claude Code runs and tools. */
  claude: ClaudeService;
  /** MCP tasks (every origin) and the routing of calls to them. */
  tasks: TaskService;
  /** Upstream MCP servers of MCP_CONFIG_PATH, supervised and aggregated. */
  gateway: GatewayService;
  /** Prometheus metrics (own registry) and the request totals /health reports. */
  metrics: Metrics;
  requestStats: RequestStats;
  /** Rate limits (RATE_LIMIT_ENABLED), on Redis when STORAGE=redis. */
  rateLimits?: RateLimits;
  /** Webhook outbox and dispatcher, when endpoints are configured and WEBHOOKS_ENABLED. */
  webhooks?: WebhookService;
  /** Tool calls in flight on every endpoint: what a graceful shutdown waits for. */
  activity: CallActivity;
  /** This replica's place among several sharing Redis (STORAGE=redis): sessions and forwarding across replicas. */
  cluster?: Cluster;
  version: string;
  startedAt: number;
  transports: readonly string[];
  /** Closes sessions, then storage. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link createContainer}. */
export interface ContainerOptions {
  logger: Logger;
  /** Transports this process will serve, reported by health and `server_status`. */
  transports: readonly string[];
  /** Providers added after the built-in ones (tests add fixture tools here). */
  extraProviders?: readonly ToolProvider[];
  /** Use this storage instead of building one from config (tests). */
  storage?: Storage;
  /** Environment the Claude child allow-list is applied to (default: this process's); tests pass an isolated one. */
  claudeEnvironment?: Readonly<Record<string, string | undefined>>;
  /** Environment of the gateway (`${VAR}` expansion, stdio upstream allow-list; default: this process's). */
  gatewayEnvironment?: Readonly<Record<string, string | undefined>>;
}

/** Builds the concrete adapters from config. The only place that knows which implementation backs each port. */
export async function createContainer(config: Config, options: ContainerOptions): Promise<Container> {
  const { logger } = options;
  mkdirSync(config.dataDir, { recursive: true });
  const storage = options.storage ?? (await buildStorage(config));
  const events = createEventBus(logger);
  // Audit channel: every security event as one structured line (logins, consents, tokens, reuse, revocations, denials).
  const stopAudit = observeAudit({ events, logger, ...(config.auditLogPath ? { file: config.auditLogPath } : {}) });
  // With shared storage this process is one replica of several: sessions are recorded cluster-wide and a request
  // for another replica's session is passed there (server/cluster). Loaded only then: it brings ioredis.
  const cluster =
    storage.shared && config.redisUrl
      ? await (
          await import('./cluster/cluster.js')
        ).createCluster({
          storage,
          redisUrl: config.redisUrl,
          keyPrefix: config.redisKeyPrefix,
          logger,
          leaseSeconds: Math.ceil(config.clusterLeaseMs / 1000),
          ...(config.clusterMaxConcurrentRuns !== undefined ? { maxRuns: config.clusterMaxConcurrentRuns } : {}),
        })
      : undefined;
  const sessions = new SessionRegistry({
    maxSessions: config.maxSessions,
    idleTimeoutMs: config.sessionTimeoutMs,
    sweepIntervalMs: config.cleanupIntervalMs,
    events,
    logger,
    ...(cluster ? { directory: cluster.link } : {}),
  });
  const claudeEnv = claudeChildEnvironment(config.claudeEnvAllow, options.claudeEnvironment);
  const tasks = await createTaskService({ config, storage, events, logger, ...(cluster ? { presence: cluster.presence } : {}) });
  const claude = await createClaudeService({
    config,
    storage,
    events,
    logger,
    tasks: tasks.runtime,
    ...(cluster ? { runs: cluster.runs } : {}),
    env: claudeEnv,
    protectedPaths: serverPaths({ config, cwd: process.cwd(), ...(claudeEnv.HOME ? { home: claudeEnv.HOME } : {}) }),
  });
  const toolAccess = createToolAccess(loadToolPolicies(config.toolPolicyPath));
  const gatewayEnvironment = options.gatewayEnvironment ?? gatewayVariables();
  const gateway = await createGatewayService({
    configPath: config.mcpConfigPath,
    liveReload: config.mcpLiveReload,
    variables: gatewayEnvironment,
    baseEnv: upstreamBaseEnvironment(config.gatewayEnvAllow, gatewayEnvironment),
    logDir: path.join(config.dataDir, 'gateway-logs'),
    logMaxBytes: config.gatewayLogMaxBytes,
    maxMessageBytes: config.gatewayMaxMessageBytes,
    startupWaitMs: config.gatewayStartupWaitMs,
    principalIdleMs: config.sessionTimeoutMs,
    version: VERSION,
    logger,
    events,
    toolAccess,
  });
  const startedAt = Date.now();
  const metrics = createMetrics({
    sessionsByTransport: () => sessions.stats().byTransport,
    claudeRuns: () => claude.executor.stats(),
    webhookQueueDepth: () => webhooks?.queueDepth() ?? 0,
  });
  const endpoints = config.webhooksEnabled ? configuredEndpoints(config) : [];
  const webhooks: WebhookService | undefined = endpoints.length
    ? createWebhookService({
        endpoints,
        storage,
        events,
        logger,
        metrics,
        settings: {
          timeoutMs: config.webhookTimeoutMs,
          maxAttempts: config.webhookMaxAttempts,
          maxAgeMs: config.webhookMaxAgeMs,
          retryBaseMs: config.webhookRetryBaseMs,
          allowPrivate: config.webhookAllowPrivate,
        },
      })
    : undefined;
  observeEvents(metrics, events);
  const activity = createCallActivity();
  const toolInterceptors: ToolCallInterceptor[] = [activity.interceptor, toolCallLog(logger), toolMetrics(metrics)];
  const providers: ToolProvider[] = [
    createServerStatusProvider({
      version: VERSION,
      startedAt,
      transports: options.transports,
      storage: storage.kind,
      sessions: () => sessions.stats(),
    }),
    claude.provider,
    gateway.provider,
    ...(options.extraProviders ?? []),
  ];
  const assemble = (name: string, from: readonly ToolProvider[], instructions?: string, routing?: TaskService['routing']) =>
    createServerFactory({
      name,
      version: VERSION,
      providers: from,
      toolAccess,
      toolInterceptors,
      ...(instructions ? { instructions } : {}),
      ...(routing ? { routing } : {}),
    });
  const factory = assemble(
    'claude-code-mcp',
    providers,
    'claude-code-mcp: Claude Code and other MCP servers behind one endpoint. Call server_status for its state.',
    tasks.routing,
  );
  const rateLimits = config.rateLimitEnabled ? await buildRateLimits(config, storage, { logger, metrics, events }) : undefined;
  let closed = false;
  return {
    config,
    logger,
    events,
    storage,
    sessions,
    factory,
    assemble: (name, from) => assemble(name, from, undefined, tasks.routing),
    claude,
    tasks,
    gateway,
    metrics,
    requestStats: new RequestStats(),
    rateLimits,
    webhooks,
    activity,
    ...(cluster ? { cluster } : {}),
    version: VERSION,
    startedAt,
    transports: options.transports,
    async close() {
      if (closed) return;
      closed = true;
      tasks.close();
      await claude.shutdown();
      await sessions.closeAll('shutdown');
      await gateway.close();
      await rateLimits?.close();
      await webhooks?.stop();
      await stopAudit();
      await cluster?.close();
      await storage.close();
    },
  };
}

/**
 * The rate limits of a config: in Redis when the storage is shared (one limit for every replica; a connection of
 * its own that fails fast, so the insurance limiter answers at once while Redis is down), in memory otherwise.
 * Loaded only when enabled: rate-limiter-flexible is start-up time a server without limits does not need.
 */
async function buildRateLimits(
  config: Config,
  storage: Storage,
  deps: { logger: Logger; metrics: Metrics; events: EventBus },
): Promise<RateLimits> {
  const [{ createRateLimits }, { rateLimitSettings }] = await Promise.all([
    import('./limits/rate-limits.js'),
    import('./limits/rate-limit-settings.js'),
  ]);
  const settings = rateLimitSettings(config);
  if (!storage.shared || !config.redisUrl) return createRateLimits({ ...deps, settings });
  const { Redis } = await import('ioredis');
  const redis = new Redis(config.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  redis.on('error', (error: Error) => deps.logger.debug('rate-limit Redis connection', { error: error.message }));
  // Give the connection a moment so the first requests use the shared limit; never block start-up on Redis.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    timer.unref();
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return createRateLimits({ ...deps, settings, redis, keyPrefix: config.redisKeyPrefix });
}

/** The configured storage adapter (also used by the CLI's `keys`, `users` and `clients` commands). */
export function buildStorage(config: Config): Promise<Storage> {
  switch (config.storage) {
    case 'memory':
      return createStorage({ kind: 'memory' });
    case 'redis':
      return createStorage({ kind: 'redis', url: config.redisUrl!, keyPrefix: config.redisKeyPrefix });
    case 'sqlite': {
      const file = sqliteFile(config);
      mkdirSync(path.dirname(file), { recursive: true });
      return createStorage({ kind: 'sqlite', path: file });
    }
  }
}

/** The parts that need the listening URL: they exist from `composeServing` until the server closes. */
export interface Serving {
  /** The app's dependencies, but for what only the listener knows (`draining`, the request classes). */
  app: Omit<AppDeps, 'draining' | 'classes'>;
  streamable: StreamableEndpoint;
  sse: SseEndpoint;
  /** The built-in authorization server (AUTH_MODE=oauth). */
  auth?: AuthServer;
  /** Configuration problems of authentication, for the start-up log (the app's `/health` shows them too). */
  authWarnings: readonly string[];
  /**
   * Answers the per-request (stateless) exchanges still open on `/mcp` and every `/servers/{name}/mcp` with `error`:
   * a shutdown's last word (sessions' open requests are answered through the registry). Resolves with how many.
   */
  answerPending(error: JsonRpcErrorObject): Promise<number>;
  /** Closes what serving started: timers, the MCP endpoints' sessions. */
  close(): Promise<void>;
}

/**
 * Builds what serves requests once the server listens and its public URL is known (a port of 0 names every URL only
 * then): the MCP endpoints of `/mcp` and of each upstream, the authorization server or external-AS checks, and the
 * timer confirming upstream sign-ins. `runtime.ts` only listens, holds early requests, and closes.
 */
export function composeServing(container: Container, url: string): Serving {
  const { config, logger, sessions, factory, events } = container;
  // `/mcp` and, per upstream, `/servers/{name}/mcp` and `/sse`: the same transports and session registry, each
  // around its own server factory.
  const endpointsFor = (serverFactory: ServerFactory) => ({
    streamable: createStreamableEndpoint({
      factory: serverFactory,
      sessions,
      logger,
      legacyStateless: config.legacyStateless,
      keepAliveMs: config.keepAliveMs,
      retryMs: config.sseRetryMs,
      reconnectGraceMs: config.streamReconnectGraceMs,
      eventStore: { maxEvents: config.eventStoreMaxEvents, maxBytes: config.eventStoreMaxBytes },
      maxBodyBytes: config.maxBodyBytes,
      ...(container.cluster ? { remote: container.cluster } : {}),
    }),
    sse: createSseEndpoint({
      factory: serverFactory,
      sessions,
      logger,
      keepAliveMs: config.keepAliveMs,
      maxBodyBytes: config.maxBodyBytes,
      ...(container.cluster ? { remote: container.cluster } : {}),
    }),
  });
  const { streamable, sse } = endpointsFor(factory);
  const serverEndpoints = createServerEndpoints({
    gateway: container.gateway,
    assemble: (name, provider) => container.assemble(`claude-code-mcp/${name}`, [provider]),
    build: endpointsFor,
  });
  let auth: AuthServer | undefined;
  let resourceServer: ProtectedResource | undefined;
  if (effectiveAuthMode(config) === 'external') {
    resourceServer = createExternalResourceServer({
      settings: config,
      storage: container.storage,
      publicUrl: url,
      mcpPathPrefix: config.mcpPathPrefix,
    });
  } else if (effectiveAuthMode(config) === 'oauth') {
    auth = createAuthServer({
      settings: config,
      storage: container.storage,
      events,
      logger,
      publicUrl: url,
      mcpPathPrefix: config.mcpPathPrefix,
      upstreams: { has: (name) => container.gateway.registry.get(name) !== undefined },
    });
  }
  // Provider sign-ins are confirmed on a timer (one pass at a time), so a sign-in revoked at the provider ends its
  // tokens within about 1.25 x OIDC_RECHECK_MS even if the client never refreshes (checklist L.58).
  let rechecking: Promise<unknown> | undefined;
  const recheck =
    auth?.upstream && config.oidcRecheckMs > 0
      ? setInterval(
          () => {
            rechecking ??= auth
              .recheckUpstream(config.oidcRecheckMs)
              .catch((error: unknown) => logger.warn('could not confirm provider sign-ins', { error, category: 'auth' }))
              .finally(() => (rechecking = undefined));
          },
          Math.max(1_000, Math.floor(config.oidcRecheckMs / 4)),
        )
      : undefined;
  recheck?.unref();
  const warnings = authWarnings(config);
  return {
    app: {
      config,
      logger,
      publicUrl: url,
      version: container.version,
      startedAt: container.startedAt,
      transports: container.transports,
      sessions,
      storage: container.storage,
      streamable,
      sse,
      ...(auth ? { auth } : {}),
      ...(resourceServer ? { resourceServer } : {}),
      events,
      // The sandbox's own warnings were logged when it was probed; /health repeats them on every answer.
      warnings: [...warnings, ...sandboxWarnings(container.claude.sandbox)],
      sandbox: container.claude.sandbox,
      ...(factory.scopeNeeded ? { scopeNeeded: factory.scopeNeeded } : {}),
      gateway: { service: container.gateway, endpoints: serverEndpoints },
      metrics: { metrics: container.metrics, requestStats: container.requestStats },
      ...(container.rateLimits ? { rateLimits: container.rateLimits } : {}),
      ...(container.cluster ? { forwarded: (req) => container.cluster!.isForwarded(req) } : {}),
    },
    streamable,
    sse,
    ...(auth ? { auth } : {}),
    authWarnings: warnings,
    async answerPending(error) {
      return (await streamable.answerPending(error)) + (await serverEndpoints.answerPending(error));
    },
    async close() {
      clearInterval(recheck);
      await rechecking;
      await streamable.close();
      await serverEndpoints.close();
    },
  };
}
