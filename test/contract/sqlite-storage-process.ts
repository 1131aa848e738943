/**
 * A separate process on a shared SQLite file, started by `storage.test.ts` (with `node --import tsx`) to test what
 * one process cannot: locking between processes, and surviving a process that dies without closing.
 *
 * Usage:
 * - `race <file> <startAt> <keys> <queue>`: waits until `startAt` (epoch ms) so the racers overlap, then `take`s
 *   keys `k0..k{keys-1}` of namespace `race` and claims from `queue` until it is empty; prints
 *   `{"taken": [...], "claimed": [...]}` (the keys it got a value for, the item ids it was handed).
 * - `crash <file>`: writes an entry, enqueues an item, enqueues a batch of two and acks the first of those in a batch,
 *   then SIGKILLs itself without closing the storage.
 */
import { createSqliteStorage } from '../../server/storage/sqlite/sqlite-storage.js';

const [mode, file, ...rest] = process.argv.slice(2);
if (!file) throw new Error('usage: sqlite-storage-process.ts race|crash <file> ...');
const storage = createSqliteStorage({ path: file });

if (mode === 'crash') {
  await storage.set('crash', 'entry', { written: 'before the crash' });
  await storage.enqueue('crash-queue', { n: 1 });
  const [delivered] = await storage.enqueueMany('crash-queue', [{ n: 2 }, { n: 3 }]);
  await storage.ackMany('crash-queue', [delivered as string]);
  process.kill(process.pid, 'SIGKILL');
} else if (mode === 'race') {
  const [startAt = '0', keys = '0', queue = 'race'] = rest;
  while (Date.now() < Number(startAt)) await new Promise((resolve) => setTimeout(resolve, 1));
  const taken: string[] = [];
  for (let i = 0; i < Number(keys); i++) if ((await storage.take('race', `k${i}`)) !== undefined) taken.push(`k${i}`);
  const claimed: string[] = [];
  for (;;) {
    // A long lease: an empty answer then means every item has been handed to someone, not that leases ran out.
    const items = await storage.claim(queue, { max: 3, leaseMs: 60_000 });
    if (items.length === 0) break;
    claimed.push(...items.map((item) => item.id));
  }
  await storage.close();
  process.stdout.write(JSON.stringify({ taken, claimed }));
} else {
  throw new Error(`unknown mode ${String(mode)}`);
}
