import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { KeyValueStore, Storage, WorkQueue } from '../storage/types.js';
import { toWebhookEvent, wants, type WebhookPayload } from './catalog.js';
import { backoffMs, deliver, type DeliveryResult } from './delivery.js';
import { signedHeaders } from './signature.js';

/** One configured endpoint. `id` is derived from the URL, so it is stable across restarts and replicas. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  secrets: readonly string[];
  events: readonly string[];
  headers: Readonly<Record<string, string>>;
  enabled: boolean;
}

/** A dead-lettered delivery, kept 30 days for `webhooks dlq` and `webhooks replay`. */
export interface DeadLetter {
  endpointId: string;
  url: string;
  payload: WebhookPayload;
  attempts: number;
  reason: string;
  deadAt: string;
}

/** Delivery tuning (from WEBHOOK_* settings). */
export interface DispatchSettings {
  timeoutMs: number;
  maxAttempts: number;
  maxAgeMs: number;
  retryBaseMs: number;
  allowPrivate: boolean;
  /** How often idle endpoints are polled for due retries (default 250 ms). */
  pollMs?: number;
}

const DLQ = 'webhook-dlq';
const DISABLED = 'webhook-disabled';
const DLQ_TTL_SECONDS = 30 * 24 * 3600;
const BATCH = 20;

/** The outbox queue of an endpoint. */
export const queueOf = (endpoint: Pick<WebhookEndpoint, 'id'>) => `webhooks:${endpoint.id}`;

/** The endpoints of a config: WEBHOOK_URL first, then `webhookEndpoints`. */
export function configuredEndpoints(config: Config): WebhookEndpoint[] {
  const endpoints: WebhookEndpoint[] = [];
  const add = (url: string, secret: string | readonly string[], events: readonly string[], headers: Record<string, string>, enabled: boolean) =>
    endpoints.push({ id: createHash('sha256').update(url).digest('hex').slice(0, 12), url, secrets: typeof secret === 'string' ? [secret] : [...secret], events, headers, enabled });
  if (config.webhookUrl) add(config.webhookUrl, config.webhookSecret, config.webhookEvents, {}, true);
  for (const entry of config.webhookEndpoints) add(entry.url, entry.secret, entry.events, entry.headers, entry.enabled);
  return endpoints;
}

/** Options of {@link createWebhookService}. */
export interface WebhookServiceOptions {
  endpoints: readonly WebhookEndpoint[];
  storage: KeyValueStore & WorkQueue;
  events: EventBus;
  logger: Logger;
  metrics?: Metrics;
  settings: DispatchSettings;
}

/** The running webhook outbox and dispatcher. */
export interface WebhookService {
  /** Events in the outbox of every endpoint. */
  queueDepth(): Promise<number>;
  /** Stops dispatching after the attempts in flight and waits for pending outbox writes. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Subscribes to the bus and writes every published event, once per endpoint that wants it, to that endpoint's
 * durable outbox queue; a dispatcher delivers each queue one event at a time, in order, retrying with backoff.
 * Emitters never wait: the write happens in the subscriber, and a failing store is logged, never thrown.
 */
export function createWebhookService(options: WebhookServiceOptions): WebhookService {
  const { storage, events, logger, metrics, settings } = options;
  const endpoints = options.endpoints.filter((endpoint) => endpoint.enabled);
  const pending = new Set<Promise<unknown>>();
  const draining = new Map<string, Promise<void>>();
  const pausedUntil = new Map<string, number>();
  let stopped = false;
  /** Set first on stop: no new delivery loop starts while the last outbox writes finish. */
  let halted = false;

  const unsubscribe = events.onAny((event) => {
    const published = toWebhookEvent(event);
    if (!published || stopped) return;
    const payload: WebhookPayload = { id: `msg_${randomUUID()}`, type: published.type, timestamp: new Date(event.timestamp).toISOString(), data: published.data };
    for (const endpoint of endpoints) {
      if (!wants(endpoint.events, payload.type)) continue;
      const write = storage
        .enqueue(queueOf(endpoint), payload)
        .then(() => kick(endpoint))
        .catch((error: unknown) => logger.error('webhook outbox write failed', { event: payload.type, endpoint: endpoint.id, error, category: 'storage' }))
        .finally(() => pending.delete(write));
      pending.add(write);
    }
  });

  const kick = (endpoint: WebhookEndpoint) => {
    if (halted || draining.has(endpoint.id) || (pausedUntil.get(endpoint.id) ?? 0) > Date.now()) return;
    const run = drain(endpoint)
      .catch((error: unknown) => void logger.error('webhook dispatcher failed', { endpoint: endpoint.id, error, category: 'internal' }))
      .finally(() => draining.delete(endpoint.id));
    draining.set(endpoint.id, run);
  };

  async function drain(endpoint: WebhookEndpoint): Promise<void> {
    if (await storage.get(DISABLED, endpoint.id)) return;
    for (let round = 0; round < 100 && !halted; round += 1) {
      const items = await storage.claim<WebhookPayload>(queueOf(endpoint), { max: BATCH, leaseMs: settings.timeoutMs + 5000 });
      if (items.length === 0) return;
      for (const item of items) {
        if (halted) return; // unacknowledged items come back when their lease ends
        const body = JSON.stringify(item.payload);
        const headers = { 'content-type': 'application/json', 'user-agent': 'claude-code-mcp-webhooks', ...endpoint.headers, ...signedHeaders(endpoint.secrets, item.payload.id, body) };
        const started = process.hrtime.bigint();
        const result = await deliver({ url: endpoint.url, body, headers, timeoutMs: settings.timeoutMs, allowPrivate: settings.allowPrivate });
        metrics?.webhookDeliveryDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
        const next = await settle(endpoint, item, result);
        if (next === 'stop') return;
      }
    }
  }

  /** Acts on one attempt's result; `stop` ends this drain (endpoint paused or disabled). */
  async function settle(endpoint: WebhookEndpoint, item: { id: string; payload: WebhookPayload; attempts: number; enqueuedAt: number }, result: DeliveryResult): Promise<'next' | 'stop'> {
    const queue = queueOf(endpoint);
    const type = item.payload.type;
    switch (result.kind) {
      case 'delivered':
        await storage.ack(queue, item.id);
        metrics?.webhookDeliveries.inc({ event: type, outcome: 'delivered' });
        return 'next';
      case 'gone':
        await storage.set(DISABLED, endpoint.id, { url: endpoint.url, at: new Date().toISOString(), status: 410 });
        logger.warn('webhook endpoint answered 410 Gone: disabled', { endpoint: endpoint.id, url: endpoint.url, category: 'upstream' });
        await deadLetter(endpoint, item, '410 Gone: endpoint disabled');
        return 'stop';
      case 'rejected':
        logger.warn('webhook delivery rejected', { endpoint: endpoint.id, event: type, id: item.payload.id, reason: result.reason, category: 'upstream' });
        await deadLetter(endpoint, item, result.reason);
        return 'next';
      case 'retry': {
        const attempts = item.attempts + 1;
        if (attempts >= settings.maxAttempts || Date.now() - item.enqueuedAt >= settings.maxAgeMs) {
          await deadLetter(endpoint, item, `gave up after ${attempts} attempts: ${result.reason}`);
          return 'next';
        }
        const delayMs = backoffMs(settings.retryBaseMs, item.attempts);
        await storage.retry(queue, item.id, { delayMs });
        metrics?.webhookDeliveries.inc({ event: type, outcome: 'retry' });
        logger.info('webhook delivery failed; retrying', { endpoint: endpoint.id, event: type, id: item.payload.id, attempt: attempts, delayMs, reason: result.reason });
        // A failing endpoint is paused, not hammered: one attempt per backoff period.
        pausedUntil.set(endpoint.id, Date.now() + delayMs);
        return 'stop';
      }
    }
  }

  async function deadLetter(endpoint: WebhookEndpoint, item: { id: string; payload: WebhookPayload; attempts: number }, reason: string): Promise<void> {
    const letter: DeadLetter = { endpointId: endpoint.id, url: endpoint.url, payload: item.payload, attempts: item.attempts + 1, reason, deadAt: new Date().toISOString() };
    await storage.set(DLQ, `${item.payload.id}:${endpoint.id}`, letter, DLQ_TTL_SECONDS);
    await storage.ack(queueOf(endpoint), item.id);
    metrics?.webhookDeliveries.inc({ event: item.payload.type, outcome: 'dead_letter' });
  }

  const poll = setInterval(() => endpoints.forEach(kick), settings.pollMs ?? 250);
  poll.unref();
  // Events left by a previous run (crash, restart) go out at once.
  endpoints.forEach(kick);

  let stopping: Promise<void> | undefined;
  return {
    async queueDepth() {
      let total = 0;
      for (const endpoint of endpoints) total += await storage.size(queueOf(endpoint));
      return total;
    },
    stop() {
      stopping ??= (async () => {
        halted = true;
        await Promise.allSettled([...pending]);
        stopped = true;
        clearInterval(poll);
        unsubscribe();
        await Promise.allSettled([...draining.values()]);
      })();
      return stopping;
    },
  };
}

/** Dead letters, newest first (`webhooks dlq`). */
export async function listDeadLetters(storage: KeyValueStore): Promise<Array<{ key: string; letter: DeadLetter }>> {
  const entries = await storage.list<DeadLetter>(DLQ);
  return entries.map(({ id, value }) => ({ key: id, letter: value })).sort((a, b) => b.letter.deadAt.localeCompare(a.letter.deadAt));
}

/**
 * Puts the dead letters of event `eventId` back in their endpoints' outboxes (same id, so consumers deduplicate)
 * and removes them from the list; re-enables an endpoint disabled by 410. Returns how many were requeued.
 */
export async function replayDeadLetter(storage: Pick<Storage, 'list' | 'delete' | 'enqueue'>, eventId: string): Promise<number> {
  let count = 0;
  for (const { id, value: letter } of await storage.list<DeadLetter>(DLQ, `${eventId}:`)) {
    await storage.enqueue(queueOf({ id: letter.endpointId }), letter.payload);
    await storage.delete(DISABLED, letter.endpointId);
    await storage.delete(DLQ, id);
    count += 1;
  }
  return count;
}

/** Whether an endpoint was disabled by a 410 answer. */
export async function isDisabled(storage: KeyValueStore, endpointId: string): Promise<boolean> {
  return !!(await storage.get(DISABLED, endpointId));
}
