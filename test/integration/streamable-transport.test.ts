import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { jsonHeaders, waitFor } from '../helpers/http.js';
import { createFixtureProvider, type FixtureProbe } from '../fixtures/fixture-tools.js';
import { readSse } from '../helpers/sse.js';

/**
 * Wire behaviour of the sessionful Streamable HTTP transport (server/mcp/node-streamable-transport.ts), read off raw
 * HTTP so that nothing a client library smooths over goes unseen.
 */
describe('sessionful Streamable HTTP on the wire', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ sseRetryMs: 1500 });
  });
  afterAll(async () => {
    await server.close();
  });

  async function open(protocolVersion = '2025-11-25'): Promise<{ sessionId: string; initialize: Response }> {
    const initialize = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: jsonHeaders(),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      }),
    });
    const sessionId = initialize.headers.get('mcp-session-id')!;
    const initialized = await post(sessionId, { jsonrpc: '2.0', method: 'notifications/initialized' }, protocolVersion);
    expect(initialized.status).toBe(202);
    return { sessionId, initialize };
  }

  function post(sessionId: string, body: unknown, protocolVersion = '2025-11-25'): Promise<Response> {
    return fetch(server.mcpUrl, {
      method: 'POST',
      headers: jsonHeaders({ 'mcp-session-id': sessionId, 'mcp-protocol-version': protocolVersion }),
      body: JSON.stringify(body),
    });
  }

  it('opens each answer stream of a 2025-11-25 client with a priming event (id, retry, empty data)', async () => {
    const { initialize } = await open();
    expect(initialize.headers.get('content-type')).toBe('text/event-stream');
    const { events, ended } = await readSse(initialize, () => false, 5_000);
    expect(ended).toBe(true);
    expect(events[0]).toMatchObject({ data: '' });
    expect(events[0]!.id).toEqual(expect.any(String));
    expect(events[1]).toMatchObject({ event: 'message', id: expect.any(String) });
    expect(JSON.parse(events[1]!.data)).toMatchObject({ id: 1, result: { protocolVersion: '2025-11-25' } });
  });

  it('keeps headers, priming event and answer in order when the answer is sent before the stream was set up', async () => {
    // The SDK answers an unknown method synchronously, while the request is being handed over: before the check
    // phase in which the answer stream is otherwise prepared.
    const { sessionId } = await open();
    const response = await post(sessionId, { jsonrpc: '2.0', id: 7, method: 'no/such/method' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    expect(response.headers.get('mcp-session-id')).toBe(sessionId);
    const { events, ended } = await readSse(response, () => false, 5_000);
    expect(ended).toBe(true);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ data: '' });
    expect(events[0]!.id).toEqual(expect.any(String));
    expect(JSON.parse(events[1]!.data)).toMatchObject({ id: 7, error: { code: -32601 } });
    // Event ids of a stream count up: the priming event was stored first.
    const seq = (id: string | undefined) => Number(id!.split('_').pop());
    expect(seq(events[1]!.id)).toBe(seq(events[0]!.id) + 1);
  });

  it('sends no priming event to a 2025-06-18 client, whose SSE parser may not accept empty data', async () => {
    const { initialize } = await open('2025-06-18');
    const { events } = await readSse(initialize, () => false, 5_000);
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.data)).toMatchObject({ id: 1, result: { protocolVersion: '2025-06-18' } });
  });

  it('answers a batch of requests on one stream that ends once both are answered', async () => {
    const { sessionId } = await open();
    const response = await post(sessionId, [
      { jsonrpc: '2.0', id: 'a', method: 'tools/list' },
      { jsonrpc: '2.0', id: 'b', method: 'tools/call', params: { name: 'server_status', arguments: {} } },
    ]);
    expect(response.status).toBe(200);
    const { events, ended } = await readSse(response, () => false, 5_000);
    expect(ended).toBe(true);
    const ids = events.filter((event) => event.data).map((event) => (JSON.parse(event.data) as { id: string }).id);
    expect(ids.sort()).toEqual(['a', 'b']);
  });

  it('allows one standalone GET stream per session (409 for a second) and frees it when the client leaves', async () => {
    const { sessionId } = await open();
    const headers = { accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
    const stream = await fetch(server.mcpUrl, { headers });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('mcp-session-id')).toBe(sessionId);
    const second = await fetch(server.mcpUrl, { headers });
    expect(second.status).toBe(409);
    expect(await second.json()).toMatchObject({ error: { code: -32000, message: expect.stringContaining('Only one SSE stream') } });
    // Leaving through the body, not an AbortController: that keeps `stream` reachable up to here. fetch cancels the
    // body of a Response that is garbage collected, which under a full suite's memory pressure could close the first
    // stream before the second GET and let it through with a 200.
    await stream.body?.cancel();
    let third: Response | undefined;
    for (let attempt = 0; attempt < 50 && third?.status !== 200; attempt += 1) {
      await third?.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, 20));
      third = await fetch(server.mcpUrl, { headers });
    }
    expect(third!.status).toBe(200);
    await third!.body?.cancel();
  });

  it('refuses an unsupported protocol version header, a second initialize and a GET that does not accept SSE', async () => {
    const { sessionId } = await open();
    const badVersion = await post(sessionId, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, '1999-01-01');
    expect(badVersion.status).toBe(400);
    expect(await badVersion.json()).toMatchObject({
      error: { code: -32000, message: expect.stringContaining('Unsupported protocol version: 1999-01-01') },
    });

    const again = await post(sessionId, {
      jsonrpc: '2.0',
      id: 3,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: { code: -32600, message: 'Invalid Request: Server already initialized' } });

    const notSse = await fetch(server.mcpUrl, { headers: { accept: 'application/json', 'mcp-session-id': sessionId } });
    expect(notSse.status).toBe(406);
  });

  it('ends the session on DELETE: 200, then 404 for the same id', async () => {
    const { sessionId } = await open();
    const headers = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
    const deleted = await fetch(server.mcpUrl, { method: 'DELETE', headers });
    expect(deleted.status).toBe(200);
    const after = await post(sessionId, { jsonrpc: '2.0', id: 4, method: 'tools/list' });
    expect(after.status).toBe(404);
    await after.text();
  });
});

describe('a call whose client dropped its answer stream', () => {
  let server: TestServer;
  const probe: FixtureProbe = { cancelled: 0, completed: 0 };

  beforeAll(async () => {
    server = await startTestServer({ streamReconnectGraceMs: 400 }, { extraProviders: [createFixtureProvider(probe)] });
  });
  afterAll(async () => {
    await server.close();
  });

  async function session(): Promise<string> {
    const initialize = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: jsonHeaders(),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      }),
    });
    await readSse(initialize, () => false, 2_000);
    const sessionId = initialize.headers.get('mcp-session-id')!;
    const headers = jsonHeaders({ 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' });
    await fetch(server.mcpUrl, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    return sessionId;
  }

  /** Starts a 1.2 s call and drops its stream right after the priming event; returns that event's id. */
  async function callAndDrop(sessionId: string, id: number): Promise<string> {
    const response = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: jsonHeaders({ 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' }),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'slow_count', arguments: { steps: 12, delayMs: 100 } },
      }),
    });
    const { events } = await readSse(response, () => true, 5_000);
    return events[0]!.id!;
  }

  it('is cancelled once the grace period passes without the client coming back', async () => {
    const before = { ...probe };
    await callAndDrop(await session(), 2);
    await waitFor(() => probe.cancelled > before.cancelled, 5_000);
    expect(probe.completed).toBe(before.completed);
  });

  it('goes on when the client resumes the stream with Last-Event-ID within the grace period', async () => {
    const before = { ...probe };
    const sessionId = await session();
    const lastEventId = await callAndDrop(sessionId, 3);
    // As a client does, after the stream's `retry` delay (the server must first see the connection end).
    await new Promise((resolve) => setTimeout(resolve, 150));
    const resumed = await fetch(server.mcpUrl, {
      headers: {
        accept: 'text/event-stream',
        'mcp-session-id': sessionId,
        'mcp-protocol-version': '2025-11-25',
        'last-event-id': lastEventId,
      },
    });
    expect(resumed.status).toBe(200);
    const { events } = await readSse(resumed, (event) => event.data.includes('"id":3'), 5_000);
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ id: 3, result: { content: [{ text: 'counted to 12' }] } });
    expect(probe.cancelled).toBe(before.cancelled);
  });
});
