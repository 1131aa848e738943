import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const fixture = path.resolve('test/fixtures/gateway-upstream.mjs');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('gateway isolation: "session" gives each client session its own upstream process', () => {
  let server: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwiso-'));
    writeFileSync(
      path.join(dir, 'mcp_config.json'),
      JSON.stringify({
        mcpServers: {
          iso: { command: process.execPath, args: [fixture], isolation: 'session' },
          needed: { command: process.execPath, args: [fixture], env: { FIXTURE_FAIL_START: '1' }, required: true, restart: { max: 0 } },
        },
      }),
    );
    server = await startTestServer({ mcpConfigPath: path.join(dir, 'mcp_config.json') });
    await waitFor(() => server.container.gateway.registry.get('iso')!.status === 'running', 30_000);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs one process per session, lists tools at once, and ends the process with the session', async () => {
    const registry = server.container.gateway.registry;
    const open = async () => {
      const transport = new StreamableHTTPClientTransport(new URL(server.mcpUrl));
      const client = new Client({ name: 'iso-test', version: '1.0.0' });
      await client.connect(transport);
      return { client, transport };
    };
    const a = await open();
    const b = await open();
    expect((await a.client.listTools()).tools.map((t) => t.name)).toContain('iso__whoami');
    const pidOf = async (client: Client) =>
      (
        JSON.parse(((await client.callTool({ name: 'iso__whoami', arguments: {} })).content as { text: string }[])[0]!.text) as {
          pid: number;
        }
      ).pid;
    const pidA = await pidOf(a.client);
    const pidB = await pidOf(b.client);
    expect(pidA).not.toBe(pidB);
    expect(await pidOf(a.client)).toBe(pidA);
    expect([pidA, pidB]).not.toContain(registry.get('iso')!.pid);
    expect(registry.sessionConnectionCount()).toBe(2);

    await a.transport.terminateSession();
    await a.client.close();
    await waitFor(() => !alive(pidA), 15_000);
    expect(alive(pidB)).toBe(true);
    expect(registry.sessionConnectionCount()).toBe(1);
    await b.transport.terminateSession();
    await b.client.close();
    await waitFor(() => !alive(pidB), 15_000);
  }, 40_000);

  it('keeps readiness failing while a required upstream is not running', async () => {
    await waitFor(() => server.container.gateway.registry.get('needed')!.status === 'failed', 15_000);
    const ready = await fetch(`${server.url}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'not_ready', checks: { upstreams: { ok: false, waiting: ['needed'] } } });
  });
});
