import os from 'node:os';
import { readFileSync } from 'node:fs';
import type { ServerState } from '../../server/cli/process-files.js';
import { IDLE_WARMUP_SESSIONS, MIB, type IdleMemoryResult } from './idle-sessions.js';
import { median, type CellResult, type Target } from './load.js';
import { openFileLimit } from './processes.js';
import { fixed, table, verdict, whole } from './report.js';

/** The targets the figures are judged against (printed, never enforced through the exit code). */
export const TARGETS = { throughputRatioC16: 1.0, mbPer1000Sessions: 30, startupMs: 500 } as const;

/** Settings of one run, from the command line. */
export interface BenchOptions {
  seconds: number;
  warmup: number;
  rounds: number;
  concurrency: number[];
  sessions: number;
  startupRuns: number;
  sections: Set<'throughput' | 'memory' | 'startup'>;
}

/** One measured cell and the round it belongs to. */
export interface RoundResult extends CellResult {
  round: number;
}

/** The throughput and latency table. */
export function throughputReport(targets: Target[], results: RoundResult[], options: BenchOptions): string[] {
  const rows: string[][] = [];
  for (const target of targets) {
    for (const concurrency of options.concurrency) {
      const cells = results.filter((r) => r.target === target.id && r.concurrency === concurrency);
      rows.push([
        target.id,
        String(concurrency),
        whole(median(cells.map((c) => c.callsPerSec))),
        fixed(median(cells.map((c) => c.p50Ms)), 2),
        fixed(median(cells.map((c) => c.p99Ms)), 2),
        String(cells.reduce((sum, c) => sum + c.errors, 0)),
        whole(median(cells.map((c) => c.serverCpuUsPerCall))),
        whole(median(cells.map((c) => c.loadGenCpuPercent))),
        whole(median(cells.map((c) => c.otherCpuPercent))),
      ]);
    }
  }
  const errorsSeen = results.filter((r) => r.firstError).map((r) => `- ${r.target} c=${r.concurrency}: ${r.firstError}`);
  return [
    '## Throughput and latency: `tools/call server_status`',
    '',
    `Median over ${options.rounds} round(s); each cell ${options.warmup} s warm-up + ${options.seconds} s measured, closed-loop workers. ` +
      'c = concurrent workers (HTTP: one client and session each; stdio: requests in flight on one connection). ' +
      '"srv CPU" is the serving process\'s user+system CPU per successful call; "gen CPU" is this load-generator process and ' +
      '"other CPU" everything else on the machine during the window (100 = one core; the machine has ' +
      `${os.cpus().length} cores, so a high "other" means the figures are depressed by unrelated load).`,
    '',
    table(['transport', 'c', 'calls/s', 'p50 ms', 'p99 ms', 'errors', 'srv CPU µs/call', 'gen CPU %', 'other CPU %'], rows),
    '',
    ...(errorsSeen.length ? ['Errors (first per cell):', ...errorsSeen, ''] : []),
  ];
}

/** Ours / baseline for sessionful Streamable HTTP, per concurrency, with the c=16 verdict. */
export function ratioReport(results: RoundResult[], options: BenchOptions): { lines: string[]; ratioAt16?: number } {
  const rows: string[][] = [];
  let ratioAt16: number | undefined;
  for (const concurrency of options.concurrency) {
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    for (let round = 0; round < options.rounds; round += 1) {
      const ours = results.find((r) => r.target === 'ours-sessionful' && r.concurrency === concurrency && r.round === round);
      const base = results.find((r) => r.target === 'baseline-v1' && r.concurrency === concurrency && r.round === round);
      if (!ours || !base || base.callsPerSec === 0) continue;
      ratios.push(ours.callsPerSec / base.callsPerSec);
      cpuRatios.push(ours.serverCpuUsPerCall / base.serverCpuUsPerCall);
    }
    const pick = (id: string) => median(results.filter((r) => r.target === id && r.concurrency === concurrency).map((r) => r.callsPerSec));
    const ratio = median(ratios);
    if (concurrency === 16 && Number.isFinite(ratio)) ratioAt16 = ratio;
    rows.push([
      String(concurrency),
      whole(pick('ours-sessionful')),
      whole(pick('baseline-v1')),
      fixed(ratio, 2),
      fixed(median(cpuRatios), 2),
      concurrency === 16
        ? `>= ${TARGETS.throughputRatioC16.toFixed(1)}: ${verdict(Number.isFinite(ratio) ? ratio >= TARGETS.throughputRatioC16 : undefined)}`
        : '',
    ]);
  }
  return {
    ratioAt16,
    lines: [
      '## Ours / baseline: sessionful Streamable HTTP (same v1 client on both)',
      '',
      'ratio = median over rounds of (ours calls/s ÷ baseline calls/s), each pair measured back to back. Where "gen CPU" ' +
        'above is near 100 the single-threaded load generator, not the server, caps throughput and the ratio is squeezed ' +
        'towards 1; "srv CPU/call ratio" (ours ÷ baseline server CPU per call, lower is better) then shows the server-side difference.',
      '',
      table(['c', 'ours calls/s', 'baseline calls/s', 'throughput ratio', 'srv CPU/call ratio', 'target'], rows),
      '',
    ],
  };
}

/** The idle-session memory table. */
export function memoryReport(results: IdleMemoryResult[], sessions: number): string[] {
  const mb = (bytes: number) => fixed(bytes / MIB, 1);
  const rows = results.map((r) => [
    r.label,
    whole(r.sessions),
    mb(r.rssBeforeBytes),
    mb(r.rssOpenBytes),
    mb(r.rssAfterCloseBytes),
    fixed(r.fillMbPer1000, 1),
    fixed(r.mbPer1000, 1),
    fixed(r.heapMbPer1000, 1),
    r.label.startsWith('ours') ? `<= ${TARGETS.mbPer1000Sessions}: ${verdict(r.mbPer1000 <= TARGETS.mbPer1000Sessions)}` : '',
  ]);
  return [
    `## RSS per 1,000 idle sessions (VmRSS of the server process, MB = MiB)`,
    '',
    `A fresh server process per row. After a warm-up of ${whole(IDLE_WARMUP_SESSIONS)} sessions (opened and closed: compiles ` +
      `the handshake's code), a fill of ${whole(sessions)} sessions is opened and kept ("RSS before"; what it added is "fill"), ` +
      `then ${whole(sessions)} more ("RSS open"): the per-session figure is what that second batch added, the marginal cost of a ` +
      'session. The fill pays the one-time costs (V8 first touches the pages of its young generation, up to 32 MB, only after ' +
      'tens of MB have been allocated) without leaving freed room in the old generation that new sessions could fill unseen. ' +
      'Sessions are opened 16 at a time; each reading after a 2 s settle. "no GC": `node build/server/main.js serve` (or the baseline) as is, so RSS includes ' +
      'garbage not yet collected. "forced GC": the same server code (startHttpServer, resp. the ' +
      'baseline) run with --expose-gc, two full collections before each reading: closer to what idle sessions retain; its ' +
      '"heap" column is V8 heap used after those collections (the most stable figure). ' +
      'Streamable HTTP: raw ' +
      '`initialize` + `notifications/initialized` (2025-11-25), no GET stream, then DELETE. SSE: `GET /sse` held open until the ' +
      '`endpoint` event, then the client disconnects.',
    '',
    table(
      [
        'server / transport',
        'sessions',
        'RSS before',
        'RSS open',
        'RSS after close',
        'fill MB per 1,000',
        'RSS MB per 1,000',
        'heap MB per 1,000',
        'target (RSS)',
      ],
      rows,
    ),
    '',
  ];
}

/** The start-up table and its median. */
export function startupReport(times: number[]): { lines: string[]; medianMs: number } {
  const medianMs = median(times);
  return {
    medianMs,
    lines: [
      '## Process start to first `/health` 200',
      '',
      '`node build/server/main.js serve`, STORAGE=sqlite, fresh DATA_DIR, free port; /health polled every 10 ms; each run stopped by PID.',
      '',
      table(
        ['runs', 'median ms', 'min ms', 'max ms', 'all runs ms', 'target'],
        [
          [
            String(times.length),
            fixed(medianMs, 0),
            fixed(Math.min(...times), 0),
            fixed(Math.max(...times), 0),
            times.map((t) => t.toFixed(0)).join(', '),
            `<= ${TARGETS.startupMs}: ${verdict(medianMs <= TARGETS.startupMs)}`,
          ],
        ],
      ),
      '',
    ],
  };
}

/** Title, machine and setup lines. */
export function header(options: BenchOptions, ours: ServerState | undefined): string[] {
  const pkg = (name: string) => {
    try {
      return (JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string })
        .version;
    } catch {
      return '?';
    }
  };
  const cpu = os.cpus();
  return [
    `# Transport benchmark: claude-code-mcp ${ours?.version ?? ''}`,
    '',
    `- ${new Date().toISOString()}, Node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${os.platform()} ${os.release()}, ` +
      `ulimit -n ${openFileLimit() ?? '?'}, load average at start ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    `- ours: \`node build/server/main.js serve\` in its own process (STORAGE=sqlite, LOG_LEVEL=info, AUTH_MODE=none, MAX_SESSIONS raised for the memory test); ` +
      `baseline: bench/baseline-v1-server.ts (@modelcontextprotocol/sdk ${pkg('@modelcontextprotocol/sdk')} McpServer + ` +
      "StreamableHTTPServerTransport, sessionIdGenerator randomUUID, createMcpExpressApp, no event store) in its own process, run through tsx's loader.",
    `- clients (in this process): v1 Client (@modelcontextprotocol/sdk ${pkg('@modelcontextprotocol/sdk')}) for sessionful Streamable HTTP on BOTH ours and the baseline ` +
      `(2025-11-25, identical client cost), for legacy SSE and for stdio; v2 Client (@modelcontextprotocol/client ${pkg('@modelcontextprotocol/client')}, ` +
      "versionNegotiation: { mode: 'auto' }) for 2026-07-28 stateless.",
    `- ${options.seconds} s per cell after ${options.warmup} s warm-up, ${options.rounds} round(s), order alternated per round; loopback 127.0.0.1.`,
    '',
  ];
}
