import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { BusEvent } from '../../server/events/bus.js';
import { lastToolResult, messageText, type MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import { startClaudeHarness, type ClaudeHarness, type RunStructured, type ToolResult, structuredOf } from '../helpers/claude-harness.js';
import { waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { isAlive, type ClaudeSandbox } from '../helpers/claude-env.js';

type Structured = RunStructured;

describe('Claude Code tools over real HTTP, against the real binary and the mock API', () => {
  let harness: ClaudeHarness;
  let mock: MockAnthropicApi;
  let sandbox: ClaudeSandbox;
  let server: TestServer;
  let client: Client;
  let events: BusEvent[];

  const call = async (name: string, args: Record<string, unknown>, options: Parameters<Client['callTool']>[1] = {}) => {
    const result = (await client.callTool({ name, arguments: args }, { timeout: 60_000, ...options })) as ToolResult;
    return { ...result, s: structuredOf(result) as Structured };
  };

  beforeAll(async () => {
    harness = await startClaudeHarness({
      config: { maxConcurrentRuns: 4, runInterruptGraceMs: 1000, maxPromptLength: 5000 },
      // A server secret in the process environment: it must never reach the child.
      extraEnvironment: { MCP_API_KEYS: 'server-secret-key', WEBHOOK_SECRET: 'whsec-secret' },
    });
    ({ mock, sandbox, server, client, events } = harness);
  });
  afterAll(() => harness.stop());

  it('lists the Claude tools with output schemas', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['claude_ask', 'claude_plan', 'claude_resume', 'claude_abort']));
    for (const tool of tools.filter((t) => t.name.startsWith('claude_'))) expect(tool.outputSchema).toBeDefined();
    const ask = tools.find((t) => t.name === 'claude_ask')!;
    expect((ask.inputSchema.properties as Record<string, unknown>).query).toBeDefined();
  });

  it('claude_ask answers with text, session id, cost and usage, and emits tool events', async () => {
    mock.on({ prompt: 'ask-basic', replies: [{ kind: 'text', text: 'the answer is 42' }] });
    const { isError, s, content } = await call('claude_ask', { query: 'ask-basic' });
    expect(isError).toBeFalsy();
    expect(s.result).toBe('the answer is 42');
    expect(content?.[0]?.text).toBe('the answer is 42');
    expect(s.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.costUsd).toBeGreaterThan(0);
    expect(s.numTurns).toBe(1);
    expect(s.workingDirectory).toBe(sandbox.workspace);
    const completed = events.find((e) => e.type === 'tool.completed' && (e.data as { sessionId?: string }).sessionId === s.sessionId);
    expect(completed?.data).toMatchObject({ tool: 'claude_ask', owner: 'local', costUsd: s.costUsd });
    expect(events.some((e) => e.type === 'tool.called' && (e.data as { tool: string }).tool === 'claude_ask')).toBe(true);
  });

  it('works for a v1 client too', async () => {
    mock.on({ prompt: 'ask-v1', replies: [{ kind: 'text', text: 'v1 ok' }] });
    const v1 = new V1Client({ name: 'v1', version: '1' });
    await v1.connect(new V1StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    try {
      const result = await v1.callTool({ name: 'claude_ask', arguments: { query: 'ask-v1' } });
      expect((structuredOf(result) as Structured).result).toBe('v1 ok');
    } finally {
      await v1.close();
    }
  });

  it('works for a 2026-07-28 (stateless) client, with progress', async () => {
    mock.on({ prompt: 'ask-modern', replies: [{ kind: 'text', text: 'modern ok', chunks: 3, chunkDelayMs: 20 }] });
    const modern = new Client({ name: 'modern', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    await modern.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    try {
      const progress: string[] = [];
      const result = await modern.callTool(
        { name: 'claude_ask', arguments: { query: 'ask-modern' } },
        { timeout: 60_000, onprogress: (p) => void progress.push(String(p.message)) },
      );
      expect((structuredOf(result) as Structured).result).toBe('modern ok');
      expect(progress.at(-1)).toMatch(/^finished: success/);
    } finally {
      await modern.close();
    }
  });

  it('works over legacy HTTP+SSE', async () => {
    mock.on({ prompt: 'ask-sse', replies: [{ kind: 'text', text: 'sse ok' }] });
    const sse = new Client({ name: 'sse', version: '1' });
    await sse.connect(new SSEClientTransport(new URL(`${server.url}/sse`)));
    try {
      const result = await sse.callTool({ name: 'claude_ask', arguments: { query: 'ask-sse' } }, { timeout: 60_000 });
      expect((structuredOf(result) as Structured).result).toBe('sse ok');
    } finally {
      await sse.close();
    }
  });

  it('claude_resume continues the session: the binary sends the prior messages', async () => {
    mock.on({ prompt: 'resume-first', replies: [{ kind: 'text', text: 'first answer' }] });
    mock.on({ prompt: 'resume-second', replies: [{ kind: 'text', text: 'second answer' }] });
    const first = await call('claude_ask', { query: 'resume-first' });
    const second = await call('claude_resume', { sessionId: first.s.sessionId, query: 'resume-second' });
    expect(second.isError).toBeFalsy();
    expect(second.s.result).toBe('second answer');
    expect(second.s.sessionId).toBe(first.s.sessionId);
    const [request] = mock.requestsFor('resume-second');
    const history = request!.body.messages.map(messageText).join('\n');
    expect(history).toContain('resume-first');
    expect(history).toContain('first answer');
  });

  it('claude_ask with sessionId resumes too, and fork gives a new id with the same history', async () => {
    mock.on({ prompt: 'fork-base', replies: [{ kind: 'text', text: 'base' }] });
    mock.on({ prompt: 'fork-branch', replies: [{ kind: 'text', text: 'branch' }] });
    const base = await call('claude_ask', { query: 'fork-base' });
    const forked = await call('claude_resume', { sessionId: base.s.sessionId, query: 'fork-branch', fork: true });
    expect(forked.isError).toBeFalsy();
    expect(forked.s.sessionId).not.toBe(base.s.sessionId);
    expect(forked.s.forkedFrom).toBe(base.s.sessionId);
    expect(mock.requestsFor('fork-branch')[0]!.body.messages.map(messageText).join('\n')).toContain('fork-base');
    // The fork is owned by the caller as well and can be continued.
    mock.on({ prompt: 'fork-again', replies: [{ kind: 'text', text: 'again' }] });
    const again = await call('claude_ask', { sessionId: forked.s.sessionId, query: 'fork-again' });
    expect(again.s.sessionId).toBe(forked.s.sessionId);
  });

  it('claude_plan refuses writes and returns the plan', async () => {
    mock.on({
      prompt: 'plan-please',
      replies: [
        { kind: 'tool_use', name: 'Write', input: { file_path: path.join(sandbox.workspace, 'plan-made.txt'), content: 'x' } },
        { kind: 'text', text: '1. read the code\n2. change it' },
      ],
    });
    const { isError, s } = await call('claude_plan', { query: 'plan-please' });
    expect(isError).toBeFalsy();
    expect(s.result).toContain('1. read the code');
    expect(existsSync(path.join(sandbox.workspace, 'plan-made.txt'))).toBe(false);
    const toolResult = lastToolResult(mock.requestsFor('plan-please')[1]!);
    expect(toolResult?.isError).toBe(true);
  });

  it('denies tools that are not allowed and lists the denial; allowedTools lets them run', async () => {
    const write = (file: string) => ({
      kind: 'tool_use' as const,
      name: 'Write',
      input: { file_path: path.join(sandbox.workspace, file), content: 'w\n' },
    });
    mock.on({ prompt: 'tools-denied', replies: [write('denied.txt'), { kind: 'text', text: 'could not' }] });
    mock.on({ prompt: 'tools-allowed', replies: [write('allowed.txt'), { kind: 'text', text: 'wrote it' }] });
    const denied = await call('claude_ask', { query: 'tools-denied' });
    expect(denied.isError).toBeFalsy();
    expect(denied.s.permissionDenials.map((d) => d.toolName)).toContain('Write');
    expect(existsSync(path.join(sandbox.workspace, 'denied.txt'))).toBe(false);
    const allowed = await call('claude_ask', { query: 'tools-allowed', allowedTools: ['Write'] });
    expect(allowed.s.permissionDenials).toEqual([]);
    expect(readFileSync(path.join(sandbox.workspace, 'allowed.txt'), 'utf8')).toBe('w\n');
  });

  it('asks the user through MCP elicitation about a tool that is neither allowed nor disallowed', async () => {
    const asked: string[] = [];
    const elicitingClient = new Client({ name: 'eliciting', version: '1' }, { capabilities: { elicitation: { form: {} } } });
    elicitingClient.setRequestHandler('elicitation/create', async (request) => {
      const message = String((request.params as { message: string }).message);
      asked.push(message);
      return { action: 'accept', content: { allow: message.includes('approved.txt') } };
    });
    await elicitingClient.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    try {
      const write = (file: string) => ({
        kind: 'tool_use' as const,
        name: 'Write',
        input: { file_path: path.join(sandbox.workspace, file), content: 'e\n' },
      });
      mock.on({ prompt: 'elicit-yes', replies: [write('approved.txt'), { kind: 'text', text: 'approved' }] });
      mock.on({ prompt: 'elicit-no', replies: [write('refused.txt'), { kind: 'text', text: 'refused' }] });
      const yes = (await elicitingClient.callTool({ name: 'claude_ask', arguments: { query: 'elicit-yes' } }, { timeout: 60_000 }))
        .structuredContent as Structured;
      expect(yes.permissionDenials).toEqual([]);
      expect(readFileSync(path.join(sandbox.workspace, 'approved.txt'), 'utf8')).toBe('e\n');
      const no = (await elicitingClient.callTool({ name: 'claude_ask', arguments: { query: 'elicit-no' } }, { timeout: 60_000 }))
        .structuredContent as Structured;
      expect(no.permissionDenials.map((d) => d.toolName)).toContain('Write');
      expect(existsSync(path.join(sandbox.workspace, 'refused.txt'))).toBe(false);
      expect(asked).toHaveLength(2);
      expect(asked[0]).toContain('Claude Code wants to use Write');
    } finally {
      await elicitingClient.close();
    }
  });

  it('runs hooks where the sandbox is off: sessionStart, preToolUse and postToolUse commands execute in the working directory', async () => {
    mkdirSync(path.join(sandbox.workspace, 'hooked'), { recursive: true });
    const dir = path.join(sandbox.workspace, 'hooked');
    writeFileSync(path.join(dir, 'input.txt'), 'read me\n');
    mock.on({
      prompt: 'hooks-run',
      replies: [
        { kind: 'tool_use', name: 'Read', input: { file_path: path.join(dir, 'input.txt') } },
        { kind: 'text', text: 'hooked' },
      ],
    });
    const hooks = { sessionStart: ['touch started.flag'], preToolUse: ['touch pre.flag'], postToolUse: ['touch post.flag'] };
    // Hooks run outside Claude Code's command sandbox, so a sandboxed server refuses them...
    const refused = await call('claude_ask', { query: 'hooks-run', workingDirectory: 'hooked', hooks });
    expect(refused.s.error?.category).toBe('permission_denied');
    // ...and one whose operator switched the sandbox off runs them.
    const unsandboxed = await startTestServer(
      { workspaceRoots: [harness.sandbox.workspace], claudeSandbox: 'off' },
      { claudeEnvironment: harness.sandbox.env },
    );
    const client = new Client({ name: 'hooks', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(unsandboxed.mcpUrl)));
    let result: ToolResult;
    try {
      result = (await client.callTool(
        { name: 'claude_ask', arguments: { query: 'hooks-run', workingDirectory: 'hooked', hooks } },
        { timeout: 60_000 },
      )) as ToolResult;
    } finally {
      await client.close();
      await unsandboxed.stop();
    }
    expect(result.isError).toBeFalsy();
    expect((structuredOf(result) as RunStructured).result).toBe('hooked');
    expect(['started.flag', 'pre.flag', 'post.flag'].filter((flag) => existsSync(path.join(dir, flag)))).toEqual([
      'started.flag',
      'pre.flag',
      'post.flag',
    ]);
  });

  it('outputSchema returns the answer as structuredOutput', async () => {
    mock.on({
      prompt: 'structured-please',
      replies: [
        { kind: 'tool_use', name: 'StructuredOutput', input: { answer: 42 } },
        { kind: 'text', text: 'done' },
      ],
    });
    const schema = { type: 'object', properties: { answer: { type: 'number' } }, required: ['answer'] };
    const { isError, structuredContent } = await call('claude_ask', { query: 'structured-please', outputSchema: schema });
    expect(isError).toBeFalsy();
    expect(structuredContent).toMatchObject({ structuredOutput: { answer: 42 } });
    expect(mock.requestsFor('structured-please')[0]!.body.tools!.map((t) => t.name)).toContain('StructuredOutput');
  });

  it('disallowedTools removes a tool from the run entirely', async () => {
    mock.on({ prompt: 'tools-disallowed', replies: [{ kind: 'text', text: 'fine' }] });
    await call('claude_ask', { query: 'tools-disallowed', disallowedTools: ['Bash'] });
    const offered = mock.requestsFor('tools-disallowed')[0]!.body.tools!.map((t) => t.name);
    expect(offered).not.toContain('Bash');
    expect(offered).toContain('Read');
  });

  it('gives the child only the allow-listed environment: server secrets never reach it', async () => {
    mock.on({
      prompt: 'env-probe',
      replies: [
        { kind: 'tool_use', name: 'Bash', input: { command: 'env', description: 'print env' } },
        { kind: 'text', text: 'seen' },
      ],
    });
    const { s } = await call('claude_ask', { query: 'env-probe', allowedTools: ['Bash'] });
    expect(s.permissionDenials).toEqual([]);
    const output = lastToolResult(mock.requestsFor('env-probe')[1]!)!.content;
    expect(output).toContain('ANTHROPIC_BASE_URL=');
    expect(output).not.toContain('server-secret-key');
    expect(output).not.toContain('whsec-secret');
  });

  it('streams progress notifications while Claude works', async () => {
    mock.on({
      prompt: 'progress-run',
      replies: [
        { kind: 'tool_use', name: 'Read', input: { file_path: path.join(sandbox.workspace, 'allowed.txt') } },
        { kind: 'text', text: 'streaming text in several pieces', chunks: 4, chunkDelayMs: 30 },
      ],
    });
    const messages: string[] = [];
    const { s } = await call('claude_ask', { query: 'progress-run' }, { onprogress: (p) => void messages.push(String(p.message)) });
    expect(s.result).toBe('streaming text in several pieces');
    expect(messages.some((m) => m.startsWith('tool: Read'))).toBe(true);
    expect(messages.some((m) => m.startsWith('text: '))).toBe(true);
    expect(messages.at(-1)).toMatch(/^finished: success/);
  });

  it('reports subagent work in progress and passes thinkingLevel on to the API', async () => {
    mock.on({
      prompt: 'delegate-main',
      replies: [
        {
          kind: 'tool_use',
          name: 'Agent',
          input: { description: 'look around', prompt: 'SUBAGENT-TASK-PROMPT', subagent_type: 'general-purpose' },
        },
        { kind: 'text', text: 'main done' },
      ],
    });
    mock.on({ prompt: 'SUBAGENT-TASK-PROMPT', replies: [{ kind: 'text', text: 'sub done' }] });
    const messages: string[] = [];
    const { s } = await call(
      'claude_ask',
      { query: 'delegate-main', allowedTools: ['Agent', 'Task'], thinkingLevel: 'think-hard' },
      { onprogress: (p) => void messages.push(String(p.message)) },
    );
    expect(s.result).toBe('main done');
    expect(mock.requestsFor('SUBAGENT-TASK-PROMPT').length).toBeGreaterThan(0);
    expect(messages.some((m) => m.startsWith('tool: Agent'))).toBe(true);
    expect(messages.some((m) => m.startsWith('subagent started'))).toBe(true);
    const body = mock.requestsFor('delegate-main')[0]!.body;
    // think-hard -> effort high (adaptive-thinking models take the effort; older ones the 10k-token budget).
    expect(body.output_config).toMatchObject({ effort: 'high' });
  });

  it('MCP cancellation interrupts the run and the child exits', async () => {
    mock.on({ prompt: 'cancel-me', replies: [{ kind: 'text', text: 'x'.repeat(400), chunks: 200, chunkDelayMs: 50 }] });
    const controller = new AbortController();
    const pending = call('claude_ask', { query: 'cancel-me' }, { signal: controller.signal });
    await waitFor(() => mock.requestsFor('cancel-me').length > 0, 15_000);
    const [run] = server.container.claude.executor.live();
    expect(run?.pid).toBeDefined();
    controller.abort();
    await expect(pending).rejects.toThrow();
    await waitFor(() => server.container.claude.executor.live().length === 0, 10_000);
    expect(isAlive(run!.pid!)).toBe(false);
    await waitFor(() => events.some((e) => e.type === 'tool.error' && (e.data as { category: string }).category === 'aborted'), 5000);
  });

  it('a stateless (2026-07-28) request going away interrupts the run too', async () => {
    mock.on({ prompt: 'cancel-modern', replies: [{ kind: 'text', text: 'z'.repeat(400), chunks: 200, chunkDelayMs: 50 }] });
    const modern = new Client({ name: 'modern-cancel', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    await modern.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    try {
      const controller = new AbortController();
      const pending = modern.callTool(
        { name: 'claude_ask', arguments: { query: 'cancel-modern' } },
        { timeout: 60_000, signal: controller.signal },
      );
      await waitFor(() => mock.requestsFor('cancel-modern').length > 0, 15_000);
      const [run] = server.container.claude.executor.live();
      controller.abort();
      await expect(pending).rejects.toThrow();
      await waitFor(() => server.container.claude.executor.live().length === 0, 10_000);
      expect(isAlive(run!.pid!)).toBe(false);
    } finally {
      await modern.close();
    }
  });

  it('claude_abort interrupts a running session of the caller', async () => {
    mock.on({ prompt: 'abort-me', replies: [{ kind: 'text', text: 'y'.repeat(400), chunks: 200, chunkDelayMs: 50 }] });
    const pending = call('claude_ask', { query: 'abort-me' });
    await waitFor(() => server.container.claude.executor.live().some((r) => r.sessionId && r.status === 'running'), 15_000);
    await waitFor(() => mock.requestsFor('abort-me').length > 0, 15_000);
    const sessionId = server.container.claude.executor.live()[0]!.sessionId!;
    const aborted = await call('claude_abort', { sessionId });
    expect(aborted.structuredContent).toMatchObject({ aborted: true, sessionId });
    const result = await pending;
    expect(result.isError).toBe(true);
    expect(result.s.error?.category).toBe('aborted');
    const again = await call('claude_abort', { sessionId });
    expect(again.s.error?.category).toBe('session_not_found');
  });
});
