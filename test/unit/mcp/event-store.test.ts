import { afterEach, describe, expect, it } from '@jest/globals';
import { McpServer, WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import type { EventId, JSONRPCMessage } from '@modelcontextprotocol/server';
import { BoundedEventStore } from '../../../server/mcp/event-store.js';

const note = (n: number): JSONRPCMessage => ({ jsonrpc: '2.0', method: 'notifications/message', params: { n } });

async function replayAll(store: BoundedEventStore, lastEventId: EventId) {
  const sent: Array<[EventId, JSONRPCMessage]> = [];
  const streamId = await store.replayEventsAfter(lastEventId, {
    send: async (eventId, message) => {
      sent.push([eventId, message]);
    },
  });
  return { streamId, sent };
}

describe('BoundedEventStore', () => {
  it('hands out unique ids that name their stream and grow monotonically', async () => {
    const store = new BoundedEventStore({ maxEvents: 100, maxBytes: 1e6 });
    const ids = [
      await store.storeEvent('_GET_stream', note(1)),
      await store.storeEvent('a-b_c', note(2)),
      await store.storeEvent('_GET_stream', note(3)),
    ];
    expect(new Set(ids).size).toBe(3);
    expect(ids[0]!.startsWith('_GET_stream_')).toBe(true);
    expect(ids[1]!.startsWith('a-b_c_')).toBe(true);
    const seqs = ids.map((id) => Number(id.slice(id.lastIndexOf('_') + 1)));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    await expect(store.getStreamIdForEventId(ids[1]!)).resolves.toBe('a-b_c');
    await expect(store.getStreamIdForEventId('a-b_c_999')).resolves.toBeUndefined();
  });

  it('replays only the later events of the same stream, in order, and returns that stream', async () => {
    const store = new BoundedEventStore({ maxEvents: 100, maxBytes: 1e6 });
    const a1 = await store.storeEvent('A', note(1));
    await store.storeEvent('B', note(2));
    const a3 = await store.storeEvent('A', note(3));
    const a4 = await store.storeEvent('A', note(4));
    const { streamId, sent } = await replayAll(store, a1);
    expect(streamId).toBe('A');
    expect(sent).toEqual([
      [a3, note(3)],
      [a4, note(4)],
    ]);
    await expect(replayAll(store, a4)).resolves.toEqual({ streamId: 'A', sent: [] });
  });

  it('rejects an unknown event id', async () => {
    const store = new BoundedEventStore({ maxEvents: 10, maxBytes: 1e6 });
    await store.storeEvent('A', note(1));
    await expect(replayAll(store, 'A_42')).rejects.toThrow(/unknown or was evicted/);
  });

  it('evicts the oldest events beyond maxEvents, and an evicted id can no longer be resumed', async () => {
    const store = new BoundedEventStore({ maxEvents: 2, maxBytes: 1e6 });
    const first = await store.storeEvent('A', note(1));
    const second = await store.storeEvent('A', note(2));
    const third = await store.storeEvent('B', note(3));
    expect(store.stats().events).toBe(2);
    await expect(store.getStreamIdForEventId(first)).resolves.toBeUndefined();
    await expect(replayAll(store, first)).rejects.toThrow(/evicted/);
    await expect(replayAll(store, second)).resolves.toEqual({ streamId: 'A', sent: [] });
    await expect(store.getStreamIdForEventId(third)).resolves.toBe('B');
  });

  it('keeps the stored bytes under maxBytes, dropping an event larger than the bound at once', async () => {
    const oneEvent = Buffer.byteLength(JSON.stringify(note(1))) + Buffer.byteLength('A_1') + Buffer.byteLength('A');
    const store = new BoundedEventStore({ maxEvents: 100, maxBytes: oneEvent * 2 + 1 });
    await store.storeEvent('A', note(1));
    await store.storeEvent('A', note(2));
    expect(store.stats()).toEqual({ events: 2, bytes: oneEvent * 2 });
    await store.storeEvent('A', note(3));
    expect(store.stats().events).toBe(2);
    expect(store.stats().bytes).toBeLessThanOrEqual(oneEvent * 2 + 1);

    const huge: JSONRPCMessage = { jsonrpc: '2.0', method: 'notifications/message', params: { data: 'x'.repeat(500) } };
    const hugeId = await store.storeEvent('A', huge);
    expect(store.stats()).toEqual({ events: 0, bytes: 0 });
    await expect(store.getStreamIdForEventId(hugeId)).resolves.toBeUndefined();
  });

  it('also replays events stored while the replay is running', async () => {
    const store = new BoundedEventStore({ maxEvents: 100, maxBytes: 1e6 });
    const a1 = await store.storeEvent('A', note(1));
    await store.storeEvent('A', note(2));
    const sent: JSONRPCMessage[] = [];
    await store.replayEventsAfter(a1, {
      send: async (_eventId, message) => {
        sent.push(message);
        if (sent.length === 1) await store.storeEvent('A', note(3));
      },
    });
    expect(sent).toEqual([note(2), note(3)]);
  });

  it('fails the replay instead of skipping events evicted while it was running', async () => {
    const store = new BoundedEventStore({ maxEvents: 3, maxBytes: 1e6 });
    const a1 = await store.storeEvent('A', note(1));
    await store.storeEvent('A', note(2));
    await store.storeEvent('A', note(3));
    const replay = store.replayEventsAfter(a1, {
      send: async () => {
        // Three newer events push A's unsent third event out.
        for (const n of [4, 5, 6]) await store.storeEvent('B', note(n));
      },
    });
    await expect(replay).rejects.toThrow(/evicted during the replay/);
  });

  it('does not redeliver the empty priming events the SDK stores', async () => {
    const store = new BoundedEventStore({ maxEvents: 10, maxBytes: 1e6 });
    const first = await store.storeEvent('A', note(1));
    await store.storeEvent('A', {} as JSONRPCMessage);
    const last = await store.storeEvent('A', note(2));
    await expect(replayAll(store, first)).resolves.toEqual({ streamId: 'A', sent: [[last, note(2)]] });
  });

  it('clear() forgets everything but never reissues an id', async () => {
    const store = new BoundedEventStore({ maxEvents: 10, maxBytes: 1e6 });
    const before = await store.storeEvent('A', note(1));
    store.clear();
    expect(store.stats()).toEqual({ events: 0, bytes: 0 });
    await expect(replayAll(store, before)).rejects.toThrow(/unknown or was evicted/);
    const after = await store.storeEvent('A', note(1));
    expect(after).not.toBe(before);
  });

  it('refuses bounds that cannot hold anything', () => {
    expect(() => new BoundedEventStore({ maxEvents: 0, maxBytes: 10 })).toThrow(/maxEvents/);
    expect(() => new BoundedEventStore({ maxEvents: 1.5, maxBytes: 10 })).toThrow(/maxEvents/);
    expect(() => new BoundedEventStore({ maxEvents: 1, maxBytes: Number.NaN })).toThrow(/maxBytes/);
  });
});

describe('BoundedEventStore behind the SDK Streamable HTTP transport', () => {
  const PROTOCOL = '2025-11-25';
  let transport: WebStandardStreamableHTTPServerTransport | undefined;

  afterEach(async () => {
    await transport?.close();
    transport = undefined;
  });

  async function openSession(store: BoundedEventStore) {
    transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => 'session-1', eventStore: store });
    const server = new McpServer({ name: 'event-store-test', version: '1.0.0' });
    await server.connect(transport);
    const post = async (message: JSONRPCMessage, sessionHeaders: Record<string, string> = {}) => {
      const response = await transport!.handleRequest(
        new Request('http://127.0.0.1/mcp', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...sessionHeaders },
          body: JSON.stringify(message),
        }),
      );
      return { response, text: await response.text() };
    };
    const init = await post({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    const session = { 'mcp-session-id': init.response.headers.get('mcp-session-id') ?? '', 'mcp-protocol-version': PROTOCOL };
    await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session);
    const resume = (lastEventId: string) =>
      transport!.handleRequest(
        new Request('http://127.0.0.1/mcp', {
          method: 'GET',
          headers: { accept: 'text/event-stream', 'last-event-id': lastEventId, ...session },
        }),
      );
    const eventIds = (sse: string) => [...sse.matchAll(/^id: (.+)$/gm)].map((match) => match[1]!);
    return { init, post: (message: JSONRPCMessage) => post(message, session), resume, eventIds };
  }

  it('replays a finished request stream from its priming event', async () => {
    const { init, resume, eventIds } = await openSession(new BoundedEventStore({ maxEvents: 100, maxBytes: 1e6 }));
    const [primingId, resultId] = eventIds(init.text);
    const response = await resume(primingId!);
    expect(response.status).toBe(200);
    const replayed = await response.text();
    expect(eventIds(replayed)).toEqual([resultId]);
    expect(replayed).toContain('"serverInfo"');
  });

  it('answers 400, not 500, for an unknown or evicted Last-Event-ID', async () => {
    // Two events: each request stream holds a priming event and a result.
    const { init, post, resume, eventIds } = await openSession(new BoundedEventStore({ maxEvents: 2, maxBytes: 1e6 }));
    const [evictedId] = eventIds(init.text);
    await post({ jsonrpc: '2.0', id: 2, method: 'ping' });

    const evicted = await resume(evictedId!);
    expect(evicted.status).toBe(400);
    expect(await evicted.json()).toMatchObject({ error: { message: 'Invalid event ID format' } });
    expect((await resume('never-issued')).status).toBe(400);
  });
});
