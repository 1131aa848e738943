import { z } from 'zod';
import { bool, enumOf, fieldMeta, httpUrl, int } from '../field-helpers.js';

/** Server, HTTP, MCP, session and storage settings; see docs/configuration.md. */
export const coreFields = {
  // ── Server ────────────────────────────────────────────────────────────────
  /** Which transport `serve` starts: `http` (Streamable HTTP + legacy SSE) or `stdio` (the same as the `stdio` command). */
  transport: enumOf(['http', 'stdio'] as const)
    .default('http')
    .describe('Transport `serve` starts: `http` (Streamable HTTP and legacy SSE) or `stdio`.')
    .register(fieldMeta, { env: 'TRANSPORT', group: 'Server' }),
  /** TCP port of the HTTP listener. */
  port: int(0, 65535)
    .default(3000)
    .describe('TCP port of the HTTP listener (0 picks a free port).')
    .register(fieldMeta, { env: 'PORT', group: 'Server' }),
  /** Interface to bind. Loopback by default: exposing the server is an explicit decision. */
  host: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .describe('Interface to bind. Use `0.0.0.0` in containers; loopback binds also get Host-header checks.')
    .register(fieldMeta, { env: 'HOST', group: 'Server' }),
  /**
   * The public URL clients use, without a trailing slash. Every absolute URL the server emits is built from it.
   * Defaults to `http://{host}:{port}`.
   */
  baseUrl: httpUrl()
    .optional()
    .describe('Public URL of the server (scheme, host, optional port). Defaults to `http://HOST:PORT`.')
    .register(fieldMeta, { env: 'BASE_URL', group: 'Server', example: 'https://mcp.example.com' }),
  /** Directory for the SQLite database, PID file, log file and other state. Created on start. */
  dataDir: z
    .string()
    .min(1)
    .default('./data')
    .describe('Directory for the SQLite database, PID and log files (created on start).')
    .register(fieldMeta, { env: 'DATA_DIR', group: 'Server' }),
  /** Upper bound on a graceful shutdown before the process exits anyway. */
  shutdownTimeoutMs: int(100, 600_000)
    .default(10_000)
    .describe('Longest a graceful shutdown (SIGINT/SIGTERM) may take before the process exits anyway.')
    .register(fieldMeta, { env: 'SHUTDOWN_TIMEOUT_MS', group: 'Server' }),

  // ── HTTP ──────────────────────────────────────────────────────────────────
  /**
   * Express `trust proxy`: `false`, `true`, a hop count, or a comma list of addresses/subnets. Set it behind a
   * reverse proxy so client IPs (logs, rate limits) and the scheme are right.
   */
  trustProxy: z
    .union([z.boolean(), z.number().int().min(0), z.string().min(1)])
    .default(false)
    .describe('Express `trust proxy`: `false`, `true`, a hop count, or a comma list of proxy addresses/subnets.')
    .register(fieldMeta, { env: 'TRUST_PROXY', group: 'HTTP', example: '1' }),
  /**
   * Browser origins allowed to call the MCP endpoints (403 for others; requests without `Origin` pass).
   * Entries are exact origins; `*` may stand for the port (`http://localhost:*`).
   */
  allowedOrigins: z
    .array(z.string().min(1))
    .default(['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'])
    .describe('Comma list of browser origins allowed on MCP endpoints; `*` may replace the port. Others get 403.')
    .register(fieldMeta, { env: 'ALLOWED_ORIGINS', group: 'HTTP', example: 'https://app.example.com,http://localhost:*' }),
  /**
   * Host names accepted when bound to loopback (DNS-rebinding protection). The BASE_URL host is always accepted.
   */
  allowedHosts: z
    .array(z.string().min(1))
    .default(['localhost', '127.0.0.1', '[::1]'])
    .describe('Comma list of Host names accepted while bound to loopback (plus the BASE_URL host).')
    .register(fieldMeta, { env: 'ALLOWED_HOSTS', group: 'HTTP' }),
  /** Largest request body accepted; bigger ones get 413 with a JSON body. */
  maxBodyBytes: int(1024, 100 * 1024 * 1024)
    .default(4 * 1024 * 1024)
    .describe('Largest accepted request body in bytes; larger ones are answered 413.')
    .register(fieldMeta, { env: 'MAX_BODY_BYTES', group: 'HTTP' }),

  // ── MCP ───────────────────────────────────────────────────────────────────
  /** Mount point prefix for every MCP route (`/mcp`, `/sse`, `/messages`), e.g. `/api`. */
  mcpPathPrefix: z
    .string()
    .regex(/^(\/[A-Za-z0-9._~-]+)*$/, { error: 'expected empty or a path like /api/v1 (no trailing slash)' })
    .default('')
    .describe('Prefix for all MCP routes (`/mcp`, `/sse`, `/messages`), e.g. `/api`. No trailing slash.')
    .register(fieldMeta, { env: 'MCP_PATH_PREFIX', group: 'MCP', example: '/api' }),
  /**
   * Serve 2025-era clients statelessly (one server per request, no `Mcp-Session-Id`), for replicas behind a load
   * balancer without session affinity. GET streams, resumability and DELETE are then unavailable (405).
   */
  legacyStateless: bool()
    .default(false)
    .describe('Serve 2025-era clients without sessions (replicas without affinity); disables GET streams and DELETE.')
    .register(fieldMeta, { env: 'MCP_LEGACY_STATELESS', group: 'MCP' }),
  /** Interval of SSE comment frames on every open stream, so proxies do not cut idle connections. 0 disables. */
  keepAliveMs: int(0, 600_000)
    .default(15_000)
    .describe('Interval of keep-alive comments on open SSE streams (0 disables).')
    .register(fieldMeta, { env: 'SSE_KEEPALIVE_MS', group: 'MCP' }),
  /** Events kept per session for `Last-Event-ID` resumption; older ones are dropped. */
  eventStoreMaxEvents: int(0, 1_000_000)
    .default(256)
    .describe('Events kept per session for `Last-Event-ID` resumption (0 disables resumability).')
    .register(fieldMeta, { env: 'EVENT_STORE_MAX_EVENTS', group: 'MCP' }),
  /** Bytes of events kept per session for resumption; older ones are dropped first. */
  eventStoreMaxBytes: int(0, 1024 * 1024 * 1024)
    .default(1024 * 1024)
    .describe('Bytes of events kept per session for resumption.')
    .register(fieldMeta, { env: 'EVENT_STORE_MAX_BYTES', group: 'MCP' }),
  /** Milliseconds a client should wait before reconnecting a dropped SSE stream (sent as the SSE `retry` field). */
  sseRetryMs: int(0, 600_000)
    .default(1000)
    .describe('Reconnect delay suggested to clients in the SSE `retry` field (ms).')
    .register(fieldMeta, { env: 'SSE_RETRY_MS', group: 'MCP' }),
  /**
   * A 2025-era client that drops a call's answer stream (killed, network gone) may resume it with `Last-Event-ID`;
   * if it has not within this long, the call is cancelled as if the client had sent `notifications/cancelled` (a
   * Claude run is interrupted, an upstream call cancelled). Background tasks are not affected.
   */
  streamReconnectGraceMs: int(0, 600_000)
    .default(10_000)
    .describe('How long a call whose client dropped its answer stream waits for the client to resume it before it is cancelled (ms).')
    .register(fieldMeta, { env: 'STREAM_RECONNECT_GRACE_MS', group: 'MCP' }),
  /**
   * The gateway's upstream servers, in the `mcpServers` format of `claude_desktop_config.json` (docs/gateway.md,
   * `mcp_config.schema.json`). A missing file means no upstreams.
   */
  mcpConfigPath: z
    .string()
    .min(1)
    .default('./mcp_config.json')
    .describe('Gateway upstream servers file (`mcpServers` format, see docs/gateway.md); missing = no upstreams.')
    .register(fieldMeta, { env: 'MCP_CONFIG_PATH', group: 'MCP' }),
  /** Watch MCP_CONFIG_PATH and apply changes without a restart (SIGHUP reloads either way). */
  mcpLiveReload: bool()
    .default(false)
    .describe('Watch MCP_CONFIG_PATH and start/stop/restart only the upstreams that changed (SIGHUP reloads either way).')
    .register(fieldMeta, { env: 'MCP_LIVE_RELOAD', group: 'MCP' }),
  /** Host routing: `{server}.{BASE_DOMAIN}` serves that upstream alone at `/mcp` and `/sse`. */
  baseDomain: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, { error: 'expected a domain name such as mcp.example.com' })
    .optional()
    .describe('Serve upstream `{name}` alone at `{name}.{BASE_DOMAIN}/mcp` and `/sse`.')
    .register(fieldMeta, { env: 'BASE_DOMAIN', group: 'MCP', example: 'mcp.example.com' }),
  /** Extra variables of this process passed to stdio upstreams beyond the base allow-list (PATH, HOME, locale, proxies). */
  gatewayEnvAllow: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/, { error: 'expected variable names, optionally ending in *' }))
    .default([])
    .describe('Comma list of extra environment variables (or `PREFIX_*`) passed to stdio upstreams beyond PATH, HOME, locale and proxies.')
    .register(fieldMeta, { env: 'GATEWAY_ENV_ALLOW', group: 'MCP', example: 'GITHUB_TOKEN' }),
  /**
   * How long a client's first `tools/list` (over stdio: its `initialize`) waits for gateway upstreams that are still
   * starting, counted from when each began; an upstream whose start fails stops the wait at once. 0 never waits.
   */
  gatewayStartupWaitMs: int(0, 600_000)
    .default(10_000)
    .describe(
      "How long a client's first tools/list (over stdio: its initialize) waits for gateway upstreams that are still starting (ms, from their start; 0 = no wait).",
    )
    .register(fieldMeta, { env: 'GATEWAY_STARTUP_WAIT_MS', group: 'MCP' }),
  /** Size at which an upstream's stderr log is rotated (one previous file is kept). */
  gatewayLogMaxBytes: int(1024, 1024 * 1024 * 1024)
    .default(5 * 1024 * 1024)
    .describe("Size at which a stdio upstream's stderr log (DATA_DIR/gateway-logs/<name>.log) rotates; one old file is kept.")
    .register(fieldMeta, { env: 'GATEWAY_LOG_MAX_BYTES', group: 'MCP' }),
  /**
   * Longest message an upstream may send (a stdio line, an HTTP answer or SSE event: a tool result, a resource's
   * contents). A longer answer is
   * read past without being held in memory, and its call fails with a tool error naming this limit; the connection
   * and other calls on it carry on.
   */
  gatewayMaxMessageBytes: int(1024 * 1024, 1024 * 1024 * 1024)
    .default(32 * 1024 * 1024)
    .describe(
      'Longest message (a tool result, a resource) an upstream may send, over stdio or HTTP; a longer one fails its call with a tool error naming this limit.',
    )
    .register(fieldMeta, { env: 'GATEWAY_MAX_MESSAGE_BYTES', group: 'MCP' }),
  /** `/health/resources` flags an upstream (or this process) whose resident memory passes this. */
  gatewayAlertRssMb: int(1, 1024 * 1024)
    .default(512)
    .describe('Resident memory (MB) of one process above which `/health/resources` raises an alert.')
    .register(fieldMeta, { env: 'GATEWAY_ALERT_RSS_MB', group: 'MCP' }),
  /** `/health/resources` flags a process whose CPU use (percent of one core) passes this. */
  gatewayAlertCpuPercent: int(1, 10_000)
    .default(90)
    .describe('CPU use (percent of one core) of one process above which `/health/resources` raises an alert.')
    .register(fieldMeta, { env: 'GATEWAY_ALERT_CPU_PERCENT', group: 'MCP' }),

  // ── Sessions ──────────────────────────────────────────────────────────────
  /** Most concurrent MCP sessions (Streamable HTTP and legacy SSE together); new ones beyond it are refused. */
  maxSessions: int(1, 1_000_000)
    .default(1000)
    .describe('Most concurrent MCP sessions; new sessions beyond it are refused with 503.')
    .register(fieldMeta, { env: 'MAX_SESSIONS', group: 'Sessions' }),
  /**
   * A session idle longer than this is closed by the sweeper; a principal's own connection to an `isolation: "session"`
   * gateway upstream (its 2026-07-28 requests have no session) is closed after as long unused.
   */
  sessionTimeoutMs: int(1000, 7 * 24 * 3600_000)
    .default(30 * 60_000)
    .describe('Idle time after which a session is closed (and a principal\'s own connection to an isolation "session" upstream).')
    .register(fieldMeta, { env: 'SESSION_TIMEOUT_MS', group: 'Sessions' }),
  /** How often the sweeper looks for idle sessions. */
  cleanupIntervalMs: int(100, 3600_000)
    .default(60_000)
    .describe('How often idle sessions are swept.')
    .register(fieldMeta, { env: 'CLEANUP_INTERVAL_MS', group: 'Sessions' }),

  // ── Storage ───────────────────────────────────────────────────────────────
  /** Storage adapter: `sqlite` (default, a file under DATA_DIR), `redis` (several replicas) or `memory` (lost on exit). */
  storage: enumOf(['sqlite', 'redis', 'memory'] as const)
    .default('sqlite')
    .describe('Storage adapter: `sqlite` (file under DATA_DIR), `redis` (shared by replicas) or `memory` (lost on exit).')
    .register(fieldMeta, { env: 'STORAGE', group: 'Storage' }),
  /** SQLite database file; defaults to `DATA_DIR/claude-code-mcp.db`. */
  sqlitePath: z
    .string()
    .min(1)
    .optional()
    .describe('SQLite database file (default `DATA_DIR/claude-code-mcp.db`).')
    .register(fieldMeta, { env: 'SQLITE_PATH', group: 'Storage', example: './data/claude-code-mcp.db' }),
  /** Redis connection URL; required when STORAGE=redis. */
  redisUrl: z
    .string()
    .regex(/^rediss?:\/\//, { error: 'expected a redis:// or rediss:// URL' })
    .optional()
    .describe('Redis URL (`redis://` or `rediss://`); required when STORAGE=redis.')
    .register(fieldMeta, { env: 'REDIS_URL', group: 'Storage', secret: true, example: 'redis://127.0.0.1:6379' }),
  /** Prefix of every Redis key, so several deployments can share one Redis. */
  redisKeyPrefix: z
    .string()
    .default('claude-code-mcp:')
    .describe('Prefix of every Redis key.')
    .register(fieldMeta, { env: 'REDIS_KEY_PREFIX', group: 'Storage' }),
  /**
   * With several replicas (STORAGE=redis): how long a replica counts as alive after its last heartbeat (it beats
   * every third of it). A replica silent for longer is dead for the others: its MCP sessions are gone, and its
   * running tasks are marked `interrupted` within 1.5 times this (docs/architecture.md, "Several replicas").
   */
  clusterLeaseMs: int(1000, 600_000)
    .default(10_000)
    .describe(
      'Several replicas: a replica not heard from for this long is dead; its running tasks are marked interrupted within 1.5x this (ms).',
    )
    .register(fieldMeta, { env: 'CLUSTER_LEASE_MS', group: 'Storage' }),
  /**
   * With several replicas: Claude Code runs executing at once across all of them, on top of each replica's
   * MAX_CONCURRENT_RUNS. A run that would pass it is refused with `busy` (retryable). Unset: no cluster-wide limit.
   */
  clusterMaxConcurrentRuns: int(1, 100_000)
    .optional()
    .describe(
      'Several replicas: Claude runs executing at once across all replicas; beyond it a run is refused with `busy` (unset: no cluster-wide limit).',
    )
    .register(fieldMeta, { env: 'CLUSTER_MAX_CONCURRENT_RUNS', group: 'Storage', example: '16' }),
};

/** Logging settings. */
export const loggingFields = {
  // ── Logging ───────────────────────────────────────────────────────────────
  /** Lowest level written. */
  logLevel: enumOf(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const)
    .default('info')
    .describe('Lowest log level written: error, warn, info, http, verbose, debug, silly.')
    .register(fieldMeta, { env: 'LOG_LEVEL', group: 'Logging' }),
  /** `json` (one object per line), `pretty` (human-readable), or `auto`: pretty on a TTY, JSON otherwise. */
  logFormat: enumOf(['auto', 'json', 'pretty'] as const)
    .default('auto')
    .describe('`json`, `pretty`, or `auto` (pretty on a TTY, JSON otherwise).')
    .register(fieldMeta, { env: 'LOG_FORMAT', group: 'Logging' }),
  /** A separate append-only JSON-lines file of security (audit) events; they are in the main log either way. */
  auditLogPath: z
    .string()
    .min(1)
    .optional()
    .describe('File receiving audit events (logins, consents, tokens, revocations...) as JSON lines, apart from the main log.')
    .register(fieldMeta, { env: 'AUDIT_LOG_PATH', group: 'Logging', example: '/var/log/claude-mcp/audit.jsonl' }),
};
