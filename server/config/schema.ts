import { z } from 'zod';

/**
 * What the docs generator and the loader need to know about a field beyond its type:
 * the environment variable that sets it, whether it is a secret (masked in `config check`), and its doc group.
 */
export interface FieldMeta {
  /** Environment variable name (also accepted in `.env`). */
  env: string;
  /** Section heading in docs/configuration.md and .env.example. */
  group: 'Server' | 'HTTP' | 'MCP' | 'Sessions' | 'Storage' | 'Logging' | 'Auth' | 'Claude' | 'Operations';
  /** Masked as `***` by `config check` and in logs. */
  secret?: boolean;
  /** Example value shown in .env.example when the default is empty. */
  example?: string;
}

/** zod registry carrying {@link FieldMeta} for every top-level config field. */
export const fieldMeta = z.registry<FieldMeta>();

const int = (min: number, max: number) =>
  z
    .number({ error: (issue) => `expected an integer ${min}-${max}, got ${JSON.stringify(issue.input)}` })
    .int({ error: (issue) => `expected an integer ${min}-${max}, got ${JSON.stringify(issue.input)}` })
    .min(min, { error: `expected an integer ${min}-${max}` })
    .max(max, { error: `expected an integer ${min}-${max}` });

const bool = () => z.boolean({ error: (issue) => `expected true or false, got ${JSON.stringify(issue.input)}` });

const enumOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: (issue) => `expected one of ${values.join(' | ')}, got ${JSON.stringify(issue.input)}` });

const httpUrl = () =>
  z.url({
    protocol: /^https?$/,
    error: (issue) => `expected an absolute http(s) URL, got ${JSON.stringify(issue.input)}`,
  });

/**
 * The whole configuration. Every field has a default that starts a working single-box server with no external
 * services (SQLite under DATA_DIR). Layering: defaults < config file < environment (and `.env`) < CLI flags
 * (see `load.ts`). The parsed object is frozen.
 */
export const configSchema = z.object({
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
  /** Size at which an upstream's stderr log is rotated (one previous file is kept). */
  gatewayLogMaxBytes: int(1024, 1024 * 1024 * 1024)
    .default(5 * 1024 * 1024)
    .describe('Size at which a stdio upstream\'s stderr log (DATA_DIR/gateway-logs/<name>.log) rotates; one old file is kept.')
    .register(fieldMeta, { env: 'GATEWAY_LOG_MAX_BYTES', group: 'MCP' }),
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
  /** A session idle longer than this is closed by the sweeper. */
  sessionTimeoutMs: int(1000, 7 * 24 * 3600_000)
    .default(30 * 60_000)
    .describe('Idle time after which a session is closed.')
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

  // ── Auth ──────────────────────────────────────────────────────────────────
  /**
   * How MCP requests are authenticated: `oauth` (the built-in OAuth 2.1 authorization server, plus API keys),
   * `external` (resource server only: tokens of AUTH_EXTERNAL_ISSUER, plus API keys) or `none` (every request is the
   * local owner; refused on a non-loopback HOST unless MCP_DISABLE_AUTH=true).
   */
  authMode: enumOf(['oauth', 'external', 'none'] as const)
    .default('oauth')
    .describe('`oauth` (built-in OAuth 2.1 server plus API keys), `external` (tokens of AUTH_EXTERNAL_ISSUER) or `none` (loopback HOST only, unless MCP_DISABLE_AUTH).')
    .register(fieldMeta, { env: 'AUTH_MODE', group: 'Auth' }),
  /** Turns authentication off even on a public interface. The server then warns at start and in /health. */
  mcpDisableAuth: bool()
    .default(false)
    .describe('Serve without authentication even on a non-loopback HOST (dangerous; warns at start and in /health).')
    .register(fieldMeta, { env: 'MCP_DISABLE_AUTH', group: 'Auth' }),
  /** Lifetime of access tokens (RFC 9068 JWTs), at most one hour. */
  accessTokenTtlSeconds: int(60, 3600)
    .default(3600)
    .describe('Lifetime of OAuth access tokens in seconds (60-3600).')
    .register(fieldMeta, { env: 'ACCESS_TOKEN_TTL_SECONDS', group: 'Auth' }),
  /** Lifetime of a refresh token; each rotation starts a new one. Client secrets never expire, so they outlive it. */
  refreshTokenTtlSeconds: int(3600, 365 * 86_400)
    .default(30 * 86_400)
    .describe('Lifetime of refresh tokens in seconds; every refresh rotates the token and restarts it.')
    .register(fieldMeta, { env: 'REFRESH_TOKEN_TTL_SECONDS', group: 'Auth' }),
  /** Lifetime of authorization codes (OAuth 2.1: at most 10 minutes). */
  authCodeTtlSeconds: int(10, 600)
    .default(300)
    .describe('Lifetime of authorization codes in seconds (10-600).')
    .register(fieldMeta, { env: 'AUTH_CODE_TTL_SECONDS', group: 'Auth' }),
  /** Age at which a new signing key takes over; the old one stays in the JWKS until its tokens expired. */
  signingKeyRotationSeconds: int(3600, 365 * 86_400)
    .default(30 * 86_400)
    .describe('Age in seconds after which a new token-signing key (ES256) takes over; the old one is published until its tokens expire.')
    .register(fieldMeta, { env: 'SIGNING_KEY_ROTATION_SECONDS', group: 'Auth' }),
  /** How long a user's consent to a client is remembered. */
  consentTtlSeconds: int(0, 365 * 86_400)
    .default(90 * 86_400)
    .describe('How long a consent (user, client, scopes) is remembered, in seconds.')
    .register(fieldMeta, { env: 'CONSENT_TTL_SECONDS', group: 'Auth' }),
  /** How long a browser stays logged in to the authorization pages. */
  loginSessionTtlSeconds: int(60, 30 * 86_400)
    .default(8 * 3600)
    .describe('How long a browser stays logged in to the login/consent pages, in seconds.')
    .register(fieldMeta, { env: 'LOGIN_SESSION_TTL_SECONDS', group: 'Auth' }),
  /** Create an `admin` user with a generated password (printed once) when no user exists, so a newcomer can log in. */
  authInitialAdmin: bool()
    .default(true)
    .describe('On first start with no users, create `admin` with a generated password and print it once.')
    .register(fieldMeta, { env: 'AUTH_INITIAL_ADMIN', group: 'Auth' }),
  /** JSON file of pre-registered OAuth clients: `[{client_id, client_secret?, redirect_uris, grant_types?, ...}]`. */
  oauthStaticClientsPath: z
    .string()
    .min(1)
    .optional()
    .describe('JSON file listing pre-registered OAuth clients (`client_id`, `client_secret`, `redirect_uris`, ...).')
    .register(fieldMeta, { env: 'OAUTH_STATIC_CLIENTS_PATH', group: 'Auth', example: './oauth-clients.json' }),
  /** Accept private-use redirect schemes (`cursor://...`) at registration, for native apps (RFC 8252 §7.1). */
  oauthAllowPrivateSchemes: bool()
    .default(true)
    .describe('Accept private-use redirect URI schemes such as `cursor://` for native apps (RFC 8252 §7.1).')
    .register(fieldMeta, { env: 'OAUTH_ALLOW_PRIVATE_REDIRECT_SCHEMES', group: 'Auth' }),
  /** Sign users in through this OpenID Connect provider (in addition to local users). Register `{BASE_URL}/oauth/upstream/callback` there. */
  oidcIssuer: httpUrl()
    .optional()
    .describe('Issuer of an OpenID Connect provider users sign in with (register `BASE_URL/oauth/upstream/callback` there).')
    .register(fieldMeta, { env: 'OIDC_ISSUER', group: 'Auth', example: 'https://accounts.google.com' }),
  /** This server's client id at the provider. */
  oidcClientId: z
    .string()
    .min(1)
    .optional()
    .describe('Client id of this server at the OpenID Connect provider.')
    .register(fieldMeta, { env: 'OIDC_CLIENT_ID', group: 'Auth', example: 'claude-code-mcp' }),
  /** This server's client secret at the provider (absent: a public client with PKCE). */
  oidcClientSecret: z
    .string()
    .min(1)
    .optional()
    .describe('Client secret of this server at the OpenID Connect provider.')
    .register(fieldMeta, { env: 'OIDC_CLIENT_SECRET', group: 'Auth', secret: true, example: 'change-me' }),
  /** Scopes requested from the provider. */
  oidcScopes: z
    .array(z.string().min(1))
    .default(['openid', 'email', 'profile'])
    .describe('Comma list of scopes requested from the OpenID Connect provider.')
    .register(fieldMeta, { env: 'OIDC_SCOPES', group: 'Auth' }),
  /** Who may sign in through the provider: emails, `@domain` suffixes, or `*` for anyone it authenticates. Required with OIDC_ISSUER. */
  oidcAllowedUsers: z
    .array(z.string().min(1))
    .default([])
    .describe('Comma list of who may sign in via OIDC: emails, `@example.com` domains, or `*` for anyone the provider accepts.')
    .register(fieldMeta, { env: 'OIDC_ALLOWED_USERS', group: 'Auth', example: '@example.com,alice@gmail.com' }),
  /** Name on the sign-in button. */
  oidcProviderName: z
    .string()
    .min(1)
    .default('your identity provider')
    .describe('Name of the OpenID Connect provider shown on the sign-in button.')
    .register(fieldMeta, { env: 'OIDC_PROVIDER_NAME', group: 'Auth' }),
  /** Accept Client ID Metadata Documents: an https URL as client_id, fetched with SSRF protection and cached. */
  oauthCimdEnabled: bool()
    .default(true)
    .describe('Accept Client ID Metadata Documents (an https URL as `client_id`, as Claude and ChatGPT use).')
    .register(fieldMeta, { env: 'OAUTH_CIMD_ENABLED', group: 'Auth' }),
  /** Test and closed-network use only: let metadata-document fetches reach http and private/loopback addresses. */
  oauthCimdAllowPrivate: bool()
    .default(false)
    .describe('Let metadata-document fetches use http and private/loopback addresses (tests and closed networks only).')
    .register(fieldMeta, { env: 'OAUTH_CIMD_ALLOW_PRIVATE', group: 'Auth' }),
  /** API keys as `key:client_id` pairs; each key acts as that client with every scope. */
  apiKeys: z
    .array(z.string().min(1))
    .default([])
    .describe('Comma list of `key:client_id` API keys, sent as `Authorization: Bearer <key>`.')
    .register(fieldMeta, { env: 'MCP_API_KEYS', group: 'Auth', secret: true, example: 'key1:client1,key2:client2' }),
  /** JSON file of API keys: `{"<key>": {"client_id": "...", "scopes": ["mcp:tools", ...]}}`. */
  apiKeysPath: z
    .string()
    .min(1)
    .optional()
    .describe('JSON file of API keys: `{"<key>": {"client_id": "...", "scopes": [...]}}`.')
    .register(fieldMeta, { env: 'MCP_API_KEYS_PATH', group: 'Auth', example: './api-keys.json' }),

  /** Per-client tool allow/deny lists: `{"<client_id>" or "*": {"allow": [patterns], "deny": [patterns]}}`. */
  toolPolicyPath: z
    .string()
    .min(1)
    .optional()
    .describe('JSON file of per-client tool allow/deny patterns (`{"client": {"allow": ["claude_*"], "deny": [...]}}`); `*` applies to all.')
    .register(fieldMeta, { env: 'MCP_TOOL_POLICY_PATH', group: 'Auth', example: './tool-policy.json' }),
  /** AUTH_MODE=external: the trusted authorization server's issuer, exactly as in its metadata. */
  authExternalIssuer: httpUrl()
    .optional()
    .describe('External mode: issuer of the external authorization server, exactly as in its metadata.')
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_ISSUER', group: 'Auth', example: 'https://auth.example.com/realms/mcp' }),
  /** AUTH_MODE=external: JWKS URL; discovered from the issuer's metadata when unset. */
  authExternalJwksUri: httpUrl()
    .optional()
    .describe("External mode: JWKS URL of the issuer (default: `jwks_uri` from the issuer's metadata).")
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_JWKS_URI', group: 'Auth', example: 'https://auth.example.com/jwks' }),
  /** AUTH_MODE=external: accepted JWS algorithms. `none` and HMAC algorithms are always refused. */
  authExternalAlgorithms: z
    .array(z.string().min(1))
    .default(['RS256', 'PS256', 'ES256', 'EdDSA'])
    .describe('External mode: comma list of accepted JWS algorithms (`none` and HS* are always refused).')
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_ALGORITHMS', group: 'Auth' }),
  /** AUTH_MODE=external: require RFC 9068 `typ: at+jwt` (when the issuer emits it). */
  authExternalRequireAtJwt: bool()
    .default(false)
    .describe('External mode: require `typ: at+jwt` (RFC 9068) on access tokens.')
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_REQUIRE_AT_JWT', group: 'Auth' }),
  /** AUTH_MODE=external: RFC 7662 endpoint for opaque access tokens. */
  authExternalIntrospectionUrl: httpUrl()
    .optional()
    .describe('External mode: RFC 7662 introspection endpoint for opaque tokens (needs the client id and secret).')
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_INTROSPECTION_URL', group: 'Auth', example: 'https://auth.example.com/introspect' }),
  /** Client id this server introspects with. */
  authExternalClientId: z
    .string()
    .min(1)
    .optional()
    .describe('External mode: client id for introspection.')
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_CLIENT_ID', group: 'Auth', example: 'claude-code-mcp' }),
  /** Client secret this server introspects with. */
  authExternalClientSecret: z
    .string()
    .min(1)
    .optional()
    .describe('External mode: client secret for introspection.')
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_CLIENT_SECRET', group: 'Auth', secret: true, example: 'change-me' }),

  // ── Operations ────────────────────────────────────────────────────────────
  /** Serve `GET /metrics` (Prometheus text format, the server's own registry). */
  metricsEnabled: bool()
    .default(true)
    .describe('Serve `GET /metrics` in Prometheus text format.')
    .register(fieldMeta, { env: 'METRICS_ENABLED', group: 'Operations' }),
  /** When set, `/metrics` requires `Authorization: Bearer <token>`; otherwise it is left to network policy. */
  metricsToken: z
    .string()
    .min(16, { error: 'expected at least 16 characters' })
    .optional()
    .describe('Bearer token `/metrics` requires (unset: no token; restrict it by network instead).')
    .register(fieldMeta, { env: 'METRICS_TOKEN', group: 'Operations', secret: true, example: 'a-long-random-string' }),
  /** Enforce the rate limits below on the MCP endpoints and the abuse ceiling on the OAuth endpoints. */
  rateLimitEnabled: bool()
    .default(false)
    .describe('Enforce per-client, per-tool and global rate limits on MCP endpoints and the OAuth abuse ceiling.')
    .register(fieldMeta, { env: 'RATE_LIMIT_ENABLED', group: 'Operations' }),
  /** MCP HTTP requests one client (or, unauthenticated, one address) may send per window. */
  rateLimitRequests: int(1, 10_000_000)
    .default(300)
    .describe('MCP HTTP requests per client per window (unauthenticated callers: per address).')
    .register(fieldMeta, { env: 'RATE_LIMIT_REQUESTS', group: 'Operations' }),
  /** Length of a rate-limit window. */
  rateLimitWindowMs: int(1000, 24 * 3600_000)
    .default(60_000)
    .describe('Rate-limit window in milliseconds.')
    .register(fieldMeta, { env: 'RATE_LIMIT_WINDOW_MS', group: 'Operations' }),
  /** Tool cost points one client may spend per window; a call costs its tool's weight. */
  rateLimitToolPoints: int(1, 10_000_000)
    .default(120)
    .describe('Tool cost points per client per window; a call costs its weight (claude_ask/plan/resume 10, others 1 unless RATE_LIMIT_TOOL_WEIGHTS says otherwise).')
    .register(fieldMeta, { env: 'RATE_LIMIT_TOOL_POINTS', group: 'Operations' }),
  /** Ceiling on MCP HTTP requests per window across every client (every replica when on Redis). */
  rateLimitGlobalRequests: int(1, 100_000_000)
    .default(6000)
    .describe('MCP HTTP requests per window across all clients (all replicas when STORAGE=redis).')
    .register(fieldMeta, { env: 'RATE_LIMIT_GLOBAL_REQUESTS', group: 'Operations' }),
  /** Abuse ceiling of the OAuth endpoints per address and window: high, so shared-egress clients are never refused. */
  rateLimitOAuthRequests: int(30, 10_000_000)
    .default(1000)
    .describe('Abuse ceiling: OAuth endpoint requests per address per window. Keep it high: hosted clients share egress addresses.')
    .register(fieldMeta, { env: 'RATE_LIMIT_OAUTH_REQUESTS', group: 'Operations' }),
  /** Cost of a call per tool, `name=weight`; unlisted tools cost 1 (claude_ask, claude_plan, claude_resume: 10). */
  rateLimitToolWeights: z
    .array(z.string().regex(/^[^=\s]+=\d{1,6}$/, { error: 'expected tool=weight' }))
    .default([])
    .describe('Comma list of `tool=weight` cost overrides (config file: an array of the same strings).')
    .register(fieldMeta, { env: 'RATE_LIMIT_TOOL_WEIGHTS', group: 'Operations', example: 'claude_ask=20,memory__read_graph=1' }),
  /** Per-client request limits, `clientId=requests`; the client's tool points scale by the same factor. */
  rateLimitClients: z
    .array(z.string().regex(/^[^=\s]+=\d{1,9}$/, { error: 'expected clientId=requests' }))
    .default([])
    .describe('Comma list of `clientId=requests` per-client overrides of RATE_LIMIT_REQUESTS (tool points scale alike).')
    .register(fieldMeta, { env: 'RATE_LIMIT_CLIENTS', group: 'Operations', example: 'ci-bot=1000,trial-app=30' }),
  /** Deliver events to webhook endpoints (WEBHOOK_URL and/or `webhooks` in the config file). */
  webhooksEnabled: bool()
    .default(true)
    .describe('Deliver events to the configured webhook endpoints (none configured: nothing is sent).')
    .register(fieldMeta, { env: 'WEBHOOKS_ENABLED', group: 'Operations' }),
  /** One webhook endpoint from the environment; more go in `webhookEndpoints` in the config file. */
  webhookUrl: httpUrl()
    .optional()
    .describe('URL of a webhook endpoint receiving every event (Standard Webhooks signing).')
    .register(fieldMeta, { env: 'WEBHOOK_URL', group: 'Operations', example: 'https://hooks.example.com/claude-mcp' }),
  /** Signing secrets of WEBHOOK_URL, `whsec_<base64>`; two during a rotation (both signatures are sent). */
  webhookSecret: z
    .array(z.string().regex(/^whsec_[A-Za-z0-9+/=]{16,}$/, { error: 'expected a whsec_<base64> secret' }))
    .max(2, { error: 'at most two secrets (current and next, during a rotation)' })
    .default([])
    .describe('Signing secret(s) of WEBHOOK_URL as `whsec_<base64>`; a comma list of two during a rotation.')
    .register(fieldMeta, { env: 'WEBHOOK_SECRET', group: 'Operations', secret: true, example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }),
  /** Event types WEBHOOK_URL receives (empty: all). */
  webhookEvents: z
    .array(z.string().regex(/^[a-z_]+\.[a-z_]+$/, { error: 'expected an event type such as tool.completed' }))
    .default([])
    .describe('Comma list of event types WEBHOOK_URL receives (empty: every type in docs/webhooks.md).')
    .register(fieldMeta, { env: 'WEBHOOK_EVENTS', group: 'Operations', example: 'tool.completed,tool.error' }),
  /** More endpoints, each `{url, secret, events?, headers?, enabled?}` (config file). */
  webhookEndpoints: z
    .array(
      z.object({
        url: httpUrl(),
        secret: z.union([
          z.string().regex(/^whsec_[A-Za-z0-9+/=]{16,}$/, { error: 'expected a whsec_<base64> secret' }),
          z.array(z.string().regex(/^whsec_[A-Za-z0-9+/=]{16,}$/, { error: 'expected a whsec_<base64> secret' })).min(1).max(2),
        ]),
        events: z.array(z.string()).default([]),
        headers: z.record(z.string(), z.string()).default({}),
        enabled: bool().default(true),
      }),
    )
    .default([])
    .describe('Webhook endpoints `{url, secret (one or two whsec_ secrets), events, headers, enabled}`: an array in the config file, a JSON array in env.')
    .register(fieldMeta, {
      env: 'WEBHOOK_ENDPOINTS',
      group: 'Operations',
      secret: true,
      example: '[{"url":"https://hooks.example.com/a","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","events":["tool.error"]}]',
    }),
  /** Allow deliveries to loopback, private and link-local addresses (refused by default: SSRF). */
  webhookAllowPrivate: bool()
    .default(false)
    .describe('Allow webhook deliveries to loopback, private and link-local addresses (refused by default).')
    .register(fieldMeta, { env: 'WEBHOOK_ALLOW_PRIVATE', group: 'Operations' }),
  /** Time limit of one delivery attempt. */
  webhookTimeoutMs: int(100, 120_000)
    .default(10_000)
    .describe('Time limit of one webhook delivery attempt (then it is retried).')
    .register(fieldMeta, { env: 'WEBHOOK_TIMEOUT_MS', group: 'Operations' }),
  /** Attempts before an event is dead-lettered. */
  webhookMaxAttempts: int(1, 100)
    .default(12)
    .describe('Delivery attempts before an event goes to the dead-letter list.')
    .register(fieldMeta, { env: 'WEBHOOK_MAX_ATTEMPTS', group: 'Operations' }),
  /** Age after which an undelivered event is dead-lettered. */
  webhookMaxAgeMs: int(1000, 30 * 24 * 3600_000)
    .default(24 * 3600_000)
    .describe('Age after which an undelivered event goes to the dead-letter list.')
    .register(fieldMeta, { env: 'WEBHOOK_MAX_AGE_MS', group: 'Operations' }),
  /** First retry delay; each retry doubles it (with full jitter), up to an hour. */
  webhookRetryBaseMs: int(10, 3600_000)
    .default(5000)
    .describe('First webhook retry delay; doubles per attempt with jitter, capped at one hour.')
    .register(fieldMeta, { env: 'WEBHOOK_RETRY_BASE_MS', group: 'Operations' }),
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

  // ── Claude ────────────────────────────────────────────────────────────────
  /**
   * A system `claude` binary to run instead of the one bundled with the Agent SDK. Resolved once at startup and
   * checked (exists, executable, answers `--version`); when the check fails every Claude tool answers `cli_not_found`.
   */
  claudeCliPath: z
    .string()
    .min(1)
    .optional()
    .describe('Path of a system `claude` binary to use instead of the bundled one (checked once at startup).')
    .register(fieldMeta, { env: 'CLAUDE_CLI_PATH', group: 'Claude', example: '/usr/local/bin/claude' }),
  /** Claude Code processes running at once; further runs wait in the priority queue. */
  maxConcurrentRuns: int(1, 256)
    .default(4)
    .describe('Claude Code runs executing at once; further runs wait in the queue (high before normal before low).')
    .register(fieldMeta, { env: 'MAX_CONCURRENT_RUNS', group: 'Claude' }),
  /** Runs allowed to wait; beyond it a call fails at once with `busy` rather than piling up. */
  maxQueuedRuns: int(0, 100_000)
    .default(100)
    .describe('Runs allowed to wait for a slot; beyond it calls fail with `busy`.')
    .register(fieldMeta, { env: 'MAX_QUEUED_RUNS', group: 'Claude' }),
  /** Longest one run may take (queue wait excluded); then it is interrupted and answered `timeout`. */
  runTimeoutMs: int(1000, 24 * 3600_000)
    .default(10 * 60_000)
    .describe('Longest a single Claude Code run may take once started; then it is interrupted (`timeout`).')
    .register(fieldMeta, { env: 'RUN_TIMEOUT_MS', group: 'Claude' }),
  /** Time an interrupted run gets to end its turn before its process is aborted (killed). */
  runInterruptGraceMs: int(0, 600_000)
    .default(3000)
    .describe('Grace period between interrupting a run (abort, timeout, shutdown) and killing its process.')
    .register(fieldMeta, { env: 'RUN_INTERRUPT_GRACE_MS', group: 'Claude' }),
  /** Longest accepted prompt, in characters. */
  maxPromptLength: int(1, 10_000_000)
    .default(100_000)
    .describe('Longest accepted prompt (`query`), in characters.')
    .register(fieldMeta, { env: 'MAX_PROMPT_LENGTH', group: 'Claude' }),
  /**
   * Directories Claude may work in. A requested `workingDirectory` must resolve (realpath, so symlinks count where
   * they point) inside one of them. None may contain DATA_DIR (Claude could read the server's keys and tokens).
   * The default `./workspace` is created on start.
   */
  workspaceRoots: z
    .array(z.string().min(1))
    .default(['./workspace'])
    .describe('Comma list of directories a `workingDirectory` must resolve inside (realpath; symlink escapes refused). Must not contain DATA_DIR; the default is created on start.')
    .register(fieldMeta, { env: 'WORKSPACE_ROOTS', group: 'Claude', example: '/srv/projects,/home/me/code' }),
  /** Where runs without a `workingDirectory` work; defaults to the first workspace root. */
  defaultWorkingDirectory: z
    .string()
    .min(1)
    .optional()
    .describe('Working directory of runs that name none (default: the first workspace root). Must lie inside a root.')
    .register(fieldMeta, { env: 'DEFAULT_WORKING_DIRECTORY', group: 'Claude', example: '/srv/projects/main' }),
  /** Give each client its own subfolder (`<root>/<clientId>`) of the default working directory. */
  perClientWorkspaces: bool()
    .default(false)
    .describe('Run each client in its own subfolder `<default working directory>/<client id>` (created on demand).')
    .register(fieldMeta, { env: 'PER_CLIENT_WORKSPACES', group: 'Claude' }),
  /**
   * The most permissive permission mode a caller may ask for, in the order plan < dontAsk < default < acceptEdits <
   * auto < bypassPermissions. Asking for more is refused (`permission_denied`).
   */
  maxPermissionMode: enumOf(['plan', 'dontAsk', 'default', 'acceptEdits', 'auto', 'bypassPermissions'] as const)
    .default('acceptEdits')
    .describe('Most permissive permission mode a caller may request (plan < dontAsk < default < acceptEdits < auto < bypassPermissions).')
    .register(fieldMeta, { env: 'CLAUDE_MAX_PERMISSION_MODE', group: 'Claude' }),
  /** Tools no run may use, whatever the caller asks (`Bash`, `WebFetch`, `Bash(rm *)`...). */
  disallowedTools: z
    .array(z.string().min(1))
    .default([])
    .describe('Comma list of tools no run may use, whatever the caller asks (e.g. `WebFetch,Bash(rm *)`).')
    .register(fieldMeta, { env: 'CLAUDE_DISALLOWED_TOOLS', group: 'Claude', example: 'WebFetch,WebSearch' }),
  /** Tools allowed without asking when the caller names none. */
  defaultAllowedTools: z
    .array(z.string().min(1))
    .default(['Read', 'Grep', 'Glob'])
    .describe('Comma list of tools runs may use without asking when the caller passes no `allowedTools`.')
    .register(fieldMeta, { env: 'DEFAULT_ALLOWED_TOOLS', group: 'Claude' }),
  /** Spending cap of one run in USD (`maxBudgetUsd`); a run that reaches it ends with `budget_exceeded`. */
  maxBudgetUsd: z
    .number({ error: (issue) => `expected a positive number, got ${JSON.stringify(issue.input)}` })
    .positive({ error: 'expected a positive number' })
    .default(5)
    .describe('Spending cap of one run in USD; a run reaching it ends with `budget_exceeded`.')
    .register(fieldMeta, { env: 'CLAUDE_MAX_BUDGET_USD', group: 'Claude' }),
  /** Upper bound on agentic turns per run; a caller's `maxTurns` is clamped to it. */
  maxTurns: int(1, 10_000)
    .default(50)
    .describe('Most agentic turns of one run; a caller\'s `maxTurns` is clamped to it.')
    .register(fieldMeta, { env: 'CLAUDE_MAX_TURNS', group: 'Claude' }),
  /** Background tasks (`claude_ask` with `backgroundTask: true`) alive at once; more are refused with `busy`. */
  maxAsyncProcesses: int(1, 1000)
    .default(10)
    .describe('Background Claude tasks alive at once; further ones are refused with `busy`.')
    .register(fieldMeta, { env: 'MAX_ASYNC_PROCESSES', group: 'Claude' }),
  /** Time limit of one background task run. */
  asyncProcessTimeoutMs: int(1000, 7 * 24 * 3600_000)
    .default(30 * 60_000)
    .describe('Longest a background task may run before it is interrupted (`timeout`).')
    .register(fieldMeta, { env: 'ASYNC_PROCESS_TIMEOUT_MS', group: 'Claude' }),
  /**
   * Extra environment variables passed to Claude Code. The child otherwise gets only PATH, HOME, TMPDIR, locale,
   * proxies, `ANTHROPIC_*`, `CLAUDE_CODE_*` and `DISABLE_*`: server secrets never reach it.
   */
  claudeEnvAllow: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/, { error: 'expected variable names, optionally ending in *' }))
    .default([])
    .describe('Comma list of extra environment variables (or `PREFIX_*`) passed to Claude Code beyond the built-in allow-list.')
    .register(fieldMeta, { env: 'CLAUDE_ENV_ALLOW', group: 'Claude', example: 'GITHUB_TOKEN,NPM_CONFIG_*' }),
});

/** The validated, frozen configuration every module receives. */
export type Config = Readonly<z.infer<typeof configSchema>>;

/** Field names of {@link Config}. */
export type ConfigKey = keyof z.infer<typeof configSchema>;

/** The metadata of one field; every field is registered, so this never returns undefined for a real key. */
export function metaOf(key: ConfigKey): FieldMeta {
  const meta = fieldMeta.get(configSchema.shape[key]);
  if (!meta) throw new Error(`config field ${key} has no metadata`);
  return meta;
}
