import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { waitFor } from '../helpers/http.js';
import { modernRpc, pollTask, taskEnded, TASKS_EXTENSION, type ModernAnswer, type ModernRpc } from '../helpers/modern-rpc.js';
import { startGatewayTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * An upstream entry with `protocol: "auto"` speaks 2026-07-28 to a server that does (test/fixtures/conformance-upstream.mjs
 * serves both eras over stdio) and falls back to the 2025 handshake with one that does not
 * (test/fixtures/gateway-upstream.mjs). Through a 2026-07-28 upstream each call carries its caller's capabilities, and
 * the upstream's `input_required` rounds and tasks reach the caller as the upstream shaped them: its own keys, input
 * before its task exists, -32021 for what the caller did not declare.
 */
const ALICE = 'key-alice-0123456789';
const BOB = 'key-bob-0123456789';
type Requests = Record<string, { method: string; params?: Record<string, unknown> }>;
type ToolResult = { content?: Array<{ type: string; text?: string }>; isError?: boolean };

const text = (result: unknown) => ((result as ToolResult | undefined)?.content ?? []).map((block) => block.text ?? '').join('');
const accept = (content: Record<string, unknown>) => ({ action: 'accept', content });

describe('gateway: a 2026-07-28 upstream (protocol: "auto")', () => {
  let server: TestServer;
  let conf: string;
  let remote: ChildProcess | undefined;
  const clients: V1Client[] = [];

  beforeAll(async () => {
    // The same fixture over Streamable HTTP: the probe and every request go over HTTP, with SEP-2243 headers.
    remote = spawn(process.execPath, [path.resolve('test/fixtures/conformance-upstream.mjs'), '--http', '0'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const port = await new Promise<string>((resolve, reject) => {
      remote!.stdout!.once('data', (chunk: Buffer) => {
        const found = /listening (\d+)/.exec(chunk.toString())?.[1];
        if (found) resolve(found);
        else reject(new Error(`fixture said: ${chunk.toString()}`));
      });
      remote!.once('error', reject);
    });
    const servers = {
      conf: { command: process.execPath, args: [path.resolve('test/fixtures/conformance-upstream.mjs')], protocol: 'auto' },
      old: { command: process.execPath, args: [path.resolve('test/fixtures/gateway-upstream.mjs')], protocol: 'auto' },
      // A published server on the v1 SDK (2025 only), probed too.
      everything: { command: path.resolve('node_modules/.bin/mcp-server-everything'), args: ['stdio'], protocol: 'auto' },
      remote: { url: `http://127.0.0.1:${port}/mcp`, protocol: 'auto' },
      // Health-checked every 200 ms, restarted after 2 failures.
      checked: {
        command: process.execPath,
        args: [path.resolve('test/fixtures/conformance-upstream.mjs')],
        protocol: 'auto',
        healthCheck: { intervalMs: 200, failures: 2 },
      },
      // Calls time out after 500 ms without an answer or progress.
      quick: {
        command: process.execPath,
        args: [path.resolve('test/fixtures/conformance-upstream.mjs')],
        protocol: 'auto',
        timeoutMs: 500,
        startTimeoutMs: 30_000,
      },
    };
    server = await startGatewayTestServer(servers, {
      authMode: 'oauth',
      authInitialAdmin: false,
      apiKeys: [`${ALICE}:client-alice`, `${BOB}:client-bob`],
    });
    conf = `${server.url}/servers/conf/mcp`;
  }, 60_000);
  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await server?.stop();
    if (remote && remote.exitCode === null) {
      const exited = new Promise((resolve) => remote!.once('exit', resolve));
      remote.kill('SIGTERM');
      await exited;
    }
  });

  const v1 = async (capabilities: Record<string, unknown> = {}) => {
    const client = new V1Client({ name: 'v1-modern-upstream', version: '1' }, { capabilities });
    await client.connect(new V1Transport(new URL(conf), { requestInit: { headers: { authorization: `Bearer ${ALICE}` } } }));
    clients.push(client);
    return client;
  };
  const call = (rpc: ModernRpc, name: string, extra: Record<string, unknown> = {}) =>
    rpc.request('tools/call', { name, arguments: {}, ...extra });
  const inputRequests = (answer: ModernAnswer) => {
    expect(answer.result).toMatchObject({ resultType: 'input_required' });
    return answer.result!.inputRequests as Requests;
  };

  it('negotiates 2026-07-28 with a server that speaks it and falls back to the 2025 handshake with one that does not', async () => {
    const response = await fetch(`${server.url}/listmcp`, { headers: { authorization: `Bearer ${ALICE}` } });
    const { servers } = (await response.json()) as { servers: Array<{ name: string; protocolVersion: string | null }> };
    expect(Object.fromEntries(servers.map((s) => [s.name, s.protocolVersion]))).toEqual({
      conf: '2026-07-28',
      old: '2025-11-25',
      everything: '2025-11-25',
      remote: '2026-07-28',
      checked: '2026-07-28',
      quick: '2026-07-28',
    });
    // A fallback upstream serves as any other: a 2026-07-28 caller's call goes through.
    for (const name of ['old', 'everything']) {
      const echoed = await call(modernRpc(`${server.url}/servers/${name}/mcp`, { token: ALICE }), 'echo', {
        arguments: { text: 'still here', message: 'still here' },
      });
      expect([name, text(echoed.result)]).toEqual([name, expect.stringContaining('still here')]);
    }
  });

  it('health checks of a 2026-07-28 upstream (which has no ping) pass: it is not restarted', async () => {
    const checked = server.container.gateway.registry.get('checked')!;
    const pid = checked.pid;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(checked.status).toBe('running');
    expect(checked.health).toMatchObject({ consecutiveFails: 0, restartCount: 0, lastError: null });
    expect(checked.health.lastCheck).not.toBeNull();
    expect(checked.pid).toBe(pid);
  });

  it("a 2026-07-28 caller gets the upstream's own input requests, keys included; the retry completes the call", async () => {
    const rpc = modernRpc(conf, { token: ALICE, capabilities: { elicitation: {}, sampling: {} } });
    const first = await call(rpc, 'test_input_required_result_elicitation');
    const requests = inputRequests(first);
    expect(Object.keys(requests)).toEqual(['user_name']);
    expect(requests.user_name).toMatchObject({ method: 'elicitation/create', params: { message: 'What is your name?' } });
    const done = await call(rpc, 'test_input_required_result_elicitation', {
      inputResponses: { user_name: accept({ name: 'Alice' }) },
      requestState: first.result!.requestState,
    });
    expect(done.result).toMatchObject({ resultType: 'complete' });
    expect(text(done.result)).toBe('Hello, Alice!');

    // The state of a round is the gateway's, bound to its caller: another caller, or a changed state, gets -32602.
    const again = await call(rpc, 'test_input_required_result_elicitation');
    const state = again.result!.requestState as string;
    const bob = modernRpc(conf, { token: BOB, capabilities: { elicitation: {} } });
    const stolen = await call(bob, 'test_input_required_result_elicitation', {
      inputResponses: { user_name: accept({ name: 'Bob' }) },
      requestState: state,
    });
    expect(stolen.error).toMatchObject({ code: -32602 });
    const tampered = `${state.slice(0, -2)}${state.endsWith('AA') ? 'BB' : 'AA'}`;
    const forged = await call(rpc, 'test_input_required_result_elicitation', {
      inputResponses: { user_name: accept({ name: 'Eve' }) },
      requestState: tampered,
    });
    expect(forged.error).toMatchObject({ code: -32602 });
  });

  it("an HTTP upstream gets the tool's Mcp-Param-* headers mirrored (it refuses a call without them) and its rounds relayed", async () => {
    const rpc = modernRpc(`${server.url}/servers/remote/mcp`, { token: ALICE, capabilities: { elicitation: {} } });
    const args = { region: 'eu-west-1', query: 'q' };
    const called = await rpc.request(
      'tools/call',
      { name: 'test_custom_headers', arguments: args },
      { headers: { 'mcp-param-region': 'eu-west-1' } },
    );
    expect(text(called.result)).toBe('region=eu-west-1');
    const first = await call(rpc, 'test_input_required_result_elicitation');
    expect(Object.keys(inputRequests(first))).toEqual(['user_name']);
    const done = await call(rpc, 'test_input_required_result_elicitation', {
      inputResponses: { user_name: accept({ name: 'Remy' }) },
      requestState: first.result!.requestState,
    });
    expect(text(done.result)).toBe('Hello, Remy!');
  });

  it("the upstream decides on the caller's own capabilities: -32021 for one it did not declare", async () => {
    const without = await call(modernRpc(conf, { token: ALICE, capabilities: { elicitation: {} } }), 'test_missing_capability');
    expect(without.error).toMatchObject({ code: -32021, data: { requiredCapabilities: { sampling: {} } } });
    const withSampling = await call(modernRpc(conf, { token: ALICE, capabilities: { sampling: {} } }), 'test_missing_capability');
    expect(Object.values(inputRequests(withSampling)).map((request) => request.method)).toEqual(['sampling/createMessage']);
  });

  it("a 2025-era client (v1 SDK) answers a 2026-07-28 upstream's rounds through its elicitation handler", async () => {
    const client = await v1({ elicitation: {} });
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(String(request.params.message));
      return accept({ name: 'Vee' });
    });
    expect(text(await client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} }))).toBe('Hello, Vee!');
    expect(asked).toEqual(['What is your name?']);
  });

  it("the time a question is with the caller does not count against the upstream's timeoutMs", async () => {
    const client = new V1Client({ name: 'v1-slow-person', version: '1' }, { capabilities: { elicitation: {} } });
    await client.connect(
      new V1Transport(new URL(`${server.url}/servers/quick/mcp`), { requestInit: { headers: { authorization: `Bearer ${ALICE}` } } }),
    );
    clients.push(client);
    client.setRequestHandler(ElicitRequestSchema, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      return accept({ name: 'Slow' });
    });
    // With a progress token (the gateway's own timer decides) and without (each request upstream has its own limit).
    const withProgress = await client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} }, undefined, {
      onprogress: () => undefined,
    });
    expect(text(withProgress)).toBe('Hello, Slow!');
    expect(text(await client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} }))).toBe('Hello, Slow!');
  });

  it('tasks: input before the task exists, then our task following the upstream’s, to the gathered result', async () => {
    const rpc = modernRpc(conf, { token: ALICE, capabilities: { elicitation: {}, extensions: { [TASKS_EXTENSION]: {} } } });
    const first = await call(rpc, 'test_tool_with_task');
    expect(Object.keys(inputRequests(first))).toEqual(['user_name']);
    expect(first.result).not.toHaveProperty('taskId');
    const created = await call(rpc, 'test_tool_with_task', {
      inputResponses: { user_name: accept({ name: 'Alice' }) },
      requestState: first.result!.requestState,
    });
    expect(created.result).toMatchObject({ resultType: 'task', status: 'working' });
    expect(created.result).not.toHaveProperty('requestState');
    const taskId = created.result!.taskId as string;
    expect(taskId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const done = await pollTask(rpc, taskId, taskEnded);
    expect(done.status).toBe('completed');
    expect(text(done.result)).toContain('Alice');
    // An answer without a task is the call's answer: no task of ours either.
    const inline = await call(rpc, 'greet', { arguments: { name: 'Ann' } });
    expect([inline.result?.resultType, text(inline.result)]).toEqual(['complete', 'Hello, Ann!']);
    // Our task id, bound to its caller: another one finds nothing.
    const bob = modernRpc(conf, { token: BOB, capabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
    expect((await bob.request('tasks/get', { taskId })).error).toMatchObject({ code: -32602 });
  });

  it('a task the upstream answers already completed is followed to its result', async () => {
    const rpc = modernRpc(conf, { token: ALICE, capabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
    const created = await call(rpc, 'instant_job');
    expect(created.result).toMatchObject({ resultType: 'task' });
    const done = await pollTask(rpc, created.result!.taskId as string, taskEnded);
    expect([done.status, text(done.result)]).toEqual(['completed', 'done at once']);
  });

  it("an upstream task's question is our task's input_required; tasks/update answers it upstream", async () => {
    const rpc = modernRpc(conf, { token: ALICE, capabilities: { elicitation: {}, extensions: { [TASKS_EXTENSION]: {} } } });
    const created = await call(rpc, 'confirm_delete', { arguments: { filename: 'notes.txt' } });
    const taskId = created.result!.taskId as string;
    const waiting = await pollTask(rpc, taskId, (task) => task.status !== 'working');
    expect(waiting.status).toBe('input_required');
    const [key, question] = Object.entries(waiting.inputRequests as Requests)[0]!;
    expect(question).toMatchObject({ method: 'elicitation/create', params: { message: 'Delete notes.txt?' } });
    await rpc.request('tasks/update', { taskId, inputResponses: { [key]: accept({ confirm: true }) } });
    const done = await pollTask(rpc, taskId, taskEnded);
    expect(done).toMatchObject({ status: 'completed' });
    expect(text(done.result)).toBe('Deleted notes.txt');
  });

  it('cancelling our task cancels the upstream task (its own log says so)', async () => {
    const rpc = modernRpc(conf, { token: ALICE, capabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
    const created = await call(rpc, 'slow_compute', { arguments: { seconds: 60, label: 'cancel-me' } });
    const taskId = created.result!.taskId as string;
    expect(created.result).toMatchObject({ resultType: 'task' });
    await pollTask(rpc, taskId, (task) => task.status === 'working');
    const logFile = server.container.gateway.registry.get('conf')!.logFile!;
    const before = readFileSync(logFile, 'utf8').split('task cancelled').length;
    await rpc.request('tasks/cancel', { taskId });
    expect((await pollTask(rpc, taskId, taskEnded)).status).toBe('cancelled');
    await waitFor(() => readFileSync(logFile, 'utf8').split('task cancelled').length > before, 10_000);
  });

  it('a 2025-era client: a task-augmented call follows the upstream task; a plain call of a task-only tool is followed for it', async () => {
    const client = await v1();
    let result: ToolResult | undefined;
    let taskId = '';
    for await (const message of client.experimental.tasks.callToolStream(
      { name: 'slow_compute', arguments: { seconds: 0.2, label: 'v1' } },
      undefined,
      { task: { ttl: 60_000 } },
    )) {
      if (message.type === 'taskCreated') taskId = message.task.taskId;
      if (message.type === 'result') result = message.result as ToolResult;
      if (message.type === 'error') throw message.error;
    }
    expect(taskId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(text(result)).toBe('Computed v1 after 0.2s');
    // failing_job runs only as a task upstream (-32021 without the extension): the gateway follows the task for the
    // client, whose call gets the task's tool error.
    const failed = await client.callTool({ name: 'failing_job', arguments: {} });
    expect([failed.isError, text(failed)]).toEqual([true, 'The job failed']);
  });

  it("a resource subscription is the upstream's subscriptions/listen stream: updates arrive until unsubscribed", async () => {
    const client = await v1();
    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updates.push(notification.params.uri));
    const touch = () => client.callTool({ name: 'test_touch_resource', arguments: { uri: 'test://watched-resource' } });
    await expect(client.subscribeResource({ uri: 'test://watched-resource' })).resolves.toEqual({});
    await touch();
    await waitFor(() => updates.length === 1, 10_000);
    expect(updates).toEqual(['test://watched-resource']);
    await expect(client.unsubscribeResource({ uri: 'test://watched-resource' })).resolves.toEqual({});
    await touch();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(updates).toHaveLength(1);
  });
});
