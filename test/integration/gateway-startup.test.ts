import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as V1StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CLI, createSandbox, killStarted, spawnCli, track, waitFor, type Sandbox } from '../helpers/cli-process.js';

// A client that connects while an upstream is still starting (a slow `npx` server) must not see a partial list or an
// unknown tool: `claude -p` with a stdio MCP config reads the first tools/list only.

const fixture = path.resolve('test/fixtures/gateway-upstream.mjs');

let sandbox: Sandbox;

beforeEach(() => {
  sandbox = createSandbox();
});

afterEach(async () => {
  await killStarted();
  sandbox.remove();
});

/** An upstream entry of the fixture that reads nothing for its first `delayMs` (so answers no initialize). */
function slowUpstream(delayMs: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { command: process.execPath, args: [fixture], env: { FIXTURE_START_DELAY_MS: String(delayMs) }, ...extra };
}

/** Writes the gateway file into the sandbox; returns the environment that points the CLI at it. */
function gatewayEnv(servers: Record<string, unknown>, extra: Record<string, string> = {}): Record<string, string> {
  const file = path.join(sandbox.root, 'mcp_config.json');
  writeFileSync(file, JSON.stringify({ mcpServers: servers }));
  return sandbox.env({ MCP_CONFIG_PATH: file, ...extra });
}

function text(result: object): string {
  return (((result as { content?: unknown }).content as { type: string; text?: string }[] | undefined) ?? [])
    .map((block) => block.text ?? '')
    .join('');
}

/** What both SDK generations' clients offer, narrowed to this test's needs. */
interface Session {
  listTools(): Promise<{ tools: Array<{ name: string }> }>;
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

describe.each([
  [
    'v2 Client',
    async (env: Record<string, string>): Promise<Session> => {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [CLI, 'stdio'],
        env,
        cwd: sandbox.cwd,
        stderr: 'pipe',
      });
      const client = new Client({ name: 'startup-test-v2', version: '1.0.0' });
      await client.connect(transport);
      track(transport.pid!);
      return client;
    },
  ],
  [
    'v1 Client',
    async (env: Record<string, string>): Promise<Session> => {
      const transport = new V1StdioClientTransport({
        command: process.execPath,
        args: [CLI, 'stdio'],
        env,
        cwd: sandbox.cwd,
        stderr: 'pipe',
      });
      const client = new V1Client({ name: 'startup-test-v1', version: '1.0.0' });
      await client.connect(transport);
      track(transport.pid!);
      return client as unknown as Session;
    },
  ],
])('claude-code-mcp stdio with an upstream that takes 1.5 s to start (%s)', (_name, connect) => {
  it('lists the upstream tools in the first tools/list after connecting', async () => {
    const session = await connect(gatewayEnv({ fx: slowUpstream(1500) }));
    try {
      const { tools } = await session.listTools();
      expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['server_status', 'fx__echo', 'fx__typed']));
    } finally {
      await session.close();
    }
  });

  it('answers a call to the upstream issued right after connecting', async () => {
    const session = await connect(gatewayEnv({ fx: slowUpstream(1500) }));
    try {
      const result = await session.callTool({ name: 'fx__echo', arguments: { text: 'first call' } });
      expect(result.isError).toBeFalsy();
      expect(text(result)).toBe('first call');
    } finally {
      await session.close();
    }
  });
});

/** Spawns `serve` and waits for its `listening` log line; returns the base URL. */
async function serve(env: Record<string, string>): Promise<string> {
  const server = spawnCli(['serve'], { env, cwd: sandbox.cwd });
  const listening = await waitFor(
    () => server.logLines().find((line) => line.message === 'listening') ?? (server.child.exitCode !== null && new Error(server.stderr())),
    'the listening log line',
  );
  if (listening instanceof Error) throw new Error(`serve exited early: ${listening.message}`);
  return `http://127.0.0.1:${Number(listening.port)}`;
}

async function upstreamStatus(url: string, name: string): Promise<string> {
  const health = (await (await fetch(`${url}/health/servers`)).json()) as { servers: Record<string, { status: string }> };
  return health.servers[name]!.status;
}

describe('claude-code-mcp serve with an upstream that takes 2.5 s to start', () => {
  it('completes the first tools/list and answers first calls on /mcp and /servers/{name}/mcp, with v2 and v1 clients', async () => {
    const url = await serve(gatewayEnv({ fx: slowUpstream(2500) }));
    // What the test is about: the upstream is not up yet when the clients arrive.
    expect(await upstreamStatus(url, 'fx')).toBe('starting');

    const lister = new Client({ name: 'startup-lister', version: '1.0.0' });
    const caller = new V1Client({ name: 'startup-caller-v1', version: '1.0.0' });
    const single = new Client({ name: 'startup-single', version: '1.0.0' });
    try {
      const [listed, called, calledAlone] = await Promise.all([
        lister.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`))).then(() => lister.listTools()),
        caller
          .connect(new V1StreamableHTTPClientTransport(new URL(`${url}/mcp`)))
          .then(() => caller.callTool({ name: 'fx__echo', arguments: { text: 'v1 first' } })),
        single
          .connect(new StreamableHTTPClientTransport(new URL(`${url}/servers/fx/mcp`)))
          .then(() => single.callTool({ name: 'echo', arguments: { text: 'alone first' } })),
      ]);
      expect(listed.tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['server_status', 'fx__echo']));
      expect(called.isError).toBeFalsy();
      expect(text(called)).toBe('v1 first');
      expect(text(calledAlone)).toBe('alone first');
    } finally {
      await Promise.all([lister.close(), caller.close(), single.close()]);
    }
  });

  it('holds the first tools/list no longer than GATEWAY_STARTUP_WAIT_MS for an upstream that is not up by then, and answers its calls with a retryable error', async () => {
    const url = await serve(
      gatewayEnv(
        // `late` is not up within its 2 s connect timeout, and restarts; `fx` is up in well under the 3 s wait.
        { late: slowUpstream(60_000, { timeoutMs: 2000 }), fx: { command: process.execPath, args: [fixture] } },
        { GATEWAY_STARTUP_WAIT_MS: '3000' },
      ),
    );
    const client = new V1Client({ name: 'startup-bound-v1', version: '1.0.0' });
    try {
      const started = Date.now();
      await client.connect(new V1StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(Date.now() - started).toBeLessThan(3000 + 2000);
      expect(names).toContain('fx__echo');
      expect(names).not.toContain('late__echo');

      const result = await client.callTool({ name: 'late__echo', arguments: { text: 'too early' } });
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/^upstream late is (starting|restarting) and not ready yet; retry the call in a few seconds$/);
    } finally {
      await client.close();
    }
  });

  it('stops waiting for an upstream whose start fails', async () => {
    const url = await serve(
      gatewayEnv(
        {
          broken: { command: process.execPath, args: [fixture], env: { FIXTURE_FAIL_START: '1' } },
          fx: { command: process.execPath, args: [fixture] },
        },
        { GATEWAY_STARTUP_WAIT_MS: '30000' },
      ),
    );
    const client = new Client({ name: 'startup-broken', version: '1.0.0' });
    try {
      const started = Date.now();
      await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`)));
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(names).toContain('fx__echo');
      expect(names.some((name) => name.startsWith('broken__'))).toBe(false);
    } finally {
      await client.close();
    }
  });
});
