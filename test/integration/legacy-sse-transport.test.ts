import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Client, SSEClientTransport } from '@modelcontextprotocol/client';
import { McpServer, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport as V1SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { z } from 'zod';
import { LegacySseTransport } from '../../server/mcp/legacy-sse-transport.js';

const MAX_MESSAGE_BYTES = 4096;
const AUTH = { token: 'test-token', clientId: 'client-1', scopes: [] };

interface Harness {
  baseUrl: string;
  /** Every transport ever opened, closed ones included, so a POST can reach a closed transport. */
  transports: Map<string, LegacySseTransport>;
  /** Sessions whose transport has not called onclose yet. */
  open: Set<string>;
  /** onclose calls per session: each must be exactly one. */
  closeCalls: Map<string, number>;
  /** What the echo tool saw of the HTTP layer, per call. */
  seen: Array<{ clientId: string | undefined; userAgent: string | null | undefined }>;
  server: Server;
}

let harness: Harness | undefined;

function createEchoServer(seen: Harness['seen']): McpServer {
  const server = new McpServer({ name: 'legacy-sse-test', version: '1.0.0' });
  server.registerTool('echo', { description: 'Returns its text', inputSchema: z.object({ text: z.string() }) }, async ({ text }, ctx) => {
    seen.push({ clientId: ctx.http?.authInfo?.clientId, userAgent: ctx.http?.req?.headers.get('user-agent') });
    return { content: [{ type: 'text', text }] };
  });
  return server;
}

async function startHarness(keepAliveMs: number): Promise<Harness> {
  const transports = new Map<string, LegacySseTransport>();
  const open = new Set<string>();
  const closeCalls = new Map<string, number>();
  const seen: Harness['seen'] = [];
  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/sse') {
      const transport = new LegacySseTransport(res, { endpoint: '/messages', keepAliveMs, maxMessageBytes: MAX_MESSAGE_BYTES });
      transports.set(transport.sessionId, transport);
      open.add(transport.sessionId);
      transport.onclose = () => {
        open.delete(transport.sessionId);
        closeCalls.set(transport.sessionId, (closeCalls.get(transport.sessionId) ?? 0) + 1);
      };
      await createEchoServer(seen).connect(transport);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/messages') {
      const transport = transports.get(url.searchParams.get('sessionId') ?? '');
      if (transport === undefined) {
        res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: 'Unknown session' }));
        return;
      }
      // `?parsed` stands in for a body parser (express.json()) that consumed the stream before the transport.
      const parsedBody = url.searchParams.has('parsed') ? JSON.parse(await readText(req)) : undefined;
      await transport.handlePostMessage(req, res, parsedBody, { authInfo: AUTH });
      return;
    }
    res.writeHead(404).end();
  };
  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  harness = { baseUrl: `http://127.0.0.1:${port}`, transports, open, closeCalls, seen, server };
  return harness;
}

afterEach(async () => {
  jest.restoreAllMocks();
  if (harness === undefined) return;
  for (const transport of harness.transports.values()) await transport.close();
  const { server } = harness;
  harness = undefined;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function readText(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A raw SSE reader over fetch: yields frames (the text between blank lines). */
async function openRawStream(baseUrl: string) {
  const abort = new AbortController();
  const response = await fetch(`${baseUrl}/sse`, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const nextFrame = async (): Promise<string | undefined> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        return frame;
      }
      const { done, value } = await reader.read();
      if (done) return undefined;
      buffer += value;
    }
  };
  const endpointFrame = await nextFrame();
  const endpoint = /^event: endpoint\ndata: (.+)$/.exec(endpointFrame ?? '')?.[1];
  if (endpoint === undefined) throw new Error(`expected an endpoint event, got ${JSON.stringify(endpointFrame)}`);
  const post = (body: string, contentType = 'application/json') =>
    fetch(new URL(endpoint, baseUrl), { method: 'POST', headers: { 'content-type': contentType }, body });
  return { response, endpoint, sessionId: new URL(endpoint, baseUrl).searchParams.get('sessionId')!, nextFrame, post, abort };
}

/** Counts keep-alive intervals the transports arm (recognised by their unique delay) and those cleared again. */
function trackKeepAliveTimers(delay: number) {
  const armed = new Set<unknown>();
  const setIntervalSpy = jest.spyOn(globalThis, 'setInterval');
  const clearIntervalSpy = jest.spyOn(globalThis, 'clearInterval');
  return {
    armed: () => {
      for (const call of setIntervalSpy.mock.calls.keys()) {
        if (setIntervalSpy.mock.calls[call]?.[1] === delay) armed.add(setIntervalSpy.mock.results[call]?.value);
      }
      return armed.size;
    },
    leaked: () => [...armed].filter((timer) => !clearIntervalSpy.mock.calls.some(([cleared]) => cleared === timer)).length,
  };
}

describe('LegacySseTransport with real MCP clients', () => {
  const KEEP_ALIVE_MS = 54_321;

  it.each([
    [
      'v2 Client + SSEClientTransport',
      async (url: URL) => {
        const client = new Client({ name: 'v2-test', version: '1.0.0' });
        await client.connect(new SSEClientTransport(url));
        return client;
      },
    ],
    [
      'v1 Client + SSEClientTransport',
      async (url: URL) => {
        const client = new V1Client({ name: 'v1-test', version: '1.0.0' });
        await client.connect(new V1SSEClientTransport(url));
        return client;
      },
    ],
  ])('%s lists tools, calls echo and closes cleanly', async (_name, connect) => {
    const timers = trackKeepAliveTimers(KEEP_ALIVE_MS);
    const { baseUrl, open, closeCalls, seen } = await startHarness(KEEP_ALIVE_MS);
    const client = await connect(new URL(`${baseUrl}/sse`));
    try {
      expect(open.size).toBe(1);
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toEqual(['echo']);
      const result = await client.callTool({ name: 'echo', arguments: { text: 'hello over SSE' } });
      expect(result.content).toEqual([{ type: 'text', text: 'hello over SSE' }]);
      expect(seen).toEqual([{ clientId: AUTH.clientId, userAgent: expect.any(String) }]);
    } finally {
      await client.close();
    }
    await until(() => open.size === 0, 'the server-side onclose');
    expect([...closeCalls.values()]).toEqual([1]);
    expect(timers.armed()).toBe(1);
    expect(timers.leaked()).toBe(0);
  });
});

describe('LegacySseTransport over raw HTTP', () => {
  it('answers each bad POST with its own status and keeps the stream usable', async () => {
    const { baseUrl } = await startHarness(0);
    const stream = await openRawStream(baseUrl);
    expect(stream.response.headers.get('content-type')).toBe('text/event-stream');
    expect(stream.response.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(stream.response.headers.get('x-accel-buffering')).toBe('no');
    expect(stream.endpoint).toBe(`/messages?sessionId=${stream.sessionId}`);

    const unknown = await fetch(`${baseUrl}/messages?sessionId=nope`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(unknown.status).toBe(404);

    const wrongType = await stream.post('{"jsonrpc":"2.0","method":"ping","id":1}', 'text/plain');
    expect(wrongType.status).toBe(415);
    expect(await wrongType.json()).toEqual({ error: expect.stringContaining('application/json') });

    const malformed = await stream.post('{"jsonrpc":');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: ProtocolErrorCode.ParseError } });

    const notJsonRpc = await stream.post('{"hello":"world"}');
    expect(notJsonRpc.status).toBe(400);
    expect(await notJsonRpc.json()).toMatchObject({ id: null, error: { code: ProtocolErrorCode.InvalidRequest } });

    const oversize = await stream.post(
      JSON.stringify({ jsonrpc: '2.0', method: 'ping', id: 1, params: { pad: 'x'.repeat(MAX_MESSAGE_BYTES) } }),
    );
    expect(oversize.status).toBe(413);

    const accepted = await stream.post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'initialize',
        params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
      }),
      'application/json; charset=utf-8',
    );
    expect(accepted.status).toBe(202);
    expect(await accepted.text()).toBe('Accepted');
    const frame = await stream.nextFrame();
    expect(frame).toMatch(/^event: message\ndata: /);
    expect(JSON.parse(frame!.split('\ndata: ')[1]!)).toMatchObject({ id: 7, result: { protocolVersion: '2024-11-05' } });
    stream.abort.abort();
  });

  it('bounds and delivers a body that a body parser already read', async () => {
    const { baseUrl } = await startHarness(0);
    const stream = await openRawStream(baseUrl);
    const postParsed = (body: unknown) =>
      fetch(new URL(`${stream.endpoint}&parsed`, baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    const oversize = await postParsed({ jsonrpc: '2.0', method: 'ping', id: 1, params: { pad: 'x'.repeat(MAX_MESSAGE_BYTES) } });
    expect(oversize.status).toBe(413);
    const accepted = await postParsed({
      jsonrpc: '2.0',
      id: 'p',
      method: 'initialize',
      params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    expect(accepted.status).toBe(202);
    expect(await stream.nextFrame()).toContain('"id":"p"');
    stream.abort.abort();
  });

  it('sends keep-alive comment frames', async () => {
    const { baseUrl, open } = await startHarness(50);
    const stream = await openRawStream(baseUrl);
    expect(await stream.nextFrame()).toBe(': keepalive');
    stream.abort.abort();
    await until(() => open.size === 0, 'onclose after the client went away');
  });

  it('closes idempotently from the server side: the stream ends, onclose fires once, POSTs get 404, send rejects', async () => {
    const { baseUrl, transports, closeCalls } = await startHarness(0);
    const stream = await openRawStream(baseUrl);
    const transport = transports.get(stream.sessionId)!;
    await transport.close();
    await transport.close();
    expect(await stream.nextFrame()).toBeUndefined();
    expect(closeCalls.get(stream.sessionId)).toBe(1);

    const afterClose = await stream.post('{"jsonrpc":"2.0","method":"ping","id":1}');
    expect(afterClose.status).toBe(404);
    expect(await afterClose.json()).toEqual({ error: expect.any(String) });
    await expect(transport.send({ jsonrpc: '2.0', method: 'notifications/message' })).rejects.toThrow(/not connected/);
  });
});
