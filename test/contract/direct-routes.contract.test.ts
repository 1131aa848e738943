/**
 * The direct MCP routes (server/http/direct-routes.ts) against Express routing of the same routes: the real app,
 * served once through the listener the server uses (`DirectRoutes.listener(app, ...)`, which takes canonical MCP
 * paths itself and hands everything else to the app) and once as the Express app alone. Every case is sent to both
 * and must get the same answer: status, headers and body, once what legitimately varies is normalised (request and
 * session ids, framing headers, the date).
 *
 * One difference is intended and checked as such: a response the direct routes serve carries the API security header
 * set; the same route served by Express gets helmet's document set (docs/architecture.md, "Two header sets").
 *
 * test/unit/http/direct-routes.test.ts covers the listener's mechanics with a stub app; this suite holds the real
 * app's routes to Express.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Express } from 'express';
import { DirectRoutes } from '../../server/http/direct-routes.js';
import { waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const fixture = path.resolve('test/fixtures/gateway-upstream.mjs');

const ALLOWED_ORIGIN = 'http://localhost:5173';
const OTHER_ORIGIN = 'https://elsewhere.example';
const POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'routes', version: '1' } },
});
const TOOLS_LIST = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });

/** The API set (direct routes) and what helmet's document set (Express) sends instead or on top. */
const API_HEADERS = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};
const SECURITY_HEADERS = [
  ...Object.keys(API_HEADERS),
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
  'origin-agent-cluster',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
  'strict-transport-security',
];

/** One request, sent to both listeners. */
interface RouteCase {
  method: string;
  /** `{sessionId}` is replaced by the legacy SSE session opened first (see `sse`). */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Open a Streamable HTTP session at this endpoint first (on the same listener) and send its id. */
  mcpSession?: string;
  /** Open a legacy SSE stream at this path first (on the same listener) and fill `{sessionId}` with its session. */
  sse?: string;
  /** The status both must answer. */
  status: number;
  /** Who answers through the server's listener: the direct routes, or the Express app behind them. */
  via: 'direct' | 'express';
}

const get = (path: string, status: number, via: RouteCase['via'], extra: Partial<RouteCase> = {}): RouteCase => ({
  method: 'GET',
  path,
  status,
  via,
  ...extra,
});
const postJson = (path: string, body: string, status: number, via: RouteCase['via'], extra: Partial<RouteCase> = {}): RouteCase => ({
  method: 'POST',
  path,
  body,
  headers: POST_HEADERS,
  status,
  via,
  ...extra,
});

const CASES: RouteCase[] = [
  // /mcp: every method
  postJson('/mcp', INITIALIZE, 200, 'direct'),
  postJson('/mcp', TOOLS_LIST, 400, 'direct'),
  postJson('/mcp', TOOLS_LIST, 200, 'direct', { mcpSession: '/mcp' }),
  postJson('/mcp', '{"jsonrpc":', 400, 'direct'),
  postJson('/mcp', '{"not":"json-rpc"}', 400, 'direct'),
  {
    method: 'POST',
    path: '/mcp',
    body: TOOLS_LIST,
    headers: { ...POST_HEADERS, 'content-type': 'text/plain' },
    mcpSession: '/mcp',
    status: 415,
    via: 'direct',
  },
  get('/mcp', 400, 'direct', { headers: { accept: 'text/event-stream' } }),
  get('/mcp', 200, 'direct', { headers: { accept: 'text/event-stream' }, mcpSession: '/mcp' }),
  { method: 'DELETE', path: '/mcp', status: 400, via: 'direct' },
  { method: 'DELETE', path: '/mcp', mcpSession: '/mcp', status: 200, via: 'direct' },
  { method: 'DELETE', path: '/mcp', headers: { 'mcp-session-id': 'no-such-session' }, status: 404, via: 'direct' },
  { method: 'PUT', path: '/mcp', body: '{}', headers: POST_HEADERS, status: 405, via: 'express' },
  { method: 'PATCH', path: '/mcp', body: '{}', headers: POST_HEADERS, status: 405, via: 'express' },
  { method: 'HEAD', path: '/mcp', status: 405, via: 'express' },
  { method: 'PROPFIND', path: '/mcp', status: 405, via: 'express' },
  { method: 'OPTIONS', path: '/mcp', status: 405, via: 'express' },
  // Query strings, trailing slash, other letter case
  postJson('/mcp?x=1&y=%20', INITIALIZE, 200, 'direct'),
  postJson('/mcp/', INITIALIZE, 200, 'express'),
  postJson('/MCP', INITIALIZE, 200, 'express'),
  postJson('/Mcp?x=1', TOOLS_LIST, 400, 'express'),
  get('/mcp/', 400, 'express', { headers: { accept: 'text/event-stream' } }),
  postJson('//mcp', INITIALIZE, 404, 'express'),
  postJson('/mcpx', INITIALIZE, 404, 'express'),
  // Origins and hosts
  {
    method: 'OPTIONS',
    path: '/mcp',
    headers: {
      origin: ALLOWED_ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type, mcp-session-id',
    },
    status: 204,
    via: 'express',
  },
  {
    method: 'OPTIONS',
    path: '/mcp',
    headers: { origin: OTHER_ORIGIN, 'access-control-request-method': 'POST' },
    status: 403,
    via: 'express',
  },
  // The legacy paths preflight like /mcp: a browser client sends Authorization and MCP-Protocol-Version to them too.
  {
    method: 'OPTIONS',
    path: '/sse',
    headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'GET' },
    status: 204,
    via: 'express',
  },
  {
    method: 'OPTIONS',
    path: '/messages',
    headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'POST' },
    status: 204,
    via: 'express',
  },
  {
    method: 'OPTIONS',
    path: '/sse',
    headers: { origin: OTHER_ORIGIN, 'access-control-request-method': 'GET' },
    status: 403,
    via: 'express',
  },
  postJson('/mcp', INITIALIZE, 200, 'direct', { headers: { ...POST_HEADERS, origin: ALLOWED_ORIGIN } }),
  postJson('/mcp', INITIALIZE, 403, 'direct', { headers: { ...POST_HEADERS, origin: OTHER_ORIGIN } }),
  postJson('/mcp', INITIALIZE, 403, 'direct', { headers: { ...POST_HEADERS, host: 'rebound.example' } }),
  // Legacy HTTP+SSE and its aliases
  get('/sse', 200, 'direct'),
  get('/mcp/sse', 200, 'direct'),
  get('/SSE', 200, 'express'),
  get('/sse/', 200, 'express'),
  { method: 'POST', path: '/sse', body: '{}', headers: POST_HEADERS, status: 404, via: 'express' },
  { method: 'DELETE', path: '/sse', status: 404, via: 'express' },
  postJson('/messages?sessionId={sessionId}', TOOLS_LIST, 202, 'direct', { sse: '/sse' }),
  postJson('/mcp/message?sessionId={sessionId}', TOOLS_LIST, 202, 'direct', { sse: '/mcp/sse' }),
  postJson('/messages?sessionId={sessionId}', '{"jsonrpc":', 400, 'direct', { sse: '/sse' }),
  postJson('/messages', TOOLS_LIST, 400, 'direct'),
  postJson('/messages?sessionId=no-such-session', TOOLS_LIST, 404, 'direct'),
  postJson('/Messages?sessionId={sessionId}', TOOLS_LIST, 202, 'express', { sse: '/sse' }),
  get('/messages', 404, 'express'),
  get('/mcp/message', 404, 'express'),
  // One upstream: /servers/{name}/...
  postJson('/servers/fx/mcp', INITIALIZE, 200, 'direct'),
  postJson('/servers/fx/mcp', TOOLS_LIST, 200, 'direct', { mcpSession: '/servers/fx/mcp' }),
  get('/servers/fx/mcp', 200, 'direct', { headers: { accept: 'text/event-stream' }, mcpSession: '/servers/fx/mcp' }),
  { method: 'DELETE', path: '/servers/fx/mcp', mcpSession: '/servers/fx/mcp', status: 200, via: 'direct' },
  { method: 'PUT', path: '/servers/fx/mcp', body: '{}', headers: POST_HEADERS, status: 405, via: 'express' },
  {
    method: 'OPTIONS',
    path: '/servers/fx/mcp',
    headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'POST' },
    status: 204,
    via: 'express',
  },
  postJson('/servers/f%78/mcp', INITIALIZE, 200, 'direct'),
  postJson('/servers/FX/mcp', INITIALIZE, 404, 'direct'),
  postJson('/Servers/fx/mcp', INITIALIZE, 200, 'express'),
  postJson('/servers/fx/mcp/', INITIALIZE, 200, 'express'),
  postJson('/servers/nope/mcp', INITIALIZE, 404, 'direct'),
  postJson('/servers/a%2Fb/mcp', INITIALIZE, 404, 'direct'),
  // A malformed escape fails in the router's parameter decoding: the client's mistake, 400 on both paths alike.
  postJson('/servers/%E0%A4%A/mcp', INITIALIZE, 400, 'express'),
  postJson('/servers//mcp', INITIALIZE, 404, 'express'),
  get('/servers/fx/sse', 200, 'direct'),
  get('/servers/fx/mcp/sse', 200, 'direct'),
  postJson('/servers/fx/messages?sessionId={sessionId}', TOOLS_LIST, 202, 'direct', { sse: '/servers/fx/sse' }),
  postJson('/servers/fx/mcp/message?sessionId={sessionId}', TOOLS_LIST, 202, 'direct', { sse: '/servers/fx/mcp/sse' }),
  // Not MCP routes at all: the same app behind both
  get('/listmcp', 200, 'express'),
  get('/nowhere', 404, 'express'),
];

/** A case's name: the request line and what sets it apart. */
function label(c: RouteCase): string {
  const body = c.body === INITIALIZE ? 'initialize' : c.body === TOOLS_LIST ? 'tools/list' : c.body;
  const parts = [`${c.method} ${c.path}`];
  if (body !== undefined) parts.push(body);
  if (c.headers?.['content-type'] && c.headers['content-type'] !== 'application/json') parts.push(`as ${c.headers['content-type']}`);
  if (c.mcpSession || c.headers?.['mcp-session-id']) parts.push(c.mcpSession ? 'in a session' : 'for an unknown session');
  if (c.headers?.origin) parts.push(`from ${c.headers.origin}`);
  if (c.headers?.host) parts.push(`for host ${c.headers.host}`);
  if (c.headers?.accept === 'text/event-stream') parts.push('accepting SSE');
  return `${parts.join(', ')}: ${c.status} via ${c.via === 'direct' ? 'the direct routes' : 'Express'}`;
}

/** A response as compared. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface Sent {
  answer: Answer;
  /** The security headers as sent, apart from the rest. */
  security: Record<string, string>;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** Sends one raw request; an event stream is read up to its first event, then dropped. */
function send(
  base: string,
  method: string,
  target: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: target,
        headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers },
      },
      (res) => {
        let text = '';
        const stream = (res.headers['content-type'] ?? '').startsWith('text/event-stream');
        const done = () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
          if (stream) req.destroy();
        };
        // A GET stream may stay silent: its headers are the answer.
        const timer = setTimeout(done, stream ? 300 : 10_000);
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (stream && text.includes('\n\n')) done();
        });
        res.on('end', done);
        res.on('error', () => done());
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function normalise(raw: { status: number; headers: IncomingHttpHeaders; body: string }): Sent {
  const headers: Record<string, string> = {};
  const security: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw.headers)) {
    if (value === undefined || ['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length'].includes(name)) continue;
    const text = Array.isArray(value) ? value.join(', ') : value;
    if (SECURITY_HEADERS.includes(name)) security[name] = text;
    else headers[name] = name === 'x-request-id' || name === 'mcp-session-id' ? '<id>' : text;
  }
  return { answer: { status: raw.status, headers, body: raw.body.replace(UUID, '<uuid>') }, security };
}

describe('direct MCP routes answer exactly as Express routing of the same routes', () => {
  let server: TestServer;
  let expressOnly: Server;
  let dir: string;
  const bases: Record<'listener' | 'express', string> = { listener: '', express: '' };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-routes-'));
    const configPath = path.join(dir, 'mcp_config.json');
    writeFileSync(configPath, JSON.stringify({ mcpServers: { fx: { command: process.execPath, args: [fixture] } } }));
    // The app createApp builds, as it hands it to the listener: served alone on a second port.
    let app: Express | undefined;
    const listener = DirectRoutes.prototype.listener;
    const spy = jest.spyOn(DirectRoutes.prototype, 'listener').mockImplementation(function captureApp(this: DirectRoutes, built, options) {
      app = built;
      return listener.call(this, built, options);
    });
    try {
      server = await startTestServer({ mcpConfigPath: configPath, keepAliveMs: 0 });
    } finally {
      spy.mockRestore();
    }
    expect(app).toBeDefined();
    expressOnly = createServer(app!);
    await new Promise<void>((resolve) => expressOnly.listen(0, '127.0.0.1', resolve));
    bases.listener = server.url;
    bases.express = `http://127.0.0.1:${(expressOnly.address() as AddressInfo).port}`;
    await waitFor(() => server.container.gateway.registry.list().every((upstream) => upstream.status === 'running'), 20_000);
  }, 30_000);

  afterAll(async () => {
    expressOnly?.closeAllConnections();
    await new Promise((resolve) => expressOnly?.close(resolve));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends `c` to one listener, with its session opened there first. */
  async function sendCase(side: 'listener' | 'express', c: RouteCase): Promise<Sent> {
    const base = bases[side];
    const headers: Record<string, string> = { ...(c.headers ?? {}) };
    let target = c.path;
    let stream: { close(): void } | undefined;
    if (c.mcpSession) {
      const opened = await send(base, 'POST', c.mcpSession, POST_HEADERS, INITIALIZE);
      expect(opened.status).toBe(200);
      const id = opened.headers['mcp-session-id'] as string;
      const ready = await send(
        base,
        'POST',
        c.mcpSession,
        { ...POST_HEADERS, 'mcp-session-id': id },
        JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      );
      expect(ready.status).toBe(202);
      Object.assign(headers, { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' });
    }
    if (c.sse) {
      const opened = await openSse(base, c.sse);
      target = target.replace('{sessionId}', opened.sessionId);
      stream = opened;
    }
    try {
      return normalise(await send(base, c.method, target, headers, c.body));
    } finally {
      stream?.close();
    }
  }

  it.each(CASES.map((c) => [label(c), c] as const))('%s', async (_label, c) => {
    const direct = await sendCase('listener', c);
    const routed = await sendCase('express', c);
    expect(direct.answer).toEqual(routed.answer);
    expect(direct.answer.status).toBe(c.status);
    // Who answered shows in the header set: the direct routes send the API set, Express helmet's document set.
    expect(routed.security).toMatchObject({ ...API_HEADERS, 'x-frame-options': 'SAMEORIGIN', 'x-dns-prefetch-control': 'off' });
    if (c.via === 'direct') expect(direct.security).toEqual(API_HEADERS);
    else expect(direct.security).toEqual(routed.security);
  });
});

/** Opens a legacy SSE stream and reads its `endpoint` event. */
function openSse(base: string, streamPath: string): Promise<{ sessionId: string; close(): void }> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, path: streamPath, headers: { accept: 'text/event-stream' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        const found = /sessionId=([^\s&]+)/.exec(text);
        if (found) resolve({ sessionId: decodeURIComponent(found[1]!), close: () => req.destroy() });
      });
      res.on('end', () => reject(new Error(`${streamPath}: the stream ended before its endpoint event (${res.statusCode})`)));
    });
    req.on('error', reject);
    req.end();
  });
}
