import got, { type RequestError } from 'got';
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

/** Options of {@link deliver}. */
export interface DeliverOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** WEBHOOK_ALLOW_PRIVATE: skip the private-address guard. */
  allowPrivate: boolean;
}

const RETRYABLE_4XX = new Set([408, 425, 429]);

/** POSTs one signed event with got: a time limit, no redirects, no got-level retries (the outbox retries). */
export async function deliver(options: DeliverOptions): Promise<DeliveryResult> {
  try {
    if (!options.allowPrivate) assertPublicLiteral(new URL(options.url));
    const response = await got.post(options.url, {
      body: options.body,
      headers: options.headers,
      timeout: { request: options.timeoutMs },
      followRedirect: false,
      retry: { limit: 0 },
      throwHttpErrors: false,
      ...(options.allowPrivate ? {} : { dnsLookup: guardedLookup as never }),
    });
    const status = response.statusCode;
    if (status >= 200 && status < 300) return { kind: 'delivered', status };
    if (status === 410) return { kind: 'gone', status };
    if (status >= 400 && status < 500 && !RETRYABLE_4XX.has(status)) return { kind: 'rejected', status, reason: `HTTP ${status}` };
    return { kind: 'retry', status, reason: `HTTP ${status}` };
  } catch (error) {
    const cause = (error as RequestError).cause ?? error;
    if (error instanceof PrivateAddressError || cause instanceof PrivateAddressError) return { kind: 'rejected', reason: (cause as Error).message };
    const code = (error as RequestError).code;
    return { kind: 'retry', reason: code === 'ETIMEDOUT' ? `timeout after ${options.timeoutMs} ms` : `${code ?? 'error'}: ${(error as Error).message}` };
  }
}

/** Exponential backoff with jitter: base·2^attempt capped at an hour, then a random point in its upper half. */
export function backoffMs(baseMs: number, attempt: number, random = Math.random): number {
  const ceiling = Math.min(3600_000, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
