import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { createEventBus } from '../../../server/events/bus.js';
import { answerBarrier, durably } from '../../../server/events/durable-writes.js';
import { runWithContext } from '../../../server/logging/context.js';

/** A write the test settles by hand. */
function pendingWrite(): { promise: Promise<void>; settle(): void; fail(): void } {
  let settle!: () => void;
  let fail!: () => void;
  const promise = new Promise<void>((resolve, reject) => {
    settle = resolve;
    fail = () => reject(new Error('store down'));
  });
  return { promise, settle, fail };
}

/** A response whose `end` records when it ran. */
function fakeResponse(): ServerResponse & { ended: boolean } {
  const res = Object.assign(new EventEmitter(), { ended: false }) as unknown as ServerResponse & { ended: boolean };
  (res as ServerResponse).end = function end(this: ServerResponse & { ended: boolean }) {
    this.ended = true;
    return this;
  } as ServerResponse['end'];
  return res;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('answers wait for the outbox writes of the events they acknowledge', () => {
  it('holds res.end and the barrier until a durable subscriber’s write settles', async () => {
    const bus = createEventBus();
    const write = pendingWrite();
    bus.onAny(() => write.promise, { durable: true });
    const res = fakeResponse();
    let barrier: Promise<void> | undefined;
    runWithContext({ requestId: 'r1', response: res }, () => {
      bus.emit('upstream.up', { server: 'x', tools: 1 });
      barrier = answerBarrier();
      res.end();
    });
    expect(barrier).toBeDefined();
    await tick();
    expect(res.ended).toBe(false);
    write.settle();
    await barrier;
    await tick();
    expect(res.ended).toBe(true);
  });

  it('a failed write releases the answer too (the outbox logs it), and the failure never reaches the emitter', async () => {
    const bus = createEventBus();
    const write = pendingWrite();
    bus.onAny(() => write.promise, { durable: true });
    const res = fakeResponse();
    runWithContext({ response: res }, () => {
      expect(() => bus.emit('upstream.up', { server: 'x', tools: 1 })).not.toThrow();
      res.end();
    });
    write.fail();
    await tick();
    await tick();
    expect(res.ended).toBe(true);
  });

  it('holds nothing for ordinary subscribers, for durable ones that return nothing, or outside a request', async () => {
    const bus = createEventBus();
    const write = pendingWrite();
    bus.onAny(() => write.promise);
    bus.onAny(() => undefined, { durable: true });
    const res = fakeResponse();
    runWithContext({ response: res }, () => {
      bus.emit('upstream.up', { server: 'x', tools: 1 });
      expect(answerBarrier()).toBeUndefined();
      res.end();
    });
    expect(res.ended).toBe(true);
    const durable = createEventBus();
    durable.onAny(() => write.promise, { durable: true });
    durable.emit('upstream.up', { server: 'x', tools: 1 });
    expect(answerBarrier()).toBeUndefined();
    write.settle();
  });

  it('a later barrier in the same request still waits for an earlier write that has not settled', async () => {
    const bus = createEventBus();
    const first = pendingWrite();
    const second = pendingWrite();
    const writes = [first, second];
    bus.onAny(() => writes.shift()!.promise, { durable: true });
    const order: string[] = [];
    await runWithContext({}, async () => {
      bus.emit('upstream.up', { server: 'x', tools: 1 });
      const a = answerBarrier()!.then(() => order.push('a'));
      bus.emit('upstream.down', { server: 'x', reason: 'gone' });
      const b = answerBarrier()!.then(() => order.push('b'));
      second.settle();
      await tick();
      expect(order).toEqual([]);
      first.settle();
      await Promise.all([a, b]);
    });
    expect(order).toEqual(['a', 'b']);
    await runWithContext({}, async () => expect(answerBarrier()).toBeUndefined());
  });

  it('durably() resolves only after the writes its function caused, and forgets them afterwards', async () => {
    const bus = createEventBus();
    const write = pendingWrite();
    bus.onAny(() => write.promise, { durable: true });
    let done = false;
    const running = durably(() => bus.emit('background_task.completed', { taskId: 't', owner: 'o', costUsd: 0, durationMs: 1 })).then(
      () => (done = true),
    );
    await tick();
    expect(done).toBe(false);
    write.settle();
    await running;
    expect(done).toBe(true);
  });
});
