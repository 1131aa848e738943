import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const fixture = path.resolve('test/fixtures/gateway-upstream.mjs');
const KEYS = { ops: 'key-ops-0123456789abcdef', alpha: 'key-alpha-0123456789abcd', plain: 'key-plain-0123456789abcd' };

describe('gateway access control: gateway:<server> scopes, per-client patterns, operator endpoints', () => {
  let server: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwacc-'));
    const entry = { command: process.execPath, args: [fixture] };
    writeFileSync(path.join(dir, 'mcp_config.json'), JSON.stringify({ mcpServers: { alpha: entry, beta: entry } }));
    writeFileSync(
      path.join(dir, 'keys.json'),
      JSON.stringify({
        [KEYS.ops]: { client_id: 'ops', scopes: ['mcp:tools', 'claude:admin', 'gateway:*'] },
        [KEYS.alpha]: { client_id: 'alpha-user', scopes: ['mcp:tools', 'gateway:alpha'] },
        [KEYS.plain]: { client_id: 'plain', scopes: ['mcp:tools'] },
      }),
    );
    writeFileSync(path.join(dir, 'policy.json'), JSON.stringify({ 'alpha-user': { deny: ['alpha__crash', 'alpha__hang'] } }));
    server = await startTestServer({
      authMode: 'oauth',
      authInitialAdmin: false,
      mcpConfigPath: path.join(dir, 'mcp_config.json'),
      apiKeysPath: path.join(dir, 'keys.json'),
      toolPolicyPath: path.join(dir, 'policy.json'),
    });
    await waitFor(() => server.container.gateway.registry.list().every((s) => s.status === 'running'), 30_000);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect(key: string, url = server.mcpUrl): Promise<Client> {
    const client = new Client({ name: 'gateway-access-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
    return client;
  }

  const gatewayTools = async (client: Client) =>
    (await client.listTools()).tools
      .map((t) => t.name)
      .filter((n) => n.includes('__'))
      .sort();

  it('shows each caller only the upstream tools its scopes and patterns allow, and refuses calls to hidden ones', async () => {
    const ops = await connect(KEYS.ops);
    const alpha = await connect(KEYS.alpha);
    const plain = await connect(KEYS.plain);
    try {
      expect(await gatewayTools(ops)).toEqual(expect.arrayContaining(['alpha__crash', 'alpha__echo', 'beta__echo']));
      const alphaTools = await gatewayTools(alpha);
      expect(alphaTools).toContain('alpha__echo');
      expect(alphaTools).not.toContain('alpha__crash');
      expect(alphaTools.some((n) => n.startsWith('beta__'))).toBe(false);
      expect(await gatewayTools(plain)).toEqual([]);

      // A tool only a missing scope hides asks for that scope (step-up: 403 insufficient_scope)...
      const hidden = await fetch(server.mcpUrl, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${KEYS.alpha}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-11-25',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'beta__echo', arguments: { text: 'x' } } }),
      });
      expect(hidden.status).toBe(403);
      expect(hidden.headers.get('www-authenticate')).toMatch(/error="insufficient_scope", .*|scope="[^"]*gateway:beta/);
      expect(/scope="([^"]*)"/.exec(hidden.headers.get('www-authenticate')!)?.[1]?.split(' ')).toEqual([
        'mcp:tools',
        'gateway:alpha',
        'gateway:beta',
      ]);
      // ...one the client's policy hides stays unknown: no scope would change that.
      const denied = await alpha
        .callTool({ name: 'alpha__crash', arguments: {} })
        .catch((error: Error) => ({ isError: true, content: [{ type: 'text', text: error.message }] }));
      expect(JSON.stringify(denied)).toContain('not found');
      expect(server.container.gateway.registry.get('alpha')!.status).toBe('running');
    } finally {
      await Promise.all([ops.close(), alpha.close(), plain.close()]);
    }
  });

  it('applies the same rules on /servers/{name}/mcp', async () => {
    const alphaOnBeta = await connect(KEYS.alpha, `${server.url}/servers/beta/mcp`);
    const alphaOnAlpha = await connect(KEYS.alpha, `${server.url}/servers/alpha/mcp`);
    try {
      expect((await alphaOnBeta.listTools()).tools).toEqual([]);
      const names = (await alphaOnAlpha.listTools()).tools.map((t) => t.name);
      expect(names).toContain('echo');
      expect(names).not.toContain('crash');
    } finally {
      await Promise.all([alphaOnBeta.close(), alphaOnAlpha.close()]);
    }
    expect((await fetch(`${server.url}/servers/alpha/mcp`, { method: 'POST' })).status).toBe(401);
  });

  it('keeps the operator endpoints to callers with claude:admin', async () => {
    const as = (key: string) => ({ headers: { Authorization: `Bearer ${key}` } });
    expect((await fetch(`${server.url}/listmcp`)).status).toBe(401);
    const refused = await fetch(`${server.url}/listmcp`, as(KEYS.alpha));
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: string }).error).toBe('forbidden');
    expect((await fetch(`${server.url}/servers/alpha/restart`, { method: 'POST', ...as(KEYS.alpha) })).status).toBe(403);
    expect((await fetch(`${server.url}/listmcp`, as(KEYS.ops))).status).toBe(200);
    expect((await fetch(`${server.url}/health/servers`, as(KEYS.ops))).status).toBe(200);
  });
});
