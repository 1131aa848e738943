import type { SessionTransport } from '../events/bus.js';
import type { KeyValueStore } from '../storage/types.js';

const NS = 'cluster-sessions';

/** Where an MCP session lives: the replica holding its transport, and who owns it. */
export interface SessionLocation {
  replica: string;
  ownerId: string;
  transport: SessionTransport;
}

/** The cluster-wide list of MCP sessions, so a replica can pass a request for a session it does not hold to the one that does. */
export interface SessionDirectory {
  /** Records (or renews) `id` as held here; entries expire `ttlSeconds` after their last renewal. */
  claim(id: string, location: SessionLocation, ttlSeconds: number): Promise<void>;
  find(id: string): Promise<SessionLocation | undefined>;
  release(id: string): Promise<void>;
}

/** A {@link SessionDirectory} in shared storage (`cluster-sessions/{id}`). */
export function createSessionDirectory(storage: KeyValueStore): SessionDirectory {
  return {
    claim: (id, location, ttlSeconds) => storage.set(NS, id, location, ttlSeconds),
    find: (id) => storage.get<SessionLocation>(NS, id),
    release: async (id) => void (await storage.delete(NS, id)),
  };
}
