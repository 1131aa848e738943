import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'headers', version: '1' } },
});
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** The security headers of a response, lower-cased names. */
function securityHeaders(response: Response): Record<string, string> {
  const names = [
    'content-security-policy',
    'x-content-type-options',
    'x-frame-options',
    'referrer-policy',
    'strict-transport-security',
    'cross-origin-opener-policy',
    'x-dns-prefetch-control',
  ];
  return Object.fromEntries(names.flatMap((name) => (response.headers.has(name) ? [[name, response.headers.get(name)!]] : [])));
}

const API_SET = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

describe('security headers', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('MCP endpoints answer with the API set, on success and on error', async () => {
    const ok = await fetch(server.mcpUrl, { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
    await ok.text();
    expect(ok.status).toBe(200);
    expect(securityHeaders(ok)).toEqual(API_SET);

    const refused = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: MCP_HEADERS,
      body: '{"jsonrpc":"2.0","id":2,"method":"tools/list"}',
    });
    await refused.text();
    expect(refused.status).toBe(400);
    expect(securityHeaders(refused)).toEqual(API_SET);

    const sse = await fetch(`${server.url}/sse`, { headers: { accept: 'text/event-stream' } });
    expect(sse.status).toBe(200);
    expect(securityHeaders(sse)).toEqual(API_SET);
    await sse.body?.cancel();
  });

  it('everything else gets the document set, which includes the API policy', async () => {
    const health = await fetch(`${server.url}/health`);
    await health.text();
    const headers = securityHeaders(health);
    expect(headers).toMatchObject({
      'content-security-policy': API_SET['content-security-policy'],
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
      'x-dns-prefetch-control': 'off',
    });
    expect(headers['x-frame-options']).toBeDefined();
    // Plain HTTP: no HSTS, which would pin browsers to a scheme the server does not speak.
    expect(headers['strict-transport-security']).toBeUndefined();
  });

  it('sends HSTS on every route when the public URL is HTTPS', async () => {
    const https = await startTestServer({ baseUrl: 'https://mcp.example.test', allowedHosts: ['127.0.0.1'] });
    try {
      // The public URL is the proxy's; requests reach the bound port directly here.
      const local = `http://127.0.0.1:${https.port}`;
      const health = await fetch(`${local}/health`);
      await health.text();
      const mcp = await fetch(`${local}/mcp`, { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
      await mcp.text();
      expect(securityHeaders(health)['strict-transport-security']).toContain('max-age=');
      expect(securityHeaders(mcp)['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    } finally {
      await https.stop();
    }
  });
});
