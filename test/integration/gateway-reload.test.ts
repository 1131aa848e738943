import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const fixture = path.resolve('test/fixtures/gateway-upstream.mjs');
const entry = (tag: string) => ({ command: process.execPath, args: [fixture], env: { FIXTURE_TAG: tag } });

describe('gateway live reload (MCP_LIVE_RELOAD)', () => {
  let server: TestServer;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwrl-'));
    file = path.join(dir, 'mcp_config.json');
    writeFileSync(file, JSON.stringify({ mcpServers: { keep: entry('k'), change: entry('1') } }));
    server = await startTestServer({ mcpConfigPath: file, mcpLiveReload: true });
    await waitFor(() => server.container.gateway.registry.list().every((s) => s.status === 'running'), 30_000);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds, removes and changes servers from the edited file without disturbing sessions of untouched ones', async () => {
    const registry = server.container.gateway.registry;
    const client = new Client({ name: 'reload-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    try {
      const keepPid = registry.get('keep')!.pid;
      const changePid = registry.get('change')!.pid;
      const listChanged: number[] = [];
      client.setNotificationHandler('notifications/tools/list_changed', () => void listChanged.push(Date.now()));

      writeFileSync(file, JSON.stringify({ mcpServers: { keep: entry('k'), change: entry('2'), added: entry('a') } }));
      await waitFor(
        () =>
          registry.get('added')?.status === 'running' &&
          registry.get('change')?.pid !== changePid &&
          registry.get('change')?.status === 'running',
        30_000,
      );
      expect(registry.get('keep')!.pid).toBe(keepPid);
      await waitFor(() => listChanged.length > 0, 5000);
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['keep__echo', 'change__echo', 'added__echo']));
      const who = await client.callTool({ name: 'change__whoami', arguments: {} });
      expect(JSON.stringify(who)).toContain('\\"FIXTURE_TAG\\":\\"2\\"');

      writeFileSync(file, '{ "mcpServers": { broken');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(registry.list().map((s) => s.name)).toEqual(['added', 'change', 'keep']);
      expect(registry.list().every((s) => s.status === 'running')).toBe(true);

      writeFileSync(file, JSON.stringify({ mcpServers: { keep: entry('k') } }));
      await waitFor(() => registry.list().length === 1, 30_000);
      const after = (await client.listTools()).tools.map((t) => t.name);
      expect(after).toContain('keep__echo');
      expect(after).not.toContain('added__echo');
      // The same session kept working throughout, and the untouched upstream was never restarted.
      expect(JSON.stringify(await client.callTool({ name: 'keep__echo', arguments: { text: 'still here' } }))).toContain('still here');
      expect(registry.get('keep')!.pid).toBe(keepPid);
    } finally {
      await client.close();
    }
  }, 60_000);

  it('reports an invalid file from an explicit reload (SIGHUP path) and keeps the running set', async () => {
    writeFileSync(file, JSON.stringify({ mcpServers: { keep: { command: process.execPath, timeoutMs: 'soon' } } }));
    const result = await server.container.gateway.reload('SIGHUP');
    expect(result).toMatchObject({ ok: false });
    expect(result.ok ? '' : result.error).toContain('mcpServers.keep: timeoutMs');
    expect(server.container.gateway.registry.get('keep')!.status).toBe('running');
  });
});
