import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const fixture = path.resolve('test/fixtures/conformance-upstream.mjs');

describe('gateway protocol relay on the aggregated /mcp: logging, completion, subscriptions, binary content', () => {
  let server: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwproto-'));
    writeFileSync(
      path.join(dir, 'mcp_config.json'),
      JSON.stringify({ mcpServers: { conf: { command: process.execPath, args: [fixture] } } }),
    );
    server = await startTestServer({ mcpConfigPath: path.join(dir, 'mcp_config.json') });
    await waitFor(() => server.container.gateway.registry.get('conf')!.status === 'running', 30_000);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('relays log messages of a call (honouring the client level), completions and resource subscriptions', async () => {
    const client = new Client({ name: 'gateway-protocol-test', version: '1.0.0' });
    const logs: string[] = [];
    client.setNotificationHandler('notifications/message', (notification) => void logs.push(String(notification.params.data)));
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    try {
      await client.setLoggingLevel('info');
      await client.callTool({ name: 'conf__test_tool_with_logging', arguments: {} });
      expect(logs).toEqual(['Tool execution started', 'Tool processing data', 'Tool execution completed']);
      await client.setLoggingLevel('error');
      await client.callTool({ name: 'conf__test_tool_with_logging', arguments: {} });
      expect(logs).toHaveLength(3);

      const completion = await client.complete({
        ref: { type: 'ref/prompt', name: 'conf__test_prompt_with_arguments' },
        argument: { name: 'arg1', value: 'par' },
      });
      expect(completion.completion.values).toEqual(['paris', 'park', 'party']);

      expect(await client.subscribeResource({ uri: 'conf+test://watched-resource' })).toEqual({});
      expect(await client.unsubscribeResource({ uri: 'conf+test://watched-resource' })).toEqual({});

      const binary = await client.readResource({ uri: 'conf+test://static-binary' });
      expect(binary.contents[0]).toMatchObject({ uri: 'conf+test://static-binary', mimeType: 'image/png', blob: expect.any(String) });
      const templated = await client.readResource({ uri: 'conf+test://template/123/data' });
      expect(JSON.parse((templated.contents[0] as { text: string }).text)).toEqual({
        id: '123',
        templateTest: true,
        data: 'Data for ID: 123',
      });

      const failed = await client.callTool({ name: 'conf__test_error_handling', arguments: {} });
      expect(failed.isError).toBe(true);
      expect(JSON.stringify(failed.content)).toContain('This tool intentionally returns an error for testing');
    } finally {
      await client.close();
    }
  });
});
