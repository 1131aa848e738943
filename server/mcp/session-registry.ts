import type { EventBus, EventMap, SessionTransport } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import { holdAnswerFor } from '../events/durable-writes.js';
import type { JsonRpcErrorObject } from './jsonrpc-errors.js';

/** Why a session ended; reported on `session.ended`. */
export type SessionEndReason = EventMap['session.ended']['reason'];

/** One live MCP session, whatever its transport. */
export interface SessionEntry {
  readonly id: string;
  readonly transport: SessionTransport;
  /** The caller that created it; only that caller may use it. */
  readonly ownerId: string;
  readonly protocolVersion?: string;
  readonly createdAt: number;
  lastActivityAt: number;
  /** Requests in flight on the session (e.g. a long tool call). A session with one is never idle. */
  openStreams: number;
  /** Frees the transport, its streams and timers. Called once by the registry. */
  close(): Promise<void>;
  /** Answers the session's open requests with `error` (a shutdown's last word); resolves with how many. */
  answerPending?(error: JsonRpcErrorObject): Promise<number>;
}

/** Session figures for `/health` and `server_status`. */
export interface SessionStats {
  active: number;
  limit: number;
  /** Creation time of the oldest live session (ISO 8601), or null. */
  oldest: string | null;
  /** Creation time of the newest live session (ISO 8601), or null. */
  newest: string | null;
  averageAgeSeconds: number;
  byTransport: Record<SessionTransport, number>;
}

/** Options of {@link SessionRegistry}. */
export interface SessionRegistryOptions {
  maxSessions: number;
  idleTimeoutMs: number;
  sweepIntervalMs: number;
  events: EventBus;
  logger: Logger;
  /** Clock, for tests. */
  now?: () => number;
  /**
   * With several replicas: where sessions are recorded cluster-wide, so a request for a session landing on another
   * replica can be passed here (server/cluster).
   */
  directory?: SessionDirectoryLink;
}

/** What the registry needs of the cluster's session directory (server/cluster/session-directory.ts). */
export interface SessionDirectoryLink {
  /** This replica's id. */
  replica: string;
  claim(id: string, location: { replica: string; ownerId: string; transport: SessionTransport }, ttlSeconds: number): Promise<void>;
  release(id: string): Promise<void>;
}

/**
 * The live sessions of every transport: admission against MAX_SESSIONS, idle expiry, and teardown. Every session
 * that is added is removed exactly once — by close, DELETE, disconnect, idle sweep or shutdown — and its `close()`
 * frees what it holds, so nothing accumulates.
 */
export class SessionRegistry {
  private readonly sessions = new Map<string, SessionEntry>();
  /** Sessions being created (initialize in flight), counted against the limit so bursts cannot overshoot it. */
  private pending = 0;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** Directory writes by session id: the last claim (renewal) of each session, which answers may wait for. */
  private readonly claims = new Map<string, { at: number; written: Promise<void> }>();
  /** How long a directory entry lives without renewal: past the idle timeout and three sweeps, so live sessions never lapse. */
  private readonly claimTtlSeconds: number;

  constructor(private readonly options: SessionRegistryOptions) {
    this.now = options.now ?? Date.now;
    this.claimTtlSeconds = Math.ceil(Math.max(options.idleTimeoutMs, 3 * options.sweepIntervalMs) / 1000) + 60;
  }

  /** Starts the idle sweeper (unref'd: it never keeps the process alive). */
  start(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => void this.sweepIdle(), this.options.sweepIntervalMs);
    this.sweeper.unref();
  }

  /**
   * Reserves room for a new session. Returns a release function to call if creation fails before {@link add};
   * returns undefined when MAX_SESSIONS is reached.
   */
  reserve(): (() => void) | undefined {
    if (this.sessions.size + this.pending >= this.options.maxSessions) return undefined;
    this.pending += 1;
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.pending -= 1;
      }
    };
  }

  /** Registers a created session (its reservation must be released by the caller right after). */
  add(entry: Omit<SessionEntry, 'createdAt' | 'lastActivityAt' | 'openStreams'>): SessionEntry {
    const now = this.now();
    const full: SessionEntry = { ...entry, createdAt: now, lastActivityAt: now, openStreams: 0 };
    this.sessions.set(entry.id, full);
    // The answer that hands the client its session id waits for the directory (events/durable-writes.ts): its next
    // request may land on another replica, which must find the session.
    const claimed = this.claim(full);
    if (claimed) holdAnswerFor(claimed);
    this.options.events.emit('session.started', {
      sessionId: entry.id,
      transport: entry.transport,
      protocolVersion: entry.protocolVersion,
      clientId: entry.ownerId,
    });
    this.options.logger.info('session started', { sessionId: entry.id, transport: entry.transport, clientId: entry.ownerId });
    return full;
  }

  /** The session, if live. */
  get(id: string): SessionEntry | undefined {
    return this.sessions.get(id);
  }

  /** Settles once session `id` is recorded in the cluster's directory (at once without one). */
  placed(id: string): Promise<void> {
    return this.claims.get(id)?.written ?? Promise.resolve();
  }

  /** Records activity, postponing idle expiry. */
  touch(entry: SessionEntry): void {
    entry.lastActivityAt = this.now();
    this.renew(entry);
  }

  /** Records (renews) `entry` in the directory; the write, or undefined without a directory. */
  private claim(entry: SessionEntry): Promise<void> | undefined {
    const { directory } = this.options;
    if (!directory) return undefined;
    const written = directory
      .claim(entry.id, { replica: directory.replica, ownerId: entry.ownerId, transport: entry.transport }, this.claimTtlSeconds)
      .catch(
        (error: unknown) =>
          void this.options.logger.warn('session not recorded in the cluster directory', {
            sessionId: entry.id,
            error,
            category: 'cluster',
          }),
      );
    this.claims.set(entry.id, { at: this.now(), written });
    return written;
  }

  /** Renews the directory entry once a third of its lifetime has passed since the last claim. */
  private renew(entry: SessionEntry): void {
    const last = this.claims.get(entry.id);
    if (last && this.now() - last.at >= (this.claimTtlSeconds * 1000) / 3) void this.claim(entry);
  }

  /**
   * Marks a request in flight on the session; the returned function marks it done (idempotent). Finishing counts as
   * activity, so the idle clock starts when the last request ends.
   */
  trackStream(entry: SessionEntry): () => void {
    entry.openStreams += 1;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      entry.openStreams -= 1;
      entry.lastActivityAt = this.now();
    };
  }

  /** Removes a session and closes it. Safe to call again (and from inside the session's own close path). */
  async remove(id: string, reason: SessionEndReason): Promise<void> {
    const entry = this.sessions.get(id);
    if (!entry) return;
    this.sessions.delete(id);
    if (this.claims.delete(id)) {
      void this.options.directory
        ?.release(id)
        .catch((error: unknown) =>
          this.options.logger.warn('session not released in the cluster directory', { sessionId: id, error, category: 'cluster' }),
        );
    }
    const durationMs = this.now() - entry.createdAt;
    this.options.events.emit('session.ended', { sessionId: id, transport: entry.transport, reason, durationMs, clientId: entry.ownerId });
    this.options.logger.info('session ended', { sessionId: id, transport: entry.transport, reason, durationMs });
    try {
      await entry.close();
    } catch (error) {
      this.options.logger.warn('session close failed', { sessionId: id, error, category: 'internal' });
    }
  }

  /** Closes sessions idle longer than the timeout (no request in flight or received since). Returns how many were closed. */
  async sweepIdle(): Promise<number> {
    const cutoff = this.now() - this.options.idleTimeoutMs;
    const idle = [...this.sessions.values()].filter((s) => s.openStreams === 0 && s.lastActivityAt <= cutoff);
    await Promise.all(idle.map((s) => this.remove(s.id, 'idle')));
    // A session busy with a long call gets no requests, but must stay findable by the other replicas.
    for (const entry of this.sessions.values()) this.renew(entry);
    return idle.length;
  }

  /** Answers every session's open requests with `error` before a shutdown closes them; resolves with how many. */
  async answerPending(error: JsonRpcErrorObject): Promise<number> {
    const counts = await Promise.all([...this.sessions.values()].map((entry) => entry.answerPending?.(error).catch(() => 0) ?? 0));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  /** Closes every session (shutdown) and stops the sweeper. */
  async closeAll(reason: SessionEndReason = 'shutdown'): Promise<void> {
    this.stop();
    await Promise.all([...this.sessions.keys()].map((id) => this.remove(id, reason)));
  }

  /** Stops the sweeper without closing sessions. */
  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /** Number of live sessions. */
  get size(): number {
    return this.sessions.size;
  }

  /** Whether the sweeper timer is running (for leak checks). */
  get sweeping(): boolean {
    return this.sweeper !== undefined;
  }

  /** Figures for health and status. */
  stats(): SessionStats {
    const byTransport: Record<SessionTransport, number> = { 'streamable-http': 0, sse: 0, stdio: 0 };
    let oldest = Infinity;
    let newest = -Infinity;
    let ageSum = 0;
    const now = this.now();
    for (const session of this.sessions.values()) {
      byTransport[session.transport] += 1;
      oldest = Math.min(oldest, session.createdAt);
      newest = Math.max(newest, session.createdAt);
      ageSum += now - session.createdAt;
    }
    const active = this.sessions.size;
    return {
      active,
      limit: this.options.maxSessions,
      oldest: active ? new Date(oldest).toISOString() : null,
      newest: active ? new Date(newest).toISOString() : null,
      averageAgeSeconds: active ? Math.round(ageSum / active / 100) / 10 : 0,
      byTransport,
    };
  }
}
