import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClaudeExecutor } from '../../server/claude/executor.js';
import { createRunIsolation } from '../../server/claude/sandbox.js';
import { lastToolResult, startMockAnthropicApi, type MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import { BUNDLED_CLAUDE, createClaudeSandbox, type ClaudeSandbox } from '../helpers/claude-env.js';
import { startClaudeHarness, type ClaudeHarness, type RunStructured, type ToolResult, structuredOf } from '../helpers/claude-harness.js';
import { testLogger } from '../helpers/test-server.js';

const ask = async (harness: ClaudeHarness, args: Record<string, unknown>) => {
  const result = (await harness.client.callTool({ name: 'claude_ask', arguments: args }, { timeout: 60_000 })) as ToolResult;
  return { ...result, s: structuredOf(result) as RunStructured };
};
const health = async (harness: ClaudeHarness) =>
  (await (await fetch(`${harness.server.url}/health`)).json()) as {
    sandbox: { mode: string; ready: boolean; problem?: string };
    warnings?: string[];
  };

describe('CLAUDE_SANDBOX=required fails closed', () => {
  let harness: ClaudeHarness;
  beforeAll(async () => {
    // bubblewrap and socat are not on the PATH Claude gets: the sandbox cannot run.
    harness = await startClaudeHarness({ extraEnvironment: { PATH: '/nonexistent' } });
  });
  afterAll(() => harness.stop());

  it('says so on /health and answers sandbox_unavailable; nothing reaches the model', async () => {
    const report = await health(harness);
    expect(report.sandbox).toMatchObject({ mode: 'required', ready: false });
    expect(report.sandbox.problem).toContain('bubblewrap');
    expect(report.warnings?.join('\n')).toContain('sandbox_unavailable');
    const { isError, s, content } = await ask(harness, { query: 'never runs' });
    expect(isError).toBe(true);
    expect(s.error?.category).toBe('sandbox_unavailable');
    expect(content?.[0]?.text).toContain('sandbox');
    expect(harness.mock.requests).toHaveLength(0);
  });
});

describe('Claude Code itself refuses to run commands unsandboxed', () => {
  let mock: MockAnthropicApi;
  let sandbox: ClaudeSandbox;
  beforeAll(async () => {
    mock = await startMockAnthropicApi();
    sandbox = createClaudeSandbox(mock.url);
  });
  afterAll(async () => {
    await mock.close();
    sandbox.remove();
  });

  it('a run whose sandbox cannot start ends as sandbox_unavailable, even when the start-up probe said it could', async () => {
    const executor = createClaudeExecutor({
      cli: { ok: true, path: BUNDLED_CLAUDE },
      env: { ...sandbox.env, PATH: '/nonexistent' },
      maxConcurrentRuns: 1,
      maxQueuedRuns: 1,
      runTimeoutMs: 30_000,
      interruptGraceMs: 1000,
      isolation: createRunIsolation({ mode: 'required', allowedDomains: [], readPaths: [], protectedPaths: [] }),
      // As if bubblewrap had been removed after start-up.
      sandbox: { mode: 'required', ready: true },
      logger: testLogger(),
    });
    mock.on({
      prompt: 'unsandboxed?',
      replies: [
        { kind: 'tool_use', name: 'Bash', input: { command: 'echo ran > ran.txt' } },
        { kind: 'text', text: 'done' },
      ],
    });
    await expect(
      executor.run({
        owner: 'o',
        prompt: 'unsandboxed?',
        cwd: sandbox.workspace,
        priority: 'normal',
        permissionMode: 'default',
        allowedTools: ['Bash'],
        disallowedTools: [],
        maxTurns: 3,
        maxBudgetUsd: 1,
      }),
    ).rejects.toMatchObject({ category: 'sandbox_unavailable' });
    expect(mock.requestsFor('unsandboxed?')).toHaveLength(0);
    await executor.shutdown();
  });
});

describe('CLAUDE_SANDBOX=off', () => {
  let harness: ClaudeHarness;
  beforeAll(async () => {
    harness = await startClaudeHarness({ config: { claudeSandbox: 'off' } });
  });
  afterAll(() => harness.stop());

  it('is reported as a warning on /health; runs still work, file tools stay confined', async () => {
    const report = await health(harness);
    expect(report.sandbox).toMatchObject({ mode: 'off', ready: true });
    expect(report.warnings?.join('\n')).toContain('not sandboxed');
    const outside = path.join(harness.sandbox.root, 'outside.txt');
    writeFileSync(outside, 'OUTSIDE-OFF');
    harness.mock.on({
      prompt: 'off-read',
      replies: [
        { kind: 'tool_use', name: 'Read', input: { file_path: outside } },
        (request) => ({ kind: 'text', text: lastToolResult(request)?.content ?? '' }),
      ],
    });
    const { s } = await ask(harness, { query: 'off-read' });
    expect(s.result).toContain('outside');
    expect(s.result).not.toContain('OUTSIDE-OFF');
  });
});

describe('who may ask for what', () => {
  let harness: ClaudeHarness;
  beforeAll(async () => {
    harness = await startClaudeHarness({
      // With authentication off every caller is the local one, which holds every scope; `nobody` takes exec away.
      config: { claudeExecTools: 'nobody', claudeSandboxAllowedDomains: ['docs.example.com'] },
      prepare: (sandbox) => mkdirSync(path.join(sandbox.workspace, 'extra'), { recursive: true }),
    });
  });
  afterAll(() => harness.stop());

  it('CLAUDE_EXEC_TOOLS=nobody withholds Bash from every caller', async () => {
    const { s } = await ask(harness, { query: 'exec?', allowedTools: ['Bash'] });
    expect(s.error?.category).toBe('permission_denied');
    harness.mock.on({ prompt: 'exec-anyway', replies: [{ kind: 'text', text: 'fine' }] });
    await ask(harness, { query: 'exec-anyway' });
    const offered = harness.mock.requestsFor('exec-anyway')[0]!.body.tools?.map((tool) => tool.name) ?? [];
    expect(offered).toContain('Read');
    expect(offered).not.toContain('Bash');
  });

  it('additionalDirectories inside the workspace become working directories the file tools may use', async () => {
    const file = path.join(harness.sandbox.workspace, 'extra', 'note.txt');
    writeFileSync(file, 'EXTRA-CONTENT');
    mkdirSync(path.join(harness.sandbox.workspace, 'main'), { recursive: true });
    harness.mock.on({
      prompt: 'extra-dir',
      replies: [
        { kind: 'tool_use', name: 'Read', input: { file_path: file } },
        (request) => ({ kind: 'text', text: lastToolResult(request)?.content ?? '' }),
      ],
    });
    const without = await ask(harness, { query: 'extra-dir', workingDirectory: 'main' });
    expect(without.s.result).not.toContain('EXTRA-CONTENT');
    const withExtra = await ask(harness, { query: 'extra-dir', workingDirectory: 'main', additionalDirectories: ['extra'] });
    expect(withExtra.s.result).toContain('EXTRA-CONTENT');
  });

  it('WebFetch reaches only the allowed hosts: loopback and metadata addresses are refused before any request', async () => {
    harness.mock.on({
      prompt: 'fetch-attack',
      replies: [
        { kind: 'tool_use', name: 'WebFetch', input: { url: `${harness.server.url}/health`, prompt: 'x' } },
        { kind: 'tool_use', name: 'WebFetch', input: { url: 'http://169.254.169.254/latest/meta-data/', prompt: 'x' } },
        { kind: 'tool_use', name: 'WebFetch', input: { url: 'https://docs.example.com.evil.test/', prompt: 'x' } },
        { kind: 'tool_use', name: 'WebFetch', input: { url: 'https://docs.example.com/guide', prompt: 'x' } },
        { kind: 'text', text: 'done' },
      ],
    });
    await ask(harness, { query: 'fetch-attack', allowedTools: ['WebFetch'] });
    const conversation = harness.mock.requestsFor('fetch-attack').at(-1)!.body.messages;
    const results = conversation
      .flatMap((message) => (typeof message.content === 'string' ? [] : message.content))
      .filter((block) => block.type === 'tool_result')
      .map((block) => JSON.stringify(block.content));
    expect(results).toHaveLength(4);
    for (const refused of results.slice(0, 3)) expect(refused).toContain('fetch only from docs.example.com');
    // The allowed host passes the guard (offline here, so the fetch itself fails further on).
    expect(results[3]).not.toContain('fetch only from');
  });
});
