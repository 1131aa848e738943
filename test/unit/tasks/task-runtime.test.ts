import { describe, expect, it } from '@jest/globals';
import { ProtocolError, type CallToolResult } from '@modelcontextprotocol/server';
import { createEventBus, type BusEvent } from '../../../server/events/bus.js';
import { createSilentLogger } from '../../../server/logging/logger.js';
import { createStorage } from '../../../server/storage/create-storage.js';
import type { Storage } from '../../../server/storage/types.js';
import type { TaskRecord } from '../../../server/tasks/task-record.js';
import { TaskRuntime } from '../../../server/tasks/task-runtime.js';
import { TaskLimitReached, type TaskWork, type TaskWorkContext } from '../../../server/tasks/task-work.js';
import { TaskStore } from '../../../server/tasks/task-store.js';

/** Work the test drives by hand: it ends when the test says, and exposes its context. */
function manualWork() {
  let finish!: (result: CallToolResult) => void;
  let fail!: (error: unknown) => void;
  let context!: TaskWorkContext;
  let began!: () => void;
  const started = new Promise<void>((resolve) => (began = resolve));
  const work: TaskWork = {
    kind: 'test',
    run: (ctx) => {
      context = ctx;
      began();
      return new Promise<CallToolResult>((res, rej) => {
        finish = res;
        fail = rej;
      });
    },
  };
  return { work, started, finish: (r: CallToolResult) => finish(r), fail: (e: unknown) => fail(e), context: () => context };
}

async function setup(options: { maxLive?: number; storage?: Storage } = {}) {
  const storage = options.storage ?? (await createStorage({ kind: 'memory' }));
  const events = createEventBus();
  const seen: BusEvent[] = [];
  events.onAny((event) => void seen.push(event));
  const store = new TaskStore(storage, 100);
  const runtime = new TaskRuntime({
    store,
    events,
    logger: createSilentLogger(),
    maxLive: options.maxLive ?? 5,
    pollIntervalMs: 100,
    ttl: { defaultMs: 3600_000, minMs: 60_000, maxMs: 24 * 3600_000 },
    flushMs: 20,
  });
  return { storage, store, runtime, events, seen };
}

const ok: CallToolResult = { content: [{ type: 'text', text: 'done' }] };
const until = async (predicate: () => Promise<boolean>) => {
  for (let i = 0; i < 200 && !(await predicate()); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
};

describe('TaskRuntime', () => {
  it('stores a task before handing out its id, and its end once the event saying so is stored', async () => {
    const { runtime, store, events } = await setup();
    const work = manualWork();
    const record = await runtime.start({
      owner: 'alice',
      tool: 'claude_ask',
      origin: 'task-2026',
      work: work.work,
      canAsk: false,
      ttlMs: 5,
    });
    expect(await store.owned('alice', record.taskId)).toMatchObject({ state: 'working', ttlMs: 60_000, origin: 'task-2026' });
    // A durable subscriber (the webhook outbox) that is slow to store the event: the record must not say "completed" before.
    let recordWhenStored: TaskRecord | undefined;
    let release!: () => void;
    events.onAny(
      async (event) => {
        if (event.type !== 'background_task.completed') return;
        await new Promise<void>((resolve) => (release = resolve));
        recordWhenStored = await store.read(record.taskId);
      },
      { durable: true },
    );
    await work.started;
    work.finish(ok);
    await until(async () => release !== undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await store.read(record.taskId))!.state).toBe('working');
    release();
    await runtime.drain();
    expect(recordWhenStored!.state).toBe('working');
    expect(await store.read(record.taskId)).toMatchObject({ state: 'completed', result: ok, summary: 'done' });
  });

  it('ends failed on a tool error, error on a JSON-RPC error, and never leaks a plain exception', async () => {
    const { runtime } = await setup();
    const ends = [];
    for (const outcome of [
      { isError: true, content: [{ type: 'text', text: 'timeout: slow' }] },
      new ProtocolError(-32001, 'gone', { why: 1 }),
      new Error('secret detail'),
    ]) {
      const work = manualWork();
      const { taskId } = await runtime.start({ owner: 'alice', tool: 't', origin: 'task-2025', work: work.work, canAsk: false });
      await work.started;
      if (outcome instanceof Error) work.fail(outcome);
      else work.finish(outcome as CallToolResult);
      await runtime.drain();
      ends.push(await runtime.get('alice', taskId));
    }
    expect(ends[0]).toMatchObject({ state: 'failed', result: { isError: true } });
    expect(ends[1]).toMatchObject({ state: 'error', error: { code: -32001, message: 'gone', data: { why: 1 } } });
    expect(ends[2]).toMatchObject({ state: 'error', error: { code: -32603, message: 'Internal error' } });
  });

  it('puts a question as input_required and gives the work the first answer of its owner only', async () => {
    const { runtime, store } = await setup();
    const work = manualWork();
    const { taskId } = await runtime.start({ owner: 'alice', tool: 't', origin: 'task-2026', work: work.work, canAsk: true });
    await work.started;
    const question = { mode: 'form' as const, message: 'Allow Write?', requestedSchema: { type: 'object' as const, properties: {} } };
    const answered = work.context().ask!(question, new AbortController().signal);
    await until(async () => (await store.read(taskId))?.state === 'input_required');
    const waiting = await runtime.get('alice', taskId);
    expect(waiting).toMatchObject({
      state: 'input_required',
      statusMessage: 'Allow Write?',
      inputRequests: { 'input-1': { method: 'elicitation/create', params: question } },
    });
    expect(await runtime.answer('bob', taskId, 'input-1', { action: 'accept' })).toBe(false);
    expect(await runtime.answer('alice', taskId, 'input-1', { action: 'accept', content: { allow: true } })).toBe(true);
    await runtime.answer('alice', taskId, 'input-1', { action: 'decline' });
    expect(await answered).toEqual({ action: 'accept', content: { allow: true } });
    expect(await runtime.get('alice', taskId)).toMatchObject({ state: 'working' });
    expect((await runtime.get('alice', taskId))!.inputRequests).toBeUndefined();
    // A question nobody answers ends with its signal.
    const abandon = new AbortController();
    const unanswered = work.context().ask!(question, abandon.signal);
    abandon.abort();
    await expect(unanswered).rejects.toThrow();
    expect((await runtime.get('alice', taskId))!.state).toBe('working');
    work.finish(ok);
    await runtime.drain();
  });

  it('cancels at once and for good: the work is told to stop and its later result is ignored', async () => {
    const { runtime, seen } = await setup();
    const work = manualWork();
    const { taskId } = await runtime.start({ owner: 'alice', tool: 't', origin: 'background', work: work.work, canAsk: false });
    await work.started;
    expect(await runtime.cancel('bob', taskId)).toBeUndefined();
    expect(work.context().signal.aborted).toBe(false);
    expect(await runtime.cancel('alice', taskId)).toMatchObject({ state: 'cancelled' });
    expect(work.context().signal.aborted).toBe(true);
    work.finish(ok);
    await runtime.drain();
    expect(await runtime.get('alice', taskId)).toMatchObject({ state: 'cancelled' });
    expect(await runtime.cancel('alice', taskId)).toMatchObject({ state: 'cancelled' });
    const ends = seen.filter((event) => event.type === 'background_task.failed' || event.type === 'background_task.completed');
    expect(ends.map((event) => event.data)).toEqual([{ taskId, owner: 'alice', category: 'aborted', status: 'aborted' }]);
  });

  it('refuses work beyond MAX_ASYNC_PROCESSES, and shutdown ends live tasks interrupted', async () => {
    const { runtime } = await setup({ maxLive: 1 });
    const work = manualWork();
    const { taskId } = await runtime.start({ owner: 'alice', tool: 't', origin: 'task-2025', work: work.work, canAsk: false });
    await expect(
      runtime.start({ owner: 'alice', tool: 't', origin: 'task-2025', work: manualWork().work, canAsk: false }),
    ).rejects.toBeInstanceOf(TaskLimitReached);
    await work.started;
    runtime.beginShutdown();
    expect(work.context().signal.aborted).toBe(true);
    work.finish({ isError: true, content: [{ type: 'text', text: 'aborted: shutting down' }] });
    await runtime.drain();
    expect(await runtime.get('alice', taskId)).toMatchObject({ state: 'interrupted', error: { code: -32603 } });
  });

  it('after a restart, marks what a stopped process left running interrupted; with shared storage only when its heartbeat stopped', async () => {
    const memory = await createStorage({ kind: 'memory' });
    const now = Date.parse('2026-01-01T01:00:00.000Z');
    const left = (taskId: string, heartbeatAt: string): TaskRecord => ({
      taskId,
      owner: 'alice',
      kind: 'tool-call',
      origin: 'task-2026',
      tool: 't',
      state: 'input_required',
      createdAt: '2026-01-01T00:00:00.000Z',
      lastUpdatedAt: '2026-01-01T00:00:00.000Z',
      ttlMs: 24 * 3600_000,
      pollIntervalMs: 100,
      inputSeq: 1,
      attempts: 1,
      log: [],
      heartbeatAt,
    });
    const shared = Object.assign(Object.create(memory) as Storage, { shared: true });
    const store = new TaskStore(memory, 100);
    await store.create(left('fresh', new Date(now - 5_000).toISOString()));
    await store.create(left('dead', new Date(now - 60_000).toISOString()));
    const { runtime: replica } = await setup({ storage: shared });
    expect(await replica.recover(now)).toBe(1);
    expect((await store.read('dead'))!).toMatchObject({ state: 'interrupted', error: { code: -32603 } });
    expect((await store.read('fresh'))!.state).toBe('input_required');
    const { runtime: alone } = await setup({ storage: memory });
    expect(await alone.recover(now)).toBe(1);
    expect((await store.read('fresh'))!.state).toBe('interrupted');
  });
});
