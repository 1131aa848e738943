import { createHash, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { KeyValueStore } from '../storage/types.js';
import type { CheckpointBlobs } from './checkpoint-blobs.js';
import { ClaudeError } from './errors.js';

/** One file of a snapshot. */
interface FileEntry {
  sha: string;
  size: number;
  mode: number;
}

/** A checkpoint: the working tree and the session position at one moment. */
export interface CheckpointRecord {
  checkpointId: string;
  owner: string;
  sessionId: string;
  label?: string;
  cwd: string;
  createdAt: string;
  /** Last transcript entry when the checkpoint was made: a restore can fork the conversation here. */
  messageUuid?: string;
  /** Where its file contents were written (checkpoint-blobs.ts); absent with blobs under DATA_DIR. */
  blobScope?: string;
  files: Record<string, FileEntry>;
}

/** Files added, changed and removed going from one tree to another, plus a capped unified diff. */
export interface TreeDiff {
  added: string[];
  changed: string[];
  removed: string[];
  diff: string;
  truncated: boolean;
}

/** Options of {@link CheckpointStore}. */
export interface CheckpointStoreOptions {
  store: KeyValueStore;
  /** File contents: under DATA_DIR on one server, in shared storage with several replicas (checkpoint-blobs.ts). */
  blobs: CheckpointBlobs;
  /** Refuse snapshots above these (the workspace is probably not what the caller meant). */
  maxFiles?: number;
  maxBytes?: number;
  /** Cap of the unified diff returned by compare. */
  maxDiffBytes?: number;
}

const NS = 'claude-checkpoints';
/** Never snapshot, restore or delete these: the user's own VCS data and dependency folders are not Claude's to rewind. */
const SKIP = new Set(['.git', 'node_modules', '.hg', '.svn']);

/**
 * Checkpoints of a session's working tree: the manifests on the storage port, the contents in {@link CheckpointBlobs},
 * owned by the caller. Restoring makes the tree exactly the snapshot: later files removed, changed and deleted ones
 * back; `.git` and `node_modules` are never touched.
 */
export class CheckpointStore {
  constructor(private readonly options: CheckpointStoreOptions) {}

  /** Snapshots `cwd` for `owner`'s session. */
  async create(
    owner: string,
    sessionId: string,
    cwd: string,
    label: string | undefined,
    messageUuid: string | undefined,
  ): Promise<CheckpointRecord> {
    const { blobs } = this.options;
    const blobScope = blobs.currentScope();
    const files = await this.snapshot(cwd, (sha, content) => blobs.put(blobScope, sha, content));
    const record: CheckpointRecord = {
      checkpointId: randomUUID(),
      owner,
      sessionId,
      ...(label ? { label } : {}),
      cwd,
      createdAt: new Date().toISOString(),
      ...(messageUuid ? { messageUuid } : {}),
      ...(blobScope ? { blobScope } : {}),
      files,
    };
    await this.options.store.set(NS, record.checkpointId, record, blobs.recordTtlSeconds);
    return record;
  }

  /** The owner's checkpoints of a session, oldest first. */
  async list(owner: string, sessionId: string): Promise<CheckpointRecord[]> {
    return (await this.options.store.list<CheckpointRecord>(NS))
      .map((e) => e.value)
      .filter((c) => c.owner === owner && c.sessionId === sessionId)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** The checkpoint when `owner` owns it; `not_found` otherwise, whether it exists or not. */
  async get(owner: string, checkpointId: string): Promise<CheckpointRecord> {
    const record = await this.options.store.get<CheckpointRecord>(NS, checkpointId);
    if (!record || record.owner !== owner) throw new ClaudeError('not_found', `no checkpoint ${checkpointId}`);
    return record;
  }

  async delete(owner: string, checkpointId: string): Promise<void> {
    await this.get(owner, checkpointId);
    await this.options.store.delete(NS, checkpointId);
  }

  /** Makes the working tree exactly the checkpoint's. Returns what changed. */
  async restore(record: CheckpointRecord): Promise<{ written: string[]; removed: string[] }> {
    const current = await this.snapshot(record.cwd);
    // Every content first: a checkpoint whose contents are gone fails before the tree is touched.
    const contents = new Map<string, Buffer>();
    for (const [file, entry] of Object.entries(record.files)) {
      if (current[file]?.sha !== entry.sha) contents.set(file, await this.options.blobs.get(record.blobScope, entry.sha));
    }
    const written: string[] = [];
    const removed: string[] = [];
    for (const file of Object.keys(current)) {
      if (!record.files[file]) {
        rmSync(path.join(record.cwd, file), { force: true });
        removed.push(file);
      }
    }
    for (const [file, entry] of Object.entries(record.files)) {
      const target = path.join(record.cwd, file);
      const now = current[file];
      const content = contents.get(file);
      if (content) {
        mkdirSync(path.dirname(target), { recursive: true });
        writeFileSync(target, content);
        written.push(file);
      }
      if (!now || now.mode !== entry.mode) chmodSync(target, entry.mode & 0o7777);
    }
    for (const file of removed) pruneEmptyDirectories(path.dirname(path.join(record.cwd, file)), record.cwd);
    return { written: written.sort(), removed: removed.sort() };
  }

  /** Differences from checkpoint `from` to `to` (another checkpoint, or the working tree now). */
  async compare(from: CheckpointRecord, to?: CheckpointRecord): Promise<TreeDiff> {
    const target = to?.files ?? (await this.snapshot(from.cwd));
    const stored = async (record: CheckpointRecord, file: string) =>
      (await this.options.blobs.get(record.blobScope, record.files[file]!.sha)).toString('utf8');
    const added = Object.keys(target)
      .filter((f) => !from.files[f])
      .sort();
    const removed = Object.keys(from.files)
      .filter((f) => !target[f])
      .sort();
    const changed = Object.keys(target)
      .filter((f) => from.files[f] && from.files[f]!.sha !== target[f]!.sha)
      .sort();
    const max = this.options.maxDiffBytes ?? 64 * 1024;
    let diff = '';
    let truncated = false;
    for (const file of [...changed, ...added, ...removed].sort()) {
      if (diff.length >= max) {
        truncated = true;
        break;
      }
      const before = from.files[file] ? await stored(from, file) : '';
      const after = !target[file] ? '' : to ? await stored(to, file) : readFileSync(path.join(from.cwd, file), 'utf8');
      diff += unifiedDiff(file, from.files[file] ? before : undefined, target[file] ? after : undefined);
    }
    if (diff.length > max) {
      diff = diff.slice(0, max);
      truncated = true;
    }
    return { added, changed, removed, diff, truncated };
  }

  /** Walks `cwd` (skipping VCS and dependency folders), handing each file's content to `store` when given. */
  private async snapshot(cwd: string, store?: (sha: string, content: Buffer) => Promise<void>): Promise<Record<string, FileEntry>> {
    const files: Record<string, FileEntry> = {};
    const maxFiles = this.options.maxFiles ?? 10_000;
    const maxBytes = this.options.maxBytes ?? 200 * 1024 * 1024;
    let total = 0;
    let count = 0;
    const walk = async (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (SKIP.has(entry.name)) continue;
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (entry.isFile()) {
          count += 1;
          const stat = statSync(full);
          total += stat.size;
          if (count > maxFiles || total > maxBytes) {
            throw new ClaudeError(
              'invalid_input',
              `the working directory is too large to checkpoint (over ${maxFiles} files or ${maxBytes} bytes)`,
            );
          }
          const content = readFileSync(full);
          const sha = createHash('sha256').update(content).digest('hex');
          // One file at a time: a large tree is never held in memory at once.
          await store?.(sha, content);
          files[path.relative(cwd, full).split(path.sep).join('/')] = { sha, size: stat.size, mode: stat.mode & 0o7777 };
        }
        // Symlinks are left alone: following them could reach outside the workspace.
      }
    };
    await walk(cwd);
    return files;
  }
}

function pruneEmptyDirectories(dir: string, root: string): void {
  let current = dir;
  while (current.startsWith(root + path.sep)) {
    try {
      if (readdirSync(current).length > 0) return;
      rmdirSync(current);
    } catch {
      return;
    }
    current = path.dirname(current);
  }
}

/** A unified diff of one file (whole-file hunk; enough for review, cheap to compute). */
function unifiedDiff(file: string, before: string | undefined, after: string | undefined): string {
  const a = before === undefined ? [] : before.split('\n');
  const b = after === undefined ? [] : after.split('\n');
  const lines = diffLines(a, b);
  const header = `--- ${before === undefined ? '/dev/null' : `a/${file}`}\n+++ ${after === undefined ? '/dev/null' : `b/${file}`}\n`;
  return `${header}@@ -1,${a.length} +1,${b.length} @@\n${lines.join('\n')}\n`;
}

/** Line diff by longest common subsequence; large files fall back to remove-all/add-all. */
function diffLines(a: string[], b: string[]): string[] {
  if (a.length * b.length > 4_000_000) return [...a.map((l) => `-${l}`), ...b.map((l) => `+${l}`)];
  const table: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i -= 1) {
    for (let j = b.length - 1; j >= 0; j -= 1) {
      table[i]![j] = a[i] === b[j] ? table[i + 1]![j + 1]! + 1 : Math.max(table[i + 1]![j]!, table[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push(` ${a[i]}`);
      i += 1;
      j += 1;
    } else if (table[i + 1]![j]! >= table[i]![j + 1]!) out.push(`-${a[i++]}`);
    else out.push(`+${b[j++]}`);
  }
  while (i < a.length) out.push(`-${a[i++]}`);
  while (j < b.length) out.push(`+${b[j++]}`);
  return out;
}

/** The last transcript entry of a session (`$HOME/.claude/projects/<dir>/<sessionId>.jsonl`), if found. */
export function lastMessageUuid(home: string | undefined, sessionId: string): string | undefined {
  if (!home) return undefined;
  const projects = path.join(home, '.claude', 'projects');
  let dirs: string[];
  try {
    dirs = readdirSync(projects);
  } catch {
    return undefined;
  }
  for (const dir of dirs) {
    const file = path.join(projects, dir, `${sessionId}.jsonl`);
    if (!existsSync(file)) continue;
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    for (let i = lines.length - 1; i >= 0; i -= 1) {
      try {
        const entry = JSON.parse(lines[i]!) as { uuid?: unknown; type?: unknown };
        if (typeof entry.uuid === 'string' && (entry.type === 'assistant' || entry.type === 'user')) return entry.uuid;
      } catch {
        // a torn last line while Claude writes: skip it
      }
    }
  }
  return undefined;
}
