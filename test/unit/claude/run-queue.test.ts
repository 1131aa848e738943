import { describe, expect, it } from '@jest/globals';
import { ClaudeError } from '../../../server/claude/errors.js';
import { RunQueue, type RunPriority } from '../../../server/claude/run-queue.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('RunQueue', () => {
  it('never runs more than maxConcurrent jobs and starts high before normal before low, FIFO within a priority', async () => {
    const queue = new RunQueue({ maxConcurrent: 2, maxQueued: 10 });
    const started: string[] = [];
    let running = 0;
    let peak = 0;
    const gates = new Map<string, ReturnType<typeof deferred>>();
    const job = (name: string, priority: RunPriority) => {
      const gate = deferred();
      gates.set(name, gate);
      return queue.schedule(priority, async () => {
        started.push(name);
        running += 1;
        peak = Math.max(peak, running);
        await gate.promise;
        running -= 1;
      });
    };
    const all = [job('a', 'low'), job('b', 'low'), job('c', 'low'), job('d', 'normal'), job('e', 'high'), job('f', 'high')];
    await Promise.resolve();
    expect(started).toEqual(['a', 'b']);
    expect(queue.queued).toBe(4);
    for (const name of ['a', 'b', 'e', 'f', 'd', 'c']) {
      gates.get(name)!.resolve();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    expect(started).toEqual(['a', 'b', 'e', 'f', 'd', 'c']);
    expect(peak).toBe(2);
    expect(queue.active).toBe(0);
  });

  it('rejects with busy when the queue is full, and with aborted when the signal fires while waiting', async () => {
    const queue = new RunQueue({ maxConcurrent: 1, maxQueued: 1 });
    const gate = deferred();
    const first = queue.schedule('normal', () => gate.promise);
    const controller = new AbortController();
    const waiting = queue.schedule('normal', async () => 'ran', controller.signal);
    await expect(queue.schedule('high', async () => 'x')).rejects.toMatchObject({ category: 'busy' });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ category: 'aborted' });
    expect(queue.queued).toBe(0);
    gate.resolve();
    await first;
  });

  it('close fails every waiting job and refuses new ones', async () => {
    const queue = new RunQueue({ maxConcurrent: 1, maxQueued: 5 });
    const gate = deferred();
    const first = queue.schedule('normal', () => gate.promise);
    const waiting = queue.schedule('normal', async () => 'never');
    queue.close(new ClaudeError('aborted', 'shutting down'));
    await expect(waiting).rejects.toMatchObject({ category: 'aborted' });
    await expect(queue.schedule('normal', async () => 'x')).rejects.toMatchObject({ category: 'busy' });
    gate.resolve();
    await first;
  });
});
