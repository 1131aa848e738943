import { describe, expect, it } from '@jest/globals';
import { createEventBus, type BusEvent, type SessionTransport } from '../../../server/events/bus.js';
import { createSilentLogger } from '../../../server/logging/logger.js';
import { SessionRegistry, type SessionRegistryOptions } from '../../../server/mcp/session-registry.js';

const T0 = Date.parse('2025-06-01T12:00:00.000Z');

/** A registry on a hand-driven clock, with every bus event recorded. */
function setup(options: Partial<SessionRegistryOptions> = {}) {
  const clock = { now: T0 };
  const events = createEventBus();
  const seen: BusEvent[] = [];
  events.onAny((event) => void seen.push(event));
  const registry = new SessionRegistry({
    maxSessions: 10,
    idleTimeoutMs: 1000,
    sweepIntervalMs: 60_000,
    events,
    logger: createSilentLogger(),
    now: () => clock.now,
    ...options,
  });
  const closed: string[] = [];
  const add = (id: string, transport: SessionTransport = 'streamable-http') =>
    registry.add({
      id,
      transport,
      ownerId: `owner-of-${id}`,
      protocolVersion: '2025-06-18',
      close: async () => {
        closed.push(id);
      },
    });
  const ended = () => seen.filter((e): e is BusEvent<'session.ended'> => e.type === 'session.ended');
  return { registry, clock, seen, closed, add, ended };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SessionRegistry admission', () => {
  it('refuses new sessions at MAX_SESSIONS, counting reservations still being created', () => {
    const { registry, add } = setup({ maxSessions: 2 });
    const first = registry.reserve();
    const second = registry.reserve();
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(registry.reserve()).toBeUndefined();

    first!();
    first!(); // a double release must not free a second slot
    const third = registry.reserve();
    expect(third).toBeDefined();
    expect(registry.reserve()).toBeUndefined();

    add('a');
    third!();
    expect(registry.size).toBe(1);
    expect(registry.reserve()).toBeUndefined(); // one live + one pending

    second!();
    expect(registry.reserve()).toBeDefined();
  });

  it('frees a slot when a session is removed', async () => {
    const { registry, add } = setup({ maxSessions: 1 });
    registry.reserve()!();
    add('a');
    expect(registry.reserve()).toBeUndefined();
    await registry.remove('a', 'deleted');
    expect(registry.reserve()).toBeDefined();
  });
});

describe('SessionRegistry lifecycle', () => {
  it('emits session.started once on add and session.ended once however often it is removed', async () => {
    const { registry, clock, seen, closed, add, ended } = setup();
    const entry = add('a', 'sse');
    expect(registry.get('a')).toBe(entry);
    expect(seen.map((e) => e.type)).toEqual(['session.started']);
    expect(seen[0]!.data).toEqual({ sessionId: 'a', transport: 'sse', protocolVersion: '2025-06-18', clientId: 'owner-of-a' });

    clock.now += 2500;
    await Promise.all([registry.remove('a', 'deleted'), registry.remove('a', 'closed')]);
    await registry.remove('a', 'disconnected');

    expect(ended()).toHaveLength(1);
    expect(ended()[0]!.data).toEqual({ sessionId: 'a', transport: 'sse', reason: 'deleted', durationMs: 2500, clientId: 'owner-of-a' });
    expect(closed).toEqual(['a']);
    expect(registry.get('a')).toBeUndefined();
    expect(registry.size).toBe(0);
  });

  it('still removes a session whose close() fails', async () => {
    const { registry } = setup();
    registry.add({
      id: 'bad',
      transport: 'streamable-http',
      ownerId: 'o',
      close: async () => {
        throw new Error('transport already gone');
      },
    });
    await expect(registry.remove('bad', 'closed')).resolves.toBeUndefined();
    expect(registry.size).toBe(0);
  });

  it('closes every session on closeAll and stops the sweeper', async () => {
    const { registry, closed, add, ended } = setup();
    add('a');
    add('b', 'sse');
    registry.start();
    await registry.closeAll();
    expect(closed.sort()).toEqual(['a', 'b']);
    expect(ended().map((e) => e.data.reason)).toEqual(['shutdown', 'shutdown']);
    expect(registry.size).toBe(0);
    expect(registry.sweeping).toBe(false);
  });
});

describe('SessionRegistry idle expiry', () => {
  it('closes only sessions idle past the timeout with nothing open', async () => {
    const { registry, clock, closed, add, ended } = setup({ idleTimeoutMs: 1000 });
    add('idle');
    const busy = add('busy');
    const streaming = add('streaming');
    registry.trackStream(streaming);

    clock.now += 600;
    registry.touch(busy);
    clock.now += 600;

    expect(await registry.sweepIdle()).toBe(1);
    expect(closed).toEqual(['idle']);
    expect(ended().map((e) => e.data)).toEqual([expect.objectContaining({ sessionId: 'idle', reason: 'idle', durationMs: 1200 })]);
    expect(registry.get('busy')).toBeDefined();
    expect(registry.get('streaming')).toBeDefined();

    clock.now += 400;
    expect(await registry.sweepIdle()).toBe(1);
    expect(closed).toEqual(['idle', 'busy']);
  });

  it('restarts the idle clock when the last stream closes, and counts each release once', async () => {
    const { registry, clock, closed, add } = setup({ idleTimeoutMs: 1000 });
    const entry = add('s');
    const releaseFirst = registry.trackStream(entry);
    const releaseSecond = registry.trackStream(entry);

    clock.now += 5000;
    releaseFirst();
    releaseFirst();
    expect(entry.openStreams).toBe(1);
    clock.now += 5000;
    expect(await registry.sweepIdle()).toBe(0);

    releaseSecond();
    clock.now += 999;
    expect(await registry.sweepIdle()).toBe(0);
    clock.now += 1;
    expect(await registry.sweepIdle()).toBe(1);
    expect(closed).toEqual(['s']);
  });
});

describe('SessionRegistry stats', () => {
  it('reports nothing when empty', () => {
    const { registry } = setup({ maxSessions: 7 });
    expect(registry.stats()).toEqual({
      active: 0,
      limit: 7,
      oldest: null,
      newest: null,
      averageAgeSeconds: 0,
      byTransport: { 'streamable-http': 0, sse: 0, stdio: 0 },
    });
  });

  it('reports ages, bounds and transports of live sessions', () => {
    const { registry, clock, add } = setup({ maxSessions: 7 });
    add('a', 'sse');
    clock.now += 10_000;
    add('b');
    clock.now += 1_000;
    add('c');
    clock.now += 4_000;
    // ages: 15 s, 5 s, 4 s
    expect(registry.stats()).toEqual({
      active: 3,
      limit: 7,
      oldest: '2025-06-01T12:00:00.000Z',
      newest: '2025-06-01T12:00:11.000Z',
      averageAgeSeconds: 8,
      byTransport: { 'streamable-http': 2, sse: 1, stdio: 0 },
    });
  });
});

describe('SessionRegistry sweeper', () => {
  it('sweeps idle sessions on its interval until stopped', async () => {
    const { registry, clock, closed, add } = setup({ sweepIntervalMs: 10, idleTimeoutMs: 1000 });
    add('a');
    clock.now += 2000;
    registry.start();
    expect(registry.sweeping).toBe(true);
    for (let i = 0; i < 100 && closed.length === 0; i += 1) await sleep(10);
    expect(closed).toEqual(['a']);

    registry.stop();
    expect(registry.sweeping).toBe(false);
    add('b');
    clock.now += 2000;
    await sleep(60);
    expect(closed).toEqual(['a']);
  });

  it('starts only one timer however often start() is called', async () => {
    const { registry, clock, closed, add } = setup({ sweepIntervalMs: 10, idleTimeoutMs: 1000 });
    registry.start();
    registry.start();
    registry.stop();
    add('a');
    clock.now += 2000;
    await sleep(60);
    expect(closed).toEqual([]);
  });
});
