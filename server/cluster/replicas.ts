import { randomUUID } from 'node:crypto';
import type { KeyValueStore } from '../storage/types.js';

const NS = 'cluster-replicas';

/** This replica's presence in the cluster: a heartbeat others read to know it is alive. */
export interface ReplicaPresence {
  /** This replica's id (random per process start). */
  readonly id: string;
  /** Whether replica `id` heartbeated within the lease. */
  alive(id: string): Promise<boolean>;
  /** The replicas alive now. */
  list(): Promise<Array<{ id: string; startedAt: string }>>;
  /** Stops heartbeating and removes this replica's entry. */
  close(): Promise<void>;
}

/** Options of {@link startPresence}. */
export interface PresenceOptions {
  storage: KeyValueStore;
  /** How long a replica counts as alive after its last heartbeat (seconds). */
  leaseSeconds: number;
  onError?: (error: unknown) => void;
}

/**
 * Heartbeats into shared storage every third of the lease: `cluster-replicas/{id}` with the lease as its TTL. A
 * replica killed with `kill -9` is gone for everyone once its lease runs out.
 */
export async function startPresence({ storage, leaseSeconds, onError }: PresenceOptions): Promise<ReplicaPresence> {
  const id = randomUUID();
  const startedAt = new Date().toISOString();
  const beat = () => storage.set(NS, id, { startedAt }, leaseSeconds);
  await beat();
  const timer = setInterval(() => void beat().catch(onError), (leaseSeconds * 1000) / 3);
  timer.unref();
  return {
    id,
    async alive(other) {
      return other === id || (await storage.get(NS, other)) !== undefined;
    },
    async list() {
      const entries = await storage.list<{ startedAt: string }>(NS);
      return entries.map(({ id: replica, value }) => ({ id: replica, startedAt: value.startedAt }));
    },
    async close() {
      clearInterval(timer);
      await storage.delete(NS, id).catch(onError);
    },
  };
}
