import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createFixtureProvider } from '../fixtures/fixture-tools.js';
import { initializeBody, jsonHeaders, waitFor } from '../helpers/http.js';
import { deleteRedisKeys, REDIS_URL, redisSkipReason } from '../helpers/redis.js';
import { readSse } from '../helpers/sse.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const PREFIX = `ccm-cluster-sessions-${process.pid}-${Date.now()}:`;
const skip = await redisSkipReason('cross-replica sessions');
const maybe = skip ? describe.skip : describe;

/**
 * Two replicas on one Redis, and clients whose every request goes to the next replica (a load balancer without
 * affinity): a 2025-era session works whichever replica a request lands on — calls with progress, the GET stream,
 * legacy SSE, DELETE — because a replica passes a request for another's session to it (server/cluster). The full
 * cluster, real processes behind haproxy, is test/cluster.
 */
maybe('sessions across replicas (Redis)', () => {
  let a: TestServer;
  let b: TestServer;
  const probe = { cancelled: 0, completed: 0 };

  beforeAll(async () => {
    const common = { storage: 'redis' as const, redisUrl: REDIS_URL, redisKeyPrefix: PREFIX };
    a = await startTestServer(common, { extraProviders: [createFixtureProvider(probe)] });
    b = await startTestServer(common, { extraProviders: [createFixtureProvider(probe)] });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await deleteRedisKeys(PREFIX);
  });

  /** Sends each request to the next replica, whatever URL it was meant for. */
  function roundRobin(): { fetch: typeof fetch; sent: string[] } {
    const sent: string[] = [];
    let next = 0;
    return {
      sent,
      fetch: (input, init) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        const replica = [a, b][next++ % 2]!;
        url.host = new URL(replica.url).host;
        sent.push(replica === a ? 'a' : 'b');
        return fetch(url, init);
      },
    };
  }

  it('serves a Streamable HTTP session whichever replica each request lands on: calls, progress, lists', async () => {
    const lb = roundRobin();
    const client = new Client({ name: 'round-robin', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(a.mcpUrl), { fetch: lb.fetch }));
    try {
      for (let round = 0; round < 3; round += 1) {
        const progress: number[] = [];
        const result = await client.callTool(
          { name: 'slow_count', arguments: { steps: 3, delayMs: 30 } },
          { onprogress: (p) => void progress.push(p.progress) },
        );
        expect(result.content).toEqual([{ type: 'text', text: 'counted to 3' }]);
        expect(progress.length).toBeGreaterThanOrEqual(2);
        expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('slow_count');
      }
      expect(new Set(lb.sent)).toEqual(new Set(['a', 'b']));
    } finally {
      await client.close();
    }
  });

  it('serves a legacy SSE session whose stream is on one replica and whose messages land on both', async () => {
    const lb = roundRobin();
    const client = new Client({ name: 'round-robin-sse', version: '1' });
    await client.connect(new SSEClientTransport(new URL(`${a.url}/sse`), { fetch: lb.fetch, eventSourceInit: { fetch: lb.fetch } }));
    try {
      for (let round = 0; round < 4; round += 1) {
        const result = await client.callTool({ name: 'slow_count', arguments: { steps: 2, delayMs: 10 } });
        expect(result.content).toEqual([{ type: 'text', text: 'counted to 2' }]);
      }
    } finally {
      await client.close();
    }
  });

  it('relays the GET stream held through the other replica, and DELETE through it ends the session', async () => {
    const init = await fetch(a.mcpUrl, { method: 'POST', headers: jsonHeaders(), body: initializeBody() });
    const sessionId = init.headers.get('mcp-session-id')!;
    await init.text();
    const session = { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
    expect(
      (
        await fetch(b.mcpUrl, {
          method: 'POST',
          headers: jsonHeaders(session),
          body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
        })
      ).status,
    ).toBe(202);
    const stream = await fetch(b.mcpUrl, { headers: { accept: 'text/event-stream', ...session } });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    const announced = await fetch(b.mcpUrl, {
      method: 'POST',
      headers: jsonHeaders(session),
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'announce_tools_changed', arguments: {} } }),
    });
    expect(await announced.text()).toContain('announced');
    const { events } = await readSse(stream, (event) => event.data.includes('list_changed'), 5_000);
    expect(events.some((event) => event.data.includes('notifications/tools/list_changed'))).toBe(true);

    const deleted = await fetch(b.mcpUrl, { method: 'DELETE', headers: session });
    expect(deleted.status).toBe(200);
    await waitFor(() => a.container.sessions.get(sessionId) === undefined, 5_000);
    const after = await fetch(b.mcpUrl, {
      method: 'POST',
      headers: jsonHeaders(session),
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }),
    });
    expect(after.status).toBe(404);
  });

  it("answers another caller's session id like an unknown one, on either replica", async () => {
    const init = await fetch(a.mcpUrl, { method: 'POST', headers: jsonHeaders(), body: initializeBody() });
    const sessionId = init.headers.get('mcp-session-id')!;
    await init.text();
    const entry = await a.container.cluster!.directory.find(sessionId);
    expect(entry).toMatchObject({ replica: a.container.cluster!.presence.id, ownerId: 'local' });
    const list = () =>
      fetch(b.mcpUrl, {
        method: 'POST',
        headers: jsonHeaders({ 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' }),
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
      });
    const owned = await list();
    expect(owned.status).toBe(200);
    await owned.text();
    // Tamper the record's owner: a request for it is refused as if it did not exist, and never reaches replica a.
    await a.container.cluster!.directory.claim(sessionId, { ...entry!, ownerId: 'someone-else' }, 60);
    expect((await list()).status).toBe(404);
  });
});
