import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { startMockAnthropicApi, type MockAnthropicApi, type MockReply } from '../fixtures/mock-anthropic-api.js';
import { createClaudeSandbox, isAlive, type ClaudeSandbox } from '../helpers/claude-env.js';
import { waitFor } from '../helpers/http.js';
import { modernRpc, pollTask, TASKS_EXTENSION, type ModernRpc } from '../helpers/modern-rpc.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * MCP tasks for the Claude tools, against the real `claude` binary and the mock Messages API, over real HTTP with
 * API-key authentication (two principals). A "long" call here waits LONG_MS before the mock's first byte
 * (TASK_TEST_LONG_MS, default 3 s): a call of 90 s or an hour takes the same path — the task answers at once and the
 * run goes on detached from any request — only the wait differs.
 */
const LONG_MS = Number(process.env.TASK_TEST_LONG_MS ?? 3000);
const GRACE_MS = 1000;
const ALICE = 'key-alice-0123456789';
const BOB = 'key-bob-0123456789';
const RELATED_TASK = 'io.modelcontextprotocol/related-task';

type ToolResult = {
  content?: Array<{ type: string; text?: string }>;
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
};
const looseObject = z.object({}).passthrough();
const createdSchema = z
  .object({
    task: z
      .object({ taskId: z.string(), status: z.string(), ttl: z.number().nullable(), pollInterval: z.number().optional() })
      .passthrough(),
  })
  .passthrough();

/** What differs between two runs of the same answer: the session, the wall time, and the related-task marker. */
function comparable(result: ToolResult) {
  const { sessionId: _s, durationMs: _d, ...structured } = result.structuredContent ?? {};
  return { content: result.content, isError: result.isError ?? false, structuredContent: structured };
}

/** A 2026 answer without the server's own `_meta` (serverInfo): an acknowledgement is then `{ resultType: 'complete' }`. */
function bare(result: Record<string, unknown> | undefined) {
  const { _meta: _m, ...rest } = result ?? {};
  return rest;
}

describe('MCP tasks of the Claude tools (2025-11-25 and 2026-07-28)', () => {
  let mock: MockAnthropicApi;
  let sandbox: ClaudeSandbox;
  let dataDir: string;
  let server: TestServer;
  const clients: Array<{ close(): Promise<void> }> = [];

  const start = async () => {
    server = await startTestServer(
      {
        storage: 'sqlite',
        dataDir,
        authMode: 'oauth',
        authInitialAdmin: false,
        apiKeys: [`${ALICE}:client-alice`, `${BOB}:client-bob`],
        workspaceRoots: [sandbox.workspace],
        runInterruptGraceMs: GRACE_MS,
        taskPollIntervalMs: 200,
        progressIntervalMs: 400,
        maxAsyncProcesses: 8,
      },
      { claudeEnvironment: sandbox.env },
    );
  };
  const auth = (token: string) => ({ requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const v1 = async (token: string, capabilities: Record<string, unknown> = {}) => {
    const client = new V1Client({ name: 'v1-tasks', version: '1' }, { capabilities });
    await client.connect(new V1Transport(new URL(server.mcpUrl), auth(token)));
    clients.push(client);
    return client;
  };
  const v2 = async (token: string, options: ConstructorParameters<typeof Client>[1] = {}) => {
    const client = new Client({ name: 'v2-tasks', version: '1' }, options);
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl), auth(token)));
    clients.push(client);
    return client;
  };
  const modern = (token: string, capabilities: Record<string, unknown> = { extensions: { [TASKS_EXTENSION]: {} } }) =>
    modernRpc(server.mcpUrl, { token, capabilities });
  /** Polls 2026 `tasks/get` until `done`. */
  const poll2026 = (rpc: ModernRpc, taskId: string, done: (task: Record<string, unknown>) => boolean, timeoutMs = 30_000) =>
    pollTask(rpc, taskId, done, timeoutMs);
  const runningPid = async (owner: string) => {
    let pid: number | undefined;
    await waitFor(() => {
      pid = server.container.claude.executor.live(owner).find((run) => run.pid !== undefined && run.status === 'running')?.pid;
      return pid !== undefined;
    }, 20_000);
    return pid!;
  };
  const write = (file: string): MockReply => ({
    kind: 'tool_use',
    name: 'Write',
    input: { file_path: path.join(sandbox.workspace, file), content: 'written\n' },
  });

  beforeAll(async () => {
    mock = await startMockAnthropicApi();
    sandbox = createClaudeSandbox(mock.url);
    dataDir = mkdtempSync(path.join(tmpdir(), 'ccm-tasks-'));
    mock.on({ prompt: 'task-hang', replies: [{ kind: 'hang' }] });
    await start();
  });
  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await server.stop();
    await mock.close();
    sandbox.remove();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('2025-11-25, v1 client: a long claude_ask is a task at once, polled to completion, with the result a direct call gives', async () => {
    mock.on({ prompt: 'v1-long-task', replies: [{ kind: 'text', text: 'the long answer', delayMs: LONG_MS }] });
    mock.on({ prompt: 'v1-long-direct', replies: [{ kind: 'text', text: 'the long answer' }] });
    const client = await v1(ALICE);
    expect(client.getServerCapabilities()?.tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
    const { tools } = await client.listTools();
    const support = Object.fromEntries(tools.map((tool) => [tool.name, tool.execution?.taskSupport]));
    expect(support).toMatchObject({
      claude_ask: 'optional',
      claude_resume: 'optional',
      claude_plan: 'optional',
      claude_checkpoint: 'optional',
    });
    expect(support.claude_abort).toBeUndefined();
    expect(support.claude_background_tasks).toBeUndefined();

    const started = Date.now();
    let createdAfter = Infinity;
    const statuses: string[] = [];
    let result: ToolResult | undefined;
    for await (const message of client.experimental.tasks.callToolStream(
      { name: 'claude_ask', arguments: { query: 'v1-long-task' } },
      undefined,
      { task: { ttl: 120_000 } },
    )) {
      if (message.type === 'taskCreated') createdAfter = Date.now() - started;
      if (message.type === 'taskStatus') statuses.push(message.task.status);
      if (message.type === 'result') result = message.result as ToolResult;
      if (message.type === 'error') throw message.error;
    }
    // At once: long before the run (LONG_MS) could have ended, however loaded the machine.
    expect(createdAfter).toBeLessThan(LONG_MS / 2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(LONG_MS);
    expect(statuses[0]).toBe('working');
    expect(statuses.at(-1)).toBe('completed');
    const taskId = (result!._meta?.[RELATED_TASK] as { taskId: string }).taskId;
    const direct = (await client.callTool({ name: 'claude_ask', arguments: { query: 'v1-long-direct' } }, undefined, {
      timeout: 60_000,
    })) as ToolResult;
    expect(comparable(result!)).toEqual(comparable(direct));
    expect(result!.structuredContent!.result).toBe('the long answer');

    const task = await client.experimental.tasks.getTask(taskId);
    expect(task).toMatchObject({ taskId, status: 'completed', ttl: 120_000, pollInterval: 200 });
    expect((await client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toContain(taskId);
  });

  it('2025-11-25, v2 client (raw requests): task, tasks/get, tasks/result, tasks/list — and backgroundTask records are the same tasks', async () => {
    mock.on({ prompt: 'v2-long-task', replies: [{ kind: 'text', text: 'v2 answer', delayMs: LONG_MS }] });
    mock.on({ prompt: 'v2-direct', replies: [{ kind: 'text', text: 'v2 answer' }] });
    mock.on({ prompt: 'v2-background', replies: [{ kind: 'text', text: 'background answer' }] });
    const client = await v2(ALICE);
    const started = Date.now();
    const created = await client.request(
      { method: 'tools/call', params: { name: 'claude_ask', arguments: { query: 'v2-long-task' }, task: { ttl: 90_000 } } },
      createdSchema,
    );
    expect(Date.now() - started).toBeLessThan(LONG_MS / 2);
    const { taskId } = created.task;
    expect(created.task).toMatchObject({ status: 'working', ttl: 90_000, pollInterval: 200 });
    expect(taskId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    let status = 'working';
    while (status === 'working') {
      status = (await client.request({ method: 'tasks/get', params: { taskId } }, looseObject)).status as string;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(status).toBe('completed');
    const result = (await client.request({ method: 'tasks/result', params: { taskId } }, looseObject)) as ToolResult;
    expect(result._meta?.[RELATED_TASK]).toEqual({ taskId });
    const direct = (await client.callTool({ name: 'claude_ask', arguments: { query: 'v2-direct' } }, { timeout: 60_000 })) as ToolResult;
    expect(comparable(result)).toEqual(comparable(direct));

    // A background task is a task like any other: tasks/get knows it, and both are listed together.
    const background = (await client.callTool({
      name: 'claude_ask',
      arguments: { query: 'v2-background', backgroundTask: true },
    })) as ToolResult;
    const backgroundId = background.structuredContent!.taskId as string;
    let backgroundStatus = 'working';
    while (backgroundStatus === 'working') {
      backgroundStatus = (await client.request({ method: 'tasks/get', params: { taskId: backgroundId } }, looseObject)).status as string;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(backgroundStatus).toBe('completed');
    const listed = (await client.request({ method: 'tasks/list', params: {} }, looseObject)).tasks as Array<{ taskId: string }>;
    expect(listed.map((t) => t.taskId)).toEqual(expect.arrayContaining([taskId, backgroundId]));
    const mine = (await client.callTool({ name: 'claude_background_tasks', arguments: { action: 'list' } })).structuredContent as {
      tasks: Array<{ taskId: string; tool: string; status: string }>;
    };
    expect(mine.tasks.find((t) => t.taskId === taskId)).toMatchObject({ tool: 'claude_ask', status: 'completed' });
  });

  it('2026-07-28 (raw JSON-RPC): declared extension -> a task at once; tasks/get until completed with the direct result inline; -32021 without it', async () => {
    mock.on({ prompt: 'modern-long-task', replies: [{ kind: 'text', text: 'modern answer', delayMs: LONG_MS }] });
    mock.on({ prompt: 'modern-direct', replies: [{ kind: 'text', text: 'modern answer' }] });
    const rpc = modern(ALICE);
    const discovered = await rpc.request('server/discover', {});
    const capabilities = discovered.result!.capabilities as Record<string, Record<string, unknown>>;
    expect(capabilities.extensions![TASKS_EXTENSION]).toEqual({});
    expect(capabilities.tasks).toBeUndefined();

    const started = Date.now();
    const created = await rpc.request('tools/call', { name: 'claude_ask', arguments: { query: 'modern-long-task' } });
    expect(Date.now() - started).toBeLessThan(LONG_MS / 2);
    expect(created.status).toBe(200);
    expect(created.result).toMatchObject({ resultType: 'task', status: 'working', ttlMs: 24 * 3600_000, pollIntervalMs: 200 });
    expect(created.result).not.toHaveProperty('content');
    expect(created.result).not.toHaveProperty('requestState');
    const taskId = created.result!.taskId as string;
    const immediately = await rpc.request('tasks/get', { taskId });
    expect(immediately.result).toMatchObject({ taskId, status: 'working', resultType: 'complete' });

    const done = await poll2026(rpc, taskId, (task) => task.status !== 'working');
    expect(done.status).toBe('completed');
    const direct = await modern(ALICE, {}).request('tools/call', { name: 'claude_ask', arguments: { query: 'modern-direct' } });
    expect(direct.result).not.toHaveProperty('taskId');
    const inline = done.result as ToolResult;
    expect(inline._meta?.[RELATED_TASK]).toBeUndefined();
    expect(comparable(inline)).toEqual(comparable(direct.result as ToolResult));

    const undeclared = modern(ALICE, {});
    for (const [method, params] of [
      ['tasks/get', { taskId }],
      ['tasks/update', { taskId, inputResponses: {} }],
      ['tasks/cancel', { taskId }],
    ] as const) {
      const refused = await undeclared.request(method, params);
      expect(refused.status).toBe(400);
      expect(refused.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } } });
    }
    expect((await rpc.request('tasks/result', { taskId })).error?.code).toBe(-32601);
    expect((await rpc.request('tasks/get', { taskId: 'no-such-task-0000000000' })).error?.code).toBe(-32602);
  });

  it('cancel (tasks/cancel, both eras): cancelled at once, and the claude process is gone within the grace period', async () => {
    const rpc = modern(ALICE);
    const created = await rpc.request('tools/call', { name: 'claude_ask', arguments: { query: 'task-hang modern' } });
    const taskId = created.result!.taskId as string;
    const pid = await runningPid('client-alice');
    const cancelledAt = Date.now();
    const ack = await rpc.request('tasks/cancel', { taskId });
    expect(bare(ack.result)).toEqual({ resultType: 'complete' });
    expect((await rpc.request('tasks/get', { taskId })).result).toMatchObject({ status: 'cancelled' });
    await waitFor(() => !isAlive(pid), GRACE_MS + 4000);
    expect(Date.now() - cancelledAt).toBeLessThan(GRACE_MS + 4000);
    // Idempotent on an ended task (2026).
    expect(bare((await rpc.request('tasks/cancel', { taskId })).result)).toEqual({ resultType: 'complete' });

    const client = await v1(ALICE);
    const stream = client.experimental.tasks.callToolStream({ name: 'claude_ask', arguments: { query: 'task-hang legacy' } }, undefined, {
      task: { ttl: 60_000 },
    });
    const first = await stream.next();
    const legacyId = (first.value as { task: { taskId: string } }).task.taskId;
    const legacyPid = await runningPid('client-alice');
    const cancelled = await client.experimental.tasks.cancelTask(legacyId);
    expect(cancelled).toMatchObject({ taskId: legacyId, status: 'cancelled' });
    await waitFor(() => !isAlive(legacyPid), GRACE_MS + 4000);
    // 2025: cancelling an ended task is -32602.
    await expect(client.experimental.tasks.cancelTask(legacyId)).rejects.toMatchObject({ code: -32602 });
    await stream.return(undefined);
    const listed = (await client.callTool({ name: 'claude_background_tasks', arguments: { action: 'logs', taskId: legacyId } }))
      .structuredContent as { task: { status: string } };
    expect(listed.task.status).toBe('aborted');
  });

  it('2025-11-25: a permission prompt reaches the person through tasks/result; approved writes the file, denied does not', async () => {
    mock.on({ prompt: 'v1-approve-write', replies: [write('task-approved.txt'), { kind: 'text', text: 'approved' }] });
    mock.on({ prompt: 'v1-deny-write', replies: [write('task-refused.txt'), { kind: 'text', text: 'refused' }] });
    const asked: Array<{ message: string; related: unknown }> = [];
    const client = new V1Client({ name: 'v1-asker', version: '1' }, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      const message = String(request.params.message);
      asked.push({ message, related: request.params._meta?.[RELATED_TASK] });
      return message.includes('task-approved.txt') ? { action: 'accept', content: { allow: true } } : { action: 'decline' };
    });
    await client.connect(new V1Transport(new URL(server.mcpUrl), auth(ALICE)));
    clients.push(client);
    const run = async (query: string) => {
      let taskId = '';
      let result: ToolResult | undefined;
      for await (const message of client.experimental.tasks.callToolStream({ name: 'claude_ask', arguments: { query } }, undefined, {
        task: { ttl: 60_000 },
        timeout: 60_000,
      })) {
        if (message.type === 'taskCreated') taskId = message.task.taskId;
        if (message.type === 'result') result = message.result as ToolResult;
        if (message.type === 'error') throw message.error;
      }
      return { taskId, result: result! };
    };
    const approved = await run('v1-approve-write');
    expect(existsSync(path.join(sandbox.workspace, 'task-approved.txt'))).toBe(true);
    expect(approved.result.structuredContent!.permissionDenials).toEqual([]);
    expect(asked[0]!.message).toContain('Claude Code wants to use Write');
    expect(asked[0]!.related).toEqual({ taskId: approved.taskId });

    const denied = await run('v1-deny-write');
    expect(existsSync(path.join(sandbox.workspace, 'task-refused.txt'))).toBe(false);
    expect((denied.result.structuredContent!.permissionDenials as Array<{ toolName: string }>).map((d) => d.toolName)).toContain('Write');
  });

  it('2026-07-28: input_required with inputRequests, answered with tasks/update; accepted writes the file, declined does not', async () => {
    mock.on({ prompt: 'modern-approve-write', replies: [write('modern-approved.txt'), { kind: 'text', text: 'approved' }] });
    mock.on({ prompt: 'modern-deny-write', replies: [write('modern-refused.txt'), { kind: 'text', text: 'refused' }] });
    const rpc = modern(ALICE, { elicitation: {}, extensions: { [TASKS_EXTENSION]: {} } });
    const run = async (query: string, answer: Record<string, unknown>) => {
      const taskId = (await rpc.request('tools/call', { name: 'claude_ask', arguments: { query } })).result!.taskId as string;
      const waiting = await poll2026(rpc, taskId, (task) => task.status !== 'working');
      expect(waiting.status).toBe('input_required');
      const requests = waiting.inputRequests as Record<string, { method: string; params: { message: string } }>;
      const [key, request] = Object.entries(requests)[0]!;
      expect(request.method).toBe('elicitation/create');
      expect(request.params.message).toContain('Claude Code wants to use Write');
      expect(
        bare((await rpc.request('tasks/update', { taskId, inputResponses: { [key]: answer, unknown: { action: 'accept' } } })).result),
      ).toEqual({ resultType: 'complete' });
      const done = await poll2026(rpc, taskId, (task) => task.status !== 'working' && task.status !== 'input_required');
      expect(done.status).toBe('completed');
      return (done.result as ToolResult).structuredContent!;
    };
    const approved = await run('modern-approve-write', { action: 'accept', content: { allow: true } });
    expect(existsSync(path.join(sandbox.workspace, 'modern-approved.txt'))).toBe(true);
    expect(approved.permissionDenials).toEqual([]);
    const denied = await run('modern-deny-write', { action: 'decline' });
    expect(existsSync(path.join(sandbox.workspace, 'modern-refused.txt'))).toBe(false);
    expect((denied.permissionDenials as Array<{ toolName: string }>).map((d) => d.toolName)).toContain('Write');
  });

  it('2026-07-28 plain calls ask through input_required rounds (signed requestState, bound to the caller)', async () => {
    mock.on({ prompt: 'mrtr-approve-write', replies: [write('mrtr-approved.txt'), { kind: 'text', text: 'approved' }] });
    mock.on({ prompt: 'mrtr-deny-write', replies: [write('mrtr-refused.txt'), { kind: 'text', text: 'refused' }] });
    // The v2 client answers the rounds itself.
    const client = await v2(ALICE, { capabilities: { elicitation: {} }, versionNegotiation: { mode: 'auto' } });
    const questions: string[] = [];
    client.setRequestHandler('elicitation/create', async (request) => {
      questions.push(String(request.params.message));
      return { action: 'accept', content: { allow: true } };
    });
    const approved = await client.callTool({ name: 'claude_ask', arguments: { query: 'mrtr-approve-write' } }, { timeout: 60_000 });
    expect((approved.structuredContent as { permissionDenials: unknown[] }).permissionDenials).toEqual([]);
    expect(existsSync(path.join(sandbox.workspace, 'mrtr-approved.txt'))).toBe(true);
    expect(questions[0]).toContain('Claude Code wants to use Write');

    // On the wire: a round, a tampered state and another caller's retry refused, then a declined answer.
    const rpc = modern(ALICE, { elicitation: {} });
    const round = await rpc.request('tools/call', { name: 'claude_ask', arguments: { query: 'mrtr-deny-write' } });
    expect(round.result).toMatchObject({ resultType: 'input_required' });
    const requestState = round.result!.requestState as string;
    const key = Object.keys(round.result!.inputRequests as object)[0]!;
    const retry = (client: ModernRpc, state: string, inputResponses: Record<string, unknown>) =>
      client.request('tools/call', { name: 'claude_ask', arguments: { query: 'mrtr-deny-write' }, requestState: state, inputResponses });
    const refused = { code: -32602, message: 'Invalid or expired requestState' };
    expect((await retry(rpc, `${requestState}x`, { [key]: { action: 'accept', content: { allow: true } } })).error).toMatchObject(refused);
    // The state is bound to the caller: another caller's retry is refused before it can reach the waiting run.
    expect(
      (await retry(modern(BOB, { elicitation: {} }), requestState, { [key]: { action: 'accept', content: { allow: true } } })).error,
    ).toMatchObject(refused);
    // A retry without the answer is asked again.
    expect((await retry(rpc, requestState, {})).result).toMatchObject({ resultType: 'input_required' });
    const done = await retry(rpc, requestState, { [key]: { action: 'decline' } });
    expect(existsSync(path.join(sandbox.workspace, 'mrtr-refused.txt'))).toBe(false);
    expect(
      (done.result!.structuredContent as { permissionDenials: Array<{ toolName: string }> }).permissionDenials.map((d) => d.toolName),
    ).toContain('Write');
  });

  it('without tasks, a long call survives a client that resets its timeout on progress', async () => {
    mock.on({ prompt: 'silent-long-call', replies: [{ kind: 'text', text: 'finally', delayMs: LONG_MS }] });
    const client = await v2(ALICE);
    const seen: number[] = [];
    const started = Date.now();
    const result = await client.callTool(
      { name: 'claude_ask', arguments: { query: 'silent-long-call' } },
      { timeout: 1000, resetTimeoutOnProgress: true, onprogress: () => void seen.push(Date.now() - started) },
    );
    expect((result.structuredContent as { result: string }).result).toBe('finally');
    const gaps = seen.map((at, i) => at - (seen[i - 1] ?? 0));
    expect(Math.max(...gaps)).toBeLessThan(1000);
  });

  it('another caller can neither see nor cancel nor answer a task', async () => {
    const rpc = modern(ALICE, { elicitation: {}, extensions: { [TASKS_EXTENSION]: {} } });
    const taskId = (await rpc.request('tools/call', { name: 'claude_ask', arguments: { query: 'task-hang isolation' } })).result!
      .taskId as string;
    const intruder = modern(BOB);
    for (const [method, params] of [
      ['tasks/get', { taskId }],
      ['tasks/cancel', { taskId }],
      ['tasks/update', { taskId, inputResponses: { 'input-1': { action: 'accept', content: { allow: true } } } }],
    ] as const) {
      expect((await intruder.request(method, params)).error).toMatchObject({
        code: -32602,
        message: 'Failed to retrieve task: Task not found',
      });
    }
    const bob = await v1(BOB);
    await expect(bob.experimental.tasks.getTask(taskId)).rejects.toMatchObject({ code: -32602 });
    await expect(bob.experimental.tasks.cancelTask(taskId)).rejects.toMatchObject({ code: -32602 });
    expect((await bob.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).not.toContain(taskId);
    const bobAbort = (await bob.callTool({ name: 'claude_abort', arguments: { taskId } })) as ToolResult;
    expect(bobAbort.isError).toBe(true);
    // Still running for its owner, who can cancel it.
    expect((await rpc.request('tasks/get', { taskId })).result).toMatchObject({ status: 'working' });
    expect(bare((await rpc.request('tasks/cancel', { taskId })).result)).toEqual({ resultType: 'complete' });
    // Ended and read from storage, it stays the owner's alone.
    await waitFor(() => server.container.claude.executor.live('client-alice').length === 0, GRACE_MS + 4000);
    await server.container.claude.tasks.drain();
    expect((await intruder.request('tasks/get', { taskId })).error).toMatchObject({ code: -32602 });
    await expect(bob.experimental.tasks.getTask(taskId)).rejects.toMatchObject({ code: -32602 });
    expect((await rpc.request('tasks/get', { taskId })).result).toMatchObject({ status: 'cancelled' });
  });

  it('a task running when the server restarts is reported failed (interrupted) afterwards, never lost', async () => {
    const rpc = modern(ALICE);
    const taskId = (await rpc.request('tools/call', { name: 'claude_ask', arguments: { query: 'task-hang restart' } })).result!
      .taskId as string;
    await runningPid('client-alice');
    for (const client of clients.splice(0)) await client.close().catch(() => undefined);
    await server.stop();
    await start();
    const after = await modern(ALICE).request('tasks/get', { taskId });
    expect(after.result).toMatchObject({ taskId, status: 'failed', error: { code: -32603 } });
    expect(String((after.result!.error as { message: string }).message)).toMatch(/shut down|stopped/);
    const legacy = await v1(ALICE);
    expect(await legacy.experimental.tasks.getTask(taskId)).toMatchObject({ status: 'failed' });
    const logs = (await legacy.callTool({ name: 'claude_background_tasks', arguments: { action: 'logs', taskId } })).structuredContent as {
      task: { status: string };
    };
    expect(logs.task.status).toBe('interrupted');
  });
});
