import { z } from 'zod';
import { bool, fieldMeta, httpUrl, int } from '../field-helpers.js';

/** Operations: metrics, rate limits, webhooks, audit, the gateway; see docs/operations.md. */
export const operationsFields = {
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
    .describe(
      'Tool cost points per client per window; a call costs its weight (claude_ask/plan/resume 10, others 1 unless RATE_LIMIT_TOOL_WEIGHTS says otherwise).',
    )
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
          z
            .array(z.string().regex(/^whsec_[A-Za-z0-9+/=]{16,}$/, { error: 'expected a whsec_<base64> secret' }))
            .min(1)
            .max(2),
        ]),
        events: z.array(z.string()).default([]),
        headers: z.record(z.string(), z.string()).default({}),
        enabled: bool().default(true),
        maxInFlight: int(1, 64).optional(),
      }),
    )
    .default([])
    .describe(
      'Webhook endpoints `{url, secret (one or two whsec_ secrets), events, headers, enabled, maxInFlight}`: an array in the config file, a JSON array in env.',
    )
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
  /** Deliveries in flight at once per endpoint; 1 keeps strict order while the receiver answers 2xx. */
  webhookMaxInFlight: int(1, 64)
    .default(8)
    .describe('Most webhook deliveries in flight at once per endpoint (started in outbox order); 1 sends one at a time, in strict order.')
    .register(fieldMeta, { env: 'WEBHOOK_MAX_IN_FLIGHT', group: 'Operations' }),
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
};
