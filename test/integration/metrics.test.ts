import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { defineTool } from '../../server/mcp/define-tool.js';
import type { ToolProvider } from '../../server/mcp/tool-provider.js';
import { createFixtureProvider } from '../fixtures/fixture-tools.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** A tool whose every call is a tool error (`isError`). */
const alwaysFails = defineTool('always_fails', { description: 'Fails.', input: z.object({}) }, async () => ({
  content: [{ type: 'text', text: 'no' }],
  isError: true,
}));
const failing: ToolProvider = { name: 'failing', tools: () => [alwaysFails] };

/** The names a scrape exports: every `# TYPE` line, plus the series suffixes of histograms and summaries. */
function exportedNames(scrape: string): Set<string> {
  const names = new Set<string>();
  for (const match of scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = match as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') ['_bucket', '_sum', '_count'].forEach((suffix) => names.add(name + suffix));
    if (type === 'summary') ['_sum', '_count'].forEach((suffix) => names.add(name + suffix));
  }
  return names;
}

/**
 * Metric names a PromQL expression reads: identifiers left after removing strings, label matchers, grouping
 * clauses, range selectors, numbers and function calls.
 */
function metricNamesOf(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\[[^\]]*\]/g, '');
  const keywords = new Set(['by', 'without', 'on', 'ignoring', 'bool', 'and', 'or', 'unless', 'offset']);
  return [...stripped.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g)].filter((m) => !m[2] && !keywords.has(m[1]!)).map((m) => m[1]!);
}

function sample(scrape: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of scrape.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((pair) => line.includes(pair))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('metrics and /health summary', () => {
  let server: TestServer;
  let client: Client;

  beforeAll(async () => {
    server = await startTestServer(
      { metricsToken: 'scrape-token-0123456789' },
      { extraProviders: [createFixtureProvider({ cancelled: 0, completed: 0 }), failing] },
    );
    client = new Client({ name: 'metrics-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    await client.callTool({ name: 'slow_count', arguments: { steps: 1, delayMs: 0 } });
    await client.callTool({ name: 'slow_count', arguments: { steps: 1, delayMs: 0 } });
    await client.callTool({ name: 'always_fails', arguments: {} });
    await client.callTool({ name: 'slow_count', arguments: { steps: 0, delayMs: 0 } }); // invalid arguments: a tool error
    await fetch(`${server.url}/servers/no-such-upstream/mcp/extra/${'x'.repeat(10)}`); // a raw path that must not become a label
  });

  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  const scrape = async (): Promise<string> => {
    const response = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer scrape-token-0123456789' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    return response.text();
  };

  it('refuses a scrape without the METRICS_TOKEN bearer, or with a wrong one', async () => {
    const none = await fetch(`${server.url}/metrics`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: string }).error).toBe('unauthorized');
    const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer scrape-token-wrong-0000' } });
    expect(wrong.status).toBe(401);
    await wrong.text();
  });

  it('exports every metric of the operations catalogue and the default process metrics', async () => {
    const names = exportedNames(await scrape());
    for (const name of [
      'http_request_duration_seconds',
      'mcp_requests_total',
      'mcp_tool_calls_total',
      'mcp_tool_duration_seconds',
      'mcp_sessions_active',
      'oauth_tokens_issued_total',
      'oauth_errors_total',
      'rate_limit_rejections_total',
      'webhook_deliveries_total',
      'webhook_queue_depth',
      'webhook_delivery_duration_seconds',
      'upstream_up',
      'upstream_restarts_total',
      'claude_runs_active',
      'claude_queue_depth',
      'claude_cost_usd_total',
      'claude_tokens_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      expect(names).toContain(name);
    }
  });

  it('counts MCP requests, tool calls by outcome and sessions, with route templates instead of raw paths', async () => {
    const text = await scrape();
    expect(sample(text, 'mcp_tool_calls_total', { tool: 'slow_count', outcome: 'ok' })).toBe(2);
    expect(sample(text, 'mcp_tool_calls_total', { tool: 'always_fails', outcome: 'error' })).toBe(1);
    expect(sample(text, 'mcp_tool_calls_total', { tool: 'slow_count', outcome: 'error' })).toBe(1);
    expect(sample(text, 'mcp_tool_duration_seconds_count', { tool: 'slow_count' })).toBe(3);
    expect(sample(text, 'mcp_requests_total', { method: 'tools/call', outcome: 'ok' })).toBe(4);
    expect(sample(text, 'mcp_requests_total', { method: 'initialize', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'mcp_sessions_active', { transport: 'streamable-http' })).toBe(1);
    expect(sample(text, 'http_request_duration_seconds_count', { route: '/mcp', method: 'POST', status: '200' })).toBeGreaterThanOrEqual(4);
    expect(sample(text, 'http_request_duration_seconds_count', { route: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('no-such-upstream');
    expect(text).not.toContain('xxxxxxxxxx');
  });

  it('/health reports request totals', async () => {
    const body = (await (await fetch(`${server.url}/health`)).json()) as {
      totalRequests: number;
      successfulRequests: number;
      failedRequests: number;
      averageResponseTime: number;
    };
    expect(body.totalRequests).toBeGreaterThanOrEqual(6);
    expect(body.failedRequests).toBeGreaterThanOrEqual(1); // the 404
    expect(body.successfulRequests).toBe(body.totalRequests - body.failedRequests);
    expect(typeof body.averageResponseTime).toBe('number');
    expect(body.averageResponseTime).toBeGreaterThan(0);
  });

  it('the Grafana dashboard queries only metric names a live scrape exports', async () => {
    const names = exportedNames(await scrape());
    const dashboard = JSON.parse(readFileSync(new URL('../../docs/grafana/claude-code-mcp.json', import.meta.url), 'utf8')) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const queried = dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).flatMap((target) => metricNamesOf(target.expr).map((name) => ({ panel: panel.title, name }))),
    );
    expect(queried.length).toBeGreaterThan(20);
    expect(queried.filter(({ name }) => !names.has(name))).toEqual([]);
  });
});

describe('METRICS_ENABLED=false', () => {
  it('does not serve /metrics', async () => {
    const server = await startTestServer({ metricsEnabled: false });
    try {
      const response = await fetch(`${server.url}/metrics`);
      expect(response.status).toBe(404);
      await response.text();
    } finally {
      await server.stop();
    }
  });
});
