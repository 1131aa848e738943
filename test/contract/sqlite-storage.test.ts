/**
 * What only the SQLite file adds to the storage contract: durability across close, crash and reopen, idempotent
 * migrations, and exclusivity between processes (real ones, via `sqlite-storage-process.ts`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { migrations } from '../../server/storage/sqlite/migrations.js';
import { createSqliteStorage } from '../../server/storage/sqlite/sqlite-storage.js';
import type { Storage } from '../../server/storage/types.js';

const tempDir = mkdtempSync(join(tmpdir(), 'ccm-sqlite-'));
let fileCount = 0;
const freshFile = (): string => join(tempDir, `db-${++fileCount}`, 'storage.db');
const opened: Storage[] = [];
const open = (path: string): Storage => {
  const storage = createSqliteStorage({ path });
  opened.push(storage);
  return storage;
};
const PROCESS_SCRIPT = fileURLToPath(new URL('./sqlite-storage-process.ts', import.meta.url));

/** Runs the helper script in its own Node process; resolves with its stdout and how it ended. */
function runProcess(args: string[]): Promise<{ stdout: string; code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', PROCESS_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`helper process failed (${code}): ${stderr}`));
      else resolve({ stdout, code, signal });
    });
  });
}

afterAll(async () => {
  for (const storage of opened) await storage.close();
  rmSync(tempDir, { recursive: true, force: true });
});

describe('sqlite storage file', () => {
  it('keeps entries and queue items across close and reopen; reopening migrates nothing', async () => {
    const path = freshFile();
    const first = open(path);
    await first.set('clients', 'c1', { name: 'Inspector' });
    await first.set('codes', 'short', 'gone soon', 1);
    const id = await first.enqueue('outbox', { event: 'token.issued' });
    await first.claim('outbox', { max: 1, leaseMs: 60_000 });
    await first.retry('outbox', id, { delayMs: 0 });
    await first.close();

    const inspect = new Database(path, { readonly: true });
    const schema = inspect.prepare('SELECT name, sql FROM sqlite_master ORDER BY name').all();
    expect(inspect.pragma('user_version', { simple: true })).toBe(migrations.length);
    expect(inspect.pragma('journal_mode', { simple: true })).toBe('wal');
    inspect.close();

    const second = open(path);
    expect(await second.get('clients', 'c1')).toEqual({ name: 'Inspector' });
    expect(await second.get('codes', 'short')).toBe('gone soon');
    const [item] = await second.claim('outbox', { max: 5, leaseMs: 60_000 });
    expect(item).toMatchObject({ id, payload: { event: 'token.issued' }, attempts: 1 });
    await second.close();

    const after = new Database(path, { readonly: true });
    expect(after.prepare('SELECT name, sql FROM sqlite_master ORDER BY name').all()).toEqual(schema);
    expect(after.pragma('user_version', { simple: true })).toBe(migrations.length);
    after.close();
  });

  it('lets a second instance see everything without the first closing (as after a crash)', async () => {
    const path = freshFile();
    const writer = open(path);
    await writer.set('tokens', 't1', { sub: 'alice' });
    await writer.enqueue('outbox', 'pending');
    const reader = open(path);
    expect(await reader.get('tokens', 't1')).toEqual({ sub: 'alice' });
    expect(await reader.size('outbox')).toBe(1);
  });

  it('keeps what a process committed before it was killed', async () => {
    const path = freshFile();
    await open(path).close(); // create and migrate first, so the child only writes
    const { signal } = await runProcess(['crash', path]);
    expect(signal).toBe('SIGKILL');
    const survivor = open(path);
    expect(await survivor.get('crash', 'entry')).toEqual({ written: 'before the crash' });
    // The batch write and the batch acknowledgement were both committed before the kill.
    expect((await survivor.claim('crash-queue', { max: 5, leaseMs: 1000 })).map((item) => item.payload)).toEqual([{ n: 1 }, { n: 3 }]);
  });

  it('never lets two processes take the same value or claim the same item', async () => {
    const path = freshFile();
    const setup = open(path);
    const keys = 100;
    const items = 60;
    for (let i = 0; i < keys; i++) await setup.set('race', `k${i}`, i);
    const ids = [];
    for (let i = 0; i < items; i++) ids.push(await setup.enqueue('race', i));

    // Both start at the same instant, after Node and tsx have loaded, so their transactions really interleave.
    const startAt = String(Date.now() + 1500);
    const results = await Promise.all([1, 2].map(() => runProcess(['race', path, startAt, String(keys), 'race'])));
    const [a, b] = results.map((r) => JSON.parse(r.stdout) as { taken: string[]; claimed: string[] });

    const taken = [...(a?.taken ?? []), ...(b?.taken ?? [])];
    expect(taken).toHaveLength(keys);
    expect(new Set(taken).size).toBe(keys);
    const claimed = [...(a?.claimed ?? []), ...(b?.claimed ?? [])];
    expect([...claimed].sort()).toEqual([...ids].sort());
  });

  it('refuses a file written by a newer release', async () => {
    const path = freshFile();
    await open(path).close();
    const db = new Database(path);
    db.pragma(`user_version = ${migrations.length + 1}`);
    db.close();
    expect(() => open(path)).toThrow(/newer than this release supports/);
  });
});
