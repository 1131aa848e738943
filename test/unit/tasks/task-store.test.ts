import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { createStorage } from '../../../server/storage/create-storage.js';
import type { Storage } from '../../../server/storage/types.js';
import { newTaskId, type TaskRecord } from '../../../server/tasks/task-record.js';
import { TaskStore } from '../../../server/tasks/task-store.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ccm-task-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backends: Array<[string, () => Promise<Storage>]> = [
  ['memory', () => createStorage({ kind: 'memory' })],
  ['sqlite', () => createStorage({ kind: 'sqlite', path: path.join(dir, `${newTaskId()}.db`) })],
];

const record = (owner: string, createdAt: string, extra: Partial<TaskRecord> = {}): TaskRecord => ({
  taskId: newTaskId(),
  owner,
  kind: 'tool-call',
  origin: 'task-2025',
  tool: 'claude_ask',
  state: 'working',
  createdAt,
  lastUpdatedAt: createdAt,
  ttlMs: 3600_000,
  pollIntervalMs: 1000,
  inputSeq: 0,
  attempts: 1,
  log: [],
  ...extra,
});

describe.each(backends)('TaskStore on %s storage', (_name, open) => {
  it('binds every record to its owner: another owner reads "not found" and lists nothing of it', async () => {
    const storage = await open();
    const store = new TaskStore(storage, 1000);
    const older = record('alice', '2026-01-01T00:00:00.000Z');
    const newer = record('alice', '2026-01-01T00:00:01.000Z');
    const bobs = record('bob', '2026-01-01T00:00:02.000Z');
    for (const r of [older, newer, bobs]) await store.create(r);
    expect(await store.owned('alice', older.taskId)).toMatchObject({ taskId: older.taskId });
    expect(await store.owned('bob', older.taskId)).toBeUndefined();
    expect(await store.owned('alice', 'no-such-task')).toBeUndefined();
    expect((await store.listOwned('alice')).map((r) => r.taskId)).toEqual([newer.taskId, older.taskId]);
    expect((await store.listOwned('bob')).map((r) => r.taskId)).toEqual([bobs.taskId]);
    // An owner whose id is a prefix of another's sees only its own.
    expect(await store.listOwned('ali')).toEqual([]);
    await storage.close();
  });

  it('reads and lists background records of the previous format after indexing them once (all())', async () => {
    const storage = await open();
    const store = new TaskStore(storage, 1000);
    const legacyId = '6f0e5a6e-3b0c-4e55-9a1e-6f3a0f3c2c10';
    await storage.set('claude-tasks', legacyId, {
      taskId: legacyId,
      owner: 'alice',
      status: 'completed',
      promptPreview: 'old',
      request: { prompt: 'old', cwd: '/w' },
      createdAt: new Date().toISOString(),
      attempts: 1,
      log: [],
      summary: 'old answer',
    });
    expect(await store.owned('alice', legacyId)).toMatchObject({ state: 'completed', tool: 'claude_ask', summary: 'old answer' });
    expect(await store.listOwned('alice')).toEqual([]);
    await store.all();
    expect((await store.listOwned('alice')).map((r) => r.taskId)).toEqual([legacyId]);
    await storage.close();
  });

  it('keeps the first answer to a question, and a cancel left for another replica', async () => {
    const storage = await open();
    const store = new TaskStore(storage, 1000);
    const r = record('alice', new Date().toISOString());
    await store.create(r);
    expect(await store.putAnswer(r, 'input-1', { action: 'accept', content: { allow: true } })).toBe(true);
    expect(await store.putAnswer(r, 'input-1', { action: 'decline' })).toBe(false);
    expect(await store.takeAnswer(r.taskId, 'input-1')).toEqual({ action: 'accept', content: { allow: true } });
    expect(await store.takeAnswer(r.taskId, 'input-1')).toBeUndefined();
    expect(await store.cancelRequested(r.taskId)).toBe(false);
    await store.requestCancel(r);
    expect(await store.cancelRequested(r.taskId)).toBe(true);
    await storage.close();
  });
});
