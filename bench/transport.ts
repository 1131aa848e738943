/**
 * Transport benchmark: `npm run bench:transport [-- --seconds 3 --rounds 2 ...]`.
 *
 * Measures, on this machine, `tools/call server_status` throughput and latency over every transport our server
 * offers, against a baseline (the SDK v1 minimal sessionful Streamable HTTP server, bench/baseline-v1-server.ts);
 * RSS per 1,000 idle sessions; and process start to the first `/health` 200. Both servers run in their own child
 * processes; this process is the load generator. Prints Markdown to stdout (progress goes to stderr), writes
 * nothing into the repository, and exits 0 whatever the verdicts: it measures, it does not test.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { processFiles, readState, type ServerState } from '../server/cli/process-files.js';
import { measureSseIdle, measureStreamableIdle, MIB, type IdleMemoryResult, type IdleOptions } from './support/idle-sessions.js';
import { median, runCell, type CellResult, type CellTiming, type Target } from './support/load.js';
import { createSandbox, openFileLimit, sleep, spawnChild, stopAllChildren, type ManagedChild, type Sandbox } from './support/processes.js';
import { fixed, table, verdict, whole } from './support/report.js';
import { measureStartup } from './support/startup.js';
import { v1SseTarget, v1StdioTarget, v1StreamableTarget, v2ModernTarget } from './support/targets.js';

const CLI = fileURLToPath(new URL('../build/server/main.js', import.meta.url));
const BASELINE = fileURLToPath(new URL('./baseline-v1-server.ts', import.meta.url));
const TARGETS = { throughputRatioC16: 1.0, mbPer1000Sessions: 30, startupMs: 500 } as const;

/** Settings of one run, from the command line. */
interface BenchOptions {
  seconds: number;
  warmup: number;
  rounds: number;
  concurrency: number[];
  sessions: number;
  startupRuns: number;
  sections: Set<'throughput' | 'memory' | 'startup'>;
}

const USAGE = `usage: tsx bench/transport.ts [--seconds 3] [--warmup 0.5] [--rounds 2] [--concurrency 1,16,64]
                              [--sessions 1000] [--startup-runs 5] [--only throughput,memory,startup]`;

function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '0.5' },
      rounds: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '1,16,64' },
      sessions: { type: 'string', default: '1000' },
      'startup-runs': { type: 'string', default: '5' },
      only: { type: 'string', default: 'throughput,memory,startup' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const num = (name: string, raw: string, min: number, max: number): number => {
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name}: expected a number ${min}-${max}, got ${raw}`);
    return value;
  };
  const sections = new Set(values.only.split(',').map((s) => s.trim()));
  for (const section of sections) {
    if (!['throughput', 'memory', 'startup'].includes(section)) throw new Error(`--only: unknown section ${section}\n${USAGE}`);
  }
  return {
    seconds: num('seconds', values.seconds, 0.2, 60),
    warmup: num('warmup', values.warmup, 0, 10),
    rounds: Math.round(num('rounds', values.rounds, 1, 9)),
    concurrency: values.concurrency.split(',').map((c) => Math.round(num('concurrency', c, 1, 256))),
    sessions: Math.round(num('sessions', values.sessions, 10, 5000)),
    startupRuns: Math.round(num('startup-runs', values['startup-runs'], 1, 50)),
    sections: sections as BenchOptions['sections'],
  };
}

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

async function waitUntil<T>(what: string, child: ManagedChild, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (exited) throw new Error(`${child.name} exited before ${what}:\n${child.tail()}`);
    if (Date.now() > deadline) throw new Error(`${child.name}: no ${what} within ${timeoutMs} ms:\n${child.tail()}`);
    await sleep(20);
  }
}

/** Our HTTP server (`serve`) in its own process; its state file tells the URL once it listens on port 0. */
async function startOurServer(sandbox: Sandbox, maxSessions: number): Promise<{ child: ManagedChild; state: ServerState }> {
  const dataDir = sandbox.dir('ours');
  const env = sandbox.env({
    STORAGE: 'sqlite',
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    MAX_SESSIONS: String(maxSessions),
  });
  const child = spawnChild({ name: 'ours (serve)', command: process.execPath, args: [CLI, 'serve'], cwd: sandbox.cwd, env });
  const files = processFiles(dataDir);
  const state = await waitUntil('state file', child, 15_000, () => {
    const current = readState(files);
    return current?.pid === child.pid ? current : undefined;
  });
  return { child, state };
}

/** The v1 baseline in its own process (through tsx's loader); it prints `{"port":N}` once listening. */
async function startBaseline(sandbox: Sandbox): Promise<{ child: ManagedChild; url: string }> {
  let stdout = '';
  const child = spawnChild({
    name: 'baseline (v1)',
    command: process.execPath,
    args: ['--import', import.meta.resolve('tsx'), BASELINE],
    cwd: sandbox.cwd,
    env: sandbox.env({ BASELINE_PORT: '0' }),
    onStdout: (chunk) => (stdout += chunk),
  });
  const port = await waitUntil('port line', child, 20_000, () => {
    const match = /\{"port":(\d+)/.exec(stdout);
    return match ? Number(match[1]) : undefined;
  });
  return { child, url: `http://127.0.0.1:${port}/mcp` };
}

interface RoundResult extends CellResult {
  round: number;
}

async function runThroughput(targets: Target[], options: BenchOptions): Promise<RoundResult[]> {
  const timing: CellTiming = {
    warmupMs: options.warmup * 1000,
    measureMs: options.seconds * 1000,
    callTimeoutMs: 10_000,
    maxCalls: 2_000_000,
  };
  const results: RoundResult[] = [];
  for (const concurrency of options.concurrency) {
    for (let round = 0; round < options.rounds; round += 1) {
      // Alternate the order so slow drift of the machine does not always favour the same side.
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        const cell = await runCell(target, concurrency, timing);
        results.push({ ...cell, round });
        progress(
          `${target.id.padEnd(18)} c=${String(concurrency).padStart(3)} round ${round + 1}: ` +
            `${whole(cell.callsPerSec)} calls/s, p50 ${fixed(cell.p50Ms, 2)} ms, p99 ${fixed(cell.p99Ms, 2)} ms, errors ${cell.errors}` +
            (cell.firstError ? ` (${cell.firstError})` : ''),
        );
        await sleep(250); // let closed sessions and sockets go before the next cell
      }
    }
  }
  return results;
}

function throughputReport(targets: Target[], results: RoundResult[], options: BenchOptions): string[] {
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

function ratioReport(results: RoundResult[], options: BenchOptions): { lines: string[]; ratioAt16?: number } {
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
      concurrency === 16 ? `>= ${TARGETS.throughputRatioC16.toFixed(1)}: ${verdict(Number.isFinite(ratio) ? ratio >= TARGETS.throughputRatioC16 : undefined)}` : '',
    ]);
  }
  return {
    ratioAt16,
    lines: [
      '## Ours / baseline: sessionful Streamable HTTP (same v1 client on both)',
      '',
      'ratio = median over rounds of (ours calls/s ÷ baseline calls/s), each pair measured back to back.',
      '',
      table(['c', 'ours calls/s', 'baseline calls/s', 'throughput ratio', 'srv CPU/call ratio', 'target'], rows),
      '',
    ],
  };
}

function memoryReport(results: IdleMemoryResult[], sessions: number): string[] {
  const mb = (bytes: number) => fixed(bytes / MIB, 1);
  const rows = results.map((r) => [
    r.label,
    whole(r.sessions),
    mb(r.rssBeforeBytes),
    mb(r.rssOpenBytes),
    mb(r.rssAfterCloseBytes),
    fixed(r.mbPer1000, 1),
    r.label.startsWith('ours') ? `<= ${TARGETS.mbPer1000Sessions}: ${verdict(r.mbPer1000 <= TARGETS.mbPer1000Sessions)}` : '',
  ]);
  return [
    `## RSS per 1,000 idle sessions (VmRSS of the server process, MB = MiB)`,
    '',
    `${whole(sessions)} sessions opened 16 at a time after a warm-up of 50; readings after a 2 s settle. Streamable HTTP: raw ` +
      '`initialize` + `notifications/initialized` (2025-11-25), no GET stream, then DELETE. SSE: `GET /sse` held open until the ' +
      '`endpoint` event, then the client disconnects.',
    '',
    table(['server / transport', 'sessions', 'RSS before', 'RSS open', 'RSS after close', 'MB per 1,000', 'target'], rows),
    '',
  ];
}

function startupReport(times: number[]): { lines: string[]; medianMs: number } {
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
        [[
          String(times.length),
          fixed(medianMs, 0),
          fixed(Math.min(...times), 0),
          fixed(Math.max(...times), 0),
          times.map((t) => t.toFixed(0)).join(', '),
          `<= ${TARGETS.startupMs}: ${verdict(medianMs <= TARGETS.startupMs)}`,
        ]],
      ),
      '',
    ],
  };
}

function header(options: BenchOptions, ours: ServerState | undefined): string[] {
  const pkg = (name: string) => {
    try {
      return (JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      return '?';
    }
  };
  const cpu = os.cpus();
  return [
    `# Transport benchmark: claude-code-mcp ${ours?.version ?? ''}`,
    '',
    `- ${new Date().toISOString()}, Node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${os.platform()} ${os.release()}, ` +
      `ulimit -n ${openFileLimit() ?? '?'}, load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    `- ours: \`node build/server/main.js serve\` in its own process (STORAGE=sqlite, LOG_LEVEL=info, MAX_SESSIONS raised for the memory test); ` +
      `baseline: bench/baseline-v1-server.ts (@modelcontextprotocol/sdk ${pkg('@modelcontextprotocol/sdk')} McpServer + ` +
      'StreamableHTTPServerTransport, sessionIdGenerator randomUUID, createMcpExpressApp, no event store) in its own process, run through tsx\'s loader.',
    `- clients (in this process): v1 Client (@modelcontextprotocol/sdk ${pkg('@modelcontextprotocol/sdk')}) for sessionful Streamable HTTP on BOTH ours and the baseline ` +
      `(2025-11-25, identical client cost), for legacy SSE and for stdio; v2 Client (@modelcontextprotocol/client ${pkg('@modelcontextprotocol/client')}, ` +
      "versionNegotiation: { mode: 'auto' }) for 2026-07-28 stateless.",
    `- ${options.seconds} s per cell after ${options.warmup} s warm-up, ${options.rounds} round(s), order alternated per round; loopback 127.0.0.1.`,
    '',
  ];
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm run bench:transport does)`);
  const maxConcurrency = Math.max(...options.concurrency);
  const limit = openFileLimit();
  // The SSE memory test holds `sessions` sockets here and as many in the server; workers add a few per client.
  const needed = options.sessions + maxConcurrency * 4 + 256;
  if (limit !== undefined && limit < needed) throw new Error(`ulimit -n is ${limit}; this run needs about ${needed}: raise it or pass a smaller --sessions`);

  const sandbox = createSandbox('ccm-bench-');
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress('interrupted: stopping child processes');
    void stopAllChildren().finally(() => {
      sandbox.remove();
      process.exit(130);
    });
  };
  process.on('SIGINT', onSigint);

  const out: string[] = [];
  const verdicts: string[] = [];
  try {
    progress('starting our server and the baseline');
    const ours = await startOurServer(sandbox, options.sessions + 2000);
    const baseline = await startBaseline(sandbox);
    out.push(...header(options, ours.state));
    const callTimeoutMs = 10_000;
    const targets: Target[] = [
      v1StreamableTarget({ id: 'ours-sessionful', label: 'ours, Streamable HTTP 2025-11-25 sessionful (v1 client)', mcpUrl: ours.state.mcpUrl, serverPid: ours.child.pid, callTimeoutMs }),
      v1StreamableTarget({ id: 'baseline-v1', label: 'BASELINE SDK v1 sessionful (v1 client)', mcpUrl: baseline.url, serverPid: baseline.child.pid, callTimeoutMs }),
      v2ModernTarget({ id: 'ours-stateless', label: 'ours, Streamable HTTP 2026-07-28 stateless (v2 client, auto)', mcpUrl: ours.state.mcpUrl, serverPid: ours.child.pid, callTimeoutMs }),
      v1SseTarget({ id: 'ours-sse', label: 'ours, legacy HTTP+SSE 2024-11-05 (v1 client)', sseUrl: `${ours.state.url}/sse`, serverPid: ours.child.pid, callTimeoutMs }),
      v1StdioTarget({
        id: 'ours-stdio',
        label: 'ours, stdio child (v1 client)',
        command: process.execPath,
        args: [CLI, 'stdio'],
        cwd: sandbox.cwd,
        env: sandbox.env({ STORAGE: 'memory', DATA_DIR: sandbox.dir('stdio'), LOG_LEVEL: 'info' }),
        callTimeoutMs,
      }),
    ];
    out.push('Transports:', '', ...targets.map((t) => `- \`${t.id}\`: ${t.label}`), '');

    if (options.sections.has('throughput')) {
      progress('sanity: one call per transport');
      for (const target of targets) {
        const opened = await target.open(1);
        try {
          await opened.connections[0]!.call();
        } finally {
          await opened.close();
        }
      }
      const results = await runThroughput(targets, options);
      out.push(...throughputReport(targets, results, options));
      const ratio = ratioReport(results, options);
      out.push(...ratio.lines);
      if (options.concurrency.includes(16)) {
        const ok = ratio.ratioAt16 === undefined ? undefined : ratio.ratioAt16 >= TARGETS.throughputRatioC16;
        verdicts.push(`- ${verdict(ok)}: throughput ours/baseline at c=16 = ${fixed(ratio.ratioAt16 ?? Number.NaN, 2)} (target >= ${TARGETS.throughputRatioC16.toFixed(1)})`);
      }
    }

    if (options.sections.has('memory')) {
      const idle = (label: string, pid: number): IdleOptions => ({ label, pid, sessions: options.sessions, settleMs: 2000, parallel: 16, warmupSessions: 50 });
      progress(`memory: ${options.sessions} idle sessions on ours (Streamable HTTP)`);
      const memory = [await measureStreamableIdle(ours.state.mcpUrl, idle('ours, Streamable HTTP', ours.child.pid))];
      progress(`memory: ${options.sessions} idle sessions on the baseline`);
      memory.push(await measureStreamableIdle(baseline.url, idle('baseline-v1, Streamable HTTP', baseline.child.pid)));
      progress(`memory: ${options.sessions} idle legacy SSE sessions on ours`);
      memory.push(await measureSseIdle(`${ours.state.url}/sse`, idle('ours, legacy SSE', ours.child.pid)));
      out.push(...memoryReport(memory, options.sessions));
      for (const r of memory.filter((m) => m.label.startsWith('ours'))) {
        verdicts.push(`- ${verdict(r.mbPer1000 <= TARGETS.mbPer1000Sessions)}: ${r.label}: ${fixed(r.mbPer1000, 1)} MB per 1,000 idle sessions (target <= ${TARGETS.mbPer1000Sessions})`);
      }
    }

    // Both long-running servers are stopped first so the start-up runs do not share the CPU with them.
    await Promise.all([ours.child.stop(), baseline.child.stop()]);
    if (options.sections.has('startup')) {
      progress(`start-up: ${options.startupRuns} runs`);
      const times = await measureStartup({ cli: CLI, sandbox, runs: options.startupRuns, pollMs: 10, timeoutMs: 15_000 });
      const startup = startupReport(times);
      out.push(...startup.lines);
      verdicts.push(`- ${verdict(startup.medianMs <= TARGETS.startupMs)}: start to /health 200 median ${fixed(startup.medianMs, 0)} ms (target <= ${TARGETS.startupMs})`);
    }
    out.push('## Targets', '', ...verdicts, '', 'Measurement only: the exit code is 0 whatever the verdicts.');
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    process.off('SIGINT', onSigint);
    await stopAllChildren();
    sandbox.remove();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
