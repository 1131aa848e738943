/**
 * The storage contract: one suite, run against every adapter, so memory, SQLite and Redis behave the same.
 *
 * Redis runs when it answers at REDIS_URL (default redis://127.0.0.1:6379). Locally an absent Redis skips its
 * block (visibly); with CI=true it fails it, because a CI job that silently skipped Redis would prove nothing.
 * TTL and lease tests use real time on every adapter, with short waits to keep the suite fast.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createStorage } from '../../server/storage/create-storage.js';
import type { Storage } from '../../server/storage/types.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const IN_CI = process.env.CI === 'true';
const RUN_ID = `ccm-test:${process.pid}:${randomUUID()}:`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function redisReachable(): Promise<boolean> {
  try {
    await (await createStorage({ kind: 'redis', url: REDIS_URL, keyPrefix: RUN_ID })).close();
    return true;
  } catch {
    return false;
  }
}

/** One adapter under test. */
interface Backend {
  /** The adapter, which is also the `kind` it must report. */
  name: Storage['kind'];
  /** Opens an instance; for sqlite and redis every instance sees the same data. */
  open(): Promise<Storage>;
  /** Whether two instances share state (false for memory). */
  shared: boolean;
  /** Why the block is skipped, when it is. */
  skip?: string;
  /** Removes what the run left behind in a shared backend (Redis keys). */
  cleanup(): Promise<void>;
}

const tempDir = mkdtempSync(join(tmpdir(), 'ccm-storage-'));
const backends: Backend[] = [
  { name: 'memory', shared: false, open: () => createStorage({ kind: 'memory' }), cleanup: async () => {} },
  {
    name: 'sqlite',
    shared: true,
    // A nested path: the adapter must create missing parent directories.
    open: () => createStorage({ kind: 'sqlite', path: join(tempDir, 'nested', 'storage.db') }),
    cleanup: async () => {}, // the top-level afterAll removes tempDir, even when a filter skips this block
  },
  {
    name: 'redis',
    shared: true,
    open: () => createStorage({ kind: 'redis', url: REDIS_URL, keyPrefix: RUN_ID }),
    skip: IN_CI || (await redisReachable()) ? undefined : `Redis unreachable at ${REDIS_URL} (set CI=true to fail instead)`,
    cleanup: async () => {
      const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        for await (const keys of redis.scanStream({ match: `${RUN_ID}*`, count: 500 }) as AsyncIterable<string[]>) {
          if (keys.length > 0) await redis.del(...keys);
        }
      } finally {
        redis.disconnect();
      }
    },
  },
];

// First in the file: after a refused connection ioredis keeps a 2 s disconnect timer (its `disconnectTimeout`)
// on the dead socket, which would hold the Jest worker open if this ran last.
describe('createStorage', () => {
  it('rejects quickly, naming REDIS_URL and hiding the password, when Redis is unreachable', async () => {
    const started = Date.now();
    const attempt = createStorage({ kind: 'redis', url: 'redis://:hunter2@127.0.0.1:1', keyPrefix: RUN_ID });
    await expect(attempt).rejects.toThrow(/^REDIS_URL: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1.*ECONNREFUSED/);
    await expect(attempt).rejects.not.toThrow(/hunter2/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

describe.each(backends)('$name storage', (backend) => {
  if (backend.skip) {
    it.skip(backend.skip, () => {});
    return;
  }
  const instances: Storage[] = [];
  const open = async (): Promise<Storage> => {
    const storage = await backend.open();
    instances.push(storage);
    return storage;
  };
  let store: Storage;
  // Every test works in fresh namespaces and queues, so tests never see each other's data.
  let counter = 0;
  const fresh = (label: string): string => `${label}-${++counter}`;

  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    for (const storage of instances) await storage.close();
    await backend.cleanup();
  });

  it('round-trips nested JSON through set, get and delete', async () => {
    const ns = fresh('kv');
    const value = { a: [1, { b: 'two', c: null }, []], d: { e: true, f: 1.5, g: {} }, h: 'ünïcødé 🎉' };
    expect(await store.get(ns, 'missing')).toBeUndefined();
    await store.set(ns, 'x', value);
    expect(await store.get(ns, 'x')).toEqual(value);
    await store.set(ns, 'x', 'replaced');
    expect(await store.get(ns, 'x')).toBe('replaced');
    expect(await store.delete(ns, 'x')).toBe(true);
    expect(await store.delete(ns, 'x')).toBe(false);
    expect(await store.get(ns, 'x')).toBeUndefined();
  });

  it('keeps namespaces apart, even with ":" in namespaces and ids', async () => {
    const ns = fresh('sep');
    await store.set(ns, 'b:c', 'short namespace');
    await store.set(`${ns}:b`, 'c', 'long namespace');
    await store.set(`${ns}:b:c`, '', 'empty id');
    expect(await store.get(ns, 'b:c')).toBe('short namespace');
    expect(await store.get(`${ns}:b`, 'c')).toBe('long namespace');
    expect(await store.get(`${ns}:b:c`, '')).toBe('empty id');
    expect(await store.list(ns)).toEqual([{ id: 'b:c', value: 'short namespace' }]);
    expect(await store.take(`${ns}:b`, 'c')).toBe('long namespace');
    expect(await store.get(ns, 'b:c')).toBe('short namespace');
  });

  it('lists live entries ordered by id, taking the prefix literally', async () => {
    const ns = fresh('list');
    for (const id of ['b', 'a_2', 'a10', 'a1', 'A1', 'a%', 'ab']) await store.set(ns, id, { id });
    expect((await store.list(ns)).map((e) => e.id)).toEqual(['A1', 'a%', 'a1', 'a10', 'a_2', 'ab', 'b']);
    expect(await store.list(ns, 'a1')).toEqual([
      { id: 'a1', value: { id: 'a1' } },
      { id: 'a10', value: { id: 'a10' } },
    ]);
    // `_` and `%` are SQL LIKE wildcards; `a_` must not match `ab`, and matching is case-sensitive.
    expect((await store.list(ns, 'a_')).map((e) => e.id)).toEqual(['a_2']);
    expect((await store.list(ns, 'a%')).map((e) => e.id)).toEqual(['a%']);
    expect(await store.list(fresh('empty'))).toEqual([]);
  });

  it('expires entries and counters after their TTL', async () => {
    const ns = fresh('ttl');
    await store.set(ns, 'short', 1, 1);
    await store.set(ns, 'taken', 2, 1);
    await store.set(ns, 'deleted', 3, 1);
    await store.set(ns, 'forever', 4);
    await store.set(ns, 'ttl-cleared', 5, 1);
    await store.set(ns, 'ttl-cleared', 6); // a plain set replaces the TTL too
    expect(await store.setIfAbsent(ns, 'marker', 'first', 1)).toBe(true);
    expect(await store.increment(ns, 'window', 1, 1)).toBe(1);
    expect(await store.increment(ns, 'window', 1, 60)).toBe(2); // the TTL is fixed at creation
    expect((await store.list(ns)).map((e) => e.id)).toEqual(['deleted', 'forever', 'marker', 'short', 'taken', 'ttl-cleared', 'window']);

    await sleep(1200);

    expect(await store.get(ns, 'short')).toBeUndefined();
    expect(await store.take(ns, 'taken')).toBeUndefined();
    expect(await store.delete(ns, 'deleted')).toBe(false);
    expect(await store.get(ns, 'window')).toBeUndefined();
    expect(await store.list(ns)).toEqual([
      { id: 'forever', value: 4 },
      { id: 'ttl-cleared', value: 6 },
    ]);
    expect(await store.setIfAbsent(ns, 'marker', 'second', 1)).toBe(true);
    expect(await store.get(ns, 'marker')).toBe('second');
    expect(await store.increment(ns, 'window', 1, 1)).toBe(1);
  });

  it('hands a value to exactly one of 50 concurrent takers', async () => {
    const ns = fresh('take');
    await store.set(ns, 'code', { code: 'abc' });
    const results = await Promise.all(Array.from({ length: 50 }, () => store.take(ns, 'code')));
    expect(results.filter((r) => r !== undefined)).toEqual([{ code: 'abc' }]);
    expect(await store.get(ns, 'code')).toBeUndefined();
    expect(await store.take(ns, 'code')).toBeUndefined();
  });

  it('lets exactly one of 50 concurrent setIfAbsent callers win, and keeps its value', async () => {
    const ns = fresh('nx');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.setIfAbsent(ns, 'jti', i, 60)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.get(ns, 'jti')).toBe(results.indexOf(true));
    expect(await store.setIfAbsent(ns, 'jti', 'late')).toBe(false);
  });

  it('setIfPresent replaces only a live entry, with its TTL, and never creates one', async () => {
    const ns = fresh('xx');
    expect(await store.setIfPresent(ns, 'never', 'created', 60)).toBe(false);
    expect(await store.get(ns, 'never')).toBeUndefined();
    await store.set(ns, 'deleted', 'old');
    await store.delete(ns, 'deleted');
    expect(await store.setIfPresent(ns, 'deleted', 'revived')).toBe(false);
    await store.set(ns, 'taken', 'old');
    await store.take(ns, 'taken');
    expect(await store.setIfPresent(ns, 'taken', 'revived')).toBe(false);

    await store.set(ns, 'slid', { v: 1 }, 1);
    expect(await store.setIfPresent(ns, 'slid', { v: 2 }, 60)).toBe(true); // a longer lifetime
    await store.set(ns, 'shortened', 'forever');
    expect(await store.setIfPresent(ns, 'shortened', 'brief', 1)).toBe(true);
    await store.set(ns, 'expiring', 'old', 1);
    await store.set(ns, 'cleared', 'old', 1);
    expect(await store.setIfPresent(ns, 'cleared', 'kept')).toBe(true); // no TTL given: no expiry, as with set
    expect(await store.get(ns, 'slid')).toEqual({ v: 2 });
    expect(await store.get(ns, 'shortened')).toBe('brief');

    await sleep(1200);

    expect(await store.setIfPresent(ns, 'expiring', 'revived', 60)).toBe(false);
    expect(await store.get(ns, 'expiring')).toBeUndefined();
    expect(await store.get(ns, 'shortened')).toBeUndefined();
    expect(await store.get(ns, 'slid')).toEqual({ v: 2 });
    // list sees the new lifetimes too, not the ones the entries were created with.
    expect(await store.list(ns)).toEqual([
      { id: 'cleared', value: 'kept' },
      { id: 'slid', value: { v: 2 } },
    ]);
    expect(await store.take(ns, 'slid')).toEqual({ v: 2 });
    await expect(store.setIfPresent(ns, 'cleared', undefined)).rejects.toThrow(TypeError);
    await expect(store.setIfPresent(ns, 'cleared', 'x', 0)).rejects.toThrow(RangeError);
    expect(await store.get(ns, 'cleared')).toBe('kept');
  });

  it('a delete racing setIfPresent calls (on two instances when shared) always leaves the entry deleted', async () => {
    const ns = fresh('xx-race');
    const other = backend.shared ? await open() : store;
    for (let round = 0; round < 40; round++) {
      const id = `grant-${round}`;
      await store.set(ns, id, { round, by: 'creator' }, 60);
      // Writers on both instances, the delete launched among them, so some writes land before it and some after.
      const writes: Array<Promise<boolean>> = [];
      let deletion: Promise<boolean> | undefined;
      for (let i = 0; i < 8; i++) {
        if (i === round % 8) deletion = (round % 2 ? store : other).delete(ns, id);
        writes.push((i % 2 ? other : store).setIfPresent(ns, id, { round, by: `writer-${i}` }, 60));
      }
      const [deleted] = await Promise.all([deletion as Promise<boolean>, ...writes]);
      // Nothing else removes the entry, so the delete found it; and no replace can bring it back afterwards.
      expect(deleted).toBe(true);
      expect(await store.get(ns, id)).toBeUndefined();
      expect(await other.get(ns, id)).toBeUndefined();
      expect(await other.setIfPresent(ns, id, { round, by: 'late' }, 60)).toBe(false);
    }
    expect(await store.list(ns)).toEqual([]);
  });

  it('counts 100 concurrent increments exactly', async () => {
    const ns = fresh('incr');
    const results = await Promise.all(Array.from({ length: 100 }, () => store.increment(ns, 'hits')));
    expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(await store.get(ns, 'hits')).toBe(100);
    expect(await store.increment(ns, 'hits', 5)).toBe(105);
    expect(await store.increment(ns, 'hits', -10)).toBe(95);
  });

  it('rejects what the port does not allow', async () => {
    const ns = fresh('bad');
    await expect(store.set(ns, 'x', undefined)).rejects.toThrow(TypeError);
    await expect(store.set(ns, 'x', 1, 0)).rejects.toThrow(RangeError);
    await store.set(ns, 'text', 'not a number');
    await expect(store.increment(ns, 'text')).rejects.toThrow();
    expect(await store.get(ns, 'text')).toBe('not a number');
  });

  it('hands queue items out in FIFO order and removes them on ack', async () => {
    const queue = fresh('q');
    const before = Date.now();
    const ids = [];
    for (let n = 0; n < 5; n++) ids.push(await store.enqueue(queue, { n, nested: { list: [n] } }));
    expect(new Set(ids).size).toBe(5);
    expect(await store.size(queue)).toBe(5);
    const first = await store.claim<{ n: number }>(queue, { max: 3, leaseMs: 10_000 });
    expect(first.map((item) => item.payload.n)).toEqual([0, 1, 2]);
    expect(first.map((item) => item.id)).toEqual(ids.slice(0, 3));
    expect(first[0]).toMatchObject({ attempts: 0, payload: { n: 0, nested: { list: [0] } } });
    // Redis stamps times with its own clock: allow a little skew either way.
    expect(first[0]?.enqueuedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(first[0]?.enqueuedAt).toBeLessThanOrEqual(Date.now() + 1000);
    const rest = await store.claim<{ n: number }>(queue, { max: 10, leaseMs: 10_000 });
    expect(rest.map((item) => item.payload.n)).toEqual([3, 4]);
    expect(await store.size(queue)).toBe(5); // leased items still count
    for (const id of ids) expect(await store.ack(queue, id)).toBe(true);
    expect(await store.ack(queue, ids[0] as string)).toBe(false);
    expect(await store.retry(queue, ids[0] as string, { delayMs: 0 })).toBe(false);
    expect(await store.size(queue)).toBe(0);
    expect(await store.claim(queue, { max: 10, leaseMs: 10_000 })).toEqual([]);
  });

  it('hides leased and delayed items until their time comes; retry counts attempts', async () => {
    const queue = fresh('lease');
    const leased = await store.enqueue(queue, 'leased');
    const delayed = await store.enqueue(queue, 'delayed', { delayMs: 250 });
    const retried = await store.enqueue(queue, 'retried');
    const claimed = await store.claim(queue, { max: 10, leaseMs: 300 });
    expect(claimed.map((item) => item.id)).toEqual([leased, retried]);
    expect(await store.retry(queue, retried, { delayMs: 800 })).toBe(true);
    expect(await store.claim(queue, { max: 10, leaseMs: 300 })).toEqual([]);

    await sleep(400);
    // The delay ended before the lease lapsed, so the later-enqueued item leads: availability orders, then enqueue.
    const again = await store.claim(queue, { max: 10, leaseMs: 10_000 });
    expect(again.map((item) => [item.id, item.payload, item.attempts])).toEqual([
      [delayed, 'delayed', 0],
      [leased, 'leased', 0],
    ]);

    await sleep(500);
    const retry = await store.claim(queue, { max: 10, leaseMs: 10_000 });
    expect(retry.map((item) => [item.id, item.payload, item.attempts])).toEqual([[retried, 'retried', 1]]);
    expect(await store.size(queue)).toBe(3);
  });

  it('enqueues a batch in order, after the items already queued, and acks a batch at once', async () => {
    const queue = fresh('batch');
    const single = await store.enqueue(queue, { n: -1 });
    expect(await store.enqueueMany(queue, [])).toEqual([]);
    const ids = await store.enqueueMany(
      queue,
      Array.from({ length: 300 }, (_, n) => ({ n })),
    );
    expect(ids).toHaveLength(300);
    expect(new Set([single, ...ids]).size).toBe(301);
    expect(await store.size(queue)).toBe(301);
    const claimed = await store.claim<{ n: number }>(queue, { max: 301, leaseMs: 10_000 });
    expect(claimed.map((item) => item.payload.n)).toEqual([-1, ...Array.from({ length: 300 }, (_, n) => n)]);
    expect(claimed.map((item) => item.id)).toEqual([single, ...ids]);
    expect(claimed.every((item) => item.attempts === 0)).toBe(true);

    // Unknown ids and ids of another queue are skipped, and only items that existed are counted.
    const other = fresh('batch-other');
    const [foreign] = await store.enqueueMany(other, ['stays']);
    expect(await store.ackMany(queue, [single, 'no-such-id', foreign as string, ...ids.slice(0, 99)])).toBe(100);
    expect(await store.ackMany(queue, [single])).toBe(0);
    expect(await store.ackMany(queue, [])).toBe(0);
    expect(await store.size(queue)).toBe(201);
    expect(await store.size(other)).toBe(1);
    expect(await store.ackMany(queue, ids.slice(99))).toBe(201);
    expect(await store.size(queue)).toBe(0);
    expect(await store.retry(queue, ids[150] as string, { delayMs: 0 })).toBe(false);
  });

  it('delays a batch as one, and stores none of it when one payload cannot be stored', async () => {
    const queue = fresh('batch-delay');
    await store.enqueueMany(queue, ['a', 'b'], { delayMs: 300 });
    expect(await store.claim(queue, { max: 10, leaseMs: 10_000 })).toEqual([]);
    await expect(store.enqueueMany(queue, ['c', undefined, 'd'])).rejects.toThrow(TypeError);
    await expect(store.enqueueMany(queue, ['e'], { delayMs: -1 })).rejects.toThrow(RangeError);
    expect(await store.size(queue)).toBe(2);
    await sleep(400);
    expect((await store.claim(queue, { max: 10, leaseMs: 10_000 })).map((item) => item.payload)).toEqual(['a', 'b']);
  });

  it('release ends leases early without counting an attempt, keeping enqueue order', async () => {
    const queue = fresh('release');
    const ids = await store.enqueueMany(queue, ['a', 'b', 'c', 'd']);
    const claimed = await store.claim<string>(queue, { max: 4, leaseMs: 60_000 });
    expect(claimed.map((item) => item.payload)).toEqual(['a', 'b', 'c', 'd']);
    expect(await store.ackMany(queue, [ids[0] as string])).toBe(1);
    // 'a' is gone and 'nope' never existed: neither is counted nor brought back.
    expect(await store.release(queue, [ids[3] as string, ids[0] as string, 'nope', ids[1] as string])).toBe(2);
    expect(await store.release(queue, [])).toBe(0);
    const again = await store.claim<string>(queue, { max: 10, leaseMs: 60_000 });
    expect(again.map((item) => [item.payload, item.attempts])).toEqual([
      ['b', 0],
      ['d', 0],
    ]);
    expect(await store.release(queue, [ids[2] as string, ids[1] as string], { delayMs: 300 })).toBe(2);
    await expect(store.release(queue, [ids[1] as string], { delayMs: -5 })).rejects.toThrow(RangeError);
    expect(await store.claim(queue, { max: 10, leaseMs: 60_000 })).toEqual([]);
    await sleep(400);
    expect((await store.claim<string>(queue, { max: 10, leaseMs: 60_000 })).map((item) => item.payload)).toEqual(['b', 'c']);
    expect(await store.size(queue)).toBe(3);
  });

  it('never hands one item to two concurrent claimers', async () => {
    const queue = fresh('race');
    const second = backend.shared ? await open() : store;
    for (let n = 0; n < 30; n++) await store.enqueue(queue, n);
    const batches = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? second : store).claim<number>(queue, { max: 4, leaseMs: 10_000 })),
    );
    const payloads = batches.flat().map((item) => item.payload);
    expect([...payloads].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, n) => n));
  });

  it('answers ping, closes idempotently and refuses work once closed', async () => {
    const storage = await backend.open();
    await expect(storage.ping()).resolves.toBeUndefined();
    expect(storage.kind).toBe(backend.name);
    // What replicas can run on: only Redis.
    expect(storage.shared).toBe(backend.name === 'redis');
    await storage.close();
    await storage.close();
    await expect(storage.ping()).rejects.toThrow();
  });

  if (backend.shared) {
    it('shares data between instances: one take and one setIfAbsent winner across both', async () => {
      const ns = fresh('shared');
      const other = await open();
      await store.set(ns, 'code', 'once');
      await store.set(ns, 'seen', { by: 'first' });
      expect(await other.get(ns, 'seen')).toEqual({ by: 'first' });
      const takes = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? other : store).take(ns, 'code')));
      expect(takes.filter((r) => r !== undefined)).toEqual(['once']);
      const wins = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? other : store).setIfAbsent(ns, 'nx', i)));
      expect(wins.filter(Boolean)).toHaveLength(1);
    });
  }
});
