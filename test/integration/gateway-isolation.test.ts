import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { waitFor } from '../helpers/http.js';
import { modernRpc, type ModernRpc } from '../helpers/modern-rpc.js';
import { startGatewayTestServer, startTestServer, type TestServer } from '../helpers/test-server.js';

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

/**
 * A 2026-07-28 request has no session (each is its own server instance), so `isolation: "session"` gives each
 * principal its own upstream process instead, shared by that principal's requests and closed once unused for
 * SESSION_TIMEOUT_MS — never a process per request.
 */
describe('gateway isolation: "session" for 2026-07-28 requests is per principal', () => {
  const ALICE = 'key-alice-0123456789';
  const BOB = 'key-bob-0123456789';
  let server: TestServer;

  beforeAll(async () => {
    server = await startGatewayTestServer(
      { iso: { command: process.execPath, args: [fixture], isolation: 'session' } },
      {
        authMode: 'oauth',
        authInitialAdmin: false,
        apiKeys: [`${ALICE}:client-alice`, `${BOB}:client-bob`],
        // Also how long a principal's unused upstream connection stays open.
        sessionTimeoutMs: 1_500,
      },
    );
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  const iso = () => `${server.url}/servers/iso/mcp`;
  const pidOf = async (rpc: ModernRpc) => {
    const { result } = await rpc.request('tools/call', { name: 'whoami', arguments: {} });
    return (JSON.parse((result?.content as Array<{ text: string }>)[0]!.text) as { pid: number }).pid;
  };

  it('one process per principal, shared by its requests, closed once unused; never the shared one', async () => {
    const alice = modernRpc(iso(), { token: ALICE });
    const bob = modernRpc(iso(), { token: BOB });
    const first = await pidOf(alice);
    expect(await pidOf(alice)).toBe(first);
    expect(await pidOf(alice)).toBe(first);
    const bobs = await pidOf(bob);
    expect(bobs).not.toBe(first);
    expect([first, bobs]).not.toContain(server.container.gateway.registry.get('iso')!.pid);
    // Unused for SESSION_TIMEOUT_MS: both end.
    await waitFor(() => !alive(first) && !alive(bobs), 15_000);
    expect(server.container.gateway.registry.sessionConnectionCount()).toBe(0);
  }, 30_000);

  it('a call waiting for its next round keeps the process past the idle time', async () => {
    const rpc = modernRpc(iso(), { token: ALICE, capabilities: { elicitation: {} } });
    const first = await rpc.request('tools/call', { name: 'ask_user', arguments: {} });
    expect(first.result).toMatchObject({ resultType: 'input_required' });
    const pid = await pidOf(rpc);
    // Longer than SESSION_TIMEOUT_MS: the parked call is still running on it.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(alive(pid)).toBe(true);
    const [key] = Object.keys(first.result!.inputRequests as object);
    const done = await rpc.request('tools/call', {
      name: 'ask_user',
      arguments: {},
      inputResponses: { [key!]: { action: 'accept', content: { name: 'Ada' } } },
      requestState: first.result!.requestState,
    });
    expect(done.result?.content).toEqual([{ type: 'text', text: 'user accept: Ada' }]);
    await waitFor(() => !alive(pid), 15_000);
  }, 30_000);
});
