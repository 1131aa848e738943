import type { ClusterRun, RunDirectory } from '../claude/cluster-runs.js';
import type { Logger } from '../logging/logger.js';
import type { KeyValueStore } from '../storage/types.js';
import type { ReplicaBus } from './redis-bus.js';
import type { ReplicaPresence } from './replicas.js';

/** `{owner}\n{runId}` -> {@link ClusterRun}, with the lease as its TTL. */
const NS = 'cluster-runs';
/** `{n}` (0 <= n < CLUSTER_MAX_CONCURRENT_RUNS) -> the id of the run holding slot n, with the lease as its TTL. */
const SLOTS = 'cluster-run-slots';

/** A request from one replica to another about one of its runs. */
interface ControlMessage {
  type: 'stop-run';
  owner: string;
  runId: string;
}

/** Options of {@link createRunDirectory}. */
export interface RunDirectoryOptions {
  storage: KeyValueStore;
  presence: ReplicaPresence;
  bus: ReplicaBus;
  /** A run entry lives this long after its last renewal (the replica lease): a dead replica's runs free their slots. */
  leaseSeconds: number;
  /** CLUSTER_MAX_CONCURRENT_RUNS; unset: no cluster-wide limit. */
  maxRuns?: number;
  logger: Logger;
}

const controlChannel = (replica: string) => `cluster:control:${replica}`;
const idOf = (run: Pick<ClusterRun, 'owner' | 'runId'>) => `${run.owner}\n${run.runId}`;

/**
 * A {@link RunDirectory} on the storage port, with stop requests over the replica bus.
 *
 * Each running run is one entry whose TTL is the replica lease, renewed every third of it, so the runs of a replica
 * that died drop out by themselves. The cluster-wide limit is CLUSTER_MAX_CONCURRENT_RUNS slots, leases of the same
 * kind: a run takes the first free slot with an atomic set-if-absent (starting at a random one, so concurrent claims
 * rarely try the same), keeps it renewed, and deletes it when it ends; a dead replica's slots free themselves when
 * their lease runs out. However many runs start at once, exactly as many as there are free slots get one. No lock,
 * no leader: Redis's atomic writes are all it relies on.
 */
export async function createRunDirectory({
  storage,
  presence,
  bus,
  leaseSeconds,
  maxRuns,
  logger,
}: RunDirectoryOptions): Promise<RunDirectory & { close(): Promise<void> }> {
  const held = new Map<string, ClusterRun>();
  /** The slot each held run occupies (with a cluster-wide limit). */
  const slots = new Map<string, string>();
  let onStop: ((owner: string, runId: string) => void) | undefined;
  const write = (run: ClusterRun) => storage.set(NS, idOf(run), run, leaseSeconds);
  /** Takes a free slot for run `id`; `undefined` when all are taken. */
  const takeSlot = async (id: string): Promise<string | undefined> => {
    const first = Math.floor(Math.random() * maxRuns!);
    for (let i = 0; i < maxRuns!; i += 1) {
      const slot = String((first + i) % maxRuns!);
      if (await storage.setIfAbsent(SLOTS, slot, id, leaseSeconds)) return slot;
    }
    return undefined;
  };
  const freeSlot = async (id: string) => {
    const slot = slots.get(id);
    slots.delete(id);
    // Only our own: a slot that expired meanwhile (storage out for a lease) may be another run's now.
    if (slot !== undefined && (await storage.get(SLOTS, slot)) === id) await storage.delete(SLOTS, slot);
  };
  // Renewing only a live entry: a renewal racing with the run's release cannot bring the entry back. An entry that
  // expired anyway (storage out for a whole lease) is written again while its run still holds it.
  // A slot is renewed the same way; one lost anyway may have been taken by another run, so the cluster runs one over
  // the limit until a run ends (said in the log).
  const renew = setInterval(
    () => {
      for (const run of held.values()) {
        const id = idOf(run);
        void storage
          .setIfPresent(NS, id, run, leaseSeconds)
          .then((renewed) => (renewed || !held.has(id) ? undefined : write(run)))
          .catch((error: unknown) => logger.warn('cluster: run lease not renewed', { error, runId: run.runId, category: 'cluster' }));
        const slot = slots.get(id);
        if (slot === undefined) continue;
        void storage
          .setIfPresent(SLOTS, slot, id, leaseSeconds)
          .then(async (renewed) => {
            if (renewed || !slots.has(id) || (await storage.setIfAbsent(SLOTS, slot, id, leaseSeconds))) return;
            logger.warn('cluster: a run lost its CLUSTER_MAX_CONCURRENT_RUNS slot to another (storage was unreachable for a whole lease)', {
              runId: run.runId,
              category: 'cluster',
            });
          })
          .catch((error: unknown) => logger.warn('cluster: run slot not renewed', { error, runId: run.runId, category: 'cluster' }));
      }
    },
    (leaseSeconds * 1000) / 3,
  );
  renew.unref();

  await bus.subscribe(controlChannel(presence.id), (raw) => {
    let message: ControlMessage;
    try {
      message = JSON.parse(raw) as ControlMessage;
    } catch {
      return;
    }
    if (message.type === 'stop-run' && typeof message.owner === 'string' && typeof message.runId === 'string')
      onStop?.(message.owner, message.runId);
  });

  return {
    replica: presence.id,
    async claim(run) {
      const entry: ClusterRun = { ...run, replica: presence.id, startedAt: new Date().toISOString() };
      const id = idOf(entry);
      if (maxRuns !== undefined) {
        const slot = await takeSlot(id);
        if (slot === undefined) return false;
        slots.set(id, slot);
      }
      held.set(id, entry);
      await write(entry);
      return true;
    },
    async update(run) {
      const entry = held.get(idOf(run));
      if (!entry) return;
      if (run.sessionId) entry.sessionId = run.sessionId;
      await write(entry);
    },
    async release(run) {
      const id = idOf(run);
      if (!held.delete(id)) return;
      await storage.delete(NS, id);
      await freeSlot(id);
    },
    async elsewhere(owner) {
      const runs = (await storage.list<ClusterRun>(NS, `${owner}\n`))
        .map(({ value }) => value)
        .filter((run) => run.replica !== presence.id);
      const alive = await Promise.all(runs.map((run) => presence.alive(run.replica)));
      return runs.filter((_, i) => alive[i]);
    },
    async stop(run) {
      const message: ControlMessage = { type: 'stop-run', owner: run.owner, runId: run.runId };
      await bus.publish(controlChannel(run.replica), JSON.stringify(message));
    },
    onStop(handler) {
      onStop = handler;
    },
    async count() {
      return (await storage.list(NS)).length;
    },
    async close() {
      clearInterval(renew);
      await Promise.allSettled(
        [...held.keys()].map(async (id) => {
          await storage.delete(NS, id);
          await freeSlot(id);
        }),
      );
      held.clear();
    },
  };
}
