import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { assertPublicLiteral, guardedLookup, PrivateAddressError } from './address-guard.js';

/**
 * How one delivery attempt ended:
 * - `delivered`: a 2xx answer;
 * - `gone`: 410 — the consumer says the endpoint is gone for good, so it is disabled;
 * - `rejected`: another 4xx (except 408, 425, 429) or a refused address — retrying the same request cannot succeed;
 * - `retry`: 5xx, 408, 425, 429, a redirect (never followed), a timeout or a network error.
 */
export type DeliveryResult =
  | { kind: 'delivered'; status: number }
  | { kind: 'gone'; status: 410 }
  | { kind: 'rejected'; status?: number; reason: string }
  | { kind: 'retry'; status?: number; reason: string };

/** One delivery attempt, as {@link Deliverer.deliver} takes it. */
export interface DeliverOptions {
  /** The endpoint URL. */
  url: string;
  /** The JSON body, exactly the bytes that were signed. */
  body: string;
  /** Content type, Standard Webhooks headers and the endpoint's own headers. */
  headers: Record<string, string>;
  /** Time limit of the whole attempt (connect, send, answer). */
  timeoutMs: number;
}

/** Options of {@link createDeliverer}. */
export interface DelivererOptions {
  /** WEBHOOK_ALLOW_PRIVATE: skip the private-address guard. */
  allowPrivate: boolean;
}

/** The HTTP client of the dispatcher: signed POSTs over kept-alive connections. */
export interface Deliverer {
  /** POSTs one signed event; never throws, the result says how the attempt ended. */
  deliver(options: DeliverOptions): Promise<DeliveryResult>;
  /** Closes the idle kept-alive connections. Idempotent; call after the last attempt has settled. */
  close(): void;
}

const RETRYABLE_4XX = new Set([408, 425, 429]);

/**
 * How long an idle connection to a receiver is kept for the next delivery. Below the 5 s that Node, Apache and
 * many proxies close idle connections after, so a request is rarely sent on a socket the receiver is closing; Node's
 * agent also honours a shorter `Keep-Alive: timeout` a receiver announces, and the one race left is retried at once.
 */
const IDLE_SOCKET_MS = 4000;

/** The attempt ran out of time (connect, send, answer and body together). */
class AttemptTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`timeout after ${timeoutMs} ms`);
    this.name = 'AttemptTimeout';
  }
}

/** What an answer's status means for the event. */
function classify(status: number): DeliveryResult {
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  if (status === 410) return { kind: 'gone', status };
  if (status >= 400 && status < 500 && !RETRYABLE_4XX.has(status)) return { kind: 'rejected', status, reason: `HTTP ${status}` };
  return { kind: 'retry', status, reason: `HTTP ${status}` };
}

/**
 * The webhook HTTP client, on `node:http`/`node:https`: one POST per attempt with a time limit on the whole attempt,
 * redirects never followed (a 3xx is retried like a 5xx), no retries of its own (the outbox retries), the answer's
 * body discarded unread, and kept-alive connections, so a busy endpoint is not paying a TCP (and TLS) handshake per
 * event. The private-address guard runs at lookup, once per new connection: a kept-alive socket is to an address
 * that was checked when it was opened.
 *
 * Not got, which the first dispatcher used: none of its features are used here (its retries and redirects are
 * switched off, the body is not read) and its per-request work was the largest single CPU cost of a delivery, what
 * kept the dispatcher below its target rate (docs/benchmarks.md, "Operations").
 */
export function createDeliverer({ allowPrivate }: DelivererOptions): Deliverer {
  const agents = {
    http: new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
    https: new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
  };

  function post(target: URL, options: DeliverOptions, firstTry: boolean): Promise<DeliveryResult> {
    const { body, headers, timeoutMs } = options;
    return new Promise((resolve) => {
      const secure = target.protocol === 'https:';
      const request = (secure ? httpsRequest : httpRequest)(target, {
        method: 'POST',
        agent: secure ? agents.https : agents.http,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        ...(allowPrivate ? {} : { lookup: guardedLookup as never }),
      });
      let answered = false;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        request.destroy(new AttemptTimeout(timeoutMs));
      }, timeoutMs);
      const settle = (result: DeliveryResult | Promise<DeliveryResult>) => {
        clearTimeout(timer);
        resolve(result);
      };
      // Whichever of the request and the answer reports an error first decides; a timeout is reported as one.
      const fail = (error: unknown) => settle(failure(timedOut ? new AttemptTimeout(timeoutMs) : error));
      request.on('response', (response) => {
        answered = true;
        const result = classify(response.statusCode ?? 0);
        // Read to the end (and throw away) so the socket can carry the next delivery.
        response.on('error', fail);
        response.on('end', () => settle(result)).resume();
      });
      request.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the receiver closed just as it was reused: the request never reached it, so send it
        // again at once on a fresh connection instead of pausing the endpoint for a backoff period.
        if (firstTry && !answered && !timedOut && request.reusedSocket && error.code === 'ECONNRESET') settle(post(target, options, false));
        else fail(error);
      });
      request.end(body);
    });
  }

  return {
    async deliver(options) {
      let target: URL;
      try {
        target = new URL(options.url);
        if (!allowPrivate) assertPublicLiteral(target);
      } catch (error) {
        return failure(error);
      }
      return post(target, options, true);
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

/** What a request error means for the event. */
function failure(error: unknown): DeliveryResult {
  if (error instanceof PrivateAddressError) return { kind: 'rejected', reason: error.message };
  if (error instanceof AttemptTimeout) return { kind: 'retry', reason: error.message };
  const code = (error as NodeJS.ErrnoException).code;
  return { kind: 'retry', reason: `${code ?? 'error'}: ${(error as Error).message}` };
}

/** Exponential backoff with jitter: base·2^attempt capped at an hour, then a random point in its upper half. */
export function backoffMs(baseMs: number, attempt: number, random = Math.random): number {
  const ceiling = Math.min(3600_000, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
