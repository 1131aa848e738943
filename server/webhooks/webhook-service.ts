import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { KeyValueStore, Storage, WorkQueue } from '../storage/types.js';
import { toWebhookEvent, wants, type WebhookPayload } from './catalog.js';
import { createDeliverer } from './delivery.js';
import { createDispatcher, DISABLED, DLQ, queueOf } from './dispatcher.js';

/** One configured endpoint. `id` is derived from the URL, so it is stable across restarts and replicas. */
export interface WebhookEndpoint {
  /** First 12 hex digits of the URL's SHA-256. */
  id: string;
  url: string;
  /** One `whsec_` secret, or two during a rotation (both signatures are sent). */
  secrets: readonly string[];
  /** Event types it receives; empty: every type. */
  events: readonly string[];
  /** Extra headers sent with every delivery. */
  headers: Readonly<Record<string, string>>;
  enabled: boolean;
  /** Most deliveries in flight at once (WEBHOOK_MAX_IN_FLIGHT, or the entry's `maxInFlight`); 1 = strictly one at a time. */
  maxInFlight: number;
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

// Where `webhooks list` and other callers have always found it.
export { queueOf };

/** The endpoints of a config: WEBHOOK_URL first, then `webhookEndpoints`. */
export function configuredEndpoints(config: Config): WebhookEndpoint[] {
  const endpoints: WebhookEndpoint[] = [];
  const add = (
    url: string,
    secret: string | readonly string[],
    events: readonly string[],
    headers: Record<string, string>,
    enabled: boolean,
    maxInFlight: number,
  ) =>
    endpoints.push({
      id: createHash('sha256').update(url).digest('hex').slice(0, 12),
      url,
      secrets: typeof secret === 'string' ? [secret] : [...secret],
      events,
      headers,
      enabled,
      maxInFlight,
    });
  if (config.webhookUrl) add(config.webhookUrl, config.webhookSecret, config.webhookEvents, {}, true, config.webhookMaxInFlight);
  for (const entry of config.webhookEndpoints)
    add(entry.url, entry.secret, entry.events, entry.headers, entry.enabled, entry.maxInFlight ?? config.webhookMaxInFlight);
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

/** Most events one outbox write stores; a larger burst is written in several transactions. */
const WRITE_BATCH = 500;

/**
 * Subscribes to the bus and writes every published event, once per endpoint that wants it, to that endpoint's
 * durable outbox queue; a dispatcher delivers each queue (see dispatcher.ts: in order, a bounded window of requests
 * in flight, retries with backoff). Emitters never wait: events are buffered and written after the emitting code
 * has run (one write, so one commit, per endpoint per burst), and a failing store is logged, never thrown. The
 * answer to the request that emitted an event does wait for its write (events/durable-writes.ts), so an operation a
 * client has seen succeed always has its event stored.
 */
export function createWebhookService(options: WebhookServiceOptions): WebhookService {
  const { storage, events, logger, metrics, settings } = options;
  const endpoints = options.endpoints.filter((endpoint) => endpoint.enabled);
  const pending = new Set<Promise<unknown>>();
  const draining = new Map<string, Promise<void>>();
  /** Endpoints kicked while their drain was running, or with more to send: drained again at once, not at the next poll. */
  const rekick = new Set<string>();
  /** Events waiting for the next outbox write, per endpoint, in emission order. */
  const buffered = new Map<WebhookEndpoint, WebhookPayload[]>();
  /** The outbox write the events buffered now will be in; what their emitters' answers wait for. */
  let nextFlush: Promise<void> | undefined;
  let stopped = false;
  /** Set first on stop: no new delivery starts while the last outbox writes finish. */
  let halted = false;
  const deliverer = createDeliverer({ allowPrivate: settings.allowPrivate });
  const dispatcher = createDispatcher({ storage, deliverer, logger, metrics, settings, halted: () => halted });

  const track = (work: Promise<unknown>) => {
    pending.add(work);
    void work.finally(() => pending.delete(work));
  };

  const unsubscribe = events.onAny(
    (event) => {
      const published = toWebhookEvent(event);
      if (!published || stopped) return undefined;
      const payload: WebhookPayload = {
        id: `msg_${randomUUID()}`,
        type: published.type,
        timestamp: new Date(event.timestamp).toISOString(),
        data: published.data,
      };
      let wanted = false;
      for (const endpoint of endpoints) {
        if (!wants(endpoint.events, payload.type)) continue;
        wanted = true;
        const list = buffered.get(endpoint);
        if (list) list.push(payload);
        else buffered.set(endpoint, [payload]);
      }
      if (!wanted) return undefined;
      // setImmediate, not a microtask: a loop emitting many events finishes first and they share one write.
      if (!nextFlush) {
        nextFlush = new Promise<void>((resolve) => setImmediate(resolve)).then(flush);
        track(nextFlush);
      }
      return nextFlush;
    },
    { durable: true },
  );

  async function flush(): Promise<void> {
    nextFlush = undefined;
    const batches = [...buffered];
    buffered.clear();
    await Promise.all(
      batches.map(async ([endpoint, payloads]) => {
        for (let from = 0; from < payloads.length; from += WRITE_BATCH) {
          const chunk = payloads.slice(from, from + WRITE_BATCH);
          try {
            await storage.enqueueMany(queueOf(endpoint), chunk);
          } catch (error) {
            logger.error('webhook outbox write failed', {
              events: chunk.length,
              event: chunk[0]?.type,
              endpoint: endpoint.id,
              error,
              category: 'storage',
            });
          }
        }
        kick(endpoint);
      }),
    );
  }

  const kick = (endpoint: WebhookEndpoint) => {
    if (halted || dispatcher.pausedUntil(endpoint.id) > Date.now()) return;
    if (draining.has(endpoint.id)) {
      rekick.add(endpoint.id);
      return;
    }
    const run = dispatcher
      .drain(endpoint)
      .then((state) => {
        if (state === 'more') rekick.add(endpoint.id);
      })
      .catch((error: unknown) => void logger.error('webhook dispatcher failed', { endpoint: endpoint.id, error, category: 'internal' }))
      .finally(() => {
        draining.delete(endpoint.id);
        if (rekick.delete(endpoint.id)) kick(endpoint);
      });
    draining.set(endpoint.id, run);
  };

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
        // Events emitted while the last writes run (server.shutdown, sessions ending) are written too.
        while (pending.size > 0) await Promise.allSettled([...pending]);
        stopped = true;
        clearInterval(poll);
        unsubscribe();
        while (draining.size > 0) await Promise.allSettled([...draining.values()]);
        deliverer.close();
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
