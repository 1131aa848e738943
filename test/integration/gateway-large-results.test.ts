import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { configSchema } from '../../server/config/schema.js';
import { defineTool } from '../../server/mcp/define-tool.js';
import type { ToolProvider } from '../../server/mcp/tool-provider.js';
import { waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const LIMIT = 2 * 1024 * 1024;
const MB = 1024 * 1024;

const bigTool = defineTool(
  'big',
  { description: 'A text result of `bytes` bytes', input: z.object({ bytes: z.number().int().min(0) }) },
  async ({ bytes }) => ({ content: [{ type: 'text', text: 'x'.repeat(bytes) }] }),
);
const bigProvider: ToolProvider = { name: 'big', tools: () => [bigTool] };

/**
 * Large results through the gateway: relayed whole up to GATEWAY_MAX_MESSAGE_BYTES (default 32 MiB), refused past it
 * with a tool error naming the limit, over stdio and HTTP alike; the connection and the other calls on it carry on.
 */
describe('gateway: large results', () => {
  let upstream: TestServer;
  let gateway: TestServer;
  let client: Client;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwbig-'));
    upstream = await startTestServer({}, { extraProviders: [bigProvider] });
    writeFileSync(
      path.join(dir, 'mcp_config.json'),
      JSON.stringify({
        mcpServers: {
          f: { command: process.execPath, args: [path.resolve('test/fixtures/fault-upstream.mjs')], timeoutMs: 20_000 },
          web: { url: upstream.mcpUrl, transport: 'http', timeoutMs: 20_000 },
        },
      }),
    );
    gateway = await startTestServer({ mcpConfigPath: path.join(dir, 'mcp_config.json'), gatewayMaxMessageBytes: LIMIT });
    await waitFor(() => gateway.container.gateway.registry.list().every((s) => s.status === 'running'), 30_000);
    client = new Client({ name: 'big-results', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.mcpUrl)));
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await gateway?.stop();
    await upstream?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const text = (result: Awaited<ReturnType<Client['callTool']>>) => (result.content as Array<{ text: string }>)[0]!.text;

  it('defaults to relaying at least 16 MB', () => {
    expect(configSchema.parse({}).gatewayMaxMessageBytes).toBeGreaterThanOrEqual(16 * MB);
  });

  it.each(['f__big', 'web__big'])('%s: relays a result under the limit whole', async (name) => {
    const result = await client.callTool({ name, arguments: { bytes: 1.5 * MB } });
    expect(result.isError).toBeFalsy();
    expect(text(result)).toHaveLength(1.5 * MB);
  });

  it.each(['f__big', 'web__big'])(
    '%s: refuses a result over the limit with a tool error naming it, and the next call works',
    async (name) => {
      const before = gateway.container.gateway.registry.get(name.split('__')[0]!)!.health.restartCount;
      const result = await client.callTool({ name, arguments: { bytes: 3 * MB } }, { timeout: 30_000 });
      expect(result.isError).toBe(true);
      expect(text(result)).toContain('GATEWAY_MAX_MESSAGE_BYTES');
      expect(text(result)).toContain(String(LIMIT));
      const after = await client.callTool({ name, arguments: { bytes: 10 } });
      expect(text(after)).toBe('x'.repeat(10));
      expect(gateway.container.gateway.registry.get(name.split('__')[0]!)!.health.restartCount).toBe(before);
    },
  );

  it('reads past a 50 MB line that is no message at all, and the call that wrote it still gets its answer', async () => {
    const result = await client.callTool({ name: 'f__huge_line', arguments: { bytes: 50 * MB } }, { timeout: 60_000 });
    expect(text(result)).toBe('after the huge line');
    expect(gateway.container.gateway.registry.get('f')!.status).toBe('running');
  });
});
