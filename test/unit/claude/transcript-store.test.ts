import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { SessionStoreEntry } from '@anthropic-ai/claude-agent-sdk';
import { TranscriptStore } from '../../../server/claude/transcript-store.js';
import type { Logger } from '../../../server/logging/logger.js';
import { createStorage } from '../../../server/storage/create-storage.js';
import type { Storage } from '../../../server/storage/types.js';
import { deleteRedisKeys, REDIS_URL, redisSkipReason } from '../../helpers/redis.js';

/**
 * The transcript store is the Agent SDK's SessionStore on the storage port: what one replica's runs append, another
 * replica (another TranscriptStore on its own connection to the same storage) loads whole, in order, once.
 */

const dir = mkdtempSync(path.join(tmpdir(), 'ccm-transcripts-'));
const PREFIX = `ccm-transcripts-${process.pid}-${Date.now()}:`;
const redisSkip = await redisSkipReason('the transcript store on Redis');
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (!redisSkip) await deleteRedisKeys(PREFIX);
});

/** Two handles on one store, as two replicas have (for SQLite: two connections to one file). */
type Open = () => Promise<[Storage, Storage]>;
const backends: Array<[string, Open]> = [
  [
    'sqlite',
    async () => {
      const file = path.join(dir, `${randomUUID()}.db`);
      return [await createStorage({ kind: 'sqlite', path: file }), await createStorage({ kind: 'sqlite', path: file })];
    },
  ],
];
if (!redisSkip) {
  backends.push([
    'redis',
    async () => [
      await createStorage({ kind: 'redis', url: REDIS_URL, keyPrefix: PREFIX }),
      await createStorage({ kind: 'redis', url: REDIS_URL, keyPrefix: PREFIX }),
    ],
  ]);
}

function recordingLogger(): { logger: Logger; warnings: unknown[][] } {
  const warnings: unknown[][] = [];
  return { logger: { warn: (...args: unknown[]) => void warnings.push(args) } as unknown as Logger, warnings };
}

const entry = (type: string, text: string, withUuid = true): SessionStoreEntry => ({
  type,
  ...(withUuid ? { uuid: randomUUID() } : {}),
  timestamp: new Date().toISOString(),
  message: { role: type, content: [{ type: 'text', text }] },
});

describe.each(backends)('TranscriptStore on %s storage', (_name, open) => {
  it('loads on one replica, whole and in order, what runs on another appended in batches; subagent parts apart', async () => {
    const [one, two] = await open();
    const { logger } = recordingLogger();
    const writer = new TranscriptStore({ store: one, ttlSeconds: 3600, maxBytes: 1024 * 1024, logger });
    const reader = new TranscriptStore({ store: two, ttlSeconds: 3600, maxBytes: 1024 * 1024, logger });
    const sessionId = randomUUID();
    const main = { projectKey: '-work-a', sessionId };
    const batches = [
      [entry('user', 'hello'), entry('assistant', 'hi')],
      [entry('custom-title', 'untitled', false)],
      [entry('user', 'again'), entry('assistant', 'sure')],
    ];
    for (const batch of batches) await writer.append(main, batch);
    const sub = { ...main, subpath: 'subagents/agent-1' };
    const subEntries = [entry('user', 'sub task'), entry('assistant', 'sub done')];
    await writer.append(sub, subEntries);

    // Looked up by session id: a resume from another working directory (another project key) finds it too.
    expect(await reader.load({ projectKey: '-elsewhere', sessionId })).toEqual(batches.flat());
    expect(await reader.load(sub)).toEqual(subEntries);
    expect(await reader.listSubkeys(main)).toEqual(['subagents/agent-1']);
    expect(await reader.load({ projectKey: '-work-a', sessionId: randomUUID() })).toBeNull();
    expect(await reader.lastMessageUuid(sessionId)).toBe(batches[2]![1]!.uuid);

    // A load leaves the transcript readable as it was, and later appends follow it.
    const more = [entry('user', 'third')];
    await reader.append(main, more);
    expect(await writer.load(main)).toEqual([...batches.flat(), ...more]);
    await one.close();
    await two.close();
  });

  it('keeps an entry the SDK sent twice (a retried batch) once; entries without a uuid are kept as sent', async () => {
    const [one, two] = await open();
    const { logger } = recordingLogger();
    const store = new TranscriptStore({ store: one, ttlSeconds: 3600, maxBytes: 1024 * 1024, logger });
    const key = { projectKey: 'p', sessionId: randomUUID() };
    const batch = [entry('user', 'q'), entry('assistant', 'a')];
    const tag = entry('tag', 'x', false);
    await store.append(key, [...batch, tag]);
    await store.append(key, [...batch, tag]);
    expect(await new TranscriptStore({ store: two, ttlSeconds: 3600, maxBytes: 1024 * 1024, logger }).load(key)).toEqual([
      ...batch,
      tag,
      tag,
    ]);
    await one.close();
    await two.close();
  });

  it('concurrent appends of one session in one process all land, in call order', async () => {
    const [one, two] = await open();
    const { logger } = recordingLogger();
    const store = new TranscriptStore({ store: one, ttlSeconds: 3600, maxBytes: 1024 * 1024, logger });
    const key = { projectKey: 'p', sessionId: randomUUID() };
    const batches = Array.from({ length: 12 }, (_, index) => [entry('user', `m${index}`)]);
    await Promise.all(batches.map((batch) => store.append(key, batch)));
    expect(await new TranscriptStore({ store: two, ttlSeconds: 3600, maxBytes: 1024 * 1024, logger }).load(key)).toEqual(batches.flat());
    await one.close();
    await two.close();
  });

  it('a replica loading a session while another compacts it (two resumes at the same moment) still loads all of it', async () => {
    const [one, two] = await open();
    const { logger } = recordingLogger();
    const first = new TranscriptStore({ store: one, ttlSeconds: 3600, maxBytes: 1024 * 1024, logger });
    const key = { projectKey: 'p', sessionId: randomUUID() };
    const batches = Array.from({ length: 3 }, (_, index) => [entry('user', `q${index}`), entry('assistant', `a${index}`)]);
    for (const batch of batches) await first.append(key, batch);
    // The second replica has read the manifest and is about to read the chunks it names when the first one loads the
    // session, which compacts those chunks into a new one and deletes them.
    let interleave = true;
    const racing = new Proxy(two, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property !== 'get' || typeof value !== 'function') return value;
        return async (ns: string, id: string) => {
          if (ns === 'claude-transcript-chunks' && interleave) {
            interleave = false;
            expect(await first.load(key)).toEqual(batches.flat());
          }
          return (value as (ns: string, id: string) => Promise<unknown>).call(target, ns, id);
        };
      },
    });
    const second = new TranscriptStore({ store: racing, ttlSeconds: 3600, maxBytes: 1024 * 1024, logger });
    expect(await second.load(key)).toEqual(batches.flat());
    expect(interleave).toBe(false);
    await one.close();
    await two.close();
  });

  it('a transcript outgrowing TRANSCRIPT_MAX_BYTES is dropped and says so: no replica resumes half a conversation', async () => {
    const [one, two] = await open();
    const { logger, warnings } = recordingLogger();
    const store = new TranscriptStore({ store: one, ttlSeconds: 3600, maxBytes: 2000, logger });
    const key = { projectKey: 'p', sessionId: randomUUID() };
    await store.append(key, [entry('user', 'x'.repeat(800))]);
    expect(await store.load(key)).toHaveLength(1);
    await store.append(key, [entry('assistant', 'y'.repeat(1500))]);
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]![0])).toContain('TRANSCRIPT_MAX_BYTES');
    const other = new TranscriptStore({ store: two, ttlSeconds: 3600, maxBytes: 2000, logger });
    expect(await other.load(key)).toBeNull();
    // Later appends stay out too: what is kept would have a hole.
    await store.append(key, [entry('user', 'short')]);
    expect(await other.load(key)).toBeNull();
    expect(await other.lastMessageUuid(key.sessionId)).toBeUndefined();
    await one.close();
    await two.close();
  });

  it('deletes one part or the whole session', async () => {
    const [one, two] = await open();
    const { logger } = recordingLogger();
    const store = new TranscriptStore({ store: one, ttlSeconds: 3600, maxBytes: 1024 * 1024, logger });
    const key = { projectKey: 'p', sessionId: randomUUID() };
    const sub = { ...key, subpath: 'subagents/agent-2' };
    await store.append(key, [entry('user', 'main')]);
    await store.append(sub, [entry('user', 'sub')]);
    await store.delete(sub);
    const other = new TranscriptStore({ store: two, ttlSeconds: 3600, maxBytes: 1024 * 1024, logger });
    expect(await other.load(sub)).toBeNull();
    expect(await other.listSubkeys(key)).toEqual([]);
    expect(await other.load(key)).toHaveLength(1);
    await store.delete(key);
    expect(await other.load(key)).toBeNull();
    expect(await one.list('claude-transcript-chunks', `${key.sessionId}\n`)).toEqual([]);
    await one.close();
    await two.close();
  });

  it('stores with the retention it is given, renewed by a load (a session in use keeps its beginning)', async () => {
    const [one, two] = await open();
    const { logger } = recordingLogger();
    const store = new TranscriptStore({ store: one, ttlSeconds: 2, maxBytes: 1024 * 1024, logger });
    const key = { projectKey: 'p', sessionId: randomUUID() };
    await store.append(key, [entry('user', 'first')]);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    // Loaded (resumed) before it expired: rewritten with a fresh lifetime, then another turn appended.
    expect(await store.load(key)).toHaveLength(1);
    await store.append(key, [entry('assistant', 'second')]);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await new TranscriptStore({ store: two, ttlSeconds: 2, maxBytes: 1024 * 1024, logger }).load(key)).toHaveLength(2);
    // Unused past its retention: gone.
    await new Promise((resolve) => setTimeout(resolve, 2200));
    expect(await store.load(key)).toBeNull();
    await one.close();
    await two.close();
  }, 15_000);
});
