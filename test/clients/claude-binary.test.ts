/**
 * Claude Code itself as an MCP client of this server: the bundled `claude` binary, run headless (`claude -p`) with an
 * MCP config pointing at the server over Streamable HTTP (an API key) and over stdio (`claude-code-mcp stdio`, as
 * Claude Desktop runs it). The mock Messages API plays the model: it calls a gateway tool, then one of our tools with
 * a bad argument; its request log shows what the binary got back from each.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BUNDLED_CLAUDE } from '../helpers/claude-env.js';
import { CLI } from '../helpers/cli-process.js';
import { lastToolResult, type RecordedRequest } from '../fixtures/mock-anthropic-api.js';
import { startMatrixServer, type MatrixServer } from './matrix.js';

/** Every tool_result the model was sent in the last request of a conversation. */
function toolResults(request: RecordedRequest | undefined): Array<{ content: string; isError: boolean }> {
  if (!request) return [];
  return request.body.messages
    .flatMap((message) => (typeof message.content === 'string' ? [] : message.content))
    .filter((block) => block.type === 'tool_result')
    .map((block) => ({
      content: typeof block.content === 'string' ? block.content : JSON.stringify(block.content),
      isError: block.is_error === true,
    }));
}

describe('the claude binary as an MCP client', () => {
  let matrix: MatrixServer;

  beforeAll(async () => {
    matrix = await startMatrixServer();
  }, 60_000);
  afterAll(async () => {
    await matrix?.stop();
  });

  /** `claude -p prompt` with `mcpConfig`; resolves with its stdout once it exits. */
  function runClaude(prompt: string, mcpConfig: Record<string, unknown>): Promise<{ code: number; stdout: string; stderr: string }> {
    const configFile = path.join(matrix.dir, `mcp-${Date.now()}.json`);
    writeFileSync(configFile, JSON.stringify({ mcpServers: { ccm: mcpConfig } }));
    const args = [
      '-p',
      prompt,
      '--output-format',
      'stream-json',
      '--verbose',
      '--mcp-config',
      configFile,
      '--strict-mcp-config',
      '--allowedTools',
      'mcp__ccm__alpha__echo,mcp__ccm__claude_ask,mcp__ccm__server_status',
    ];
    return new Promise((resolve) => {
      const child = execFile(
        BUNDLED_CLAUDE,
        args,
        { cwd: matrix.claude.workspace, env: matrix.claude.env, timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      // No prompt on stdin (it is in -p): a host closes it, or the binary waits 3 s for more.
      child.stdin?.end();
    });
  }

  /** The model calls the gateway's echo, then claude_ask with an empty query, then answers. */
  function script(prompt: string): void {
    matrix.mock.on({
      prompt,
      replies: [
        // The echoed text must not contain the prompt: the mock keys its script on the latest message holding it.
        { kind: 'tool_use', name: 'mcp__ccm__alpha__echo', input: { text: `echoed for ${prompt.replace('matrix-', '')}` } },
        { kind: 'tool_use', name: 'mcp__ccm__claude_ask', input: { query: '' } },
        (request) => ({ kind: 'text', text: `done: ${lastToolResult(request)?.content ?? 'nothing'}` }),
      ],
    });
  }

  function expectBothCalls(prompt: string, run: { code: number; stdout: string; stderr: string }): void {
    expect({ code: run.code, stderr: run.stderr.slice(-2000), stdout: run.code === 0 ? '' : run.stdout.slice(-3000) }).toMatchObject({
      code: 0,
    });
    // The binary's own account of its tools at start (MCP tools are deferred, so not all are in the API request):
    // the first tool list it got from the server already had the gateway's tools.
    const init = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map(
        (line) =>
          JSON.parse(line) as { type?: string; subtype?: string; tools?: string[]; mcp_servers?: Array<{ name: string; status: string }> },
      )
      .find((message) => message.type === 'system' && message.subtype === 'init');
    expect(init?.mcp_servers).toEqual([expect.objectContaining({ name: 'ccm', status: 'connected' })]);
    const offered = init?.tools ?? [];
    expect(offered).toEqual(expect.arrayContaining(['mcp__ccm__alpha__echo', 'mcp__ccm__claude_ask', 'mcp__ccm__server_status']));
    const results = toolResults(matrix.mock.requestsFor(prompt).at(-1));
    expect(results).toHaveLength(2);
    expect(results[0]).toMatchObject({ isError: false, content: expect.stringContaining(`echoed for ${prompt.replace('matrix-', '')}`) });
    expect(results[1]).toMatchObject({ isError: true, content: expect.stringContaining('invalid_input: query: must not be empty') });
  }

  it('over Streamable HTTP with an API key', async () => {
    script('matrix-http');
    const run = await runClaude('matrix-http', {
      type: 'http',
      url: matrix.server.mcpUrl,
      headers: { Authorization: `Bearer ${matrix.apiKey}` },
    });
    expectBothCalls('matrix-http', run);
  }, 120_000);

  it('over stdio, the gateway upstream included from the first tool list', async () => {
    script('matrix-stdio');
    const dataDir = path.join(matrix.dir, 'stdio-data');
    mkdirSync(dataDir, { recursive: true });
    const run = await runClaude('matrix-stdio', {
      type: 'stdio',
      command: process.execPath,
      args: [CLI, 'stdio'],
      env: {
        MCP_CONFIG_PATH: matrix.gatewayConfig,
        DATA_DIR: dataDir,
        STORAGE: 'memory',
        WORKSPACE_ROOTS: matrix.claude.workspace,
        LOG_LEVEL: 'warn',
      },
    });
    expectBothCalls('matrix-stdio', run);
  }, 120_000);
});
