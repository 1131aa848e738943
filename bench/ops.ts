/**
 * Operations benchmark: `npm run bench:ops [-- --seconds 4 --rounds 2 --concurrency 8 --events 5000 --storage sqlite]`.
 *
 * 1. `tools/call server_status` throughput over Streamable HTTP with rate limits + webhooks + /metrics on versus off,
 *    in alternating rounds on two in-process servers (the HTTP and tool instrumentation that feeds /health and
 *    /metrics is part of both: it is always wired). Target: on >= 0.95x off.
 * 2. The webhook dispatcher: N events emitted on the bus of a server with SQLite storage, delivered signed to a local
 *    receiver; events/s from the first emit to the last unique delivery, and loss. Target: >= 1,000 events/s, 0 lost.
 *
 * Prints Markdown to stdout, writes nothing into the repository, exits 0: it measures, it does not test.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { configSchema, type Config } from '../server/config/schema.js';
import { createSilentLogger } from '../server/logging/logger.js';
import { startHttpServer, type RunningHttpServer } from '../server/runtime.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '8' },
    events: { type: 'string', default: '5000' },
    storage: { type: 'string', default: 'sqlite' },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const EVENTS = Number(values.events);
const STORAGE = values.storage as 'sqlite' | 'memory';
const log = (text: string) => process.stderr.write(`${text}\n`);

function config(overrides: Partial<Config>): Config {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ccm-bench-ops-'));
  return Object.freeze(configSchema.parse({ storage: 'memory', port: 0, host: '127.0.0.1', dataDir, authMode: 'none', logLevel: 'error', ...overrides }));
}

async function receiver(): Promise<{ url: string; ids: Set<string>; deliveries: () => number; close(): Promise<void> }> {
  const ids = new Set<string>();
  let deliveries = 0;
  const server = createServer((req, res) => {
    const id = req.headers['webhook-id'];
    req.resume().on('end', () => {
      deliveries += 1;
      if (typeof id === 'string') ids.add(id);
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    ids,
    deliveries: () => deliveries,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** Calls/s of `concurrency` clients calling server_status in a loop for `seconds`. */
async function throughput(server: RunningHttpServer): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      const client = new Client({ name: 'bench-ops', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)));
      return client;
    }),
  );
  let calls = 0;
  const until = Date.now() + SECONDS * 1000;
  await Promise.all(
    clients.map(async (client) => {
      while (Date.now() < until) {
        await client.callTool({ name: 'server_status', arguments: {} });
        calls += 1;
      }
    }),
  );
  await Promise.all(clients.map((client) => client.close()));
  return calls / SECONDS;
}

async function main(): Promise<void> {
  const logger = createSilentLogger();
  const sink = await receiver();
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const off = await startHttpServer(config({ metricsEnabled: false, webhooksEnabled: false, rateLimitEnabled: false }), { logger });
  const on = await startHttpServer(
    config({ rateLimitEnabled: true, rateLimitRequests: 10_000_000, rateLimitToolPoints: 10_000_000, rateLimitGlobalRequests: 100_000_000, webhookUrl: sink.url, webhookSecret: [secret], webhookAllowPrivate: true }),
    { logger },
  );
  const rows: string[] = [];
  const ratios: number[] = [];
  await throughput(off); // warm-up
  await throughput(on);
  for (let round = 1; round <= ROUNDS; round += 1) {
    log(`round ${round}: off`);
    const offRate = await throughput(off);
    log(`round ${round}: on`);
    const onRate = await throughput(on);
    ratios.push(onRate / offRate);
    rows.push(`| ${round} | ${offRate.toFixed(0)} | ${onRate.toFixed(0)} | ${(onRate / offRate).toFixed(3)} |`);
  }
  await off.close('bench');
  await on.close('bench');

  log(`webhooks: ${EVENTS} events`);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ccm-bench-wh-'));
  const hooks = await startHttpServer(
    Object.freeze(configSchema.parse({ storage: STORAGE, port: 0, host: '127.0.0.1', dataDir, authMode: 'none', webhookUrl: sink.url, webhookSecret: [secret], webhookAllowPrivate: true, webhookEvents: ['upstream.restarted'] })),
    { logger },
  );
  const before = sink.ids.size;
  const started = performance.now();
  for (let i = 0; i < EVENTS; i += 1) hooks.container.events.emit('upstream.restarted', { server: 'bench', restartCount: i });
  const deadline = Date.now() + 120_000;
  while (sink.ids.size - before < EVENTS && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  const seconds = (performance.now() - started) / 1000;
  const delivered = sink.ids.size - before;
  await hooks.close('bench');
  await sink.close();
  rmSync(dataDir, { recursive: true, force: true });

  const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]!;
  const rate = delivered / seconds;
  process.stdout.write(
    [
      `### tools/call throughput, operations on vs off (${CONCURRENCY} clients, ${SECONDS} s per cell)`,
      '',
      '| round | off (calls/s) | on (calls/s) | on / off |',
      '| --- | --- | --- | --- |',
      ...rows,
      '',
      `Median ratio ${median.toFixed(3)} — target >= 0.95: ${median >= 0.95 ? 'met' : 'NOT met'}.`,
      '',
      `### Webhook dispatcher (${STORAGE} outbox, one endpoint, local receiver)`,
      '',
      `${delivered}/${EVENTS} events delivered (${EVENTS - delivered} lost) in ${seconds.toFixed(2)} s: ${rate.toFixed(0)} events/s — target >= 1,000/s with 0 lost: ${rate >= 1000 && delivered === EVENTS ? 'met' : 'NOT met'}.`,
      '',
    ].join('\n'),
  );
}

await main();
