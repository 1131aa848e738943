/**
 * A webhook receiver that is down (its port accepts and resets every connection), then up: the events of real
 * operations (registrations) made meanwhile are all delivered once it is up, each exactly once by webhook-id, and
 * while it was down the endpoint got at most one attempt per backoff period. See docs/webhooks.md ("Backpressure").
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSandbox, waitFor, type Sandbox } from '../helpers/cli-process.js';
import { registerMachineClient, type MachineClient } from '../helpers/machine-client.js';
import { killServers, startServer, type ServerProcess } from '../helpers/server-process.js';
import {
  deliveryCounts,
  startDeadEndpoint,
  startReceiver,
  webhookSecret,
  type DeadEndpoint,
  type Receiver,
} from '../helpers/webhook-receiver.js';

const RETRY_BASE_MS = 250;
const MAX_IN_FLIGHT = 8;
const DOWN_MS = 3000;
const REGISTRATIONS = 25;

/**
 * The most attempts a failing endpoint may get in `ms` from its first failure: the first window (up to
 * MAX_IN_FLIGHT requests already started), then one probe per pause. The k-th pause lasts at least half of
 * base·2^(k−1) (backoff with jitter in the upper half), so k probes need base/2·(2^k − 1) ms.
 */
function attemptBound(ms: number): number {
  let probes = 0;
  while ((RETRY_BASE_MS / 2) * (2 ** (probes + 1) - 1) <= ms) probes += 1;
  return MAX_IN_FLIGHT + probes;
}

describe('webhook receiver down, then up (real process)', () => {
  let sandbox: Sandbox;
  let dead: DeadEndpoint | undefined;
  let receiver: Receiver | undefined;
  let server: ServerProcess;

  beforeAll(async () => {
    sandbox = createSandbox();
    dead = await startDeadEndpoint();
    server = await startServer(sandbox, {
      STORAGE: 'sqlite',
      AUTH_MODE: 'oauth',
      AUTH_INITIAL_ADMIN: 'false',
      WEBHOOK_URL: dead.url,
      WEBHOOK_SECRET: webhookSecret(),
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_BASE_MS: String(RETRY_BASE_MS),
      WEBHOOK_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT),
      WEBHOOK_TIMEOUT_MS: '2000',
    });
  }, 60_000);

  afterAll(async () => {
    await killServers();
    await dead?.close();
    await receiver?.close();
    sandbox?.remove();
  });

  it('delivers every event of the outage once the receiver is up, each once, after one attempt per backoff period', async () => {
    const downSince = Date.now();
    const clientIds: string[] = [];
    for (let i = 0; i < REGISTRATIONS; i += 1) {
      const response = await registerMachineClient(server.url);
      expect(response.status).toBe(201);
      clientIds.push(((await response.json()) as MachineClient).client_id);
      await new Promise((resolve) => setTimeout(resolve, DOWN_MS / REGISTRATIONS));
    }
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS - (Date.now() - downSince)));
    const port = dead!.port;
    const upSince = Date.now();
    await dead!.close();
    const attempts = dead!.attempts;
    dead = undefined;
    receiver = await startReceiver(() => 204, port);

    const registeredEvents = () =>
      new Set(receiver!.deliveries.filter((d) => d.payload.type === 'oauth.client_registered').map((d) => d.payload.data.clientId));
    await waitFor(() => clientIds.every((id) => registeredEvents().has(id)), 'every registration event delivered', 20_000).catch(
      () => undefined,
    );
    const deliveredAfterMs = Date.now() - upSince;
    // Anything sent twice would come within this margin.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const missing = clientIds.filter((id) => !registeredEvents().has(id));
    const { distinct, duplicates } = deliveryCounts(receiver.deliveries);
    const downFor = upSince - (attempts[0] ?? downSince);
    const bound = attemptBound(downFor);
    const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!);
    console.log(
      `webhook receiver down ${DOWN_MS} ms, then up: cases tried ${REGISTRATIONS} registrations (+ server.started), failures ${missing.length + duplicates}, ` +
        `lost ${missing.length}; delivered ${distinct} distinct events in ${receiver.deliveries.length} deliveries (duplicates ${duplicates}) ` +
        `within ${deliveredAfterMs} ms of the receiver coming up; while down (${downFor} ms from the first attempt): ${attempts.length} connection attempts ` +
        `(bound ${bound}: window ${MAX_IN_FLIGHT} + one probe per backoff period from WEBHOOK_RETRY_BASE_MS ${RETRY_BASE_MS}), gaps ${gaps.join(', ')} ms`,
    );
    expect(missing).toEqual([]);
    expect(duplicates).toBe(0);
    expect(receiver.deliveries.some((d) => d.payload.type === 'server.started')).toBe(true);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts.length).toBeLessThanOrEqual(bound);
    // Not one per event: far fewer attempts than events waiting.
    expect(attempts.length).toBeLessThan(REGISTRATIONS);
  }, 60_000);
});
