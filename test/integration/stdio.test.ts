import type { Readable, Stream } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as V1StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CLI,
  createSandbox,
  isRunning,
  killStarted,
  PACKAGE_VERSION,
  parseJsonLines,
  spawnCli,
  track,
  waitFor,
  within,
  type Sandbox,
} from '../helpers/cli-process.js';

// `claude-code-mcp stdio` as Claude Desktop runs it: stdout is the protocol, logs go to stderr, stdin EOF ends it.

let sandbox: Sandbox;

beforeEach(() => {
  sandbox = createSandbox();
});

afterEach(async () => {
  await killStarted();
  sandbox.remove();
});

/** What both SDK generations' clients offer, narrowed to this test's needs. */
interface StdioSession {
  listTools(): Promise<{ tools: Array<{ name: string }> }>;
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<Record<string, unknown>>;
  close(): Promise<void>;
  pid: number;
}

/** Collects a child's stderr from a transport's `stderr: 'pipe'` stream. */
function collect(stream: Stream | null): () => string {
  let text = '';
  (stream as Readable | null)?.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return () => text;
}

describe.each([
  [
    'v2 Client + StdioClientTransport',
    async (sandbox: Sandbox): Promise<{ session: StdioSession; stderr: () => string }> => {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [CLI, 'stdio'],
        env: sandbox.env(),
        cwd: sandbox.cwd,
        stderr: 'pipe',
      });
      const stderr = collect(transport.stderr);
      const client = new Client({ name: 'stdio-test-v2', version: '1.0.0' });
      await client.connect(transport);
      track(transport.pid!);
      return { session: Object.assign(client, { pid: transport.pid! }), stderr };
    },
  ],
  [
    'v1 Client + StdioClientTransport',
    async (sandbox: Sandbox): Promise<{ session: StdioSession; stderr: () => string }> => {
      const transport = new V1StdioClientTransport({
        command: process.execPath,
        args: [CLI, 'stdio'],
        env: sandbox.env(),
        cwd: sandbox.cwd,
        stderr: 'pipe',
      });
      const stderr = collect(transport.stderr);
      const client = new V1Client({ name: 'stdio-test-v1', version: '1.0.0' });
      await client.connect(transport);
      track(transport.pid!);
      return { session: Object.assign(client, { pid: transport.pid! }), stderr };
    },
  ],
])('%s', (_name, connect) => {
  it('lists server_status, calls it, and the server exits when the client closes', async () => {
    const { session, stderr } = await connect(sandbox);
    try {
      const { tools } = await session.listTools();
      expect(tools.map((tool) => tool.name)).toContain('server_status');

      const result = await session.callTool({ name: 'server_status', arguments: {} });
      expect(result.structuredContent).toMatchObject({
        version: PACKAGE_VERSION,
        transports: ['stdio'],
        storage: 'memory',
        sessions: { active: 1, byTransport: { stdio: 1 } },
        process: { pid: session.pid },
        caller: { clientId: 'local' },
      });
      expect(result.content).toEqual([
        {
          type: 'text',
          text: expect.stringMatching(
            new RegExp(
              `^claude-code-mcp ${PACKAGE_VERSION.replace(/\./g, '\\.')}, up [\\d.]+s, transports stdio, storage memory; sessions 1/1000$`,
            ),
          ),
        },
      ]);
    } finally {
      await session.close();
    }

    await waitFor(() => !isRunning(session.pid), 'the stdio server to exit', 3000);
    // close() ends stdin and signals only 2 s later: the reason proves the server left on EOF, not on SIGTERM.
    const logs = parseJsonLines(stderr());
    expect(logs.map((line) => line.message)).toEqual(expect.arrayContaining(['serving on stdio', 'stopped']));
    expect(logs.find((line) => line.message === 'stopped')).toMatchObject({ reason: 'stdin closed' });
  });
});

describe('raw stdio', () => {
  it('writes only JSON-RPC to stdout, logs to stderr, and exits 0 when stdin closes', async () => {
    const server = spawnCli(['stdio'], { env: sandbox.env(), cwd: sandbox.cwd });
    const send = (message: unknown) => server.child.stdin!.write(`${JSON.stringify(message)}\n`);
    const responses = () => parseJsonLines(server.stdout()).filter((line) => 'id' in line);

    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1.0.0' } },
    });
    await waitFor(() => responses().length === 1, 'the initialize response');
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'server_status', arguments: {} } });
    await waitFor(() => responses().length === 2, 'the tools/call response');

    const endedAt = Date.now();
    server.child.stdin!.end();
    const exit = await within(server.exited, 5000, 'exit after stdin closed');
    console.log(`stdio: stdin EOF to exit in ${Date.now() - endedAt} ms`);
    expect(exit).toEqual({ code: 0, signal: null });

    const stdoutLines = server
      .stdout()
      .split('\n')
      .filter((line) => line.length > 0);
    expect(stdoutLines.length).toBeGreaterThanOrEqual(2);
    for (const line of stdoutLines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: '2.0' });
    expect(responses()).toEqual([
      expect.objectContaining({
        id: 1,
        result: expect.objectContaining({ serverInfo: expect.objectContaining({ name: 'claude-code-mcp', version: PACKAGE_VERSION }) }),
      }),
      expect.objectContaining({
        id: 2,
        result: expect.objectContaining({ structuredContent: expect.objectContaining({ transports: ['stdio'] }) }),
      }),
    ]);

    const stderrLines = server
      .stderr()
      .split('\n')
      .filter((line) => line.length > 0);
    expect(stderrLines.length).toBeGreaterThan(0);
    const logs = stderrLines.map((line) => JSON.parse(line) as { level: string; message: string });
    expect(logs.map((line) => line.message)).toEqual(expect.arrayContaining(['serving on stdio', 'session ended', 'stopped']));
    for (const line of logs) expect(line).toEqual(expect.objectContaining({ level: expect.any(String), message: expect.any(String) }));
  });
});
