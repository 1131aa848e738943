import { afterEach, describe, expect, it } from '@jest/globals';
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createFixtureProvider } from '../fixtures/fixture-tools.js';
import { initializeBody, jsonHeaders, waitFor } from '../helpers/http.js';
import { readSse } from '../helpers/sse.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** Opens a raw 2025-11-25 session and returns its id. */
async function openSession(url: string): Promise<string> {
  const init = await fetch(`${url}/mcp`, { method: 'POST', headers: jsonHeaders(), body: initializeBody() });
  expect(init.status).toBe(200);
  const id = init.headers.get('mcp-session-id')!;
  await init.text();
  const initialized = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: jsonHeaders({ 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' }),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  expect(initialized.status).toBe(202);
  return id;
}

function sessionHeaders(id: string, extra: Record<string, string> = {}): Record<string, string> {
  return jsonHeaders({ 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25', ...extra });
}

async function callTool(url: string, id: string, name: string, requestId: number): Promise<void> {
  const response = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: sessionHeaders(id),
    body: JSON.stringify({ jsonrpc: '2.0', id: requestId, method: 'tools/call', params: { name, arguments: {} } }),
  });
  expect(response.status).toBe(200);
  await response.text();
}

describe('sessions', () => {
  it('a dropped GET stream resumes with Last-Event-ID and receives what was sent while it was down', async () => {
    server = await startTestServer({}, { extraProviders: [createFixtureProvider({ cancelled: 0, completed: 0 })] });
    const id = await openSession(server.url);

    const first = await fetch(`${server.url}/mcp`, { headers: sessionHeaders(id, { accept: 'text/event-stream' }) });
    expect(first.status).toBe(200);
    const reading = readSse(first, (event) => event.data.includes('list_changed'), 5000);
    await callTool(server.url, id, 'announce_tools_changed', 2);
    const { events } = await reading; // reading stops and cancels the stream: the client "drops" it here
    const lastSeen = events.find((event) => event.data.includes('list_changed'))!.id!;
    expect(lastSeen).toBeDefined();

    // Sent while no GET stream is connected: only the event store has it.
    await waitFor(() => true, 0);
    await callTool(server.url, id, 'announce_tools_changed', 3);

    const resumed = await fetch(`${server.url}/mcp`, {
      headers: sessionHeaders(id, { accept: 'text/event-stream', 'last-event-id': lastSeen }),
    });
    expect(resumed.status).toBe(200);
    const replay = await readSse(resumed, (event) => event.data.includes('list_changed'), 5000);
    const replayed = replay.events.filter((event) => event.data.includes('list_changed'));
    expect(replayed).toHaveLength(1);
    expect(replayed[0]!.id).not.toBe(lastSeen);

    const bogus = await fetch(`${server.url}/mcp`, {
      headers: sessionHeaders(id, { accept: 'text/event-stream', 'last-event-id': 'nope_1' }),
    });
    expect(bogus.status).toBe(400);
    await bogus.text();
  });

  it('an idle session expires: requests get 404 and the client re-initializes', async () => {
    server = await startTestServer({ sessionTimeoutMs: 1000, cleanupIntervalMs: 100 });
    const ended: string[] = [];
    server.container.events.on('session.ended', (event) => void ended.push(event.data.reason));
    const client = new Client({ name: 'expiring', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    expect(server.container.sessions.size).toBe(1);
    await waitFor(() => server!.container.sessions.size === 0, 4000);
    expect(ended).toEqual(['idle']);

    await expect(client.callTool({ name: 'server_status', arguments: {} })).rejects.toThrow(/404|not found/i);
    await client.close();

    const again = new Client({ name: 'expiring', version: '1' });
    await again.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    const result = await again.callTool({ name: 'server_status', arguments: {} });
    expect(result.isError).toBeFalsy();
    await again.close();
  });

  it('an in-flight call keeps its session from expiring', async () => {
    server = await startTestServer(
      { sessionTimeoutMs: 1000, cleanupIntervalMs: 100 },
      { extraProviders: [createFixtureProvider({ cancelled: 0, completed: 0 })] },
    );
    const client = new Client({ name: 'busy', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    const result = await client.callTool({ name: 'slow_count', arguments: { steps: 3, delayMs: 600 } });
    expect(result.isError).toBeFalsy();
    expect(server.container.sessions.size).toBe(1);
    await client.close();
  });

  it('a legacy SSE session stays alive while results and progress flow to the client', async () => {
    server = await startTestServer(
      { sessionTimeoutMs: 1000, cleanupIntervalMs: 100 },
      { extraProviders: [createFixtureProvider({ cancelled: 0, completed: 0 })] },
    );
    const client = new Client({ name: 'sse-busy', version: '1' });
    await client.connect(new SSEClientTransport(new URL(`${server.url}/sse`)));
    try {
      const progress: number[] = [];
      const result = await client.callTool(
        { name: 'slow_count', arguments: { steps: 4, delayMs: 450 } },
        { onprogress: (p) => void progress.push(p.progress) },
      );
      expect(result.isError).toBeFalsy();
      // 1.8 s of work against a 1 s idle timeout: only outgoing traffic kept the session alive.
      expect(progress.length).toBeGreaterThanOrEqual(3);
      expect(server.container.sessions.size).toBe(1);
    } finally {
      await client.close();
    }
  });

  it('MAX_SESSIONS refuses new sessions with 503 and Retry-After until one closes', async () => {
    server = await startTestServer({ maxSessions: 2 });
    const a = await openSession(server.url);
    await openSession(server.url);
    const third = await fetch(`${server.url}/mcp`, { method: 'POST', headers: jsonHeaders(), body: initializeBody() });
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('5');
    expect(await third.json()).toMatchObject({ jsonrpc: '2.0', error: { data: { error: 'too_many_sessions' } } });
    const sse = await fetch(`${server.url}/sse`, { headers: { accept: 'text/event-stream' } });
    expect(sse.status).toBe(503);
    await sse.text();

    const deleted = await fetch(`${server.url}/mcp`, { method: 'DELETE', headers: sessionHeaders(a) });
    expect(deleted.status).toBe(200);
    await openSession(server.url);
  });

  it('opening and closing 2,000 sessions leaves no session, transport or timer behind', async () => {
    server = await startTestServer();
    const timersBefore = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const url = server.url;
    for (let batch = 0; batch < 80; batch += 1) {
      await Promise.all(
        Array.from({ length: 25 }, async () => {
          const id = await openSession(url);
          const response = await fetch(`${url}/mcp`, { method: 'DELETE', headers: sessionHeaders(id) });
          expect(response.status).toBe(200);
        }),
      );
    }
    // Legacy SSE sessions end when their stream closes.
    for (let i = 0; i < 100; i += 1) {
      const controller = new AbortController();
      const stream = await fetch(`${url}/sse`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
      await readSse(stream, (event) => event.event === 'endpoint', 2000);
      controller.abort();
    }
    await waitFor(() => server!.container.sessions.size === 0, 5000);
    const timersAfter = process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    expect(timersAfter).toBeLessThanOrEqual(timersBefore + 2);
    expect(server.container.sessions.stats().active).toBe(0);
    // Every transport (with its server and event store) was released, not just the registry entry.
    expect(server.endpoints.streamable.transportCount).toBe(0);
    expect(server.endpoints.sse.transportCount).toBe(0);
  }, 120_000);

  it('with MCP_LEGACY_STATELESS 2025-era clients are served without sessions; GET answers 405', async () => {
    server = await startTestServer({ legacyStateless: true });
    const client = new V1Client({ name: 'stateless', version: '1' });
    await client.connect(new V1StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    const result = await client.callTool({ name: 'server_status', arguments: {} });
    expect(result.isError).toBeFalsy();
    expect(server.container.sessions.size).toBe(0);
    await client.close();
    const get = await fetch(server.mcpUrl, { headers: { accept: 'text/event-stream' } });
    expect(get.status).toBe(405);
    await get.text();
  });

  it('idle SSE streams carry keep-alive comments at SSE_KEEPALIVE_MS', async () => {
    server = await startTestServer({ keepAliveMs: 50 });
    const id = await openSession(server.url);
    const get = await fetch(`${server.url}/mcp`, { headers: sessionHeaders(id, { accept: 'text/event-stream' }) });
    const streamable = await readSse(get, () => false, 300);
    expect(streamable.comments.filter((c) => c.includes('keepalive')).length).toBeGreaterThanOrEqual(2);
    const sse = await fetch(`${server.url}/sse`, { headers: { accept: 'text/event-stream' } });
    const legacy = await readSse(sse, () => false, 300);
    expect(legacy.events[0]?.event).toBe('endpoint');
    expect(legacy.comments.filter((c) => c.includes('keepalive')).length).toBeGreaterThanOrEqual(2);
  });
});
