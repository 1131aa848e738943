import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Live values read at scrape time (gauges that mirror state owned elsewhere). */
export interface MetricsSources {
  /** Open MCP sessions by transport. */
  sessionsByTransport?: () => Readonly<Record<string, number>>;
  /** Claude runs running and waiting for a slot. */
  claudeRuns?: () => { running: number; queued: number };
  /** Webhook events waiting in the outbox. */
  webhookQueueDepth?: () => Promise<number> | number;
}

/**
 * Every metric the server exports, on its own {@link Registry} (never prom-client's global one, so several servers
 * in one process — tests — do not collide). Names follow Prometheus conventions: base units (seconds), `_total` on
 * counters. Every label is bounded: route templates and tool names, never raw paths, session or user ids.
 */
export interface Metrics {
  readonly registry: Registry;
  /** Route template (`/mcp`, `/token`, `unmatched`), method, status code. */
  readonly httpRequestDuration: Histogram<'route' | 'method' | 'status'>;
  /** JSON-RPC method (known MCP methods, else `other`) and outcome (`ok`, `error`). */
  readonly mcpRequests: Counter<'method' | 'outcome'>;
  /** Tool name and outcome (`ok`, `error`); calls refused by a rate limit never run and are not counted here. */
  readonly mcpToolCalls: Counter<'tool' | 'outcome'>;
  readonly mcpToolDuration: Histogram<'tool'>;
  readonly oauthTokensIssued: Counter<'grant_type'>;
  /** OAuth endpoint (route template) and RFC 6749 error code. */
  readonly oauthErrors: Counter<'endpoint' | 'error'>;
  /** Scope: `client`, `tool`, `global`, `oauth`. */
  readonly rateLimitRejections: Counter<'scope'>;
  /** Requests served by the in-memory insurance limiter because Redis did not answer. */
  readonly rateLimitInsurance: Counter;
  /** Event type and outcome (`delivered`, `retry`, `failed`, `dead_letter`). */
  readonly webhookDeliveries: Counter<'event' | 'outcome'>;
  readonly webhookDeliveryDuration: Histogram;
  readonly upstreamUp: Gauge<'server'>;
  readonly upstreamRestarts: Counter<'server'>;
  readonly claudeCostUsd: Counter<'model'>;
  /** Token type: `input`, `output`, `cache_read`, `cache_creation`. */
  readonly claudeTokens: Counter<'type'>;
  /** Prometheus text exposition of everything above plus the default process metrics. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const TOOL_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600];

/** Creates the registry and every metric; `sources` feed the gauges that are read at scrape time. */
export function createMetrics(sources: MetricsSources = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const metrics: Metrics = {
    registry,
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status code.',
      labelNames: ['route', 'method', 'status'],
      buckets: DURATION_BUCKETS,
      registers,
    }),
    mcpRequests: new Counter({
      name: 'mcp_requests_total',
      help: 'MCP JSON-RPC requests by method and outcome.',
      labelNames: ['method', 'outcome'],
      registers,
    }),
    mcpToolCalls: new Counter({
      name: 'mcp_tool_calls_total',
      help: 'MCP tool calls that ran, by tool and outcome (ok, error).',
      labelNames: ['tool', 'outcome'],
      registers,
    }),
    mcpToolDuration: new Histogram({
      name: 'mcp_tool_duration_seconds',
      help: 'MCP tool call duration by tool.',
      labelNames: ['tool'],
      buckets: TOOL_BUCKETS,
      registers,
    }),
    oauthTokensIssued: new Counter({
      name: 'oauth_tokens_issued_total',
      help: 'Access tokens issued by the token endpoint, by grant type.',
      labelNames: ['grant_type'],
      registers,
    }),
    oauthErrors: new Counter({
      name: 'oauth_errors_total',
      help: 'OAuth error responses by endpoint and error code.',
      labelNames: ['endpoint', 'error'],
      registers,
    }),
    rateLimitRejections: new Counter({
      name: 'rate_limit_rejections_total',
      help: 'Requests refused by a rate limit, by scope (client, tool, global, oauth).',
      labelNames: ['scope'],
      registers,
    }),
    rateLimitInsurance: new Counter({
      name: 'rate_limit_insurance_total',
      help: 'Rate-limit decisions taken by the in-memory insurance limiter because the shared store did not answer.',
      registers,
    }),
    webhookDeliveries: new Counter({
      name: 'webhook_deliveries_total',
      help: 'Webhook delivery attempts by event type and outcome (delivered, retry, failed, dead_letter).',
      labelNames: ['event', 'outcome'],
      registers,
    }),
    webhookDeliveryDuration: new Histogram({
      name: 'webhook_delivery_duration_seconds',
      help: 'Duration of one webhook delivery attempt.',
      buckets: DURATION_BUCKETS,
      registers,
    }),
    upstreamUp: new Gauge({
      name: 'upstream_up',
      help: '1 while a gateway upstream server is up, 0 when it is down.',
      labelNames: ['server'],
      registers,
    }),
    upstreamRestarts: new Counter({
      name: 'upstream_restarts_total',
      help: 'Restarts of a gateway upstream server.',
      labelNames: ['server'],
      registers,
    }),
    claudeCostUsd: new Counter({
      name: 'claude_cost_usd_total',
      help: 'Cost of Claude runs in US dollars as reported by Claude Code, by model.',
      labelNames: ['model'],
      registers,
    }),
    claudeTokens: new Counter({
      name: 'claude_tokens_total',
      help: 'Tokens used by Claude runs, by type (input, output, cache_read, cache_creation).',
      labelNames: ['type'],
      registers,
    }),
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };

  new Gauge({
    name: 'mcp_sessions_active',
    help: 'Open MCP sessions by transport.',
    labelNames: ['transport'],
    registers,
    collect() {
      const byTransport = sources.sessionsByTransport?.() ?? {};
      for (const [transport, count] of Object.entries(byTransport)) this.set({ transport }, count);
    },
  });
  new Gauge({
    name: 'claude_runs_active',
    help: 'Claude Code runs in progress.',
    registers,
    collect() {
      this.set(sources.claudeRuns?.().running ?? 0);
    },
  });
  new Gauge({
    name: 'claude_queue_depth',
    help: 'Claude Code runs waiting for a free slot.',
    registers,
    collect() {
      this.set(sources.claudeRuns?.().queued ?? 0);
    },
  });
  new Gauge({
    name: 'webhook_queue_depth',
    help: 'Webhook events waiting in the durable outbox.',
    registers,
    async collect() {
      this.set((await sources.webhookQueueDepth?.()) ?? 0);
    },
  });
  return metrics;
}
