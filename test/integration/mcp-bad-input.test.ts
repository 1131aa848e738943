import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { ProtocolErrorCode } from '@modelcontextprotocol/server';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { initializeBody, jsonHeaders } from '../helpers/http.js';
import { OVERSIZED_DRAIN_BYTES } from '../../server/http/middleware/json-body.js';
import { connect } from 'node:net';

/** Reads a JSON-RPC error from a JSON or a one-event SSE response. */
async function rpcError(response: Response): Promise<{ code: number; message: string } | undefined> {
  const text = await response.text();
  const json = response.headers.get('content-type')?.includes('text/event-stream')
    ? text
        .split('\n')
        .filter((line) => line.startsWith('data: {'))
        .pop()
        ?.slice(6)
    : text;
  return json ? (JSON.parse(json) as { error?: { code: number; message: string } }).error : undefined;
}

describe('bad input gets a precise 4xx or JSON-RPC error, never a 5xx, and the server keeps serving', () => {
  let server: TestServer;
  let sessionId: string;
  const statuses: number[] = [];

  async function post(body: string, headers: Record<string, string> = jsonHeaders(), path = '/mcp'): Promise<Response> {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', headers, body });
    statuses.push(response.status);
    return response;
  }

  beforeAll(async () => {
    server = await startTestServer({ maxBodyBytes: 64 * 1024 });
    const init = await post(initializeBody());
    sessionId = init.headers.get('mcp-session-id')!;
    await init.text();
    await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), jsonHeaders({ 'mcp-session-id': sessionId }));
  });
  afterAll(async () => {
    // The whole point: no request above was answered with a server error.
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
    const client = new Client({ name: 'after', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    const result = await client.callTool({ name: 'server_status', arguments: {} });
    expect(result.isError).toBeFalsy();
    await client.close();
    await server.stop();
  });

  it('malformed JSON -> 400 with -32700', async () => {
    const response = await post('{"jsonrpc": "2.0", "id": 1, "method": ');
    expect(response.status).toBe(400);
    expect((await rpcError(response))?.code).toBe(ProtocolErrorCode.ParseError);
  });

  it('valid JSON that is not JSON-RPC -> 400 with -32600', async () => {
    for (const body of ['"just a string"', '{"hello":"world"}', '{"jsonrpc":"1.0","id":1,"method":"ping"}']) {
      const response = await post(body, jsonHeaders({ 'mcp-session-id': sessionId }));
      expect(response.status).toBe(400);
      expect((await rpcError(response))?.code).toBe(ProtocolErrorCode.InvalidRequest);
    }
  });

  it('unknown method in a session -> -32601', async () => {
    const inSession = await post(
      JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/frobnicate', params: {} }),
      jsonHeaders({ 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' }),
    );
    expect((await rpcError(inSession))?.code).toBe(ProtocolErrorCode.MethodNotFound);
  });

  it('invalid params -> -32602', async () => {
    const response = await post(
      JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 42 } }),
      jsonHeaders({ 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' }),
    );
    expect((await rpcError(response))?.code).toBe(ProtocolErrorCode.InvalidParams);
  });

  it('calling an unknown tool answers an error that names it', async () => {
    const response = await post(
      JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'no_such_tool', arguments: {} } }),
      jsonHeaders({ 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' }),
    );
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/no_such_tool/);
  });

  it('oversized body -> 413 with a JSON body', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(100 * 1024) } });
    const response = await post(big, jsonHeaders({ 'mcp-session-id': sessionId }));
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(await response.json()).toMatchObject({ error: { data: { error: 'body_too_large' } } });
  });

  /**
   * Writes `head`, then `body` as fast as the socket takes it (chunked when asked), and records what came back and
   * whether a write failed: a client still sending when the server answers and closes often never reads the answer.
   */
  function rawPost(head: string, body: Buffer, chunked: boolean): Promise<{ answer: string; writeError?: string }> {
    return new Promise((resolve) => {
      const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
      let answer = '';
      let writeError: string | undefined;
      const timer = setTimeout(() => socket.destroy(), 15_000);
      socket.on('data', (data) => (answer += data.toString('latin1')));
      socket.on('error', (error: NodeJS.ErrnoException) => (writeError = error.code ?? error.message));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ answer, ...(writeError ? { writeError } : {}) });
      });
      socket.write(head);
      let offset = 0;
      const pump = () => {
        while (offset < body.length && !socket.destroyed) {
          const part = body.subarray(offset, offset + 16 * 1024);
          offset += part.length;
          const framed = chunked ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]) : part;
          if (!socket.write(framed)) return void socket.once('drain', pump);
        }
        if (chunked && !socket.destroyed) socket.write('0\r\n\r\n');
      };
      pump();
    });
  }

  it.each([
    ['declared with Content-Length', false],
    ['chunked', true],
  ])(
    'an oversized body %s is read to its end and answered with a readable 413, even when the client asked to close',
    async (_name, chunked) => {
      const body = Buffer.alloc(4 * 1024 * 1024, 0x20);
      const head =
        `POST /mcp HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\nAccept: application/json, text/event-stream\r\n` +
        `Content-Type: application/json\r\nMcp-Session-Id: ${sessionId}\r\nConnection: close\r\n` +
        (chunked ? 'Transfer-Encoding: chunked\r\n\r\n' : `Content-Length: ${body.length}\r\n\r\n`);
      const { answer, writeError } = await rawPost(head, body, chunked);
      statuses.push(Number(answer.slice(9, 12)));
      expect(writeError).toBeUndefined();
      expect(answer.startsWith('HTTP/1.1 413 ')).toBe(true);
      expect(answer).toMatch(/\r\nconnection: close\r\n/i);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { data: { error: 'body_too_large' } } });
    },
  );

  it('a body declared past the drain bound gets its 413 at once, and the connection closed', async () => {
    const head =
      `POST /mcp HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\nAccept: application/json, text/event-stream\r\n` +
      `Content-Type: application/json\r\nMcp-Session-Id: ${sessionId}\r\nContent-Length: ${OVERSIZED_DRAIN_BYTES + 1}\r\n\r\n`;
    const { answer } = await rawPost(head, Buffer.alloc(0), false);
    statuses.push(Number(answer.slice(9, 12)));
    expect(answer.startsWith('HTTP/1.1 413 ')).toBe(true);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
  });

  it('wrong Accept -> 406, wrong Content-Type -> 415', async () => {
    const notAcceptable = await post(initializeBody(), { 'content-type': 'application/json', accept: 'text/html' });
    expect(notAcceptable.status).toBe(406);
    const wrongType = await post(initializeBody(), { 'content-type': 'text/plain', accept: 'application/json, text/event-stream' });
    expect(wrongType.status).toBe(415);
  });

  it('a disallowed Origin -> 403; an allowed one passes', async () => {
    const evil = await post(initializeBody(), jsonHeaders({ origin: 'https://evil.example' }));
    expect(evil.status).toBe(403);
    expect(await evil.json()).toMatchObject({ error: { data: { error: 'origin_not_allowed' } } });
    const inspector = await post(initializeBody(), jsonHeaders({ origin: 'http://localhost:6274' }));
    expect(inspector.status).toBe(200);
    expect(inspector.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
    expect(inspector.headers.get('access-control-expose-headers')).toMatch(/Mcp-Session-Id/i);
    await inspector.body?.cancel();
  });

  it('CORS preflight from an allowed browser origin lists the MCP headers', async () => {
    const response = await fetch(`${server.url}/mcp`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:6274',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization,mcp-protocol-version',
      },
    });
    statuses.push(response.status);
    expect(response.status).toBeLessThan(300);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:6274');
    expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toMatch(/mcp-protocol-version/);
  });

  it('a foreign Host header on a loopback bind -> 403 (DNS rebinding)', async () => {
    // fetch does not let us forge Host, so speak HTTP directly.
    const { request } = await import('node:http');
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${server.url}/health`, { headers: { host: 'attacker.example:80' } }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    statuses.push(answer.status);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body)).toMatchObject({ error: 'host_not_allowed' });
  });

  it('unknown session -> 404; 2025-era request without session -> 400; unsupported method -> 405', async () => {
    const unknown = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), jsonHeaders({ 'mcp-session-id': 'nope' }));
    expect(unknown.status).toBe(404);
    const missing = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    expect(missing.status).toBe(400);
    const put = await fetch(`${server.url}/mcp`, { method: 'PUT', headers: jsonHeaders(), body: '{}' });
    statuses.push(put.status);
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toMatch(/POST/);
  });

  it('unknown paths answer a JSON 404', async () => {
    const response = await fetch(`${server.url}/nothing/here`);
    statuses.push(response.status);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: 'not_found' });
  });

  it('legacy SSE POST errors: missing and unknown sessionId', async () => {
    const missing = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), jsonHeaders(), '/messages');
    expect(missing.status).toBe(400);
    const unknown = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), jsonHeaders(), '/messages?sessionId=nope');
    expect(unknown.status).toBe(404);
  });
});
