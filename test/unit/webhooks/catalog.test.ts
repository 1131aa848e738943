import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { createEventBus, type BusEvent } from '../../../server/events/bus.js';
import { toWebhookEvent, WEBHOOK_EVENTS } from '../../../server/webhooks/catalog.js';
import { backoffMs } from '../../../server/webhooks/delivery.js';
import { isPrivateAddress } from '../../../server/webhooks/address-guard.js';

const DOCS = readFileSync(new URL('../../../docs/webhooks.md', import.meta.url), 'utf8');

describe('webhook event catalogue', () => {
  it('has exactly the types of the operations issue', () => {
    expect(Object.keys(WEBHOOK_EVENTS).sort()).toEqual(
      [
        'tool.called',
        'tool.completed',
        'tool.error',
        'session.started',
        'session.ended',
        'checkpoint.created',
        'checkpoint.restored',
        'background_task.started',
        'background_task.completed',
        'background_task.failed',
        'rate_limit.exceeded',
        'server.started',
        'server.shutdown',
        'upstream.down',
        'upstream.up',
        'upstream.restarted',
        'oauth.client_registered',
      ].sort(),
    );
  });

  it('docs/webhooks.md shows the current JSON schema of every type (run `npx tsx scripts/gen-webhook-docs.ts` when this fails)', () => {
    for (const [type, schema] of Object.entries(WEBHOOK_EVENTS)) {
      const json = z.toJSONSchema(schema as z.ZodType, { io: 'input' }) as Record<string, unknown>;
      delete json.$schema;
      expect(DOCS).toContain(`### \`${type}\`\n\n${schema.description}\n\n\`\`\`json\n${JSON.stringify(json, null, 2)}\n\`\`\``);
    }
  });

  it('publishes bus events as catalogue types whose data matches the documented schema', () => {
    const seen: BusEvent[] = [];
    const bus = createEventBus();
    bus.onAny((event) => void seen.push(event));
    bus.emit('tool.completed', { tool: 'claude_ask', owner: 'client-a', durationMs: 5, costUsd: 0.1 });
    bus.emit('auth.client_registered', { clientId: 'c1', authMethod: 'none' });
    bus.emit('auth.login', { subject: 'u', method: 'password', success: true });
    const published = seen.map(toWebhookEvent);
    expect(published[0]).toEqual({
      type: 'tool.completed',
      data: { tool: 'claude_ask', clientId: 'client-a', durationMs: 5, costUsd: 0.1 },
    });
    expect(published[1]?.type).toBe('oauth.client_registered');
    expect(published[2]).toBeUndefined(); // audit events stay internal
    for (const event of published.filter((e) => e !== undefined)) {
      expect(WEBHOOK_EVENTS[event.type].safeParse(event.data).success).toBe(true);
    }
  });
});

describe('delivery policy', () => {
  it('backs off exponentially with jitter in the upper half, capped at an hour', () => {
    expect(backoffMs(1000, 0, () => 0)).toBe(500);
    expect(backoffMs(1000, 0, () => 1)).toBe(1000);
    expect(backoffMs(1000, 3, () => 1)).toBe(8000);
    expect(backoffMs(1000, 40, () => 1)).toBe(3600_000);
  });

  it('treats loopback, private, link-local and mapped addresses as private', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '0.0.0.0',
    ]) {
      expect(isPrivateAddress(address)).toBe(true);
    }
    for (const address of ['93.184.216.34', '2606:4700:4700::1111', '8.8.8.8']) expect(isPrivateAddress(address)).toBe(false);
  });
});
