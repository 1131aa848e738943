import { afterEach, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createFixtureProvider } from '../fixtures/fixture-tools.js';
import { jsonHeaders } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** One MCP HTTP request (a sessionless ping: the server answers 400, but the limiter counts it first). */
async function ping(url: string): Promise<Response> {
  const response = await fetch(url, {
    method: 'POST',
    headers: jsonHeaders(),
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  await response.text();
  return response;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('rate limits (memory)', () => {
  it('allow exactly RATE_LIMIT_REQUESTS per window, then answer 429 with Retry-After and RateLimit headers, and reset with the window', async () => {
    server = await startTestServer({ rateLimitEnabled: true, rateLimitRequests: 5, rateLimitWindowMs: 2000 });
    const allowed: Response[] = [];
    for (let i = 0; i < 5; i += 1) allowed.push(await ping(server.mcpUrl));
    expect(allowed.map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);
    expect(allowed[4]!.headers.get('ratelimit')).toMatch(/^"client";r=0;t=\d+$/);

    const refused = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: jsonHeaders(),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    expect(refused.headers.get('ratelimit-policy')).toBe('"client";q=5;w=2');
    const body = (await refused.json()) as { error: { data: { error: string; retryAfter: number; scope: string } } };
    expect(body.error.data).toMatchObject({ error: 'rate_limited', scope: 'client', retryAfter });

    await sleep(retryAfter * 1000 + 300);
    expect((await ping(server.mcpUrl)).status).toBe(400);

    const scrape = await (await fetch(`${server.url}/metrics`)).text();
    expect(scrape).toContain('rate_limit_rejections_total{scope="client"} 1');
  });

  it('charges tools their weight and refuses a call over the tool budget with a JSON-RPC error carrying retryAfter; the session keeps working', async () => {
    server = await startTestServer(
      { rateLimitEnabled: true, rateLimitToolPoints: 5, rateLimitToolWeights: ['slow_count=2'], rateLimitWindowMs: 60_000 },
      { extraProviders: [createFixtureProvider({ cancelled: 0, completed: 0 })] },
    );
    const exceeded: unknown[] = [];
    server.container.events.on('rate_limit.exceeded', (event) => void exceeded.push(event.data));
    const client = new Client({ name: 'limits', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    try {
      await client.callTool({ name: 'slow_count', arguments: { steps: 1, delayMs: 0 } }); // 2 points
      await client.callTool({ name: 'slow_count', arguments: { steps: 1, delayMs: 0 } }); // 4 points
      const error = (await client.callTool({ name: 'slow_count', arguments: { steps: 1, delayMs: 0 } }).then(
        () => undefined,
        (e: unknown) => e,
      )) as { data?: { retryAfter?: number; scope?: string } } | undefined;
      expect(error).toBeDefined();
      expect(error!.data).toMatchObject({ scope: 'tool' });
      expect(error!.data!.retryAfter).toBeGreaterThan(0);
      // A weight-1 tool still fits in the remaining point, and other requests are unaffected.
      const ok = await client.callTool({ name: 'announce_tools_changed', arguments: {} });
      expect(ok.isError).toBeFalsy();
      await client.listTools();
      expect(exceeded).toEqual([expect.objectContaining({ scope: 'tool', tool: 'slow_count' })]);
    } finally {
      await client.close();
    }
  });

  it('OAuth endpoints get only an abuse ceiling: 30 registrations from one address pass, the one past the ceiling is refused', async () => {
    server = await startTestServer({ authMode: 'oauth', rateLimitEnabled: true, rateLimitRequests: 1, rateLimitOAuthRequests: 30 });
    const statuses: number[] = [];
    for (let i = 0; i < 30; i += 1) {
      const response = await fetch(`${server.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
          client_name: `c${i}`,
          token_endpoint_auth_method: 'none',
        }),
      });
      await response.text();
      statuses.push(response.status);
    }
    expect(statuses.filter((status) => status === 429)).toEqual([]);
    const over = await fetch(`${server.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    await over.text();
  });
});
