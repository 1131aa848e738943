import { describe, expect, it } from '@jest/globals';
import { BackgroundTasks, type TaskRecord } from '../../../server/claude/background-tasks.js';
import type { ClaudeExecutor } from '../../../server/claude/executor.js';
import { SessionStore } from '../../../server/claude/session-store.js';
import { createEventBus } from '../../../server/events/bus.js';
import { createSilentLogger } from '../../../server/logging/logger.js';
import { createStorage } from '../../../server/storage/create-storage.js';

const record = (taskId: string, heartbeatAt: string | undefined): TaskRecord => ({
  taskId,
  owner: 'a',
  status: 'running',
  promptPreview: 'p',
  request: { prompt: 'p', cwd: '/tmp', priority: 'normal', permissionMode: 'default', allowedTools: [], disallowedTools: [], maxTurns: 1, maxBudgetUsd: 1 },
  createdAt: '2026-01-01T00:00:00.000Z',
  attempts: 1,
  log: [],
  ...(heartbeatAt ? { heartbeatAt } : {}),
});

describe('BackgroundTasks.recover', () => {
  it('alone on its storage, marks every leftover running task interrupted; with shared storage only those whose heartbeat stopped', async () => {
    const store = await createStorage({ kind: 'memory' });
    const now = Date.parse('2026-01-01T01:00:00.000Z');
    const make = (shared: boolean) =>
      new BackgroundTasks({
        store,
        executor: {} as ClaudeExecutor,
        sessions: new SessionStore(store),
        events: createEventBus(),
        logger: createSilentLogger(),
        maxTasks: 1,
        timeoutMs: 1000,
        shared,
        heartbeatMs: 10_000,
      });
    await store.set('claude-tasks', 'fresh', record('fresh', new Date(now - 5_000).toISOString()));
    await store.set('claude-tasks', 'dead', record('dead', new Date(now - 60_000).toISOString()));
    expect(await make(true).recover(now)).toBe(1);
    expect((await store.get<TaskRecord>('claude-tasks', 'dead'))!.status).toBe('interrupted');
    expect((await store.get<TaskRecord>('claude-tasks', 'fresh'))!.status).toBe('running');
    expect(await make(false).recover(now)).toBe(1);
    expect((await store.get<TaskRecord>('claude-tasks', 'fresh'))!.status).toBe('interrupted');
    await store.close();
  });
});
