import { randomBytes } from 'node:crypto';
import type { SessionKey, SessionStore as AgentSessionStore, SessionStoreEntry } from '@anthropic-ai/claude-agent-sdk';
import type { Logger } from '../logging/logger.js';
import type { KeyValueStore } from '../storage/types.js';

/** `{sessionId}` -> what is kept of a session's transcript: its parts (main, subagents) as lists of chunk ids. */
const MANIFESTS = 'claude-transcripts';
/** `{sessionId}\n{chunkId}` -> one appended batch of transcript entries. */
const CHUNKS = 'claude-transcript-chunks';

interface Manifest {
  /** The project key of the first append (the SDK's sanitized cwd); informative, lookups go by session id. */
  projectKey: string;
  /** Chunk ids per part, in append order; `''` is the main transcript, others are subagent subpaths. */
  parts: Record<string, string[]>;
  /** JSON size of every entry stored so far (the bound applies to it). */
  bytes: number;
  /** Set once the transcript outgrew the bound: its chunks are dropped and the session is resumable only where it ran. */
  truncated?: true;
}

/** Options of {@link TranscriptStore}. */
export interface TranscriptStoreOptions {
  store: KeyValueStore;
  /** Retention, renewed by every append and every resume: the same as the session's ownership record. */
  ttlSeconds: number;
  /** TRANSCRIPT_MAX_BYTES: a transcript growing past it is dropped from the store. */
  maxBytes: number;
  logger: Logger;
}

/**
 * The Agent SDK's `SessionStore` on the storage port, so every replica sharing Redis can resume, fork and checkpoint
 * any session. The SDK mirrors each run's transcript lines here as Claude Code writes them locally (`append`, at the
 * end of each turn and every 500 entries or 1 MB), and before a resumed or forked run starts it `load`s the session
 * into a temporary config folder the child resumes from (sdk.d.ts, `Options.sessionStore`).
 *
 * Appends are stored as chunks plus one small manifest per session, so an append never rewrites the transcript.
 * Lookups go by session id alone: ids are UUIDs, and a session resumed from another working directory (another
 * project key) stays one conversation. Every `load` rewrites what it read as one chunk with a fresh lifetime, so a
 * session in use never loses its beginning to the TTL. Appends to one session are serialised in this process; two
 * processes appending to one session at the same moment (two runs of one session at once) are not supported.
 */
export class TranscriptStore implements AgentSessionStore {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly options: TranscriptStoreOptions) {}

  append(key: SessionKey, entries: SessionStoreEntry[]): Promise<void> {
    return this.locked(key.sessionId, async () => {
      const { store, ttlSeconds, maxBytes } = this.options;
      const manifest = (await store.get<Manifest>(MANIFESTS, key.sessionId)) ?? { projectKey: key.projectKey, parts: {}, bytes: 0 };
      if (manifest.truncated || entries.length === 0) return;
      const bytes = JSON.stringify(entries).length;
      if (manifest.bytes + bytes > maxBytes) return this.truncate(key.sessionId, manifest);
      const chunkId = newChunkId();
      await store.set(CHUNKS, `${key.sessionId}\n${chunkId}`, entries, ttlSeconds);
      (manifest.parts[key.subpath ?? ''] ??= []).push(chunkId);
      manifest.bytes += bytes;
      await store.set(MANIFESTS, key.sessionId, manifest, ttlSeconds);
    });
  }

  /** The part's entries, or `null` when nothing complete is kept (never stored, outgrown, or a chunk expired). */
  load(key: SessionKey): Promise<SessionStoreEntry[] | null> {
    return this.locked(key.sessionId, async () => {
      const part = key.subpath ?? '';
      const found = await this.current(key.sessionId, part);
      if (!found) return null;
      await this.rewrite(key.sessionId, found.manifest, part, found.entries);
      return found.entries;
    });
  }

  async listSubkeys(key: { projectKey: string; sessionId: string }): Promise<string[]> {
    const manifest = await this.options.store.get<Manifest>(MANIFESTS, key.sessionId);
    return manifest ? Object.keys(manifest.parts).filter((part) => part !== '') : [];
  }

  delete(key: SessionKey): Promise<void> {
    return this.locked(key.sessionId, async () => {
      const { store } = this.options;
      const manifest = await store.get<Manifest>(MANIFESTS, key.sessionId);
      if (!manifest) return;
      const parts = key.subpath === undefined ? Object.keys(manifest.parts) : [key.subpath];
      for (const part of parts) {
        for (const chunkId of manifest.parts[part] ?? []) await store.delete(CHUNKS, `${key.sessionId}\n${chunkId}`);
        delete manifest.parts[part];
      }
      if (key.subpath === undefined) await store.delete(MANIFESTS, key.sessionId);
      else await store.set(MANIFESTS, key.sessionId, manifest, this.options.ttlSeconds);
    });
  }

  /** The last user or assistant entry of a session's main transcript: where a checkpoint can fork the conversation. */
  async lastMessageUuid(sessionId: string): Promise<string | undefined> {
    const found = await this.current(sessionId, '');
    return found?.entries.findLast((entry) => typeof entry.uuid === 'string' && (entry.type === 'user' || entry.type === 'assistant'))
      ?.uuid;
  }

  /**
   * The manifest and a part's entries. A chunk missing on the first read may have been compacted away by another
   * replica loading the session at the same moment (its manifest then names the new chunk), so it reads once more.
   */
  private async current(sessionId: string, part: string): Promise<{ manifest: Manifest; entries: SessionStoreEntry[] } | undefined> {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const manifest = await this.options.store.get<Manifest>(MANIFESTS, sessionId);
      if (!manifest?.parts[part]?.length || manifest.truncated) return undefined;
      const entries = await this.read(sessionId, manifest, part);
      if (entries) return { manifest, entries };
    }
    return undefined;
  }

  /** A part's entries in append order, an entry stored twice (a replayed batch) once; `undefined` if incomplete. */
  private async read(sessionId: string, manifest: Manifest, part: string): Promise<SessionStoreEntry[] | undefined> {
    const chunkIds = manifest.truncated ? undefined : manifest.parts[part];
    if (!chunkIds?.length) return undefined;
    const seen = new Set<string>();
    const entries: SessionStoreEntry[] = [];
    for (const chunkId of chunkIds) {
      const chunk = await this.options.store.get<SessionStoreEntry[]>(CHUNKS, `${sessionId}\n${chunkId}`);
      if (!chunk) return undefined;
      for (const entry of chunk) {
        if (typeof entry.uuid === 'string') {
          if (seen.has(entry.uuid)) continue;
          seen.add(entry.uuid);
        }
        entries.push(entry);
      }
    }
    return entries;
  }

  /** Replaces a part's chunks with one holding `entries`, with a fresh lifetime (and the manifest's renewed). */
  private async rewrite(sessionId: string, manifest: Manifest, part: string, entries: SessionStoreEntry[]): Promise<void> {
    const { store, ttlSeconds } = this.options;
    const old = manifest.parts[part] ?? [];
    const chunkId = newChunkId();
    await store.set(CHUNKS, `${sessionId}\n${chunkId}`, entries, ttlSeconds);
    manifest.parts[part] = [chunkId];
    await store.set(MANIFESTS, sessionId, manifest, ttlSeconds);
    for (const stale of old) await store.delete(CHUNKS, `${sessionId}\n${stale}`);
  }

  private async truncate(sessionId: string, manifest: Manifest): Promise<void> {
    const { store, ttlSeconds, maxBytes, logger } = this.options;
    for (const chunkIds of Object.values(manifest.parts))
      for (const chunkId of chunkIds) await store.delete(CHUNKS, `${sessionId}\n${chunkId}`);
    await store.set<Manifest>(
      MANIFESTS,
      sessionId,
      { projectKey: manifest.projectKey, parts: {}, bytes: manifest.bytes, truncated: true },
      ttlSeconds,
    );
    logger.warn(
      'claude transcript outgrew TRANSCRIPT_MAX_BYTES: it is no longer kept in shared storage, and the session is resumable only on the replica that ran it',
      { sessionId, maxBytes, category: 'cluster' },
    );
  }

  /** Runs `work` after every earlier operation on the same session in this process. */
  private locked<T>(sessionId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(sessionId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.locks.set(sessionId, settled);
    void settled.then(() => {
      if (this.locks.get(sessionId) === settled) this.locks.delete(sessionId);
    });
    return next;
  }
}

/** Chunk ids only need to be unique: their order is the manifest's. */
function newChunkId(): string {
  return randomBytes(8).toString('base64url');
}
