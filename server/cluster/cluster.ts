import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RunDirectory } from '../claude/cluster-runs.js';
import type { Logger } from '../logging/logger.js';
import type { Caller } from '../mcp/caller.js';
import type { SessionDirectoryLink } from '../mcp/session-registry.js';
import type { KeyValueStore } from '../storage/types.js';
import { createForwarder, type Forwarder } from './forwarder.js';
import { createRedisBus, type ReplicaBus } from './redis-bus.js';
import { startPresence, type ReplicaPresence } from './replicas.js';
import { createRunDirectory } from './run-directory.js';
import { createSessionDirectory, type SessionDirectory } from './session-directory.js';

/** Serves a request for a session this replica does not hold, by passing it to the replica that does. */
export interface RemoteSessions {
  /**
   * When `sessionId` is a live session of another replica, owned by `caller`, passes the request there and resolves
   * `true` once its answer ended; `false` when it is not (the caller then answers "session not found").
   */
  serve(req: IncomingMessage, res: ServerResponse, body: unknown, caller: Caller, sessionId: string): Promise<boolean>;
}

/**
 * This process as one replica of several sharing a Redis: its presence (a heartbeat lease), the cluster-wide session
 * directory, and request forwarding to the replica holding a session. Built only with shared storage.
 */
export interface Cluster extends RemoteSessions {
  readonly presence: ReplicaPresence;
  readonly directory: SessionDirectory;
  /** The Claude runs of every replica: where each runs, stop requests between replicas, the cluster-wide run limit. */
  readonly runs: RunDirectory;
  /** What the session registry records sessions through. */
  readonly link: SessionDirectoryLink;
  /** Starts taking requests forwarded by other replicas, replaying them against `localUrl` (this replica's listener). */
  listen(localUrl: string): Promise<void>;
  /** Whether `req` was forwarded here by another replica (its rate limits were counted there). */
  isForwarded(req: IncomingMessage): boolean;
  close(): Promise<void>;
}

/** Options of {@link createCluster}. */
export interface ClusterOptions {
  storage: KeyValueStore;
  redisUrl: string;
  keyPrefix: string;
  logger: Logger;
  /** A replica not heard from for this long is dead: its sessions fail, its runs are marked (seconds). */
  leaseSeconds?: number;
  /** CLUSTER_MAX_CONCURRENT_RUNS: Claude runs at once across the cluster; unset, no cluster-wide limit. */
  maxRuns?: number;
}

const SECRET_NS = 'cluster';

/**
 * Joins the cluster: heartbeats at once and takes stop requests for its runs; forwarding starts with
 * {@link Cluster.listen}.
 */
export async function createCluster({
  storage,
  redisUrl,
  keyPrefix,
  logger,
  leaseSeconds = 10,
  maxRuns,
}: ClusterOptions): Promise<Cluster> {
  const onError = (error: unknown) => logger.warn('cluster: shared storage or Redis failed', { error, category: 'cluster' });
  const presence = await startPresence({ storage, leaseSeconds, onError });
  const directory = createSessionDirectory(storage);
  const bus: ReplicaBus = createRedisBus({ url: redisUrl, prefix: keyPrefix, onError });
  const runs = await createRunDirectory({ storage, presence, bus, leaseSeconds, ...(maxRuns !== undefined ? { maxRuns } : {}), logger });
  // One secret for the whole cluster, kept in shared storage: whichever replica starts first sets it.
  await storage.setIfAbsent(SECRET_NS, 'forwarding-secret', randomBytes(32).toString('base64url'));
  const secret = (await storage.get<string>(SECRET_NS, 'forwarding-secret'))!;
  let forwarder: Forwarder | undefined;
  logger.info('cluster: joined', {
    replica: presence.id,
    leaseSeconds,
    ...(maxRuns !== undefined ? { maxRuns } : {}),
    category: 'cluster',
  });

  return {
    presence,
    directory,
    runs,
    link: {
      replica: presence.id,
      claim: (id, location, ttl) => directory.claim(id, location, ttl),
      release: (id) => directory.release(id),
    },
    async listen(localUrl) {
      forwarder = await createForwarder({ bus, presence, secret, localUrl, logger });
    },
    isForwarded(req) {
      return forwarder?.isForwarded(req) ?? false;
    },
    async serve(req, res, body, caller, sessionId) {
      // A forwarded request is served here or not at all: never passed on again.
      if (!forwarder || forwarder.isForwarded(req)) return false;
      const location = await directory.find(sessionId);
      if (!location || location.replica === presence.id || location.ownerId !== caller.principalId) return false;
      if (!(await presence.alive(location.replica))) {
        // Its replica is gone, and the session with it: the client starts a new one.
        await directory.release(sessionId).catch(onError);
        return false;
      }
      if ((await forwarder.forward(req, res, body, location.replica)) === 'gone') await directory.release(sessionId).catch(onError);
      return true;
    },
    async close() {
      await forwarder?.close();
      await runs.close();
      await bus.close();
      await presence.close();
    },
  };
}
