/**
 * Cluster benchmark: `npm run bench:cluster [-- --seconds 3 --rounds 2 --concurrency 16]`.
 *
 * Replicas of the real server on Redis behind haproxy round-robin (no affinity), in one run:
 * - `tools/call server_status` throughput and latency through the load balancer with 1 and with 2 replicas (v1
 *   client, one 2025-era session per worker; with 2 replicas about half of each session's requests land on the
 *   replica that does not hold it and are forwarded);
 * - the cost of a cross-replica session request: sessions opened on replica 1 and called directly on replica 1
 *   (same replica) or on replica 2 (every call forwarded over Redis), no load balancer in between.
 * Prints Markdown to stdout (progress to stderr) and exits 0 whatever the figures: it measures, it does not test.
 */
import { parseArgs } from 'node:util';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startCluster, type TestCluster } from '../test/helpers/cluster.js';
import { mapLimit, runCell, type CellResult, type Connection, type Target } from './support/load.js';
import { fixed, table, whole } from './support/report.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '0.5' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '16' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);
const timing = { warmupMs: Number(values.warmup) * 1000, measureMs: seconds * 1000, callTimeoutMs: 10_000, maxCalls: 1_000_000 };
const log = (text: string) => process.stderr.write(`${text}\n`);

/**
 * A target whose sessions are opened at `open` and called at `call`: the same URL for the load balancer, two
 * replicas' URLs for the cross-replica comparison (the session id decides where a request goes).
 */
function sessionTarget(id: string, label: string, urls: { open: string; call: string }, serverPid: number): Target {
  const route: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers);
    url.host = new URL(headers.has('mcp-session-id') ? urls.call : urls.open).host;
    return fetch(url, init);
  };
  return {
    id,
    label,
    async open(workers) {
      const clients = await mapLimit(Array.from({ length: workers }), 8, async () => {
        const client = new V1Client({ name: 'bench-cluster', version: '1' });
        const transport = new V1StreamableHTTPClientTransport(new URL(`${urls.open}/mcp`), { fetch: route });
        await client.connect(transport);
        return { client, transport };
      });
      const connections: Connection[] = clients.map(({ client }) => ({
        async call() {
          const result = (await client.callTool({ name: 'server_status', arguments: {} }, undefined, {
            timeout: timing.callTimeoutMs,
          })) as { isError?: boolean };
          if (result.isError) throw new Error('server_status returned isError');
        },
      }));
      return {
        connections,
        serverPid,
        async close() {
          await mapLimit(clients, 8, async ({ client, transport }) => {
            await transport.terminateSession().catch(() => undefined);
            await client.close();
          });
        },
      };
    },
  };
}

async function measure(target: Target): Promise<CellResult[]> {
  const results: CellResult[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    log(`${target.id}: round ${round}`);
    results.push(await runCell(target, concurrency, timing));
  }
  return results;
}

const median = (numbers: number[]) => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

async function withCluster<T>(replicas: number, run: (cluster: TestCluster) => Promise<T>): Promise<T> {
  log(`starting ${replicas} replica(s) behind haproxy`);
  const cluster = await startCluster({ replicas, env: { AUTH_MODE: 'none', LOG_LEVEL: 'info', RATE_LIMIT_ENABLED: 'false' } });
  try {
    return await run(cluster);
  } finally {
    await cluster.stop();
  }
}

const rows: string[][] = [];
const summary = (label: string, results: CellResult[]) => {
  rows.push([
    label,
    whole(median(results.map((r) => r.callsPerSec))),
    fixed(median(results.map((r) => r.p50Ms)), 2),
    fixed(median(results.map((r) => r.p99Ms)), 2),
    whole(results.reduce((sum, r) => sum + r.errors, 0)),
  ]);
  return median(results.map((r) => r.p50Ms));
};

const one = await withCluster(1, (cluster) =>
  measure(sessionTarget('lb-1', '1 replica via haproxy', { open: cluster.url, call: cluster.url }, cluster.replicas[0]!.pid)),
);
summary('1 replica via haproxy', one);
let sameP50 = 0;
let crossP50 = 0;
await withCluster(2, async (cluster) => {
  summary(
    '2 replicas via haproxy (round-robin, no affinity)',
    await measure(sessionTarget('lb-2', '2 replicas via haproxy', { open: cluster.url, call: cluster.url }, cluster.replicas[0]!.pid)),
  );
  const [first, second] = cluster.replicas;
  sameP50 = summary(
    'same replica (session on 1, calls to 1)',
    await measure(sessionTarget('same', 'same replica', { open: first!.url, call: first!.url }, first!.pid)),
  );
  crossP50 = summary(
    'cross replica (session on 1, calls to 2, forwarded)',
    await measure(sessionTarget('cross', 'cross replica', { open: first!.url, call: second!.url }, first!.pid)),
  );
});

process.stdout.write(`### Cluster: tools/call server_status, ${concurrency} sessions, ${seconds} s × ${rounds} rounds (medians)\n\n`);
process.stdout.write(`${table(['setup', 'calls/s', 'p50 ms', 'p99 ms', 'errors'], rows, ['l', 'r', 'r', 'r', 'r'])}\n\n`);
process.stdout.write(
  `A cross-replica session request costs ${fixed(crossP50 - sameP50, 2)} ms more at the median (${fixed(crossP50 / sameP50, 2)}× the same-replica p50).\n`,
);
