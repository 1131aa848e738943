import { describe, expect, it } from '@jest/globals';
import {
  canTransition,
  clampTtl,
  newTaskId,
  normalizeRecord,
  storageTtlSeconds,
  type TaskState,
} from '../../../server/tasks/task-record.js';

const STATES: TaskState[] = ['working', 'input_required', 'completed', 'failed', 'error', 'cancelled', 'interrupted'];

describe('task ids', () => {
  it('are 128 random bits in base64url, never repeated', () => {
    const ids = new Set(Array.from({ length: 2000 }, () => newTaskId()));
    expect(ids.size).toBe(2000);
    for (const id of [...ids].slice(0, 50)) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    }
  });
});

describe('the state machine', () => {
  it('moves between working and input_required, ends in any terminal state, and never leaves one', () => {
    const allowed = STATES.flatMap((from) => STATES.filter((to) => canTransition(from, to)).map((to) => `${from}->${to}`));
    expect(allowed.sort()).toEqual(
      [
        'working->working',
        'working->input_required',
        'input_required->working',
        'input_required->input_required',
        ...['completed', 'failed', 'error', 'cancelled', 'interrupted'].flatMap((end) => [`working->${end}`, `input_required->${end}`]),
      ].sort(),
    );
  });
});

describe('retention', () => {
  const bounds = { defaultMs: 3600_000, minMs: 60_000, maxMs: 7 * 24 * 3600_000 };
  it('takes the default for no wish (or null), and clamps a wish to the bounds', () => {
    expect(clampTtl(undefined, bounds)).toBe(3600_000);
    expect(clampTtl(null, bounds)).toBe(3600_000);
    expect(clampTtl(5, bounds)).toBe(60_000);
    expect(clampTtl(120_000.4, bounds)).toBe(120_000);
    expect(clampTtl(Number.MAX_SAFE_INTEGER, bounds)).toBe(bounds.maxMs);
  });

  it('never lets storage drop a record before createdAt + ttl; keeps a running one an hour past its last save, an ended one ten minutes', () => {
    const now = Date.parse('2026-01-01T00:00:00.000Z');
    const createdAt = new Date(now - 1000).toISOString();
    expect(storageTtlSeconds({ createdAt, ttlMs: 24 * 3600_000, state: 'completed' }, now)).toBe(24 * 3600 - 1);
    expect(storageTtlSeconds({ createdAt, ttlMs: 60_000, state: 'working' }, now)).toBe(3600);
    expect(storageTtlSeconds({ createdAt, ttlMs: 60_000, state: 'completed' }, now)).toBe(600);
  });
});

describe('records written before tasks had states', () => {
  const legacy = {
    taskId: '6f0e5a6e-3b0c-4e55-9a1e-6f3a0f3c2c10',
    owner: 'client-a',
    promptPreview: 'do it',
    request: { prompt: 'do it', cwd: '/w' },
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: '2026-01-01T00:00:01.000Z',
    attempts: 2,
    log: ['text: hi'],
  };

  it('read as background claude_ask tasks, status by status', () => {
    const states = (['running', 'completed', 'failed', 'aborted', 'interrupted'] as const).map(
      (status) => normalizeRecord({ ...legacy, status }, 500)!.state,
    );
    expect(states).toEqual(['working', 'completed', 'failed', 'cancelled', 'interrupted']);
    const failed = normalizeRecord(
      {
        ...legacy,
        status: 'failed',
        summary: 'boom',
        error: { category: 'timeout', message: 'boom' },
        endedAt: '2026-01-01T00:01:00.000Z',
      },
      500,
    )!;
    expect(failed).toMatchObject({
      kind: 'claude-run',
      origin: 'background',
      tool: 'claude_ask',
      ttlMs: 7 * 24 * 3600_000,
      pollIntervalMs: 500,
      attempts: 2,
      failure: { category: 'timeout', message: 'boom' },
      result: { isError: true, content: [{ type: 'text', text: 'boom' }] },
      lastUpdatedAt: '2026-01-01T00:01:00.000Z',
      request: { prompt: 'do it', cwd: '/w' },
    });
    expect(normalizeRecord({ ...legacy, status: 'interrupted' }, 500)!.error).toMatchObject({ code: -32603 });
  });

  it('refuse what is not a record', () => {
    expect(normalizeRecord(undefined, 1)).toBeUndefined();
    expect(normalizeRecord({ taskId: 'x' }, 1)).toBeUndefined();
    expect(normalizeRecord({ taskId: 'x', owner: 'o', status: 'weird' }, 1)).toBeUndefined();
  });
});
