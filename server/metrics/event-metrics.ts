import type { EventBus } from '../events/bus.js';
import type { Metrics } from './metrics.js';

/**
 * Model names come from callers, so they are folded into a bounded set: the Claude family (`opus`, `sonnet`,
 * `haiku`), `default` when the caller named none, and `other`.
 */
export function modelLabel(model: string | undefined): string {
  if (!model) return 'default';
  const family = /(opus|sonnet|haiku)/i.exec(model);
  return family ? family[1]!.toLowerCase() : 'other';
}

/**
 * Feeds the metrics that follow domain events (Claude cost and tokens, gateway upstream state) from the event bus.
 * Returns the unsubscribe function.
 */
export function observeEvents(metrics: Metrics, events: EventBus): () => void {
  const unsubscribe = [
    events.on('tool.completed', ({ data }) => {
      const model = modelLabel(data.model);
      if (data.costUsd) metrics.claudeCostUsd.inc({ model }, data.costUsd);
      if (data.usage) {
        metrics.claudeTokens.inc({ type: 'input' }, data.usage.inputTokens);
        metrics.claudeTokens.inc({ type: 'output' }, data.usage.outputTokens);
        metrics.claudeTokens.inc({ type: 'cache_read' }, data.usage.cacheReadInputTokens);
        metrics.claudeTokens.inc({ type: 'cache_creation' }, data.usage.cacheCreationInputTokens);
      }
    }),
    events.on('tool.error', ({ data }) => {
      if (data.costUsd) metrics.claudeCostUsd.inc({ model: modelLabel(data.model) }, data.costUsd);
    }),
    events.on('background_task.completed', ({ data }) => {
      if (data.costUsd) metrics.claudeCostUsd.inc({ model: 'default' }, data.costUsd);
    }),
    events.on('upstream.up', ({ data }) => metrics.upstreamUp.set({ server: data.server }, 1)),
    events.on('upstream.down', ({ data }) => metrics.upstreamUp.set({ server: data.server }, 0)),
    events.on('upstream.restarted', ({ data }) => metrics.upstreamRestarts.inc({ server: data.server })),
  ];
  return () => unsubscribe.forEach((off) => off());
}
