import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { isDisabled, listDeadLetters, replayDeadLetter } from '../../server/webhooks/webhook-service.js';
import { createSandbox, runCli, spawnCli, type CliProcess } from '../helpers/cli-process.js';
import { initializeBody, jsonHeaders, waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { startReceiver, webhookSecret as secret, type Delivery, type Receiver } from '../helpers/webhook-receiver.js';

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const probe = await startReceiver();
  await probe.close();
  return probe.port;
}

const FAST = { webhookAllowPrivate: true, webhookRetryBaseMs: 40, webhookTimeoutMs: 400 } as const;

let server: TestServer | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await server?.stop();
  await receiver?.close();
  server = undefined;
  receiver = undefined;
});

const ofType = (deliveries: Delivery[], type: string) => deliveries.filter((d) => d.payload.type === type);

describe('webhooks', () => {
  it('signs deliveries the Standard Webhooks way, with both signatures during a secret rotation', async () => {
    receiver = await startReceiver();
    const [oldSecret, newSecret] = [secret(), secret()];
    server = await startTestServer({ ...FAST, webhookUrl: receiver.url, webhookSecret: [oldSecret, newSecret] });
    server.container.events.emit('upstream.up', { server: 'memory', tools: 3 });
    await waitFor(() => ofType(receiver!.deliveries, 'upstream.up').length === 1, 10_000);
    const [delivery] = ofType(receiver.deliveries, 'upstream.up');
    const headers = delivery!.headers as Record<string, string>;
    expect(headers['webhook-id']).toBe(delivery!.payload.id);
    expect(delivery!.payload).toMatchObject({ type: 'upstream.up', data: { server: 'memory', tools: 3 } });
    expect(new Date(delivery!.payload.timestamp).getTime()).toBeGreaterThan(Date.now() - 60_000);
    // Verified by the standardwebhooks package, with either secret alone.
    expect(new Webhook(oldSecret).verify(delivery!.body, headers)).toEqual(delivery!.payload);
    expect(new Webhook(newSecret).verify(delivery!.body, headers)).toEqual(delivery!.payload);
    expect(() => new Webhook(secret()).verify(delivery!.body, headers)).toThrow();
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
  });

  it('receiver down, then up: every event is delivered, retries carry the same id', async () => {
    const port = await freePort();
    server = await startTestServer({ ...FAST, webhookUrl: `http://127.0.0.1:${port}/hook`, webhookSecret: [secret()] });
    for (let i = 0; i < 5; i += 1) server.container.events.emit('upstream.restarted', { server: 'memory', restartCount: i });
    await new Promise((resolve) => setTimeout(resolve, 400)); // several failed attempts
    receiver = await startReceiver(() => 200, port);
    await waitFor(() => new Set(ofType(receiver!.deliveries, 'upstream.restarted').map((d) => d.payload.id)).size === 5, 15_000);
    const counts = ofType(receiver.deliveries, 'upstream.restarted')
      .map((d) => d.payload.data.restartCount)
      .sort();
    expect([...new Set(counts)]).toEqual([0, 1, 2, 3, 4]);
    const deadline = Date.now() + 5000;
    while ((await server.container.webhooks!.queueDepth()) > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await server.container.webhooks!.queueDepth()).toBe(0);
  });

  it('5xx and timeouts are retried with the same id; other 4xx dead-letter at once; replay redelivers; 410 disables the endpoint', async () => {
    let mode: 'flaky' | 'reject' | 'gone' = 'flaky';
    const seen = new Map<string, number>();
    receiver = await startReceiver((delivery) => {
      const attempt = (seen.get(delivery.payload.id) ?? 0) + 1;
      seen.set(delivery.payload.id, attempt);
      if (mode === 'reject') return 400;
      if (mode === 'gone') return 410;
      const kind = delivery.payload.data.server;
      if (kind === 'five') return attempt < 3 ? 503 : 200;
      if (kind === 'slow') return attempt < 2 ? 'hang' : 200;
      return 200;
    });
    server = await startTestServer({ ...FAST, webhookUrl: receiver.url, webhookSecret: [secret()], webhookEvents: ['upstream.down'] });
    const { events, storage } = server.container;
    events.emit('upstream.down', { server: 'five', reason: 'x' });
    events.emit('upstream.down', { server: 'slow', reason: 'x' });
    await waitFor(() => receiver!.deliveries.length >= 5, 15_000); // five: 3 attempts, slow: 2
    const byServer = (name: string) => receiver!.deliveries.filter((d) => d.payload.data.server === name);
    expect(byServer('five').map((d) => d.payload.id)).toEqual(Array(3).fill(byServer('five')[0]!.payload.id));
    expect(byServer('slow').length).toBe(2);
    expect(new Set(byServer('slow').map((d) => d.payload.id)).size).toBe(1);
    expect(receiver.deliveries.every((d) => d.payload.type === 'upstream.down')).toBe(true); // the filter holds

    mode = 'reject';
    events.emit('upstream.down', { server: 'bad', reason: 'x' });
    await waitFor(() => byServer('bad').length === 1, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(byServer('bad')).toHaveLength(1); // not retried
    const letters = await listDeadLetters(storage);
    expect(letters).toHaveLength(1);
    expect(letters[0]!.letter).toMatchObject({ reason: 'HTTP 400', attempts: 1 });

    mode = 'flaky';
    expect(await replayDeadLetter(storage, letters[0]!.letter.payload.id)).toBe(1);
    await waitFor(() => byServer('bad').length === 2, 10_000);
    expect(byServer('bad')[1]!.payload.id).toBe(byServer('bad')[0]!.payload.id);

    mode = 'gone';
    events.emit('upstream.down', { server: 'gone', reason: 'x' });
    await waitFor(() => byServer('gone').length === 1, 10_000);
    // The dead letter is written after the receiver's 410 arrived, so it may not be there yet.
    let goneLetter: Awaited<ReturnType<typeof listDeadLetters>>[number] | undefined;
    for (
      const deadline = Date.now() + 10_000;
      !goneLetter && Date.now() < deadline;
      await new Promise((resolve) => setTimeout(resolve, 20))
    ) {
      goneLetter = (await listDeadLetters(storage)).find((entry) => entry.letter.payload.data.server === 'gone');
    }
    const endpointId = goneLetter!.letter.endpointId;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await isDisabled(storage, endpointId)).toBe(true);
    mode = 'flaky';
    events.emit('upstream.down', { server: 'after-gone', reason: 'x' });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(byServer('after-gone')).toHaveLength(0);
  });

  it('with WEBHOOK_MAX_IN_FLIGHT=1, delivers one endpoint’s events one at a time, in the order they happened, on one connection', async () => {
    receiver = await startReceiver();
    server = await startTestServer({
      ...FAST,
      webhookUrl: receiver.url,
      webhookSecret: [secret()],
      webhookEvents: ['upstream.restarted'],
      webhookMaxInFlight: 1,
    });
    for (let i = 0; i < 20; i += 1) server.container.events.emit('upstream.restarted', { server: 'memory', restartCount: i });
    await waitFor(() => receiver!.deliveries.length === 20, 15_000);
    expect(receiver.deliveries.map((d) => d.payload.data.restartCount)).toEqual([...Array(20).keys()]);
    expect(receiver.peakOpen()).toBe(1);
    expect(receiver.connections()).toBe(1); // kept alive between deliveries
  });

  it('sends a burst through a window of WEBHOOK_MAX_IN_FLIGHT requests on kept-alive connections, each event once, none far ahead of its turn (SQLite outbox)', async () => {
    const window = 4;
    const count = 60;
    receiver = await startReceiver(() => 204, 0, { answerAfterMs: 15 });
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ccm-webhooks-'));
    server = await startTestServer({
      ...FAST,
      storage: 'sqlite',
      dataDir,
      webhookTimeoutMs: 5000,
      webhookUrl: receiver.url,
      webhookSecret: [secret()],
      webhookEvents: ['upstream.restarted'],
      webhookMaxInFlight: window,
    });
    try {
      for (let i = 0; i < count; i += 1) server.container.events.emit('upstream.restarted', { server: 'memory', restartCount: i });
      await waitFor(() => receiver!.deliveries.length === count, 15_000);
      const order = receiver.deliveries.map((d) => d.payload.data.restartCount as number);
      expect([...order].sort((a, b) => a - b)).toEqual([...Array(count).keys()]);
      expect(receiver.peakOpen()).toBeLessThanOrEqual(window);
      expect(receiver.peakOpen()).toBeGreaterThan(1);
      expect(receiver.connections()).toBeLessThanOrEqual(window);
      // An event starts only once every event more than `window` places before it has been answered, so none
      // arrives more than window - 1 places early.
      order.forEach((n, arrived) => expect(n - arrived).toBeLessThan(window));
      const deadline = Date.now() + 5000;
      while ((await server.container.webhooks!.queueDepth()) > 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await server.container.webhooks!.queueDepth()).toBe(0); // every delivered event was acknowledged
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(receiver.deliveries).toHaveLength(count); // and none was sent twice
    } finally {
      await server.stop();
      server = undefined;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a failure inside a window pauses the endpoint; the events behind it go out after the backoff, not after their lease', async () => {
    const seen = new Set<string>();
    receiver = await startReceiver((delivery) => {
      const first = !seen.has(delivery.payload.id);
      seen.add(delivery.payload.id);
      return first && delivery.payload.data.restartCount === 5 ? 503 : 204;
    });
    // Timeout 3 s: a claim's lease is 11 s, far longer than the whole test may take.
    server = await startTestServer({
      ...FAST,
      webhookTimeoutMs: 3000,
      webhookUrl: receiver.url,
      webhookSecret: [secret()],
      webhookEvents: ['upstream.restarted'],
      webhookMaxInFlight: 4,
    });
    const started = Date.now();
    for (let i = 0; i < 40; i += 1) server.container.events.emit('upstream.restarted', { server: 'memory', restartCount: i });
    await waitFor(() => seen.size === 40, 10_000);
    // Waiting out the lease would take at least 11 s; the margin below it is for a loaded machine.
    expect(Date.now() - started).toBeLessThan(9000);
    const attempts = (n: number) => receiver!.deliveries.filter((d) => d.payload.data.restartCount === n);
    expect(attempts(5)).toHaveLength(2);
    expect(attempts(5)[1]!.payload.id).toBe(attempts(5)[0]!.payload.id);
    expect(receiver.deliveries).toHaveLength(41); // the others once each
  });

  it('a receiver that is down gets one attempt per backoff period, not one per event; then the queue flows, each event once', async () => {
    let down = true;
    receiver = await startReceiver(() => (down ? 503 : 204));
    server = await startTestServer({
      ...FAST,
      webhookRetryBaseMs: 200,
      webhookUrl: receiver.url,
      webhookSecret: [secret()],
      webhookEvents: ['upstream.restarted'],
      webhookMaxInFlight: 8,
    });
    for (let i = 0; i < 60; i += 1) server.container.events.emit('upstream.restarted', { server: 'memory', restartCount: i });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const whileDown = receiver.deliveries.length;
    // The first window (up to 8 in flight) finds it down; then one probe per backoff period (0.1-0.2 s, doubling):
    // about 5 probes in 2.5 s. Before, each event's own retry went out: 54 attempts for 60 events in 6 s.
    expect(whileDown).toBeGreaterThanOrEqual(2);
    expect(whileDown).toBeLessThanOrEqual(8 + 8);
    down = false;
    await waitFor(() => new Set(receiver!.deliveries.filter((d) => d.headers['webhook-id']).map((d) => d.payload.id)).size === 60, 20_000);
    const delivered = receiver.deliveries.slice(whileDown);
    // After the receiver is up, each event is delivered once (retries of a failed attempt keep their id).
    expect(new Set(delivered.map((d) => d.payload.id)).size).toBe(delivered.length);
  });

  it('stores the event of an operation before the client hears that it succeeded (initialize, DELETE)', async () => {
    // The receiver is down, so whatever the outbox stored stays countable; its writes are slowed to 300 ms, so an
    // answer that did not wait for them would arrive while the count is still the old one.
    const port = await freePort();
    server = await startTestServer({
      ...FAST,
      webhookUrl: `http://127.0.0.1:${port}/hook`,
      webhookSecret: [secret()],
      webhookEvents: ['session.started', 'session.ended'],
    });
    const { storage, webhooks } = server.container;
    const enqueueMany = storage.enqueueMany.bind(storage);
    storage.enqueueMany = async (queue, items) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return enqueueMany(queue, items);
    };
    const initialize = await fetch(server.mcpUrl, { method: 'POST', headers: jsonHeaders(), body: initializeBody() });
    const sessionId = initialize.headers.get('mcp-session-id')!;
    expect(await initialize.text()).toContain('"protocolVersion"');
    expect(await webhooks!.queueDepth()).toBe(1);

    const started = Date.now();
    const deleted = await fetch(server.mcpUrl, {
      method: 'DELETE',
      headers: { 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
    });
    expect(deleted.status).toBe(200);
    expect(await webhooks!.queueDepth()).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('refuses loopback and private addresses unless WEBHOOK_ALLOW_PRIVATE=true', async () => {
    receiver = await startReceiver();
    server = await startTestServer({
      webhookUrl: receiver.url,
      webhookSecret: [secret()],
      webhookRetryBaseMs: 40,
      webhookEvents: ['upstream.up'],
    });
    server.container.events.emit('upstream.up', { server: 'memory', tools: 1 });
    const deadline = Date.now() + 10_000;
    let letters = await listDeadLetters(server.container.storage);
    while (letters.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      letters = await listDeadLetters(server.container.storage);
    }
    expect(letters[0]!.letter.reason).toMatch(/private or loopback/);
    expect(receiver.deliveries).toHaveLength(0);
  });
});

describe('webhooks across a kill -9 (SQLite outbox) and the CLI', () => {
  const sandbox = createSandbox();
  const children: CliProcess[] = [];
  afterAll(() => sandbox.remove());
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
      await child.exited;
    }
    await receiver?.close();
    receiver = undefined;
  });

  async function listening(child: CliProcess): Promise<string> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const line = child.logLines().find((entry) => entry.message === 'listening');
      if (line) return `http://127.0.0.1:${Number(line.port)}`;
      if (child.child.exitCode !== null) throw new Error(`serve exited: ${child.stderr()}${child.stdout()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('serve did not start within 30 s');
  }

  it('events waiting for retries when the server is killed are delivered after it restarts', async () => {
    const port = await freePort();
    const env = sandbox.env({
      STORAGE: 'sqlite',
      LOG_FORMAT: 'json',
      WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
      WEBHOOK_SECRET: secret(),
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_RETRY_BASE_MS: '50',
      WEBHOOK_TIMEOUT_MS: '500',
    });
    const first = spawnCli(['serve'], { env, cwd: sandbox.cwd });
    children.push(first);
    await listening(first); // server.started is in the outbox, failing to deliver
    await waitFor(() => first.logLines().some((line) => line.message === 'webhook delivery failed; retrying'), 15_000);
    first.child.kill('SIGKILL');
    await first.exited;

    const listed = await runCli(['webhooks', 'list'], { env, cwd: sandbox.cwd });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/on\s+1\s+all\s+http:\/\/127\.0\.0\.1/);

    receiver = await startReceiver(() => 200, port);
    const second = spawnCli(['serve'], { env, cwd: sandbox.cwd });
    children.push(second);
    await listening(second);
    await waitFor(() => receiver!.deliveries.some((d) => d.payload.type === 'server.started' && d.payload.data.pid === first.pid), 15_000);
    expect(receiver.deliveries.filter((d) => d.payload.data.pid === first.pid)).toHaveLength(1);

    const dlq = await runCli(['webhooks', 'dlq'], { env, cwd: sandbox.cwd });
    expect(dlq.stdout).toContain('The dead-letter list is empty.');
    const replay = await runCli(['webhooks', 'replay', 'msg_nope'], { env, cwd: sandbox.cwd });
    expect(replay.code).toBe(1);
  }, 60_000);
});
