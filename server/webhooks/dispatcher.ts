import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { KeyValueStore, QueueItem, WorkQueue } from '../storage/types.js';
import type { WebhookPayload } from './catalog.js';
import { backoffMs, type Deliverer, type DeliveryResult } from './delivery.js';
import { signedHeaders } from './signature.js';
import type { DeadLetter, DispatchSettings, WebhookEndpoint } from './webhook-service.js';

/** Key-value namespace of dead letters (`{eventId}:{endpointId}`). */
export const DLQ = 'webhook-dlq';
/** Key-value namespace of endpoints disabled by a 410 answer. */
export const DISABLED = 'webhook-disabled';
const DLQ_TTL_SECONDS = 30 * 24 * 3600;

/**
 * A claim takes this many windows' worth of events, so the claim and the acknowledgement commits are spread over
 * many events even with a window of one. The claim's lease does not grow with it: see {@link leaseMs}.
 */
const WINDOWS_PER_CLAIM = 8;
/** Batches one drain sends before it returns `more`. */
const ROUNDS_PER_DRAIN = 50;
/** Time kept in hand at the end of a lease for settling the last attempts (storage writes, scheduling). */
const SETTLE_MARGIN_MS = 1000;

/** The outbox queue of an endpoint. */
export const queueOf = (endpoint: Pick<WebhookEndpoint, 'id'>) => `webhooks:${endpoint.id}`;

/**
 * How long a claim leases its batch: two attempt timeouts and 5 s. An attempt starts only while it can end (time
 * limit plus {@link SETTLE_MARGIN_MS}) inside the lease; the rest of the batch is released and claimed again with a
 * fresh lease. So a lease never runs out under an attempt in flight (which would let another replica send the same
 * event concurrently), whatever the batch size, and events claimed by a process that dies come back within it.
 */
export const leaseMs = (settings: Pick<DispatchSettings, 'timeoutMs'>) => 2 * settings.timeoutMs + 5000;

/** Options of {@link createDispatcher}. */
export interface DispatcherOptions {
  storage: KeyValueStore & WorkQueue;
  deliverer: Deliverer;
  logger: Logger;
  metrics?: Metrics;
  settings: DispatchSettings;
  /** True once shutdown has begun: no delivery starts after that; those in flight finish and are settled. */
  halted: () => boolean;
}

/** Delivers endpoints' outboxes; one {@link Dispatcher.drain} per endpoint at a time is the caller's job. */
export interface Dispatcher {
  /**
   * Delivers what is due for `endpoint` until its outbox has nothing due, it fails (paused), is disabled or halted
   * (`done`), or a number of batches has gone out (`more`: call again; the disabled marker is re-read then).
   */
  drain(endpoint: WebhookEndpoint): Promise<'done' | 'more'>;
  /** Epoch ms until which a failing endpoint is paused (one attempt per backoff period); 0 when it is not. */
  pausedUntil(endpointId: string): number;
}

type Item = QueueItem<WebhookPayload>;

/**
 * The delivery loop of the outbox. Each endpoint's events are claimed in batches, in outbox order, and sent with at
 * most `maxInFlight` requests in flight (a sliding window: the next event starts as soon as one is answered). An
 * event is acknowledged only after its 2xx answer, and the answered events of a batch are acknowledged together
 * (one commit); a crash in between means they are sent again (at least once, same `webhook-id`).
 *
 * The first failure of a batch pauses the endpoint: no further event of the batch starts, the ones in flight are
 * settled as they answer, and the ones not started are released to come back when the pause ends. While an endpoint
 * is failing, each drain after a pause sends one event only, a probe: if it fails the pause doubles (the endpoint's
 * own backoff, whatever the events' attempt counts), if it is delivered the window opens again and the queue flows.
 * So a receiver that is down sees one attempt per backoff period, not one per queued event.
 */
export function createDispatcher({ storage, deliverer, logger, metrics, settings, halted }: DispatcherOptions): Dispatcher {
  /** Endpoints that are failing: how many probes in a row failed, and until when the next one waits. */
  const failing = new Map<string, { failures: number; until: number }>();

  const pause = (endpointId: string, minimumMs: number) => {
    const failures = (failing.get(endpointId)?.failures ?? 0) + 1;
    const delayMs = Math.max(minimumMs, backoffMs(settings.retryBaseMs, failures - 1));
    failing.set(endpointId, { failures, until: Date.now() + delayMs });
  };

  async function drain(endpoint: WebhookEndpoint): Promise<'done' | 'more'> {
    if (await storage.get(DISABLED, endpoint.id)) return 'done';
    if (failing.has(endpoint.id)) {
      if ((failing.get(endpoint.id)?.until ?? 0) > Date.now()) return 'done';
      // A probe: one event, alone. Delivered, the endpoint is well again and the next drain sends the queue.
      const leaseEnds = Date.now() + leaseMs(settings);
      const items = await storage.claim<WebhookPayload>(queueOf(endpoint), { max: 1, leaseMs: leaseMs(settings) });
      if (items.length === 0) return 'done';
      if ((await deliverBatch(endpoint, items, 1, leaseEnds)) === 'stop' || failing.has(endpoint.id)) return 'done';
      return 'more';
    }
    const window = endpoint.maxInFlight;
    for (let round = 0; round < ROUNDS_PER_DRAIN; round += 1) {
      if (halted()) return 'done';
      // Our clock, read before the claim: the lease ends no earlier than this says.
      const leaseEnds = Date.now() + leaseMs(settings);
      const items = await storage.claim<WebhookPayload>(queueOf(endpoint), { max: window * WINDOWS_PER_CLAIM, leaseMs: leaseMs(settings) });
      if (items.length === 0) return 'done';
      if ((await deliverBatch(endpoint, items, window, leaseEnds)) === 'stop') return 'done';
    }
    return 'more';
  }

  /** Sends one claimed batch through the window; `stop` when the endpoint was paused or disabled, or on halt. */
  async function deliverBatch(
    endpoint: WebhookEndpoint,
    items: readonly Item[],
    window: number,
    leaseEnds: number,
  ): Promise<'next' | 'stop'> {
    const queue = queueOf(endpoint);
    const delivered: string[] = [];
    const lastStart = leaseEnds - settings.timeoutMs - SETTLE_MARGIN_MS;
    let next = 0;
    let stop = false;
    let failure: unknown;
    /** Set when an attempt failed and will be retried: the endpoint pauses once, for the longest such delay. */
    let retryAfterMs: number | undefined;

    const lane = async (): Promise<void> => {
      while (!stop && !halted() && next < items.length && Date.now() <= lastStart) {
        const item = items[next++] as Item;
        try {
          const result = await attempt(endpoint, item);
          if (result.kind === 'delivered') {
            delivered.push(item.id);
            failing.delete(endpoint.id);
            metrics?.webhookDeliveries.inc({ event: item.payload.type, outcome: 'delivered' });
          } else {
            const settled = await settle(endpoint, item, result);
            if (settled === 'stop') stop = true;
            else if (settled !== 'next') {
              stop = true;
              retryAfterMs = Math.max(retryAfterMs ?? 0, settled.retryAfterMs);
            }
          }
        } catch (error) {
          // A storage write failed: this item stays leased and comes back when its lease ends.
          stop = true;
          failure ??= error;
        }
      }
    };

    try {
      await Promise.all(Array.from({ length: Math.min(window, items.length) }, lane));
    } finally {
      if (retryAfterMs !== undefined) pause(endpoint.id, retryAfterMs);
      await storage.ackMany(queue, delivered);
      const unstarted = items.slice(next).map((item) => item.id);
      if (unstarted.length > 0) {
        // Back when the pause ends (at once on shutdown), rather than when their lease runs out.
        const delayMs = Math.max(0, (failing.get(endpoint.id)?.until ?? 0) - Date.now());
        await storage.release(queue, unstarted, { delayMs });
      }
    }
    if (failure !== undefined) throw failure;
    return stop || halted() ? 'stop' : 'next';
  }

  async function attempt(endpoint: WebhookEndpoint, item: Item): Promise<DeliveryResult> {
    const body = JSON.stringify(item.payload);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'claude-code-mcp-webhooks',
      ...endpoint.headers,
      ...signedHeaders(endpoint.secrets, item.payload.id, body),
    };
    const started = process.hrtime.bigint();
    const result = await deliverer.deliver({ url: endpoint.url, body, headers, timeoutMs: settings.timeoutMs });
    metrics?.webhookDeliveryDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    return result;
  }

  /** Acts on a failed attempt; `stop` ends this drain (endpoint disabled), `retryAfterMs` pauses the endpoint. */
  async function settle(
    endpoint: WebhookEndpoint,
    item: Item,
    result: Exclude<DeliveryResult, { kind: 'delivered' }>,
  ): Promise<'next' | 'stop' | { retryAfterMs: number }> {
    const type = item.payload.type;
    switch (result.kind) {
      case 'gone':
        await storage.set(DISABLED, endpoint.id, { url: endpoint.url, at: new Date().toISOString(), status: 410 });
        logger.warn('webhook endpoint answered 410 Gone: disabled', { endpoint: endpoint.id, url: endpoint.url, category: 'upstream' });
        await deadLetter(endpoint, item, '410 Gone: endpoint disabled');
        return 'stop';
      case 'rejected':
        logger.warn('webhook delivery rejected', {
          endpoint: endpoint.id,
          event: type,
          id: item.payload.id,
          reason: result.reason,
          category: 'upstream',
        });
        await deadLetter(endpoint, item, result.reason);
        return 'next';
      case 'retry': {
        const attempts = item.attempts + 1;
        if (attempts >= settings.maxAttempts || Date.now() - item.enqueuedAt >= settings.maxAgeMs) {
          await deadLetter(endpoint, item, `gave up after ${attempts} attempts: ${result.reason}`);
          return 'next';
        }
        const delayMs = backoffMs(settings.retryBaseMs, item.attempts);
        await storage.retry(queueOf(endpoint), item.id, { delayMs });
        metrics?.webhookDeliveries.inc({ event: type, outcome: 'retry' });
        logger.info('webhook delivery failed; retrying', {
          endpoint: endpoint.id,
          event: type,
          id: item.payload.id,
          attempt: attempts,
          delayMs,
          reason: result.reason,
        });
        // A failing endpoint is paused, not hammered: its next attempt is one probe, after its own backoff.
        return { retryAfterMs: delayMs };
      }
    }
  }

  async function deadLetter(endpoint: WebhookEndpoint, item: Item, reason: string): Promise<void> {
    const letter: DeadLetter = {
      endpointId: endpoint.id,
      url: endpoint.url,
      payload: item.payload,
      attempts: item.attempts + 1,
      reason,
      deadAt: new Date().toISOString(),
    };
    await storage.set(DLQ, `${item.payload.id}:${endpoint.id}`, letter, DLQ_TTL_SECONDS);
    await storage.ack(queueOf(endpoint), item.id);
    metrics?.webhookDeliveries.inc({ event: item.payload.type, outcome: 'dead_letter' });
  }

  return { drain, pausedUntil: (endpointId) => failing.get(endpointId)?.until ?? 0 };
}
