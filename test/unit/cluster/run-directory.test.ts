import { afterAll, describe, expect, it } from '@jest/globals';
import type { RunDirectory } from '../../../server/claude/cluster-runs.js';
import { createRedisBus, type ReplicaBus } from '../../../server/cluster/redis-bus.js';
import { startPresence, type ReplicaPresence } from '../../../server/cluster/replicas.js';
import { createRunDirectory } from '../../../server/cluster/run-directory.js';
import type { Logger } from '../../../server/logging/logger.js';
import { createStorage } from '../../../server/storage/create-storage.js';
import type { Storage } from '../../../server/storage/types.js';
import { deleteRedisKeys, REDIS_URL, redisSkipReason } from '../../helpers/redis.js';

/**
 * The run directory on real Redis: each "replica" here is what one server process has (its own storage connection,
 * presence lease, pub/sub bus and directory). A replica that dies is one whose storage and Redis connections stop
 * working at once, without any goodbye: what kill -9 leaves behind.
 */

const PREFIX = `ccm-run-directory-${process.pid}-${Date.now()}:`;
const skip = await redisSkipReason('the run directory');
const maybe = skip ? describe.skip : describe;
const logger = { warn: () => undefined, info: () => undefined } as unknown as Logger;

interface Replica {
  runs: RunDirectory & { close(): Promise<void> };
  presence: ReplicaPresence;
  stops: Array<[string, string]>;
  /** Stops this replica as a kill -9 would: no more heartbeats, renewals or subscriptions, nothing cleaned up. */
  die(): Promise<void>;
  close(): Promise<void>;
}

const opened: Replica[] = [];

/** A storage handle whose every operation fails once `dead` (the process is gone); reads before that pass through. */
function killable(storage: Storage): { storage: Storage; kill(): void } {
  let dead = false;
  const proxy = new Proxy(storage, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        dead ? Promise.reject(new Error('process gone')) : (value as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
  return { storage: proxy, kill: () => void (dead = true) };
}

async function replica(options: { leaseSeconds?: number; maxRuns?: number; space?: string } = {}): Promise<Replica> {
  const prefix = `${PREFIX}${options.space ?? ''}`;
  const raw = await createStorage({ kind: 'redis', url: REDIS_URL, keyPrefix: prefix });
  const { storage, kill } = killable(raw);
  const leaseSeconds = options.leaseSeconds ?? 10;
  const presence = await startPresence({ storage, leaseSeconds, onError: () => undefined });
  const bus: ReplicaBus = createRedisBus({ url: REDIS_URL, prefix, onError: () => undefined });
  const runs = await createRunDirectory({
    storage,
    presence,
    bus,
    leaseSeconds,
    ...(options.maxRuns !== undefined ? { maxRuns: options.maxRuns } : {}),
    logger,
  });
  const stops: Array<[string, string]> = [];
  runs.onStop((owner, runId) => void stops.push([owner, runId]));
  let closed = false;
  const made: Replica = {
    runs,
    presence,
    stops,
    async die() {
      closed = true;
      kill();
      await bus.close();
      await raw.close();
    },
    async close() {
      if (closed) return;
      closed = true;
      await runs.close();
      await bus.close();
      await presence.close();
      await raw.close();
    },
  };
  opened.push(made);
  return made;
}

async function until<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

afterAll(async () => {
  for (const r of opened) await r.close().catch(() => undefined);
  await deleteRedisKeys(PREFIX);
});

maybe('run directory (Redis)', () => {
  it('shows a run to the other replicas with its replica, session and task, and carries a stop request to it', async () => {
    const a = await replica();
    const b = await replica();
    const owner = `alice-${Date.now()}`;
    expect(await a.runs.claim({ runId: 'run-1', owner, taskId: 'task-1' })).toBe(true);
    await a.runs.update({ runId: 'run-1', owner, sessionId: 'session-1' });
    // Not "elsewhere" for the replica running it; another owner's runs are not listed.
    expect(await a.runs.elsewhere(owner)).toEqual([]);
    expect(await b.runs.elsewhere('bob')).toEqual([]);
    const [seen] = await b.runs.elsewhere(owner);
    expect(seen).toMatchObject({ runId: 'run-1', owner, replica: a.presence.id, sessionId: 'session-1', taskId: 'task-1' });

    await b.runs.stop(seen!);
    await until(
      'stop request delivered',
      async () => a.stops.length,
      (n) => n > 0,
      5000,
    );
    expect(a.stops).toEqual([[owner, 'run-1']]);
    expect(b.stops).toEqual([]);

    await a.runs.release({ runId: 'run-1', owner });
    expect(await b.runs.elsewhere(owner)).toEqual([]);
    await a.close();
    await b.close();
  });

  it('keeps a run (and its cluster-wide slot) while its replica lives, and frees both within the lease once the replica dies', async () => {
    const space = 'dead:';
    const a = await replica({ leaseSeconds: 2, maxRuns: 1, space });
    const b = await replica({ leaseSeconds: 2, maxRuns: 1, space });
    const owner = `carol-${Date.now()}`;
    expect(await a.runs.claim({ runId: 'long-run', owner })).toBe(true);
    // Alive and renewing: still there, and still holding the one slot, well after one lease.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await b.runs.elsewhere(owner)).map((run) => run.runId)).toEqual(['long-run']);
    expect(await b.runs.count()).toBe(1);
    expect(await b.runs.claim({ runId: 'waiting', owner })).toBe(false);

    const diedAt = Date.now();
    await a.die();
    // Its presence lapses within the lease: the run is no longer offered as running anywhere...
    await until(
      "dead replica's run still listed",
      () => b.runs.elsewhere(owner),
      (runs) => runs.length === 0,
      4000,
    );
    // ...and its entry and slot lapse with it: another replica's run gets the slot.
    await until(
      "dead replica's slot still held",
      () => b.runs.claim({ runId: 'waiting', owner }),
      (granted) => granted,
      4000,
    );
    expect(Date.now() - diedAt).toBeLessThan(2000 + 1500);
    expect(await b.runs.count()).toBe(1);
    await b.close();
  }, 20_000);

  it('a stop request to a replica that died reaches nobody, and the run is not listed for it', async () => {
    const a = await replica({ leaseSeconds: 2 });
    const b = await replica({ leaseSeconds: 2 });
    const owner = `dave-${Date.now()}`;
    await a.runs.claim({ runId: 'orphan', owner });
    const [run] = await b.runs.elsewhere(owner);
    await a.die();
    await b.runs.stop(run!);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(a.stops).toEqual([]);
    await until(
      "dead replica's run still listed",
      () => b.runs.elsewhere(owner),
      (runs) => runs.length === 0,
      4000,
    );
    await b.close();
  }, 10_000);

  it('holds CLUSTER_MAX_CONCURRENT_RUNS across replicas, also when claims race; a released slot is claimable again', async () => {
    // Own key space: runs of the other cases (a dead replica's until its lease ends) must not take slots here.
    const space = 'limit:';
    const a = await replica({ maxRuns: 3, space });
    const b = await replica({ maxRuns: 3, space });
    const owner = `erin-${Date.now()}`;
    const start = await a.runs.count();
    expect(start).toBe(0);
    const claims = await Promise.all(
      Array.from({ length: 8 }, (_, index) => (index % 2 === 0 ? a : b).runs.claim({ runId: `race-${index}`, owner })),
    );
    // Exactly as many as there are slots: none over the limit, and a burst does not leave slots unused.
    expect(claims.filter(Boolean).length).toBe(3);
    expect(await a.runs.count()).toBe(3);
    expect(await a.runs.claim({ runId: 'one-too-many', owner })).toBe(false);
    expect(await b.runs.count()).toBe(3);
    expect((await b.runs.elsewhere(owner)).some((run) => run.runId === 'one-too-many')).toBe(false);

    // A run ending frees its slot for any replica.
    const held = claims.findIndex(Boolean);
    await (held % 2 === 0 ? a : b).runs.release({ runId: `race-${held}`, owner });
    expect(await a.runs.claim({ runId: 'after-release', owner })).toBe(true);
    expect(await a.runs.count()).toBe(3);
    await a.close();
    await b.close();
    // A replica shutting down releases what it held.
    const c = await replica({ maxRuns: 3, space });
    expect(await c.runs.count()).toBe(0);
    await c.close();
  });
});
