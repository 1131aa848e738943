/**
 * Operations benchmark: `npm run bench:ops [-- --seconds 4 --rounds 5 --concurrency 8 --events 5000 --storage sqlite
 * --max-in-flight 8 --only calls|webhooks]`.
 *
 * 1. `tools/call server_status` throughput over Streamable HTTP with rate limits + webhooks + /metrics on versus off,
 *    in alternating rounds on two in-process servers (the HTTP and tool instrumentation that feeds /health and
 *    /metrics is part of both: it is always wired). Target: on >= 0.95x off.
 * 2. The webhook dispatcher: N events emitted on the bus of a server with SQLite storage (or `--storage memory|redis`),
 *    delivered signed to a local receiver; events/s from the first emit to the last unique delivery, loss,
 *    duplicates and what the receiver saw (peak requests in flight, connections). Target: >= 1,000 events/s, 0 lost.
 *
 * Both parts print the load average: the figures are only comparable between runs on a similarly loaded machine.
 *
 * Prints Markdown to stdout, writes nothing into the repository, exits 0: it measures, it does not test.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { configSchema, type Config } from '../server/config/schema.js';
import { createSilentLogger } from '../server/logging/logger.js';
import { startHttpServer, type RunningHttpServer } from '../server/runtime.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '8' },
    events: { type: 'string', default: '5000' },
    storage: { type: 'string', default: 'sqlite' },
    'max-in-flight': { type: 'string' },
    only: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const EVENTS = Number(values.events);
const STORAGE = values.storage as 'sqlite' | 'memory' | 'redis';
/** WEBHOOK_MAX_IN_FLIGHT for the dispatcher run; the configured default when omitted. */
const MAX_IN_FLIGHT = values['max-in-flight'] === undefined ? undefined : Number(values['max-in-flight']);
/** `calls` or `webhooks` to run one part only. */
const ONLY = values.only as 'calls' | 'webhooks' | undefined;
const log = (text: string) => process.stderr.write(`${text}\n`);

function config(overrides: Partial<Config>): Config {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ccm-bench-ops-'));
  return Object.freeze(
    configSchema.parse({ storage: 'memory', port: 0, host: '127.0.0.1', dataDir, authMode: 'none', logLevel: 'error', ...overrides }),
  );
}

/** What the local receiver saw. */
interface Sink {
  url: string;
  /** Distinct `webhook-id`s received. */
  ids: Set<string>;
  /** Requests received, duplicates included. */
  deliveries: () => number;
  /** Most requests open at once. */
  peakInFlight: () => number;
  /** TCP connections opened to it. */
  connections: () => number;
  close(): Promise<void>;
}

async function receiver(): Promise<Sink> {
  const ids = new Set<string>();
  let deliveries = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  let connections = 0;
  const server = createServer((req, res) => {
    const id = req.headers['webhook-id'];
    inFlight += 1;
    peakInFlight = Math.max(peakInFlight, inFlight);
    req.resume().on('end', () => {
      deliveries += 1;
      inFlight -= 1;
      if (typeof id === 'string') ids.add(id);
      res.statusCode = 204;
      res.end();
    });
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    ids,
    deliveries: () => deliveries,
    peakInFlight: () => peakInFlight,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** Deletes what the run left in Redis (queue counters, server bookkeeping) under its own key prefix. */
async function removeRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

/** The load averages (1, 5, 15 min), which the figures should be read against when the machine is shared. */
const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' / ');

/**
 * Calls/s of `concurrency` clients calling server_status in a loop for `seconds`, and the process CPU time per call
 * (clients and server together: the clients' share is the same with operations on and off).
 */
async function throughput(server: RunningHttpServer): Promise<{ rate: number; cpuUs: number }> {
  const clients = await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      const client = new Client({ name: 'bench-ops', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
      return client;
    }),
  );
  let calls = 0;
  const cpuBefore = process.cpuUsage();
  const until = Date.now() + SECONDS * 1000;
  await Promise.all(
    clients.map(async (client) => {
      while (Date.now() < until) {
        await client.callTool({ name: 'server_status', arguments: {} });
        calls += 1;
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  await Promise.all(clients.map((client) => client.close()));
  return { rate: calls / SECONDS, cpuUs: (cpu.user + cpu.system) / calls };
}

/** The median; the mean of the two middle values for an even count. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Part 1: tools/call with operations on and off, alternating rounds. Returns Markdown lines. */
async function callsPart(sink: Sink, secret: string): Promise<string[]> {
  const logger = createSilentLogger();
  const loadBefore = load();
  const off = await startHttpServer(config({ metricsEnabled: false, webhooksEnabled: false, rateLimitEnabled: false }), { logger });
  const on = await startHttpServer(
    config({
      rateLimitEnabled: true,
      rateLimitRequests: 10_000_000,
      rateLimitToolPoints: 10_000_000,
      rateLimitGlobalRequests: 100_000_000,
      webhookUrl: sink.url,
      webhookSecret: [secret],
      webhookAllowPrivate: true,
    }),
    { logger },
  );
  const rows: string[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  await throughput(off); // warm-up
  await throughput(on);
  for (let round = 1; round <= ROUNDS; round += 1) {
    // Alternate which goes first, so a load change during a round does not always favour the same side.
    log(`round ${round}`);
    const [offCell, onCell] =
      round % 2 ? [await throughput(off), await throughput(on)] : [await throughput(on), await throughput(off)].reverse();
    ratios.push(onCell!.rate / offCell!.rate);
    cpuRatios.push(offCell!.cpuUs / onCell!.cpuUs);
    rows.push(
      `| ${round} | ${offCell!.rate.toFixed(0)} | ${onCell!.rate.toFixed(0)} | ${(onCell!.rate / offCell!.rate).toFixed(3)} | ${offCell!.cpuUs.toFixed(0)} | ${onCell!.cpuUs.toFixed(0)} | ${(offCell!.cpuUs / onCell!.cpuUs).toFixed(3)} |`,
    );
  }
  await off.close('bench');
  await on.close('bench');
  const ratio = median(ratios);
  return [
    `### tools/call throughput, operations on vs off (${CONCURRENCY} clients, ${SECONDS} s per cell)`,
    '',
    '| round | off (calls/s) | on (calls/s) | on / off | off (CPU µs/call) | on (CPU µs/call) | off / on CPU |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `Median throughput ratio ${ratio.toFixed(3)} — target >= 0.95: ${ratio >= 0.95 ? 'met' : 'NOT met'}. ` +
      `Median CPU ratio (the throughput ratio a CPU-bound server would show, less affected by other processes) ${median(cpuRatios).toFixed(3)}. ` +
      `Load average (1/5/15 min) before ${loadBefore}, after ${load()}.`,
    '',
  ];
}

/** Part 2: N events emitted on the bus at once, delivered to the local receiver. Returns Markdown lines. */
async function webhooksPart(sink: Sink, secret: string): Promise<string[]> {
  const logger = createSilentLogger();
  log(`webhooks: ${EVENTS} events`);
  const loadBefore = load();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ccm-bench-wh-'));
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redisKeyPrefix = `ccm-bench:${randomUUID()}:`;
  const storage = STORAGE === 'redis' ? { storage: 'redis', redisUrl, redisKeyPrefix } : { storage: STORAGE };
  const hooks = await startHttpServer(
    Object.freeze(
      configSchema.parse({
        ...storage,
        port: 0,
        host: '127.0.0.1',
        dataDir,
        authMode: 'none',
        webhookUrl: sink.url,
        webhookSecret: [secret],
        webhookAllowPrivate: true,
        webhookEvents: ['upstream.restarted'],
        ...(MAX_IN_FLIGHT === undefined ? {} : { webhookMaxInFlight: MAX_IN_FLIGHT }),
      }),
    ),
    { logger },
  );
  const window = hooks.container.config.webhookMaxInFlight;
  const [idsBefore, deliveriesBefore, connectionsBefore] = [sink.ids.size, sink.deliveries(), sink.connections()];
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < EVENTS; i += 1) hooks.container.events.emit('upstream.restarted', { server: 'bench', restartCount: i });
  const deadline = Date.now() + 120_000;
  while (sink.ids.size - idsBefore < EVENTS && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const delivered = sink.ids.size - idsBefore;
  const duplicates = sink.deliveries() - deliveriesBefore - delivered;
  // Acknowledgements trail the last answer by one batch; an outbox left non-empty would mean events were kept twice.
  const drainDeadline = Date.now() + 10_000;
  while ((await hooks.container.webhooks!.queueDepth()) > 0 && Date.now() < drainDeadline)
    await new Promise((resolve) => setTimeout(resolve, 10));
  const leftInOutbox = await hooks.container.webhooks!.queueDepth();
  await hooks.close('bench');
  rmSync(dataDir, { recursive: true, force: true });
  if (STORAGE === 'redis') await removeRedisKeys(redisUrl, redisKeyPrefix);
  const rate = delivered / seconds;
  return [
    `### Webhook dispatcher (${STORAGE} outbox, one endpoint, local receiver, WEBHOOK_MAX_IN_FLIGHT=${window})`,
    '',
    `${delivered}/${EVENTS} events delivered (${EVENTS - delivered} lost, ${duplicates} duplicates, ${leftInOutbox} left in the outbox) in ${seconds.toFixed(2)} s: ` +
      `${rate.toFixed(0)} events/s — target >= 1,000/s with 0 lost: ${rate >= 1000 && delivered === EVENTS ? 'met' : 'NOT met'}.`,
    `CPU time of the process (dispatcher and receiver together) ${((cpu.user + cpu.system) / EVENTS).toFixed(0)} µs per event, which the load of other processes inflates less than events/s. ` +
      `Receiver: peak requests open at once ${sink.peakInFlight()}, connections ${sink.connections() - connectionsBefore}. Load average (1/5/15 min) before ${loadBefore}, after ${load()}.`,
    '',
  ];
}

async function main(): Promise<void> {
  const sink = await receiver();
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const lines: string[] = [];
  if (ONLY !== 'webhooks') lines.push(...(await callsPart(sink, secret)));
  if (ONLY !== 'calls') lines.push(...(await webhooksPart(sink, secret)));
  await sink.close();
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
