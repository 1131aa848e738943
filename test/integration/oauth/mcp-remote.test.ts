/**
 * mcp-remote (the stdio bridge many hosts use) completes the OAuth flow headlessly: it prints the authorize URL, the
 * scripted browser signs in and approves, the callback reaches mcp-remote's local server, and a tool call goes
 * through the bridge.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TestBrowser } from '../../helpers/oauth-browser.js';
import { startOAuthServer, TEST_USER } from '../../helpers/oauth-server.js';
import type { TestServer } from '../../helpers/test-server.js';

const PROXY = fileURLToPath(new URL('../../../node_modules/mcp-remote/dist/proxy.js', import.meta.url));

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function until<T>(check: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('mcp-remote', () => {
  let server: TestServer;
  let child: ChildProcessWithoutNullStreams | undefined;
  const home = mkdtempSync(path.join(tmpdir(), 'ccm-mcp-remote-'));

  beforeAll(async () => {
    server = await startOAuthServer();
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child!.once('close', resolve));
    }
    await server.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('authorizes headlessly and proxies a tool call', async () => {
    const callbackPort = await freePort();
    child = spawn(process.execPath, [PROXY, server.mcpUrl, String(callbackPort), '--host', '127.0.0.1', '--transport', 'http-only'], {
      env: { PATH: process.env.PATH ?? '', HOME: home, MCP_REMOTE_CONFIG_DIR: path.join(home, '.mcp-auth'), BROWSER: 'none' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));

    const authorizeUrl = await until(
      () => /Please authorize this client by visiting:\s*(\S+)/.exec(stderr)?.[1],
      `the authorize URL (stderr: ${stderr})`,
    );
    const callback = await new TestBrowser(TEST_USER).authorize(authorizeUrl);
    expect(callback.searchParams.get('code')).toBeTruthy();
    expect(callback.host).toBe(`127.0.0.1:${callbackPort}`);
    const delivered = await fetch(callback);
    expect(delivered.status).toBeLessThan(400);

    await until(() => (/Proxy established/.test(stderr) ? true : undefined), `the proxy (stderr: ${stderr})`);
    const send = (message: unknown) => child!.stdin.write(`${JSON.stringify(message)}\n`);
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'host', version: '1' } },
    });
    await until(() => (stdout.includes('"id":1') ? true : undefined), 'the initialize result');
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'server_status', arguments: {} } });
    const line = await until(() => stdout.split('\n').find((entry) => entry.includes('"id":2')), 'the tool result');
    const result = JSON.parse(line) as { result?: { structuredContent?: Record<string, unknown>; isError?: boolean } };
    expect(result.result?.isError).toBeFalsy();
    expect(result.result?.structuredContent).toBeDefined();
  }, 60_000);
});
