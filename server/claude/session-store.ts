import type { KeyValueStore } from '../storage/types.js';

/** Who owns a Claude Code session, and where it runs. */
export interface SessionRecord {
  sessionId: string;
  /** `Caller.principalId` of the creator; only this caller may resume, fork, checkpoint or abort it. */
  owner: string;
  /** Real path of the working directory the session was created in. */
  cwd: string;
  /** The session it was forked from, if any. */
  forkedFrom?: string;
  createdAt: string;
  updatedAt: string;
}

const NS = 'claude-sessions';

/** How long an unused session stays resumable: its ownership record and, with shared storage, its transcript. */
export const SESSION_RETENTION_SECONDS = 30 * 24 * 3600;

/**
 * Ownership records of Claude Code sessions, on the storage port so they survive restarts and are shared by
 * replicas. The transcripts are where Claude Code writes them (`$HOME/.claude/projects`), and with shared storage
 * also in the transcript store (transcript-store.ts), so that every replica can resume them.
 */
export class SessionStore {
  constructor(
    private readonly store: KeyValueStore,
    /** How long an unused session stays resumable. */
    private readonly ttlSeconds = SESSION_RETENTION_SECONDS,
  ) {}

  /** Records (or refreshes) a session for `owner`. */
  async save(record: Omit<SessionRecord, 'createdAt' | 'updatedAt'> & { createdAt?: string }): Promise<SessionRecord> {
    const now = new Date().toISOString();
    const existing = await this.store.get<SessionRecord>(NS, record.sessionId);
    const value: SessionRecord = { ...existing, ...record, createdAt: existing?.createdAt ?? record.createdAt ?? now, updatedAt: now };
    await this.store.set(NS, record.sessionId, value, this.ttlSeconds);
    return value;
  }

  /**
   * The session when `owner` owns it; `undefined` when it does not exist *or* belongs to someone else, so callers
   * cannot tell the two apart (no hint that another client's session exists).
   */
  async findOwned(owner: string, sessionId: string): Promise<SessionRecord | undefined> {
    const record = await this.store.get<SessionRecord>(NS, sessionId);
    return record && record.owner === owner ? record : undefined;
  }
}
