import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, InMemoryTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { BusEvent } from '../../server/events/bus.js';
import { startMockAnthropicApi, type MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import { createClaudeSandbox, type ClaudeSandbox } from '../helpers/claude-env.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { structuredOf } from '../helpers/claude-harness.js';

interface Task {
  taskId: string;
  status: string;
  sessionId?: string;
  costUsd?: number;
  attempts: number;
  summary?: string;
  error?: { category: string };
}

/** Background tasks: answered at once, detached from the request, durable across a restart (SQLite). */
describe('claude_background_tasks', () => {
  let mock: MockAnthropicApi;
  let sandbox: ClaudeSandbox;
  let dataDir: string;
  let server: TestServer;
  let client: Client;
  const events: BusEvent[] = [];

  const start = async () => {
    server = await startTestServer(
      { storage: 'sqlite', dataDir, workspaceRoots: [sandbox.workspace], runInterruptGraceMs: 1000, maxAsyncProcesses: 3 },
      { claudeEnvironment: sandbox.env },
    );
    server.container.events.onAny((event) => void events.push(event));
    client = new Client({ name: 'bg-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
  };
  const call = async (name: string, args: Record<string, unknown>, via: Client = client) => {
    const result = await via.callTool({ name, arguments: args }, { timeout: 60_000 });
    return {
      isError: result.isError,
      s: structuredOf(result) as Record<string, unknown> & { task?: Task; tasks?: Task[]; log?: string[] },
    };
  };
  const waitForTask = async (taskId: string, done: (task: Task) => boolean, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { s } = await call('claude_background_tasks', { action: 'logs', taskId });
      if (s.task && done(s.task)) return s;
      if (Date.now() > deadline) throw new Error(`task ${taskId} still ${s.task?.status}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  beforeAll(async () => {
    mock = await startMockAnthropicApi();
    sandbox = createClaudeSandbox(mock.url);
    dataDir = mkdtempSync(path.join(tmpdir(), 'ccm-bg-'));
    mock.on({ prompt: 'bg-hang', replies: [{ kind: 'hang' }] });
    await start();
  });
  afterAll(async () => {
    await client.close();
    await server.stop();
    await mock.close();
    sandbox.remove();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers at once with a task id, runs detached, and reports status, cost, logs and events', async () => {
    mock.on({ prompt: 'bg-quick', replies: [{ kind: 'text', text: 'background answer', chunks: 3, chunkDelayMs: 200 }] });
    const started = Date.now();
    const { s } = await call('claude_ask', { query: 'bg-quick', backgroundTask: true });
    expect(Date.now() - started).toBeLessThan(1000);
    const taskId = s.taskId as string;
    // 128 random bits, base64url.
    expect(taskId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const done = await waitForTask(taskId, (t) => t.status !== 'running');
    expect(done.task).toMatchObject({ status: 'completed', summary: 'background answer', attempts: 1 });
    expect(done.task!.costUsd).toBeGreaterThan(0);
    expect(done.log!.some((line) => line.includes('background answer'))).toBe(true);
    const { s: listed } = await call('claude_background_tasks', { action: 'list' });
    expect(listed.tasks!.map((t) => t.taskId)).toContain(taskId);
    expect(events.some((e) => e.type === 'background_task.started' && (e.data as { taskId: string }).taskId === taskId)).toBe(true);
    expect(events.some((e) => e.type === 'background_task.completed' && (e.data as { taskId: string }).taskId === taskId)).toBe(true);

    // restart runs it again in the same session
    const { s: restarted } = await call('claude_background_tasks', { action: 'restart', taskId });
    expect(restarted.task).toMatchObject({ status: 'running', attempts: 2 });
    const again = await waitForTask(taskId, (t) => t.status !== 'running');
    expect(again.task).toMatchObject({ status: 'completed', sessionId: done.task!.sessionId });
  });

  it('keeps running when the client disconnects', async () => {
    mock.on({ prompt: 'bg-detached', replies: [{ kind: 'text', text: 'finished without you', chunks: 4, chunkDelayMs: 250 }] });
    const other = new Client({ name: 'leaver', version: '1' });
    await other.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    const { s } = await call('claude_ask', { query: 'bg-detached', backgroundTask: true }, other);
    await other.close();
    const done = await waitForTask(s.taskId as string, (t) => t.status !== 'running');
    expect(done.task).toMatchObject({ status: 'completed', summary: 'finished without you' });
  });

  it('stop aborts a running task; another caller cannot see, read or stop it', async () => {
    const { s } = await call('claude_ask', { query: 'bg-hang', backgroundTask: true });
    const taskId = s.taskId as string;
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const intruderServer = server.container.factory({
      caller: { principalId: 'client-b', scopes: ['*'], method: 'api-key' },
      era: 'legacy',
      mode: 'stdio',
    });
    await intruderServer.connect(serverSide);
    const intruder = new Client({ name: 'intruder', version: '1' });
    await intruder.connect(clientSide);
    try {
      expect((await call('claude_background_tasks', { action: 'list' }, intruder)).s.tasks).toEqual([]);
      for (const action of ['logs', 'stop', 'restart']) {
        const { isError, s: denied } = await call('claude_background_tasks', { action, taskId }, intruder);
        expect(isError).toBe(true);
        expect(denied.error).toMatchObject({ category: 'not_found' });
      }
    } finally {
      await intruder.close();
      await intruderServer.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { s: stopped } = await call('claude_background_tasks', { action: 'stop', taskId });
    expect(stopped.task).toMatchObject({ status: 'aborted' });

    // claude_abort takes a taskId too.
    const { s: second } = await call('claude_ask', { query: 'bg-hang', backgroundTask: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { s: aborted } = await call('claude_abort', { taskId: second.taskId });
    expect(aborted).toMatchObject({ aborted: true, taskId: second.taskId, status: 'aborted' });
    expect((await call('claude_abort', { taskId: second.taskId })).s.error).toMatchObject({ category: 'not_found' });
  });

  it('a task running when the server stops is shown as interrupted after the restart', async () => {
    const { s } = await call('claude_ask', { query: 'bg-hang', backgroundTask: true });
    const taskId = s.taskId as string;
    await waitForTask(taskId, (t) => Boolean(t.sessionId));
    await client.close();
    await server.stop();
    await start();
    const { s: listed } = await call('claude_background_tasks', { action: 'list' });
    expect(listed.tasks!.find((t) => t.taskId === taskId)).toMatchObject({ status: 'interrupted' });
    expect(listed.tasks!.filter((t) => t.status === 'completed').length).toBeGreaterThanOrEqual(2);
  });
});
