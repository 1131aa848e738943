/**
 * Command-line clients with their defaults: mcp-remote (the stdio bridge hosts without remote support run; OAuth in
 * the browser) and the MCP Inspector CLI (an API key in a header). Each lists the tools, calls one and reads an
 * error; two mcp-remote processes refresh with one refresh token at once and both keep working.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TestBrowser } from '../helpers/oauth-browser.js';
import { TEST_USER } from '../helpers/oauth-server.js';
import { DEFAULT_TOOLS, startMatrixServer, type MatrixServer } from './matrix.js';

const MCP_REMOTE = fileURLToPath(new URL('../../node_modules/mcp-remote/dist/proxy.js', import.meta.url));
const INSPECTOR_CLI = fileURLToPath(new URL('../../node_modules/@modelcontextprotocol/inspector-cli/build/index.js', import.meta.url));

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function until<T>(check: () => T | undefined, what: string | (() => string), timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One mcp-remote process: a host's view of it is JSON-RPC lines on stdin and stdout. */
class Bridge {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  private id = 0;

  constructor(url: string, callbackPort: number, home: string) {
    this.child = spawn(process.execPath, [MCP_REMOTE, url, String(callbackPort), '--host', '127.0.0.1', '--transport', 'http-only'], {
      env: { PATH: process.env.PATH ?? '', HOME: home, MCP_REMOTE_CONFIG_DIR: path.join(home, '.mcp-auth'), BROWSER: 'none' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  async request(
    method: string,
    params: Record<string, unknown>,
  ): Promise<{ result?: Record<string, unknown>; error?: { message: string } }> {
    const id = (this.id += 1) + 100;
    this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    const line = await until(
      () => this.stdout.split('\n').find((entry) => entry.includes(`"id":${id}`)),
      () => `the answer to ${method} (stderr: ${this.stderr.slice(-500)})`,
    );
    return JSON.parse(line) as { result?: Record<string, unknown> };
  }

  async initialize(): Promise<void> {
    await this.request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'host', version: '1' } });
    this.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
  }

  /** SIGTERM, then SIGKILL after 3 s: a bridge still waiting for a sign-in does not always end on the first. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const closed = new Promise((resolve) => this.child.once('close', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await closed;
    clearTimeout(timer);
  }
}

describe('mcp-remote and the Inspector CLI', () => {
  let matrix: MatrixServer;
  const bridges: Bridge[] = [];

  beforeAll(async () => {
    matrix = await startMatrixServer();
  }, 60_000);
  afterAll(async () => {
    for (const bridge of bridges) await bridge.stop();
    await matrix?.stop();
  }, 30_000);

  it('mcp-remote signs in, lists the default tools, calls one, reads an error; two of them refresh at once', async () => {
    const home = path.join(matrix.dir, 'mcp-remote-home');
    const callbackPort = await freePort();
    const first = new Bridge(matrix.server.mcpUrl, callbackPort, home);
    bridges.push(first);
    const authorizeUrl = await until(
      () => /Please authorize this client by visiting:\s*(\S+)/.exec(first.stderr)?.[1],
      'the authorize URL',
    );
    expect(new URL(authorizeUrl).searchParams.get('scope')).toContain('claude:ask');
    const callback = await new TestBrowser(TEST_USER).authorize(authorizeUrl);
    expect((await fetch(callback)).status).toBeLessThan(400);
    await until(() => (/Proxy established/.test(first.stderr) ? true : undefined), 'the proxy');
    await first.initialize();
    const tools = ((await first.request('tools/list', {})).result!.tools as Array<{ name: string }>).map((tool) => tool.name);
    expect(tools).toEqual(expect.arrayContaining(DEFAULT_TOOLS));
    const echoed = await first.request('tools/call', { name: 'alpha__echo', arguments: { text: 'through the bridge' } });
    expect(JSON.stringify(echoed.result)).toContain('through the bridge');
    const failed = await first.request('tools/call', { name: 'claude_ask', arguments: { query: '' } });
    expect(failed.result).toMatchObject({ isError: true, content: [{ type: 'text', text: expect.stringMatching(/^invalid_input: /) }] });
    await first.stop();

    // The stored access token goes stale; two bridges start at once and both refresh with the one refresh token.
    const store = path.join(home, '.mcp-auth');
    const tokenFiles = readdirSync(store, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('_tokens.json'));
    expect(tokenFiles).toHaveLength(1);
    const tokenFile = path.join(store, tokenFiles[0]!);
    const tokens = JSON.parse(readFileSync(tokenFile, 'utf8')) as { access_token: string; refresh_token: string };
    writeFileSync(tokenFile, JSON.stringify({ ...tokens, access_token: 'stale.access.token' }));
    // Same callback port: mcp-remote keeps a registration only for the redirect URI it was made with.
    const pair = [new Bridge(matrix.server.mcpUrl, callbackPort, home), new Bridge(matrix.server.mcpUrl, callbackPort, home)];
    bridges.push(...pair);
    for (const bridge of pair)
      await until(
        () => (/Proxy established/.test(bridge.stderr) ? true : undefined),
        () => `a refreshed proxy (stderr: ${bridge.stderr.slice(0, 3000)})`,
      );
    for (const bridge of pair) {
      expect(bridge.stderr).not.toMatch(/Please authorize this client/);
      await bridge.initialize();
      const status = await bridge.request('tools/call', { name: 'server_status', arguments: {} });
      expect(status.result?.isError).toBeFalsy();
    }
  }, 120_000);

  it('the Inspector CLI lists the tools, calls one and reads an error', async () => {
    const inspect = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [INSPECTOR_CLI, matrix.server.mcpUrl, '--transport', 'http', '--header', `Authorization: Bearer ${matrix.apiKey}`, ...args],
          // Run from its own folder: this CLI finds its package.json relative to the working directory.
          { timeout: 30_000, env: { PATH: process.env.PATH ?? '' }, cwd: path.dirname(INSPECTOR_CLI) },
          (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const listed = await inspect(['--method', 'tools/list']);
    expect({ code: listed.code, stderr: listed.stderr }).toMatchObject({ code: 0 });
    const names = (JSON.parse(listed.stdout) as { tools: Array<{ name: string }> }).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(DEFAULT_TOOLS));
    const called = await inspect(['--method', 'tools/call', '--tool-name', 'alpha__echo', '--tool-arg', 'text=inspected']);
    expect(called.code).toBe(0);
    expect(called.stdout).toContain('inspected');
    const failed = await inspect([
      '--method',
      'tools/call',
      '--tool-name',
      'claude_ask',
      '--tool-arg',
      'query=hello',
      'workingDirectory=/etc',
    ]);
    expect(failed.code).toBe(0);
    expect(JSON.parse(failed.stdout)).toMatchObject({ isError: true, content: [{ text: expect.stringMatching(/^workspace_denied: /) }] });
  }, 60_000);
});
