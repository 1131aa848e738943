import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { directoryBlobs, storageBlobs } from '../../../server/claude/checkpoint-blobs.js';
import { CheckpointStore } from '../../../server/claude/checkpoints.js';
import { ClaudeError } from '../../../server/claude/errors.js';
import { createStorage } from '../../../server/storage/create-storage.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ccm-checkpoint-blobs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const openSqlite = () => createStorage({ kind: 'sqlite', path: path.join(dir, `${randomUUID()}.db`) });

describe('checkpoint contents', () => {
  it('in shared storage: what one replica stored another reads, written once per scope; records carry the retention', async () => {
    const file = path.join(dir, `${randomUUID()}.db`);
    const one = await createStorage({ kind: 'sqlite', path: file });
    const two = await createStorage({ kind: 'sqlite', path: file });
    const writer = storageBlobs(one, 3600);
    const reader = storageBlobs(two, 3600);
    expect(writer.recordTtlSeconds).toBe(3600);
    const scope = writer.currentScope();
    expect(scope).toEqual(expect.any(String));
    const content = Buffer.from([0, 1, 2, 255, 10, 13]);
    await writer.put(scope, 'abc', content);
    await writer.put(scope, 'abc', Buffer.from('not written again'));
    expect(await reader.get(scope, 'abc')).toEqual(content);
    // Another scope (a checkpoint of another period) does not share it.
    await expect(reader.get(String(Number(scope) - 1), 'abc')).rejects.toMatchObject({ category: 'not_found' });
    await one.close();
    await two.close();
  });

  it('under DATA_DIR with one server: kept without expiry, missing ones not_found', async () => {
    const blobs = directoryBlobs(path.join(dir, randomUUID()));
    expect(blobs.currentScope()).toBeUndefined();
    expect(blobs.recordTtlSeconds).toBeUndefined();
    await blobs.put(undefined, 'def', Buffer.from('hello'));
    expect((await blobs.get(undefined, 'def')).toString()).toBe('hello');
    await expect(blobs.get(undefined, 'nope')).rejects.toBeInstanceOf(ClaudeError);
  });

  it('a restore whose contents are gone fails before it touches the tree', async () => {
    const storage = await openSqlite();
    const checkpoints = new CheckpointStore({ store: storage, blobs: storageBlobs(storage, 3600) });
    const cwd = path.join(dir, randomUUID());
    mkdirSync(cwd);
    writeFileSync(path.join(cwd, 'a.txt'), 'one\n');
    writeFileSync(path.join(cwd, 'b.txt'), 'two\n');
    const record = await checkpoints.create('alice', 'session-1', cwd, undefined, undefined);
    writeFileSync(path.join(cwd, 'a.txt'), 'changed\n');
    writeFileSync(path.join(cwd, 'b.txt'), 'changed too\n');
    writeFileSync(path.join(cwd, 'c.txt'), 'new\n');
    // One of the two contents expired.
    const stored = await storage.list('checkpoint-blobs');
    expect(stored).toHaveLength(2);
    await storage.delete('checkpoint-blobs', stored[0]!.id);
    await expect(checkpoints.restore(record)).rejects.toMatchObject({ category: 'not_found' });
    expect(readFileSync(path.join(cwd, 'a.txt'), 'utf8')).toBe('changed\n');
    expect(readFileSync(path.join(cwd, 'b.txt'), 'utf8')).toBe('changed too\n');
    expect(readFileSync(path.join(cwd, 'c.txt'), 'utf8')).toBe('new\n');
    await storage.close();
  });
});
