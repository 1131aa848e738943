/**
 * Transport benchmark: `npm run bench:transport [-- --seconds 3 --rounds 2 ...]`.
 *
 * Measures, on this machine, `tools/call server_status` throughput and latency over every transport our server
 * offers, against a baseline (the SDK v1 minimal sessionful Streamable HTTP server, bench/baseline-v1-server.ts);
 * RSS per 1,000 idle sessions; and process start to the first `/health` 200. Both servers run in their own child
 * processes; this process is the load generator. Prints Markdown to stdout (progress goes to stderr), writes
 * nothing into the repository, and exits 0 whatever the verdicts: it measures, it does not test.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { requestGc } from './support/gc-ipc.js';
import {
  IDLE_WARMUP_SESSIONS,
  measureSseIdle,
  measureStreamableIdle,
  type IdleMemoryResult,
  type IdleOptions,
} from './support/idle-sessions.js';
import { runCell, type CellTiming, type Target } from './support/load.js';
import { createSandbox, openFileLimit, sleep, stopAllChildren, type ManagedChild } from './support/processes.js';
import { fixed, verdict, whole } from './support/report.js';
import {
  header,
  memoryReport,
  ratioReport,
  startupReport,
  TARGETS,
  throughputReport,
  type BenchOptions,
  type RoundResult,
} from './support/sections.js';
import { CLI, startBaseline, startOurGcProbe, startOurServer, type UrlServer } from './support/servers.js';
import { measureStartup } from './support/startup.js';
import { v1SseTarget, v1StdioTarget, v1StreamableTarget, v2ModernTarget } from './support/targets.js';

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

/**
 * The v1 client hands one long-lived AbortSignal to every fetch and undici frees each listener only at GC, so long
 * single-client cells trip Node's MaxListenersExceededWarning in this process. It concerns the load generator,
 * equally for every server; print each kind of warning once instead of hundreds of times.
 */
function printWarningsOnce(): void {
  const seen = new Set<string>();
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (seen.has(warning.name)) return;
    seen.add(warning.name);
    progress(`load generator warning (shown once): ${warning.name}: ${warning.message}`);
  });
}

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
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

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  printWarningsOnce();
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm run bench:transport does)`);
  const maxConcurrency = Math.max(...options.concurrency);
  const limit = openFileLimit();
  // The SSE memory test holds `sessions` sockets here and as many in the server; workers add a few per client.
  const needed = options.sessions + maxConcurrency * 4 + 256;
  if (limit !== undefined && limit < needed)
    throw new Error(`ulimit -n is ${limit}; this run needs about ${needed}: raise it or pass a smaller --sessions`);

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
    const maxSessions = options.sessions + 2000;
    const ours = await startOurServer(sandbox, 'ours', maxSessions);
    const baseline = await startBaseline(sandbox, 'load');
    out.push(...header(options, ours.state));
    const callTimeoutMs = 10_000;
    const targets: Target[] = [
      v1StreamableTarget({
        id: 'ours-sessionful',
        label: 'ours, Streamable HTTP 2025-11-25 sessionful (v1 client)',
        mcpUrl: ours.state.mcpUrl,
        serverPid: ours.child.pid,
        callTimeoutMs,
      }),
      v1StreamableTarget({
        id: 'baseline-v1',
        label: 'BASELINE SDK v1 sessionful (v1 client)',
        mcpUrl: baseline.mcpUrl,
        serverPid: baseline.child.pid,
        callTimeoutMs,
      }),
      v2ModernTarget({
        id: 'ours-stateless',
        label: 'ours, Streamable HTTP 2026-07-28 stateless (v2 client, auto)',
        mcpUrl: ours.state.mcpUrl,
        serverPid: ours.child.pid,
        callTimeoutMs,
      }),
      v1SseTarget({
        id: 'ours-sse',
        label: 'ours, legacy HTTP+SSE 2024-11-05 (v1 client)',
        sseUrl: `${ours.state.url}/sse`,
        serverPid: ours.child.pid,
        callTimeoutMs,
      }),
      v1StdioTarget({
        id: 'ours-stdio',
        label: 'ours, stdio child (v1 client)',
        command: process.execPath,
        args: [CLI, 'stdio'],
        cwd: sandbox.cwd,
        env: sandbox.env({ STORAGE: 'sqlite', DATA_DIR: sandbox.dir('stdio'), LOG_LEVEL: 'info', AUTH_MODE: 'none' }),
        callTimeoutMs,
      }),
    ];
    out.push('Transports:', '', ...targets.map((t) => `- \`${t.id}\`: ${t.label}`), '');

    if (options.sections.has('throughput')) {
      // One call proves each transport works; a discarded second at c=16 then gets both servers' JIT warm, so the
      // first measured cell is not penalised for whichever server happens to go first.
      progress('sanity call and 1 s priming per transport');
      for (const target of targets) {
        const opened = await target.open(1);
        try {
          await opened.connections[0]!.call();
        } finally {
          await opened.close();
        }
        await runCell(target, 16, { warmupMs: 0, measureMs: 1000, callTimeoutMs, maxCalls: 1_000_000 });
      }
      const results = await runThroughput(targets, options);
      out.push(...throughputReport(targets, results, options));
      const ratio = ratioReport(results, options);
      out.push(...ratio.lines);
      if (options.concurrency.includes(16)) {
        const ok = ratio.ratioAt16 === undefined ? undefined : ratio.ratioAt16 >= TARGETS.throughputRatioC16;
        verdicts.push(
          `- ${verdict(ok)}: throughput ours/baseline at c=16 = ${fixed(ratio.ratioAt16 ?? Number.NaN, 2)} (target >= ${TARGETS.throughputRatioC16.toFixed(1)})`,
        );
      }
    }

    // The long-running servers are stopped first: the memory and start-up runs must not share the CPU with them.
    await Promise.all([ours.child.stop(), baseline.child.stop()]);

    if (options.sections.has('memory')) {
      // Each row gets a fresh server process: one whose heap grew under load has slack that new sessions fill
      // without any RSS growth, which would understate the per-session cost. Rows "no GC" are the plain
      // measurement (serve / the baseline as shipped); rows "forced GC" read RSS after two full collections.
      const idle = (label: string, server: UrlServer | { child: ManagedChild }, gc: boolean): IdleOptions => ({
        label,
        pid: server.child.pid,
        sessions: options.sessions,
        settleMs: 2000,
        parallel: 16,
        warmupSessions: IDLE_WARMUP_SESSIONS,
        gc: gc ? () => requestGc(server.child.child) : undefined,
      });
      const memory: IdleMemoryResult[] = [];
      const measure = async <S extends { child: ManagedChild }>(
        label: string,
        start: () => Promise<S>,
        run: (server: S) => Promise<IdleMemoryResult>,
      ) => {
        progress(`memory: ${options.sessions} idle sessions, ${label}`);
        const server = await start();
        try {
          memory.push(await run(server));
        } finally {
          await server.child.stop();
        }
      };
      await measure(
        'ours, Streamable HTTP (no GC)',
        () => startOurServer(sandbox, 'mem-http', maxSessions),
        (s) => measureStreamableIdle(s.state.mcpUrl, idle('ours, Streamable HTTP (no GC)', s, false)),
      );
      await measure(
        'ours, Streamable HTTP (forced GC)',
        () => startOurGcProbe(sandbox, 'mem-http-gc', maxSessions),
        (s) => measureStreamableIdle(s.mcpUrl, idle('ours, Streamable HTTP (forced GC)', s, true)),
      );
      await measure(
        'baseline-v1 (no GC)',
        () => startBaseline(sandbox, 'mem'),
        (s) => measureStreamableIdle(s.mcpUrl, idle('baseline-v1, Streamable HTTP (no GC)', s, false)),
      );
      await measure(
        'baseline-v1 (forced GC)',
        () => startBaseline(sandbox, 'mem-gc', true),
        (s) => measureStreamableIdle(s.mcpUrl, idle('baseline-v1, Streamable HTTP (forced GC)', s, true)),
      );
      await measure(
        'ours, legacy SSE (no GC)',
        () => startOurServer(sandbox, 'mem-sse', maxSessions),
        (s) => measureSseIdle(`${s.state.url}/sse`, idle('ours, legacy SSE (no GC)', s, false)),
      );
      await measure(
        'ours, legacy SSE (forced GC)',
        () => startOurGcProbe(sandbox, 'mem-sse-gc', maxSessions),
        (s) => measureSseIdle(`${s.url}/sse`, idle('ours, legacy SSE (forced GC)', s, true)),
      );
      out.push(...memoryReport(memory, options.sessions));
      for (const r of memory.filter((m) => m.label.startsWith('ours'))) {
        verdicts.push(
          `- ${verdict(r.mbPer1000 <= TARGETS.mbPer1000Sessions)}: ${r.label}: ${fixed(r.mbPer1000, 1)} MB per 1,000 idle sessions (target <= ${TARGETS.mbPer1000Sessions})`,
        );
      }
    }

    if (options.sections.has('startup')) {
      progress(`start-up: ${options.startupRuns} runs`);
      const times = await measureStartup({ cli: CLI, sandbox, runs: options.startupRuns, pollMs: 10, timeoutMs: 15_000 });
      const startup = startupReport(times);
      out.push(...startup.lines);
      verdicts.push(
        `- ${verdict(startup.medianMs <= TARGETS.startupMs)}: start to /health 200 median ${fixed(startup.medianMs, 0)} ms (target <= ${TARGETS.startupMs})`,
      );
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
