import { afterEach, describe, expect, it } from '@jest/globals';
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createFixtureProvider, type FixtureProbe } from '../fixtures/fixture-tools.js';
import { initializeBody, jsonHeaders } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * A graceful shutdown (SIGTERM, SIGINT, `close()`): readiness fails at once, new work gets 503 shutting_down with
 * Retry-After, calls in flight finish within SHUTDOWN_TIMEOUT_MS, and what cannot finish gets a retryable JSON-RPC
 * error (-32000 "server shutting down") before its stream closes. Nothing ends as an empty stream.
 */
describe('graceful shutdown', () => {
  let server: TestServer | undefined;
  const probe: FixtureProbe = { cancelled: 0, completed: 0 };
  afterEach(async () => {
    await server?.close('test');
    server = undefined;
  });

  // SHUTDOWN_TIMEOUT_MS 4 s less RUN_INTERRUPT_GRACE_MS 0 and the 2 s reserve: calls get 2 s to finish.
  const start = () =>
    startTestServer({ shutdownTimeoutMs: 4_000, runInterruptGraceMs: 0 }, { extraProviders: [createFixtureProvider(probe)] });

  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
  });

  async function connect(url: string, how: 'session' | 'sse' | 'per-request' = 'session'): Promise<Client> {
    const client = new Client({ name: 'drain', version: '1' }, how === 'per-request' ? { versionNegotiation: { mode: 'auto' } } : {});
    clients.push(client);
    await client.connect(how === 'sse' ? new SSEClientTransport(new URL(url)) : new StreamableHTTPClientTransport(new URL(url)));
    return client;
  }

  it('lets a call in flight finish, refuses new work with 503 + Retry-After meanwhile, and fails readiness at once', async () => {
    server = await start();
    const client = await connect(server.mcpUrl);
    const call = client.callTool({ name: 'slow_count', arguments: { steps: 6, delayMs: 100 } });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const closing = server.close('SIGTERM');

    const ready = await fetch(`${server.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready', draining: true });

    const fresh = await fetch(server.mcpUrl, { method: 'POST', headers: jsonHeaders(), body: initializeBody() });
    expect(fresh.status).toBe(503);
    expect(fresh.headers.get('retry-after')).toBe('1');
    expect(fresh.headers.get('connection')).toBe('close');
    expect(await fresh.json()).toMatchObject({ error: { code: -32000, data: { error: 'shutting_down' } } });

    const token = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(token.status).toBe(503);

    const result = await call;
    expect(result.isError).toBeFalsy();
    expect(result.content).toEqual([{ type: 'text', text: 'counted to 6' }]);
    await closing;
  });

  it('answers what cannot finish with a retryable -32000 "server shutting down", on every transport, before the streams close', async () => {
    server = await start();
    const session = await connect(server.mcpUrl);
    const legacy = await connect(`${server.url}/sse`, 'sse');
    const perRequest = await connect(server.mcpUrl, 'per-request');
    const calls = [session, legacy, perRequest].map((client) =>
      client.callTool({ name: 'slow_count', arguments: { steps: 100, delayMs: 100 } }, { timeout: 30_000 }),
    );
    const settled = Promise.allSettled(calls);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = Date.now();
    await server.close('SIGTERM');
    const elapsed = Date.now() - started;
    server = undefined;

    const outcomes = await settled;
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const outcome of outcomes) {
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({
        code: -32000,
        message: expect.stringContaining('server shutting down'),
        data: { retryable: true },
      });
    }
    // Drain budget 2 s, then the answers: well inside SHUTDOWN_TIMEOUT_MS.
    expect(elapsed).toBeGreaterThanOrEqual(1_800);
    expect(elapsed).toBeLessThan(4_000);
  });
});
