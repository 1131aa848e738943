import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const fixture = path.resolve('test/fixtures/gateway-upstream.mjs');
// The upstream's timeoutMs also bounds its connection: too short, and a loaded machine cannot start the fixture in time.
const TIMEOUT_MS = 2_500;

/** An upstream's `timeoutMs`: a silent call fails with a readable reason; each progress notification restarts the clock. */
describe('gateway call timeouts', () => {
  let server: TestServer;
  let dir: string;
  let client: Client;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwtimeout-'));
    writeFileSync(
      path.join(dir, 'mcp_config.json'),
      JSON.stringify({ mcpServers: { up: { command: process.execPath, args: [fixture], timeoutMs: TIMEOUT_MS } } }),
    );
    server = await startTestServer({ mcpConfigPath: path.join(dir, 'mcp_config.json') });
    await waitFor(() => server.container.gateway.registry.get('up')!.status === 'running', 30_000);
    client = new Client({ name: 'gateway-timeouts-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a call the upstream never answers with a tool error naming the timeout', async () => {
    const started = Date.now();
    const result = await client.callTool({ name: 'up__hang', arguments: {} });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain(`no answer or progress within ${TIMEOUT_MS} ms`);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 3_000);
  });

  it('lets a call that reports progress run past the timeout, and relays that progress', async () => {
    const progress: number[] = [];
    const result = await client.callTool(
      { name: 'up__slow', arguments: { ms: TIMEOUT_MS * 2, steps: 8 } },
      { onprogress: ({ progress: value }) => void progress.push(value), resetTimeoutOnProgress: true },
    );
    expect(result.isError).toBeFalsy();
    expect(result.content).toEqual([{ type: 'text', text: `slept ${TIMEOUT_MS * 2}` }]);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('fails a call without a progress token after the timeout even though the upstream would finish later', async () => {
    const result = await client.callTool({ name: 'up__slow', arguments: { ms: TIMEOUT_MS * 2, steps: 8 } });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain(`no answer or progress within ${TIMEOUT_MS} ms`);
  });
});
