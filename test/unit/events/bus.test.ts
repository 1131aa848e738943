import { describe, expect, it } from '@jest/globals';
import { createEventBus, type BusEvent } from '../../../server/events/bus.js';
import type { Logger } from '../../../server/logging/logger.js';

/** A logger fake that records error calls; the bus only uses `error`. */
function recordingLogger() {
  const errors: Array<{ message: string; meta: Record<string, unknown> }> = [];
  const logger = {
    error(message: string, meta: Record<string, unknown>) {
      errors.push({ message, meta });
    },
  } as unknown as Logger;
  return { logger, errors };
}

const started = { sessionId: 's1', transport: 'streamable-http' as const, clientId: 'c1' };

describe('createEventBus', () => {
  it('delivers a typed event to subscribers of its type and to onAny subscribers', () => {
    const bus = createEventBus();
    const typed: BusEvent<'session.started'>[] = [];
    const other: BusEvent[] = [];
    const any: BusEvent[] = [];
    bus.on('session.started', (event) => void typed.push(event));
    bus.on('server.shutdown', (event) => void other.push(event));
    bus.onAny((event) => void any.push(event));

    const before = Date.now();
    bus.emit('session.started', started);

    expect(typed).toHaveLength(1);
    expect(typed[0]).toMatchObject({ type: 'session.started', data: started });
    expect(typed[0]!.timestamp).toBeGreaterThanOrEqual(before);
    expect(typed[0]!.timestamp).toBeLessThanOrEqual(Date.now());
    expect(other).toEqual([]);
    expect(any).toEqual(typed);
  });

  it('logs a throwing subscriber and still runs the others; emit never throws', () => {
    const { logger, errors } = recordingLogger();
    const bus = createEventBus(logger);
    const reached: string[] = [];
    bus.on('session.started', () => {
      throw new Error('metrics broke');
    });
    bus.on('session.started', () => void reached.push('typed'));
    bus.onAny(() => void reached.push('any'));

    expect(() => bus.emit('session.started', started)).not.toThrow();
    expect(reached).toEqual(['typed', 'any']);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toBe('event subscriber failed');
    expect(errors[0]!.meta).toMatchObject({ event: 'session.started', category: 'internal' });
    expect((errors[0]!.meta.error as Error).message).toBe('metrics broke');
  });

  it('logs a rejecting async subscriber without an unhandled rejection', async () => {
    const { logger, errors } = recordingLogger();
    const bus = createEventBus(logger);
    const reached: string[] = [];
    bus.onAny(async () => {
      await Promise.resolve();
      throw new Error('webhook down');
    });
    bus.onAny(() => void reached.push('second'));

    bus.emit('server.shutdown', { reason: 'SIGTERM', uptimeSeconds: 1 });
    expect(reached).toEqual(['second']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toHaveLength(1);
    expect(errors[0]!.meta).toMatchObject({ event: 'server.shutdown' });
    expect((errors[0]!.meta.error as Error).message).toBe('webhook down');
  });

  it('survives a failing subscriber even without a logger', () => {
    const bus = createEventBus();
    let reached = false;
    bus.onAny(() => {
      throw new Error('boom');
    });
    bus.onAny(() => {
      reached = true;
    });
    expect(() => bus.emit('session.started', started)).not.toThrow();
    expect(reached).toBe(true);
  });

  it('stops delivering after unsubscribe, and counts listeners', () => {
    const bus = createEventBus();
    expect(bus.listenerCount()).toBe(0);
    let typedCalls = 0;
    let anyCalls = 0;
    const offTyped = bus.on('session.started', () => void (typedCalls += 1));
    const offAny = bus.onAny(() => void (anyCalls += 1));
    bus.on('session.ended', () => undefined);
    expect(bus.listenerCount()).toBe(3);

    bus.emit('session.started', started);
    offTyped();
    offAny();
    offAny();
    bus.emit('session.started', started);

    expect(typedCalls).toBe(1);
    expect(anyCalls).toBe(1);
    expect(bus.listenerCount()).toBe(1);
  });
});
