import { describe, expect, it } from '@jest/globals';
import { createEventBus } from '../../../server/events/bus.js';
import { modelLabel, observeEvents } from '../../../server/metrics/event-metrics.js';
import { createMetrics } from '../../../server/metrics/metrics.js';

describe('metrics fed by events', () => {
  it('adds Claude cost by model family and tokens by type, and follows upstream state', async () => {
    const metrics = createMetrics({ claudeRuns: () => ({ running: 2, queued: 3 }), sessionsByTransport: () => ({ sse: 4 }) });
    const events = createEventBus();
    const off = observeEvents(metrics, events);
    events.emit('tool.completed', {
      tool: 'claude_ask',
      owner: 'client-a',
      durationMs: 10,
      costUsd: 0.25,
      model: 'claude-sonnet-4-5',
      usage: { inputTokens: 100, outputTokens: 20, cacheReadInputTokens: 5, cacheCreationInputTokens: 1 },
    });
    events.emit('tool.error', {
      tool: 'claude_ask',
      owner: 'client-b',
      durationMs: 5,
      category: 'timeout',
      message: 'x',
      costUsd: 0.5,
      model: 'my-own-model',
    });
    events.emit('upstream.up', { server: 'memory', tools: 3 });
    events.emit('upstream.down', { server: 'memory', reason: 'crash' });
    events.emit('upstream.restarted', { server: 'memory', restartCount: 1 });
    const { body } = await metrics.scrape();
    expect(body).toContain('claude_cost_usd_total{model="sonnet"} 0.25');
    expect(body).toContain('claude_cost_usd_total{model="other"} 0.5');
    expect(body).toContain('claude_tokens_total{type="input"} 100');
    expect(body).toContain('claude_tokens_total{type="cache_creation"} 1');
    expect(body).toContain('upstream_up{server="memory"} 0');
    expect(body).toContain('upstream_restarts_total{server="memory"} 1');
    expect(body).toContain('claude_runs_active 2');
    expect(body).toContain('claude_queue_depth 3');
    expect(body).toContain('mcp_sessions_active{transport="sse"} 4');
    expect(body).not.toContain('client-a');
    off();
    expect(events.listenerCount()).toBe(0);
  });

  it('keeps the model label bounded', () => {
    expect(modelLabel(undefined)).toBe('default');
    expect(modelLabel('opus')).toBe('opus');
    expect(modelLabel('claude-haiku-4-5-20251001')).toBe('haiku');
    expect(modelLabel('x'.repeat(50))).toBe('other');
  });
});
