import { mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client } from '@modelcontextprotocol/client';
import type { RunPriority } from '../../server/claude/run-queue.js';
import type { MockAnthropicApi } from '../../test/fixtures/mock-anthropic-api.js';
import { waitFor } from '../../test/helpers/http.js';
import { median } from './load.js';
import { sleep } from './processes.js';
import { fixed, table, verdict, whole } from './report.js';
import type { OurServer } from './servers.js';

/** Options of {@link runBurst}. */
export interface BurstOptions {
  /** A server started with MAX_CONCURRENT_RUNS = `slots` and MAX_QUEUED_RUNS >= `calls - slots`. */
  server: OurServer;
  client: Client;
  mock: MockAnthropicApi;
  /** A folder inside a workspace root of the server; one subfolder per call is created in it. */
  folder: string;
  /** Calls in all, the slot holders included. */
  calls: number;
  slots: number;
  /** How long the mock keeps the slot holders waiting: time for the other calls to arrive and queue up. */
  holdMs: number;
  /** Mock delay of every queued call. */
  replyDelayMs: number;
  /** Limit of each call, queue wait included. */
  callTimeoutMs: number;
}

/** How one call of the burst went. */
export interface BurstCall {
  id: string;
  /** Undefined for the calls holding the slots while the others queue (the server's default, normal). */
  priority?: RunPriority;
  /** Answered without error, with the reply scripted for this call. */
  ok: boolean;
  error?: string;
  /** Wall time from the call to its answer. */
  ms: number;
  /** Requests for this call's prompt the mock received. */
  apiRequests: number;
  /** Kernel start time of its Claude Code process (clock ticks since boot). */
  startTick?: number;
  /** Epoch ms of its first request at the mock. */
  firstRequestAt?: number;
}

/** What {@link runBurst} observed. */
export interface BurstResult {
  options: BurstOptions;
  calls: BurstCall[];
  /** Deepest `claude_queue_depth` seen while the queued calls arrived. */
  deepest: number;
  /** Most Claude Code processes of the server alive at once. */
  mostAlive: number;
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

/**
 * `slots` calls take the run slots (the mock holds their answers for `holdMs`); then the other calls are sent at
 * once, priorities low, normal, high in turn, so arrival order is not priority order and a FIFO queue would show.
 * Each call has its own prompt, reply and working directory, so answers and processes can be told apart.
 */
export async function runBurst(options: BurstOptions): Promise<BurstResult> {
  const { server, client, mock, folder } = options;
  const priorities: RunPriority[] = ['low', 'normal', 'high'];
  const planned = [
    ...Array.from({ length: options.slots }, (_, i) => ({ id: `hold-${i + 1}`, priority: undefined })),
    ...Array.from({ length: options.calls - options.slots }, (_, i) => ({
      id: `call-${String(i + 1).padStart(2, '0')}`,
      priority: priorities[i % 3],
    })),
  ];
  const holders = planned.filter((c) => !c.priority);
  const queued = planned.filter((c) => c.priority);
  for (const call of planned) {
    mkdirSync(path.join(folder, call.id), { recursive: true });
    const delayMs = call.priority ? options.replyDelayMs : options.holdMs;
    mock.on({ prompt: `[${call.id}]`, replies: [{ kind: 'text', text: `answer ${call.id}`, delayMs }] });
  }
  const ask = async (call: (typeof planned)[number]): Promise<BurstCall> => {
    const started = performance.now();
    const args = {
      query: `[${call.id}] answer with your label`,
      workingDirectory: path.join(folder, call.id),
      ...(call.priority ? { priority: call.priority } : {}),
    };
    try {
      const answer = await client.callTool({ name: 'claude_ask', arguments: args }, { timeout: options.callTimeoutMs });
      const s = answer.structuredContent as { result?: string; error?: unknown } | undefined;
      const ok = !answer.isError && s?.result === `answer ${call.id}`;
      return {
        ...call,
        ok,
        ...(ok ? {} : { error: JSON.stringify(s?.error ?? s?.result ?? null) }),
        ms: performance.now() - started,
        apiRequests: 0,
      };
    } catch (error) {
      return { ...call, ok: false, error: (error as Error).message, ms: performance.now() - started, apiRequests: 0 };
    }
  };
  const watcher = watchClaudeProcesses(server.child.pid, folder, 50);
  try {
    const holding = holders.map(ask);
    await waitFor(() => holders.every((c) => mock.requestsFor(`[${c.id}]`).length > 0), options.callTimeoutMs);
    const waiting = queued.map(ask);
    // They all wait at once if the queue gauge reaches their number while the holders still hold the slots.
    let deepest = 0;
    const until = Date.now() + options.holdMs;
    while (deepest < queued.length && Date.now() < until) {
      deepest = Math.max(deepest, await gauge(server.state.url, 'claude_queue_depth'));
      if (deepest < queued.length) await sleep(25);
    }
    const calls = await Promise.all([...holding, ...waiting]);
    for (const call of calls) {
      const requests = mock.requestsFor(`[${call.id}]`);
      call.apiRequests = requests.length;
      if (requests[0]) call.firstRequestAt = requests[0].receivedAt;
      const tick = watcher.startTicks.get(call.id);
      if (tick !== undefined) call.startTick = tick;
    }
    return { options, calls, deepest, mostAlive: watcher.mostAlive() };
  } finally {
    watcher.stop();
  }
}

/** Pairs (a of a higher priority, b of a lower one) where b's `key` is strictly smaller than a's. */
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

/** The per-priority table and the checks, with PASS/FAIL. */
export function burstReport({ options, calls, deepest, mostAlive }: BurstResult): string[] {
  const queued = calls.filter((c) => c.priority);
  const sortedTicks = queued
    .map((c) => c.startTick)
    .filter((t): t is number => t !== undefined)
    .sort((a, b) => a - b);
  // Competition ranking: processes started in the same clock tick share a position.
  const position = (c: BurstCall) => (c.startTick === undefined ? undefined : 1 + sortedTicks.filter((t) => t < c.startTick!).length);
  const groups: Array<[string, BurstCall[]]> = [
    ...(['high', 'normal', 'low'] as const).map((p): [string, BurstCall[]] => [p, queued.filter((c) => c.priority === p)]),
    ['holding the slots', calls.filter((c) => !c.priority)],
  ];
  const rows = groups.map(([label, group]) => {
    const positions = group
      .filter((c) => c.priority)
      .map(position)
      .filter((n): n is number => n !== undefined);
    return [
      label,
      String(group.length),
      String(group.filter((c) => c.ok).length),
      String(group.filter((c) => !c.ok).length),
      positions.length ? `${Math.min(...positions)}-${Math.max(...positions)}` : '-',
      fixed(median(group.map((c) => c.ms)) / 1000, 1),
      fixed(Math.max(...group.map((c) => c.ms)) / 1000, 1),
    ];
  });
  const answered = calls.filter((c) => c.ok).length;
  const lost = calls.filter((c) => !c.ok || c.apiRequests !== 1).length;
  const seen = queued.filter((c) => c.startTick !== undefined).length;
  const byStart = inversions(queued, (c) => c.startTick);
  const byApi = inversions(queued, (c) => c.firstRequestAt);
  const failures = calls
    .filter((c) => !c.ok)
    .slice(0, 5)
    .map((c) => `- ${c.id} (${c.priority ?? 'holder'}): ${c.error}`);
  return [
    `## ${calls.length} concurrent \`claude_ask\` calls, MAX_CONCURRENT_RUNS=${options.slots}`,
    '',
    `${options.slots} calls (mock reply after ${options.holdMs / 1000} s) take the slots; then ${queued.length} calls are sent at ` +
      `once, priorities low, normal, high in turn (mock reply after ${options.replyDelayMs} ms). "start position" is the order ` +
      "in which the server's Claude Code processes started (kernel start time from /proc, 10 ms ticks; one folder per call " +
      'identifies the process), among the queued calls.',
    '',
    table(['priority', 'calls', 'own reply', 'failed', 'start position', 'median s to answer', 'max s to answer'], rows),
    '',
    table(
      ['check', 'result', 'verdict'],
      [
        [`all ${calls.length} answered with their own reply`, `${answered}/${calls.length}`, verdict(answered === calls.length)],
        ['none lost (no error or timeout, exactly one API request per call)', `${lost} lost`, verdict(lost === 0)],
        [`${queued.length} waiting at once (claude_queue_depth)`, `deepest ${whole(deepest)}`, verdict(deepest === queued.length)],
        [`at most ${options.slots} Claude Code processes at once`, `most seen ${mostAlive}`, verdict(mostAlive <= options.slots)],
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
