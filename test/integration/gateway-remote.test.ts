import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { defineTool } from '../../server/mcp/define-tool.js';
import type { ToolProvider } from '../../server/mcp/tool-provider.js';
import { waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** Upstream tool that reports who called it: proves which credentials reached the upstream. */
const whoCallsTool = defineTool(
  'who_calls',
  { description: 'The caller as the upstream sees it', input: z.object({}) },
  async (_args, { caller }) => ({ content: [{ type: 'text', text: caller.principalId }] }),
);
const whoCalls: ToolProvider = { name: 'who-calls', tools: () => [whoCallsTool] };

describe('gateway: Streamable HTTP and SSE upstreams', () => {
  let upstream: TestServer;
  let gateway: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwrem-'));
    upstream = await startTestServer(
      { authMode: 'oauth', authInitialAdmin: false, apiKeys: ['upstream-key-0123456789:gateway-at-upstream'] },
      { extraProviders: [whoCalls] },
    );
    const headers = { Authorization: 'Bearer upstream-key-0123456789' };
    writeFileSync(
      path.join(dir, 'mcp_config.json'),
      JSON.stringify({
        mcpServers: {
          web: { url: upstream.mcpUrl, transport: 'http', headers },
          legacy: { url: `${upstream.url}/sse`, transport: 'sse', headers },
        },
      }),
    );
    gateway = await startTestServer({
      authMode: 'oauth',
      authInitialAdmin: false,
      apiKeys: ['client-key-0123456789:outer-client'],
      mcpConfigPath: path.join(dir, 'mcp_config.json'),
    });
    await waitFor(() => gateway.container.gateway.registry.list().every((s) => s.status === 'running'), 30_000);
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('aggregates both remote transports and sends only the configured credentials upstream', async () => {
    const client = new Client({ name: 'remote-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(gateway.mcpUrl), {
        requestInit: { headers: { Authorization: 'Bearer client-key-0123456789' } },
      }),
    );
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['web__who_calls', 'legacy__who_calls', 'web__server_status']));
      for (const name of ['web__who_calls', 'legacy__who_calls']) {
        const result = await client.callTool({ name, arguments: {} });
        expect((result.content as { text: string }[])[0]!.text).toBe('gateway-at-upstream');
      }
      expect(gateway.container.gateway.registry.get('web')!.describe()).toEqual({ url: upstream.mcpUrl, transport: 'http' });
    } finally {
      await client.close();
    }
  });
});
