/** Scopes and per-client allow/deny lists decide which tools a caller sees and may call (issue item 9). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { defineTool } from '../../../server/mcp/define-tool.js';
import type { ToolProvider } from '../../../server/mcp/tool-provider.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';

// Names that no real provider registers (the Claude provider owns claude_plan and claude_plugin_install; the unit
// test covers their scopes).
const TOOLS = ['claude_probe', 'files__read', 'other__write'];

const probeTools = TOOLS.map((name) =>
  defineTool(name, { description: name, input: z.object({}) }, async () => ({ content: [{ type: 'text', text: name }] })),
);
const provider: ToolProvider = { name: 'access-probe', tools: () => probeTools };

describe('tool access by scope and policy', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ccm-tool-access-'));
  let server: TestServer;

  beforeAll(async () => {
    const keys = path.join(dir, 'keys.json');
    writeFileSync(
      keys,
      JSON.stringify({
        'k-tools': { client_id: 'basic', scopes: ['mcp:tools'] },
        'k-ask': { client_id: 'asker', scopes: ['mcp:tools', 'claude:ask'] },
        'k-admin': { client_id: 'admin', scopes: ['mcp:tools', 'claude:admin', 'gateway:files'] },
        'k-policy': { client_id: 'restricted', scopes: ['*'] },
        'k-noscope': { client_id: 'nobody', scopes: ['claude:ask'] },
      }),
    );
    const policy = path.join(dir, 'policy.json');
    writeFileSync(policy, JSON.stringify({ restricted: { deny: ['other__*'] } }));
    server = await startTestServer(
      { authMode: 'oauth', authInitialAdmin: false, apiKeysPath: keys, toolPolicyPath: policy },
      { extraProviders: [provider] },
    );
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function withClient<T>(key: string, run: (client: Client) => Promise<T>): Promise<T> {
    const client = new Client({ name: 'access', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(server.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
    );
    try {
      return await run(client);
    } finally {
      await client.close();
    }
  }
  const visible = (key: string) =>
    withClient(key, async (client) =>
      (await client.listTools()).tools
        .map((tool) => tool.name)
        .filter((name) => TOOLS.includes(name))
        .sort(),
    );

  it.each([
    ['k-tools', []],
    ['k-ask', ['claude_probe']],
    ['k-admin', ['claude_probe', 'files__read']],
    ['k-policy', ['claude_probe', 'files__read']],
  ])('%s sees exactly %j of the probe tools', async (key, expected) => {
    expect(await visible(key)).toEqual(expected);
  });

  it('calling a hidden tool is refused', async () => {
    await withClient('k-tools', async (client) => {
      const outcome = await client.callTool({ name: 'claude_probe', arguments: {} }).then(
        (result) => (result.isError ? 'refused' : 'ran'),
        () => 'refused',
      );
      expect(outcome).toBe('refused');
      expect((await client.callTool({ name: 'server_status', arguments: {} })).isError).toBeFalsy();
    });
  });

  it('a key without mcp:tools cannot connect at all (403 insufficient_scope)', async () => {
    const response = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: { authorization: 'Bearer k-noscope', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: '{}',
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('www-authenticate')).toContain('insufficient_scope');
  });
});
