import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KeyValueStore } from '../storage/types.js';
import { ClaudeError } from './errors.js';

/**
 * Where the file contents of checkpoints live, content-addressed (sha256): an unchanged file costs nothing in a
 * later checkpoint. A checkpoint records the scope its contents were written to.
 */
export interface CheckpointBlobs {
  /** The scope a checkpoint made now writes to and records (`undefined`: there is one scope). */
  currentScope(): string | undefined;
  /** Stores `content` under `sha` in `scope` unless it is there already. */
  put(scope: string | undefined, sha: string, content: Buffer): Promise<void>;
  /** The content; `not_found` when it is gone (expired, or written on another server's disk). */
  get(scope: string | undefined, sha: string): Promise<Buffer>;
  /** How long a checkpoint record is kept (seconds); `undefined`: until it is deleted. */
  readonly recordTtlSeconds?: number;
}

const gone = (sha: string) => new ClaudeError('not_found', `checkpoint contents ${sha.slice(0, 12)} are no longer available`);

/**
 * Blobs in `<dataDir>/checkpoints/blobs/<sha256>` (one server: SQLite or memory storage). Kept until the directory is
 * cleaned; each is written to a temporary name and renamed, so a reader never sees half a file.
 */
export function directoryBlobs(dataDir: string): CheckpointBlobs {
  const dir = path.join(dataDir, 'checkpoints', 'blobs');
  return {
    currentScope: () => undefined,
    async put(_scope, sha, content) {
      const file = path.join(dir, sha);
      if (existsSync(file)) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(`${file}.${process.pid}.tmp`, content);
      renameSync(`${file}.${process.pid}.tmp`, file);
    },
    async get(_scope, sha) {
      try {
        return readFileSync(path.join(dir, sha));
      } catch {
        throw gone(sha);
      }
    },
  };
}

/** `{scope}:{sha}` -> the content, base64. */
const BLOBS = 'checkpoint-blobs';
/** `{scope}:{sha}` -> `1`: whether the blob is stored, read without fetching the content. */
const MARKS = 'checkpoint-blob-marks';
/** Width of a scope: blobs are shared by the checkpoints of one such period, and written again in the next. */
const SCOPE_MS = 10 * 24 * 3600_000;

/**
 * Blobs on the storage port (several replicas: a checkpoint made on one replica restores and compares on any).
 * Storage needs lifetimes, and a blob shared by checkpoints made days apart must outlive the last of them, so time is
 * cut into ten-day scopes: a checkpoint writes what its scope lacks, each blob lives until its scope ends plus
 * `retentionSeconds`, and a record `retentionSeconds` from its creation, so no record outlives its contents.
 */
export function storageBlobs(store: KeyValueStore, retentionSeconds: number): CheckpointBlobs {
  const scopeOf = (now: number) => String(Math.floor(now / SCOPE_MS));
  return {
    recordTtlSeconds: retentionSeconds,
    currentScope: () => scopeOf(Date.now()),
    async put(scope = scopeOf(Date.now()), sha, content) {
      const id = `${scope}:${sha}`;
      if ((await store.get(MARKS, id)) !== undefined) return;
      const ttl = Math.ceil(((Number(scope) + 1) * SCOPE_MS - Date.now()) / 1000) + retentionSeconds;
      await store.set(BLOBS, id, content.toString('base64'), ttl);
      await store.set(MARKS, id, 1, ttl);
    },
    async get(scope, sha) {
      const stored = await store.get<string>(BLOBS, `${scope}:${sha}`);
      if (stored === undefined) throw gone(sha);
      return Buffer.from(stored, 'base64');
    },
  };
}
