import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { waitFor } from '../helpers/http.js';
import { modernRpc, TASKS_EXTENSION } from '../helpers/modern-rpc.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * The gateway serves an upstream's tasks itself (it follows the upstream's task over its own 2025-11-25 connection,
 * gateway-tasks.test.ts), so it does not pass the 2026-07-28 tasks extension on in either direction: an upstream
 * offering it is not re-advertised as the gateway's own, and a client declaring it does not have it declared to its
 * per-session upstream. Other extensions still pass both ways.
 */
describe('gateway: the tasks extension is not passed on', () => {
  let server: TestServer;
  let dir: string;
  const fixture = {
    command: process.execPath,
    args: [path.resolve('test/fixtures/gateway-upstream.mjs')],
    env: { FIXTURE_TASKS_EXTENSION: '1' },
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwtasks-'));
    writeFileSync(
      path.join(dir, 'mcp_config.json'),
      JSON.stringify({ mcpServers: { fx: fixture, fxs: { ...fixture, isolation: 'session' } } }),
    );
    server = await startTestServer({ mcpConfigPath: path.join(dir, 'mcp_config.json') });
    await waitFor(() => server.container.gateway.registry.list().every((s) => s.status === 'running'), 30_000);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("neither re-advertises an upstream's tasks extension nor declares a client's to its session upstream", async () => {
    const client = new Client(
      { name: 'gateway-tasks', version: '1.0.0' },
      { capabilities: { extensions: { [TASKS_EXTENSION]: {}, 'com.example/client': { level: 2 } } } },
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    try {
      const offered = client.getServerCapabilities()?.extensions ?? {};
      expect(offered['com.example/fixture']).toEqual({ version: 1 });
      expect(offered).not.toHaveProperty([TASKS_EXTENSION]);
      const declared = JSON.parse(
        ((await client.callTool({ name: 'fxs__client_capabilities', arguments: {} })).content as { text: string }[])[0]!.text,
      ) as { extensions?: Record<string, unknown> };
      expect(declared.extensions).toEqual({ 'com.example/client': { level: 2 } });
    } finally {
      await client.close();
    }
    // One upstream alone (no Claude tools, so no tasks of our own): not on 2026-07-28 either.
    const discovered = await modernRpc(`${server.url}/servers/fx/mcp`).request('server/discover', {});
    const extensions = (discovered.result!.capabilities as { extensions?: Record<string, unknown> }).extensions ?? {};
    expect(extensions['com.example/fixture']).toEqual({ version: 1 });
    expect(extensions).not.toHaveProperty([TASKS_EXTENSION]);
  });
});
