/**
 * `npm run bench:claude [-- --rounds 15 --warmup 2 --calls 50]`: what the server adds to a Claude Code run, and how
 * its run queue behaves under a burst. Everything runs against the mock Messages API on 127.0.0.1 (the fixture the
 * Claude tool tests use), with the real `claude` binary the Agent SDK bundles.
 *
 * 1. Latency: `claude_ask` through the server (v2 MCP client -> `node build/server/main.js serve` -> Agent SDK ->
 *    claude -> mock) against the same prompt run by the bare binary (`claude -p` with the flags the SDK passes for
 *    that call) against the same mock and the same reply; interleaved rounds, order alternated, medians.
 *    Target: <= 1.05x the bare binary, or <= 50 ms added.
 * 2. Burst: MAX_CONCURRENT_RUNS=4; four calls take the slots, then the other calls arrive at once with mixed
 *    priorities (submitted low, normal, high in turn, so arrival order is not priority order). Every call must be
 *    answered with its own reply, and the Claude Code processes must have started high before normal before low.
 *
 * Prints Markdown; exit code 0 whatever the verdicts (it measures, it does not test).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { bundledClaudePath } from '../server/claude/claude-cli.js';
import type { RunPriority } from '../server/claude/run-queue.js';
import { messageText, startMockAnthropicApi, type MockAnthropicApi } from '../test/fixtures/mock-anthropic-api.js';
import { createClaudeSandbox, type ClaudeSandbox } from '../test/helpers/claude-env.js';
import { waitFor } from '../test/helpers/http.js';
import { median, percentile } from './support/load.js';
import { createSandbox, settlesWithin, sleep, spawnChild, stopAllChildren } from './support/processes.js';
import { fixed, table, verdict, whole } from './support/report.js';
import { CLI, startOurServer, type OurServer } from './support/servers.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    rounds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '2' },
    calls: { type: 'string', default: '50' },
  },
});
const ROUNDS = Number(values.rounds);
const WARMUP = Number(values.warmup);
const CALLS = Number(values.calls);
const SLOTS = 4;
const TARGET = { ratio: 1.05, addedMs: 50 } as const;
/** One call (either path) that has not finished by then fails the run: the mock answers in milliseconds. */
const CALL_TIMEOUT_MS = 60_000;
/** The burst as a whole: 50 runs, four at a time, ~1-2 s each on a loaded 2-core machine. */
const BURST_TIMEOUT_MS = 300_000;
/** How long the slot holders wait before the mock answers them: time for the burst to arrive and queue up. */
const HOLD_MS = 5000;
/** Mock delay of every burst call, so each run takes a little longer than the binary's start-up alone. */
const BURST_REPLY_DELAY_MS = 250;
const log = (text: string) => process.stderr.write(`[bench:claude] ${text}\n`);

const PROMPT = 'bench-claude: greet the benchmark';
const REPLY = 'Hello from the mock Messages API.';
/**
 * The limits `claude_ask` is called with, stated explicitly so the bare binary gets exactly the flags the Agent SDK
 * derives from them (checked against the argv the executor's spawn receives with SDK 0.3.330): `--max-turns=50
 * --max-budget-usd=5 --allowedTools=Read,Grep,Glob --setting-sources=user,project,local --permission-mode=default`,
 * after `--output-format stream-json --verbose --input-format stream-json`. The bare run takes the prompt with `-p`
 * instead of stream-json input.
 */
const ASK = { maxTurns: 50, maxBudgetUsd: 5, allowedTools: ['Read', 'Grep', 'Glob'], permissionMode: 'default' } as const;
const BARE_ARGS = [
  '-p',
  PROMPT,
  '--output-format',
  'stream-json',
  '--verbose',
  `--max-turns=${ASK.maxTurns}`,
  `--max-budget-usd=${ASK.maxBudgetUsd}`,
  `--allowedTools=${ASK.allowedTools.join(',')}`,
  '--setting-sources=user,project,local',
  `--permission-mode=${ASK.permissionMode}`,
];

interface Structured {
  result?: string;
  isError?: boolean;
  error?: { category: string; message: string };
}

/** One timed call: wall time, and how much of it passed before the binary's request reached the mock. */
interface Sample {
  totalMs: number;
  toRequestMs: number;
}

/** Milliseconds from `startedAt` (epoch) to the first request for the latency prompt after the first `seen` ones. */
function toRequest(mock: MockAnthropicApi, seen: number, startedAt: number): number {
  const request = mock.requests.slice(seen).find((r) => r.body.messages.some((m) => m.role === 'user' && messageText(m).includes(PROMPT)));
  return request ? request.receivedAt - startedAt : Number.NaN;
}

/** `claude_ask` through the server, from the MCP request to its result. */
async function askThroughServer(client: Client, mock: MockAnthropicApi): Promise<Sample> {
  const [seen, startedAt, started] = [mock.requests.length, Date.now(), performance.now()];
  const answer = await client.callTool({ name: 'claude_ask', arguments: { query: PROMPT, ...ASK } }, { timeout: CALL_TIMEOUT_MS });
  const totalMs = performance.now() - started;
  const s = answer.structuredContent as Structured | undefined;
  if (answer.isError || s?.result !== REPLY) throw new Error(`claude_ask answered ${JSON.stringify(s)}`);
  return { totalMs, toRequestMs: toRequest(mock, seen, startedAt) };
}

/** The bare binary on the same prompt, from spawn to exit (the server's call also waits for the process to exit). */
async function askBareBinary(binary: string, sandbox: ClaudeSandbox, mock: MockAnthropicApi): Promise<Sample> {
  let stdout = '';
  const [seen, startedAt, started] = [mock.requests.length, Date.now(), performance.now()];
  const child = spawnChild({ name: 'claude -p', command: binary, args: BARE_ARGS, cwd: sandbox.workspace, env: sandbox.env, onStdout: (chunk) => (stdout += chunk) });
  const closed = new Promise<void>((resolve) => child.child.once('close', () => resolve()));
  const exited = await settlesWithin(child.exited, CALL_TIMEOUT_MS);
  const totalMs = performance.now() - started;
  if (!exited) {
    await child.stop();
    throw new Error(`claude -p did not finish within ${CALL_TIMEOUT_MS} ms:\n${child.tail()}`);
  }
  await settlesWithin(closed, 5000);
  const result = stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { type?: string; result?: string; is_error?: boolean })
    .find((message) => message.type === 'result');
  if (child.child.exitCode !== 0 || result?.is_error || result?.result !== REPLY) {
    throw new Error(`claude -p exited ${child.child.exitCode} with ${JSON.stringify(result)}:\n${child.tail()}`);
  }
  return { totalMs, toRequestMs: toRequest(mock, seen, startedAt) };
}

/** Interleaved rounds of both paths (order alternated), after discarded warm-up rounds. */
async function latency(client: Client, binary: string, sandbox: ClaudeSandbox, mock: MockAnthropicApi) {
  const server: Sample[] = [];
  const bare: Sample[] = [];
  for (let round = -WARMUP; round < ROUNDS; round += 1) {
    const serverFirst = round % 2 === 0;
    const a = serverFirst ? await askThroughServer(client, mock) : await askBareBinary(binary, sandbox, mock);
    const b = serverFirst ? await askBareBinary(binary, sandbox, mock) : await askThroughServer(client, mock);
    const [viaServer, viaBinary] = serverFirst ? [a, b] : [b, a];
    if (round < 0) continue;
    server.push(viaServer);
    bare.push(viaBinary);
    log(`round ${round + 1}/${ROUNDS}: server ${viaServer.totalMs.toFixed(0)} ms, bare ${viaBinary.totalMs.toFixed(0)} ms`);
  }
  return { server, bare };
}

/**
 * Watches the server's Claude Code processes through /proc (its direct children whose working directory is one of
 * the burst's folders): the kernel's start time of each, in clock ticks since boot, and the most alive at once. A
 * process starts the moment its run leaves the queue, so start order is dequeue order, without the binary's own
 * start-up time (which varies by hundreds of ms when four start together) blurring it.
 */
function watchClaudeProcesses(serverPid: number, folder: string, everyMs: number) {
  const startTicks = new Map<string, number>();
  let mostAlive = 0;
  const scan = () => {
    let alive = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        // "pid (comm) state ppid ...": fields after the last ')' start at field 3 (state); starttime is field 22.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[1]) !== serverPid || fields[0] === 'Z') continue;
        const cwd = readlinkSync(`/proc/${entry}/cwd`);
        if (path.dirname(cwd) !== folder) continue;
        alive += 1;
        const call = path.basename(cwd);
        if (!startTicks.has(call)) startTicks.set(call, Number(fields[19]));
      } catch {
        // the process ended between readdir and read
      }
    }
    mostAlive = Math.max(mostAlive, alive);
  };
  const timer = setInterval(scan, everyMs);
  return { startTicks, mostAlive: () => mostAlive, stop: () => clearInterval(timer) };
}

/** One gauge from the server's /metrics (Prometheus text). */
async function gauge(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const match = new RegExp(`^${name} (\\d+(?:\\.\\d+)?)$`, 'm').exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

interface BurstCall {
  id: string;
  /** undefined: one of the calls holding the slots while the others queue. */
  priority?: RunPriority;
  ok: boolean;
  error?: string;
  ms: number;
  apiRequests: number;
  /** Kernel start time of its Claude Code process (clock ticks since boot). */
  startTick?: number;
  /** Epoch ms of its first request at the mock. */
  firstRequestAt?: number;
}

/** The burst: `SLOTS` calls take the slots, then `CALLS - SLOTS` arrive at once with mixed priorities. */
async function burst(server: OurServer, client: Client, mock: MockAnthropicApi, sandbox: ClaudeSandbox) {
  const folder = path.join(sandbox.workspace, 'burst');
  const priorities: RunPriority[] = ['low', 'normal', 'high'];
  const planned = [
    ...Array.from({ length: SLOTS }, (_, i) => ({ id: `hold-${i + 1}`, priority: undefined })),
    ...Array.from({ length: CALLS - SLOTS }, (_, i) => ({ id: `call-${String(i + 1).padStart(2, '0')}`, priority: priorities[i % 3] })),
  ];
  for (const call of planned) {
    mkdirSync(path.join(folder, call.id), { recursive: true });
    mock.on({ prompt: `[${call.id}]`, replies: [{ kind: 'text', text: `answer ${call.id}`, delayMs: call.priority ? BURST_REPLY_DELAY_MS : HOLD_MS }] });
  }
  const watcher = watchClaudeProcesses(server.child.pid, folder, 50);
  const ask = async (call: (typeof planned)[number]): Promise<BurstCall> => {
    const started = performance.now();
    const args = { query: `[${call.id}] answer with your label`, workingDirectory: path.join(folder, call.id), ...(call.priority ? { priority: call.priority } : {}) };
    try {
      const answer = await client.callTool({ name: 'claude_ask', arguments: args }, { timeout: BURST_TIMEOUT_MS });
      const s = answer.structuredContent as Structured | undefined;
      const ok = !answer.isError && s?.result === `answer ${call.id}`;
      return { ...call, ok, ...(ok ? {} : { error: JSON.stringify(s?.error ?? s?.result ?? null) }), ms: performance.now() - started, apiRequests: 0 };
    } catch (error) {
      return { ...call, ok: false, error: (error as Error).message, ms: performance.now() - started, apiRequests: 0 };
    }
  };
  try {
    const holders = planned.filter((c) => !c.priority).map(ask);
    await waitFor(() => planned.slice(0, SLOTS).every((c) => mock.requestsFor(`[${c.id}]`).length > 0), CALL_TIMEOUT_MS);
    const queued = planned.filter((c) => c.priority).map(ask);
    // All of them wait at once when the queue gauge reaches their number while the holders still hold the slots.
    let deepest = 0;
    const until = Date.now() + HOLD_MS;
    while (deepest < CALLS - SLOTS && Date.now() < until) {
      deepest = Math.max(deepest, await gauge(server.state.url, 'claude_queue_depth'));
      if (deepest < CALLS - SLOTS) await sleep(25);
    }
    const calls = await Promise.all([...holders, ...queued]);
    for (const call of calls) {
      const requests = mock.requestsFor(`[${call.id}]`);
      call.apiRequests = requests.length;
      if (requests[0]) call.firstRequestAt = requests[0].receivedAt;
      const tick = watcher.startTicks.get(call.id);
      if (tick !== undefined) call.startTick = tick;
    }
    return { calls, deepest, mostAlive: watcher.mostAlive() };
  } finally {
    watcher.stop();
  }
}

/** Pairs (a of a higher class, b of a lower one) where b's process started strictly before a's. */
function inversions(calls: BurstCall[], key: (call: BurstCall) => number | undefined): number {
  const rank: Record<RunPriority, number> = { high: 0, normal: 1, low: 2 };
  let count = 0;
  for (const a of calls) {
    for (const b of calls) {
      const [ka, kb] = [key(a), key(b)];
      if (ka === undefined || kb === undefined) continue;
      if (rank[a.priority!] < rank[b.priority!] && kb < ka) count += 1;
    }
  }
  return count;
}

function latencyReport(server: Sample[], bare: Sample[]): string[] {
  const totals = (samples: Sample[]) => samples.map((x) => x.totalMs);
  const [mServer, mBare] = [median(totals(server)), median(totals(bare))];
  const ratio = mServer / mBare;
  const added = mServer - mBare;
  const paired = median(server.map((x, i) => x.totalMs - bare[i]!.totalMs));
  const row = (label: string, samples: Sample[]) => {
    const xs = totals(samples).sort((a, b) => a - b);
    const before = median(samples.map((x) => x.toRequestMs));
    const after = median(samples.map((x) => x.totalMs - x.toRequestMs));
    return [label, String(xs.length), whole(median(xs)), whole(percentile(xs, 90)), whole(xs[0]!), whole(xs.at(-1)!), whole(before), whole(after)];
  };
  return [
    '## `claude_ask` through the server vs the bare binary',
    '',
    `${ROUNDS} rounds after ${WARMUP} discarded, order alternated per round; wall time per call (server: MCP request to result; ` +
      'bare: spawn to exit). Same prompt, same mock reply, same flags. "to API request" is the median time until the ' +
      "binary's request reached the mock (start-up, and for the server the MCP call and the Agent SDK's hand-over); " +
      '"after it" is the rest (the answer, the result, the process exit).',
    '',
    table(
      ['path', 'runs', 'median ms', 'p90 ms', 'min ms', 'max ms', 'to API request ms', 'after it ms'],
      [row('claude_ask via the server', server), row('bare `claude -p`', bare)],
    ),
    '',
    table(
      ['server ÷ bare (medians)', 'ms added (medians)', 'ms added (median of paired rounds)', `target <= ${TARGET.ratio}x or <= ${TARGET.addedMs} ms added`],
      [[fixed(ratio, 3), fixed(added, 0), fixed(paired, 0), verdict(ratio <= TARGET.ratio || added <= TARGET.addedMs)]],
    ),
    '',
  ];
}

function burstReport(result: Awaited<ReturnType<typeof burst>>): string[] {
  const { calls, deepest, mostAlive } = result;
  const queued = calls.filter((c) => c.priority);
  const sortedTicks = queued.map((c) => c.startTick).filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  // Competition ranking: processes started in the same clock tick share a position.
  const position = (c: BurstCall) => (c.startTick === undefined ? undefined : 1 + sortedTicks.filter((t) => t < c.startTick!).length);
  const rows = [...(['high', 'normal', 'low'] as const).map((p) => [p, queued.filter((c) => c.priority === p)] as const), ['holding the slots', calls.filter((c) => !c.priority)] as const].map(
    ([label, group]) => {
      const positions = group.map(position).filter((n): n is number => n !== undefined);
      return [
        label,
        String(group.length),
        String(group.filter((c) => c.ok).length),
        String(group.filter((c) => !c.ok).length),
        label === 'holding the slots' ? '-' : positions.length ? `${Math.min(...positions)}-${Math.max(...positions)}` : 'n/a',
        fixed(median(group.map((c) => c.ms)) / 1000, 1),
        fixed(Math.max(...group.map((c) => c.ms)) / 1000, 1),
      ];
    },
  );
  const answered = calls.filter((c) => c.ok).length;
  const lost = calls.filter((c) => !c.ok || c.apiRequests !== 1).length;
  const seen = queued.filter((c) => c.startTick !== undefined).length;
  const byStart = inversions(queued, (c) => c.startTick);
  const byApi = inversions(queued, (c) => c.firstRequestAt);
  const failures = calls.filter((c) => !c.ok).slice(0, 5).map((c) => `- ${c.id} (${c.priority ?? 'holder'}): ${c.error}`);
  return [
    `## ${calls.length} concurrent \`claude_ask\` calls, MAX_CONCURRENT_RUNS=${SLOTS}`,
    '',
    `${SLOTS} calls (mock reply after ${HOLD_MS / 1000} s) take the slots; then ${queued.length} calls are sent at once, priorities ` +
      `low, normal, high in turn (mock reply after ${BURST_REPLY_DELAY_MS} ms). "start position" is the order in which the ` +
      "server's Claude Code processes started (kernel start time from /proc, 10 ms ticks; one folder per call identifies " +
      'the process), among the queued calls.',
    '',
    table(['priority', 'calls', 'own reply', 'failed', 'start position', 'median s to answer', 'max s to answer'], rows),
    '',
    table(
      ['check', 'result', 'verdict'],
      [
        [`all ${calls.length} answered with their own reply`, `${answered}/${calls.length}`, verdict(answered === calls.length)],
        ['none lost (no error or timeout, exactly one API request per call)', `${lost} lost`, verdict(lost === 0)],
        [`${queued.length} waiting at once (claude_queue_depth)`, `deepest ${whole(deepest)}`, verdict(deepest === queued.length)],
        [`at most ${SLOTS} Claude Code processes at once`, `most seen ${mostAlive}`, verdict(mostAlive <= SLOTS)],
        [
          'priority honoured: no process of a lower priority started before one of a higher',
          `${byStart} inverted pairs (${seen}/${queued.length} processes seen)`,
          verdict(seen === queued.length ? byStart === 0 : undefined),
        ],
      ],
      ['l', 'r', 'r'],
    ),
    '',
    `For comparison, ordered by each call's first request at the mock instead (after the binary's start-up): ${byApi} inverted pairs.`,
    '',
    ...(failures.length ? ['Failures (first 5):', ...failures, ''] : []),
  ];
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm run bench:claude does)`);
  const binary = bundledClaudePath();
  if (!binary) throw new Error('the Agent SDK has no bundled claude binary for this platform');
  const sandbox = createSandbox('ccm-bench-claude-');
  const mock = await startMockAnthropicApi();
  const claude = createClaudeSandbox(mock.url);
  mock.on({ prompt: PROMPT, replies: [{ kind: 'text', text: REPLY }] });
  process.on('SIGINT', () => void stopAllChildren().finally(() => process.exit(130)));
  const version = execFileSync(binary, ['--version'], { env: claude.env, encoding: 'utf8', timeout: 30_000 }).trim();
  const client = new Client({ name: 'bench-claude', version: '1.0.0' });
  const loadAtStart = os.loadavg();
  try {
    const server = await startOurServer(sandbox, 'server', 100, {
      ...claude.env,
      WORKSPACE_ROOTS: claude.workspace,
      MAX_CONCURRENT_RUNS: String(SLOTS),
      MAX_QUEUED_RUNS: String(Math.max(100, CALLS)),
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.state.mcpUrl)));
    log(`server pid ${server.child.pid} at ${server.state.mcpUrl}; mock at ${mock.url}`);
    const { server: viaServer, bare } = await latency(client, binary, claude, mock);
    const loadAfterLatency = os.loadavg();
    log(`burst: ${CALLS} calls`);
    const burstResult = await burst(server, client, mock, claude);
    const loadAtEnd = os.loadavg();
    const loads = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    const cpu = os.cpus();
    process.stdout.write(
      [
        `# Claude tools benchmark: claude-code-mcp ${server.state.version}`,
        '',
        `- ${new Date().toISOString()}, Node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}; load average (1/5/15 min) ` +
          `at start ${loads(loadAtStart)}, after the latency rounds ${loads(loadAfterLatency)}, at the end ${loads(loadAtEnd)}`,
        '- server: `node build/server/main.js serve` (SQLite, LOG_LEVEL=info, AUTH_MODE=none) in its own process; v2 MCP client; ' +
          `the Agent SDK's bundled claude ${version}; mock Messages API on 127.0.0.1 in this process.`,
        '',
        ...latencyReport(viaServer, bare),
        ...burstReport(burstResult),
        'Measurement only: the exit code is 0 whatever the verdicts.',
        '',
      ].join('\n'),
    );
  } finally {
    await client.close().catch(() => undefined);
    await stopAllChildren();
    await mock.close();
    claude.remove();
    sandbox.remove();
  }
}

main().catch(async (error: unknown) => {
  process.stderr.write(`bench:claude failed: ${(error as Error).stack ?? String(error)}\n`);
  await stopAllChildren();
  process.exitCode = 1;
});
