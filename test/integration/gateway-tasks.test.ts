import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { waitFor } from '../helpers/http.js';
import { modernRpc, pollTask, taskEnded, TASKS_EXTENSION, type ModernRpc } from '../helpers/modern-rpc.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * The gateway relays an upstream's own tasks (2025-11-25 experimental tasks of test/fixtures/task-upstream.mjs, a v1
 * SDK server) to clients of both eras: clients see only our task ids, bound to the caller that created them;
 * status, result, questions and cancel reach the upstream over the connection the task began on; the task fails when
 * that connection ends. Two upstreams issue the same ids (`task-1`, ...), which must not meet.
 */
const ALICE = 'key-alice-0123456789';
const BOB = 'key-bob-0123456789';
const RELATED_TASK = 'io.modelcontextprotocol/related-task';
type ToolResult = { content?: Array<{ type: string; text?: string }>; isError?: boolean; _meta?: Record<string, unknown> };

describe('gateway: upstream tasks relayed', () => {
  let server: TestServer;
  let dir: string;
  const clients: Array<{ close(): Promise<void> }> = [];
  const fixture = (env: Record<string, string> = {}) => ({
    command: process.execPath,
    args: [path.resolve('test/fixtures/task-upstream.mjs')],
    env: { FIXTURE_TASK_IDS: 'sequential', ...env },
  });
  const plain = { command: process.execPath, args: [path.resolve('test/fixtures/gateway-upstream.mjs')] };

  const auth = (token: string) => ({ requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const v1 = async (token: string, url = server.mcpUrl, capabilities: Record<string, unknown> = {}) => {
    const client = new V1Client({ name: 'v1-gateway-tasks', version: '1' }, { capabilities });
    await client.connect(new V1Transport(new URL(url), auth(token)));
    clients.push(client);
    return client;
  };
  const modern = (token: string, url = server.mcpUrl, capabilities: Record<string, unknown> = { extensions: { [TASKS_EXTENSION]: {} } }) =>
    modernRpc(url, { token, capabilities });
  const text = (result: unknown) => ((result as ToolResult).content ?? []).map((block) => block.text).join('');
  const upstreamEvents = async (rpc: ModernRpc, tool: string) =>
    JSON.parse(text((await rpc.request('tools/call', { name: tool, arguments: {} })).result)) as { created: string[]; cancelled: string[] };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwtasks-'));
    const servers = {
      tk: fixture(),
      tk2: fixture(),
      tkc: { ...fixture(), restart: { max: 3, windowMs: 60_000, backoff: 100 } },
      tks: { ...fixture(), isolation: 'session' },
      fx: plain,
    };
    writeFileSync(path.join(dir, 'mcp_config.json'), JSON.stringify({ mcpServers: servers }));
    server = await startTestServer({
      mcpConfigPath: path.join(dir, 'mcp_config.json'),
      authMode: 'oauth',
      authInitialAdmin: false,
      apiKeys: [`${ALICE}:client-alice`, `${BOB}:client-bob`],
      taskPollIntervalMs: 200,
    });
    await waitFor(() => server.container.gateway.registry.list().every((s) => s.status === 'running'), 30_000);
  }, 60_000);
  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("advertises tasks on /servers/{name}/mcp only when that upstream runs them, with its tools' own task support", async () => {
    const alone = await v1(ALICE, `${server.url}/servers/tk/mcp`);
    expect(alone.getServerCapabilities()?.tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
    const support = Object.fromEntries((await alone.listTools()).tools.map((tool) => [tool.name, tool.execution?.taskSupport]));
    expect(support).toMatchObject({ slow_task: 'optional', must_task: 'required', ask_task: 'optional' });
    expect(support.echo).toBeUndefined();
    const other = await v1(ALICE, `${server.url}/servers/fx/mcp`);
    expect(other.getServerCapabilities()?.tasks).toBeUndefined();

    const discovered = async (name: string) =>
      (await modern(ALICE, `${server.url}/servers/${name}/mcp`).request('server/discover', {})).result!.capabilities as {
        extensions?: object;
      };
    expect((await discovered('tk')).extensions).toHaveProperty([TASKS_EXTENSION]);
    expect((await discovered('fx')).extensions ?? {}).not.toHaveProperty([TASKS_EXTENSION]);
    // On /mcp the gateway's tools say so next to the Claude tools.
    const all = Object.fromEntries((await (await v1(ALICE)).listTools()).tools.map((tool) => [tool.name, tool.execution?.taskSupport]));
    expect(all).toMatchObject({ tk__slow_task: 'optional', tk__must_task: 'required', claude_ask: 'optional' });
    expect(all.fx__echo).toBeUndefined();
  });

  it('2025-11-25, v1 client: a task created, polled and fetched through the gateway, under our id only', async () => {
    const client = await v1(ALICE);
    const statuses: string[] = [];
    let taskId = '';
    let result: ToolResult | undefined;
    for await (const message of client.experimental.tasks.callToolStream(
      { name: 'tk__slow_task', arguments: { ms: 600, label: 'v1' } },
      undefined,
      { task: { ttl: 60_000 } },
    )) {
      if (message.type === 'taskCreated') taskId = message.task.taskId;
      if (message.type === 'taskStatus') statuses.push(message.task.status);
      if (message.type === 'result') result = message.result as ToolResult;
      if (message.type === 'error') throw message.error;
    }
    expect(statuses[0]).toBe('working');
    expect(statuses.at(-1)).toBe('completed');
    expect(text(result)).toBe('done: v1');
    expect(result!._meta?.[RELATED_TASK]).toEqual({ taskId });
    expect(taskId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await client.experimental.tasks.getTask(taskId)).toMatchObject({ taskId, status: 'completed' });
    // The upstream's own id is not a task here.
    const { created } = await upstreamEvents(modern(ALICE), 'tk__task_events');
    expect(created.length).toBeGreaterThan(0);
    for (const upstreamId of created) await expect(client.experimental.tasks.getTask(upstreamId)).rejects.toMatchObject({ code: -32602 });
  });

  it('2026-07-28 (raw): a flat CreateTaskResult at once, tasks/get to completion with the result inline', async () => {
    const rpc = modern(ALICE);
    const created = await rpc.request('tools/call', { name: 'tk__slow_task', arguments: { ms: 500, label: 'modern' } });
    expect(created.result).toMatchObject({ resultType: 'task', status: 'working' });
    expect(created.result).not.toHaveProperty('content');
    const taskId = created.result!.taskId as string;
    const done = await pollTask(rpc, taskId, taskEnded);
    expect(done).toMatchObject({ status: 'completed', result: { content: [{ type: 'text', text: 'done: modern' }] } });
    expect((done.result as ToolResult)._meta?.[RELATED_TASK]).toBeUndefined();
    // A tool error result: 2026 `completed` with isError.
    const failing = (await rpc.request('tools/call', { name: 'tk__failing_task', arguments: {} })).result!.taskId as string;
    expect(await pollTask(rpc, failing, taskEnded)).toMatchObject({
      status: 'completed',
      result: { isError: true, content: [{ text: 'the job failed' }] },
    });
  });

  it('ids are ours: two upstreams issuing the same ids never meet, and neither id is usable', async () => {
    const rpc = modern(ALICE);
    const one = (await rpc.request('tools/call', { name: 'tk2__slow_task', arguments: { ms: 300, label: 'first' } })).result!
      .taskId as string;
    const other = (await rpc.request('tools/call', { name: 'tkc__slow_task', arguments: { ms: 300, label: 'second' } })).result!
      .taskId as string;
    const [first, second] = await Promise.all([pollTask(rpc, one, taskEnded), pollTask(rpc, other, taskEnded)]);
    expect(text(first.result)).toBe('done: first');
    expect(text(second.result)).toBe('done: second');
    const ids = [...(await upstreamEvents(rpc, 'tk2__task_events')).created, ...(await upstreamEvents(rpc, 'tkc__task_events')).created];
    expect(ids).toContain('task-1');
    expect(ids).not.toContain(one);
    expect(ids).not.toContain(other);
    expect((await rpc.request('tasks/get', { taskId: 'task-1' })).error).toMatchObject({ code: -32602 });
  });

  it('cancel reaches the upstream (both eras), and another caller finds nothing', async () => {
    const rpc = modern(ALICE);
    const before = await upstreamEvents(rpc, 'tk__task_events');
    const taskId = (await rpc.request('tools/call', { name: 'tk__slow_task', arguments: { ms: 60_000 } })).result!.taskId as string;
    let upstreamId: string | undefined;
    const deadline = Date.now() + 10_000;
    while (!upstreamId && Date.now() < deadline) {
      upstreamId = (await upstreamEvents(rpc, 'tk__task_events')).created.find((id) => !before.created.includes(id));
      if (!upstreamId) await new Promise((r) => setTimeout(r, 50));
    }
    expect(upstreamId).toBeDefined();

    const intruder = modern(BOB);
    for (const [method, params] of [
      ['tasks/get', { taskId }],
      ['tasks/cancel', { taskId }],
      ['tasks/update', { taskId, inputResponses: {} }],
    ] as const) {
      expect((await intruder.request(method, params)).error).toMatchObject({
        code: -32602,
        message: 'Failed to retrieve task: Task not found',
      });
    }
    const bob = await v1(BOB);
    await expect(bob.experimental.tasks.getTask(taskId)).rejects.toMatchObject({ code: -32602 });
    expect((await bob.experimental.tasks.listTasks()).tasks.map((task) => task.taskId)).not.toContain(taskId);
    expect((await rpc.request('tasks/get', { taskId })).result).toMatchObject({ status: 'working' });

    expect((await rpc.request('tasks/cancel', { taskId })).result).toMatchObject({ resultType: 'complete' });
    expect((await rpc.request('tasks/get', { taskId })).result).toMatchObject({ status: 'cancelled' });
    const cancelledDeadline = Date.now() + 10_000;
    let cancelled: string[] = [];
    while (Date.now() < cancelledDeadline) {
      cancelled = (await upstreamEvents(rpc, 'tk__task_events')).cancelled;
      if (cancelled.includes(upstreamId!)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(cancelled).toContain(upstreamId);

    // 2025: tasks/cancel answers the cancelled task; the upstream hears it too.
    const client = await v1(ALICE);
    const stream = client.experimental.tasks.callToolStream({ name: 'tk__slow_task', arguments: { ms: 60_000 } }, undefined, {
      task: { ttl: 60_000 },
    });
    const legacyId = ((await stream.next()).value as { task: { taskId: string } }).task.taskId;
    const beforeCancel = (await upstreamEvents(rpc, 'tk__task_events')).cancelled.length;
    expect(await client.experimental.tasks.cancelTask(legacyId)).toMatchObject({ taskId: legacyId, status: 'cancelled' });
    await stream.return(undefined);
    const legacyDeadline = Date.now() + 10_000;
    while ((await upstreamEvents(rpc, 'tk__task_events')).cancelled.length === beforeCancel && Date.now() < legacyDeadline)
      await new Promise((r) => setTimeout(r, 100));
    expect((await upstreamEvents(rpc, 'tk__task_events')).cancelled.length).toBe(beforeCancel + 1);
  });

  it('questions of an upstream task reach the person: tasks/result (2025) and inputRequests + tasks/update (2026)', async () => {
    const asked: Array<{ message: string; related: unknown }> = [];
    const client = await v1(ALICE, server.mcpUrl, { elicitation: {} });
    (client as V1Client).setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push({ message: String(request.params.message), related: request.params._meta?.[RELATED_TASK] });
      return { action: 'accept', content: { colour: 'red' } };
    });
    let taskId = '';
    let result: ToolResult | undefined;
    for await (const message of client.experimental.tasks.callToolStream({ name: 'tk__ask_task', arguments: {} }, undefined, {
      task: { ttl: 60_000 },
      timeout: 30_000,
    })) {
      if (message.type === 'taskCreated') taskId = message.task.taskId;
      if (message.type === 'result') result = message.result as ToolResult;
      if (message.type === 'error') throw message.error;
    }
    expect(text(result)).toBe('user accept: red');
    expect(asked).toEqual([{ message: 'Which colour?', related: { taskId } }]);

    const rpc = modern(ALICE, server.mcpUrl, { elicitation: {}, extensions: { [TASKS_EXTENSION]: {} } });
    const modernId = (await rpc.request('tools/call', { name: 'tk__ask_task', arguments: {} })).result!.taskId as string;
    const waiting = await pollTask(rpc, modernId, (task) => task.status !== 'working');
    expect(waiting.status).toBe('input_required');
    const [key, question] = Object.entries(
      waiting.inputRequests as Record<string, { method: string; params: { message: string; _meta?: object } }>,
    )[0]!;
    expect(question).toMatchObject({ method: 'elicitation/create', params: { message: 'Which colour?' } });
    expect(JSON.stringify(question.params)).not.toContain('task-');
    await rpc.request('tasks/update', { taskId: modernId, inputResponses: { [key]: { action: 'accept', content: { colour: 'blue' } } } });
    expect(await pollTask(rpc, modernId, taskEnded)).toMatchObject({
      status: 'completed',
      result: { content: [{ text: 'user accept: blue' }] },
    });
  });

  it('a 2025-era client that does not follow tasks still gets an answer from a tool the upstream runs only as a task; a 2026 one gets -32021', async () => {
    const client = new Client({ name: 'v2-plain', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl), auth(ALICE)));
    clients.push(client);
    expect(text(await client.callTool({ name: 'tk__must_task', arguments: { ms: 300 } }))).toBe('required done');
    const v1Plain = await v1(ALICE);
    expect(text(await v1Plain.callTool({ name: 'tk__must_task', arguments: { ms: 300 } }))).toBe('required done');
    // 2026-07-28 without the tasks extension: the error the spec gives, for a required-task tool only.
    const plainModern = modern(ALICE, server.mcpUrl, {});
    const refused = await plainModern.request('tools/call', { name: 'tk__must_task', arguments: { ms: 300 } });
    expect(refused.error).toMatchObject({ code: -32021 });
    expect(JSON.stringify(refused.error)).toContain(TASKS_EXTENSION);
    const optional = await plainModern.request('tools/call', { name: 'tk__slow_task', arguments: { ms: 100, label: 'inline' } });
    expect(optional.result).toMatchObject({ content: [{ type: 'text', text: 'done: inline' }] });
    expect(optional.result).not.toHaveProperty('taskId');
  });

  it('an upstream that dies fails its tasks with a clear error; a per-session connection closing fails its own', async () => {
    const rpc = modern(ALICE);
    const taskId = (await rpc.request('tools/call', { name: 'tkc__crash_task', arguments: {} })).result!.taskId as string;
    const failed = await pollTask(rpc, taskId, taskEnded);
    expect(failed).toMatchObject({ status: 'failed', error: { code: -32603 } });
    expect(String((failed.error as { message: string }).message)).toMatch(/upstream tkc closed the connection the task ran on/);

    const client = await v1(ALICE);
    const stream = client.experimental.tasks.callToolStream({ name: 'tks__slow_task', arguments: { ms: 60_000 } }, undefined, {
      task: { ttl: 60_000 },
    });
    const sessionTaskId = ((await stream.next()).value as { task: { taskId: string } }).task.taskId;
    await stream.return(undefined);
    // Once the upstream's task runs (its first status is relayed as ours), the session ends.
    const started = Date.now() + 10_000;
    while ((await client.experimental.tasks.getTask(sessionTaskId)).statusMessage === undefined && Date.now() < started)
      await new Promise((r) => setTimeout(r, 50));
    // Ending the session closes its own upstream connection, and the task on it.
    await (client as unknown as { transport: V1Transport }).transport.terminateSession();
    const later = await v1(ALICE);
    const deadline = Date.now() + 10_000;
    let task = await later.experimental.tasks.getTask(sessionTaskId);
    while (task.status === 'working' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      task = await later.experimental.tasks.getTask(sessionTaskId);
    }
    expect(task.status).toBe('failed');
    expect(task.statusMessage).toMatch(/upstream tks closed the connection the task ran on/);
  });
});
