/**
 * `npm run bench:claude [-- --rounds 15 --warmup 2 --calls 50]`: what the server adds to a Claude Code run, and how
 * its run queue behaves under a burst. Everything runs against the mock Messages API on 127.0.0.1 (the fixture the
 * Claude tool tests use), with the real `claude` binary the Agent SDK bundles.
 *
 * 1. Latency: `claude_ask` through an unsandboxed server (v2 MCP client -> `node build/server/main.js serve` -> Agent SDK ->
 *    claude -> mock) against the same prompt run by the bare binary (`claude -p` with the flags the SDK passes for
 *    that call) against the same mock and the same reply; interleaved rounds, order alternated, medians.
 *    Target: <= 1.05x the bare binary, or <= 50 ms added.
 * 2. Sandbox: `claude_ask` through a server with CLAUDE_SANDBOX=required against one with CLAUDE_SANDBOX=off, same mock,
 *    interleaved, medians: a text-only run, and a run with one Bash command (the sandbox is then really entered).
 *    Target: under 100 ms added per run.
 * 3. Burst: MAX_CONCURRENT_RUNS=4; four calls take the slots, then the other calls arrive at once with mixed
 *    priorities (submitted low, normal, high in turn, so arrival order is not priority order). Every call must be
 *    answered with its own reply, and the Claude Code processes must have started high before normal before low.
 *
 * Prints Markdown; exit code 0 whatever the verdicts (it measures, it does not test).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { bundledClaudePath } from '../server/claude/claude-cli.js';
import { messageText, startMockAnthropicApi, type MockAnthropicApi } from '../test/fixtures/mock-anthropic-api.js';
import { createClaudeSandbox, type ClaudeSandbox } from '../test/helpers/claude-env.js';
import { burstReport, runBurst } from './support/claude-burst.js';
import { median, percentile } from './support/load.js';
import { createSandbox, settlesWithin, spawnChild, stopAllChildren } from './support/processes.js';
import { fixed, table, verdict, whole } from './support/report.js';
import { CLI, startOurServer } from './support/servers.js';

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
/** Most a sandboxed run may add over an unsandboxed one (medians). */
const SANDBOX_TARGET_MS = 100;
const BASH_PROMPT = 'bench-claude: run one command';
/** One call (either path) that has not finished by then fails the run: the mock answers in milliseconds. */
const CALL_TIMEOUT_MS = 60_000;
/** Each burst call, queue wait included: 50 runs four at a time take ~1 min on a loaded 2-core machine. */
const BURST_CALL_TIMEOUT_MS = 300_000;
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
  const child = spawnChild({
    name: 'claude -p',
    command: binary,
    args: BARE_ARGS,
    cwd: sandbox.workspace,
    env: sandbox.env,
    onStdout: (chunk) => (stdout += chunk),
  });
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

/** One `claude_ask`, wall time; `args` as given, the answer must be `reply`. */
async function timedAsk(client: Client, args: Record<string, unknown>, reply: string): Promise<number> {
  const started = performance.now();
  const answer = await client.callTool({ name: 'claude_ask', arguments: args }, { timeout: CALL_TIMEOUT_MS });
  const ms = performance.now() - started;
  const s = answer.structuredContent as Structured | undefined;
  if (answer.isError || s?.result !== reply) throw new Error(`claude_ask answered ${JSON.stringify(s)}`);
  return ms;
}

/** Sandboxed against unsandboxed servers, interleaved (order alternated), for a text run and a one-command run. */
async function sandboxOverhead(sandboxed: Client, unsandboxed: Client) {
  const kinds = {
    text: { args: { query: PROMPT, ...ASK }, reply: REPLY },
    bash: { args: { query: BASH_PROMPT, ...ASK, allowedTools: ['Bash'] }, reply: 'ran' },
  };
  const samples = { text: { on: [] as number[], off: [] as number[] }, bash: { on: [] as number[], off: [] as number[] } };
  for (let round = -WARMUP; round < ROUNDS; round += 1) {
    for (const kind of ['text', 'bash'] as const) {
      const { args, reply } = kinds[kind];
      const onFirst = round % 2 === 0;
      const first = await timedAsk(onFirst ? sandboxed : unsandboxed, args, reply);
      const second = await timedAsk(onFirst ? unsandboxed : sandboxed, args, reply);
      if (round < 0) continue;
      samples[kind].on.push(onFirst ? first : second);
      samples[kind].off.push(onFirst ? second : first);
    }
    if (round >= 0)
      log(
        `sandbox round ${round + 1}/${ROUNDS}: bash on ${samples.bash.on.at(-1)!.toFixed(0)} ms, off ${samples.bash.off.at(-1)!.toFixed(0)} ms`,
      );
  }
  return samples;
}

function sandboxReport(samples: Awaited<ReturnType<typeof sandboxOverhead>>): string[] {
  const rows = (['text', 'bash'] as const).map((kind) => {
    const { on, off } = samples[kind];
    const added = median(on) - median(off);
    const paired = median(on.map((x, i) => x - off[i]!));
    return [
      kind === 'text' ? 'text answer' : 'one Bash command',
      String(on.length),
      whole(median(on)),
      whole(median(off)),
      fixed(added, 0),
      fixed(paired, 0),
      verdict(added <= SANDBOX_TARGET_MS),
    ];
  });
  return [
    '## `claude_ask` sandboxed vs not',
    '',
    `Two servers, CLAUDE_SANDBOX=required and CLAUDE_SANDBOX=off, same mock; ${ROUNDS} rounds after ${WARMUP} discarded, ` +
      'order alternated per round. "one Bash command" runs `echo ran` (inside bubblewrap when sandboxed) and answers.',
    '',
    table(
      [
        'run',
        'rounds',
        'sandboxed median ms',
        'unsandboxed median ms',
        'ms added (medians)',
        'ms added (median of pairs)',
        `target <= ${SANDBOX_TARGET_MS} ms`,
      ],
      rows,
    ),
    '',
  ];
}

/** Both paths' figures, the ratio and the ms added, with the target's PASS/FAIL. */
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
    return [
      label,
      String(xs.length),
      whole(median(xs)),
      whole(percentile(xs, 90)),
      whole(xs[0]!),
      whole(xs.at(-1)!),
      whole(before),
      whole(after),
    ];
  };
  return [
    '## `claude_ask` through the server (unsandboxed) vs the bare binary',
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
      [
        'server ÷ bare (medians)',
        'ms added (medians)',
        'ms added (median of paired rounds)',
        `target <= ${TARGET.ratio}x or <= ${TARGET.addedMs} ms added`,
      ],
      [[fixed(ratio, 3), fixed(added, 0), fixed(paired, 0), verdict(ratio <= TARGET.ratio || added <= TARGET.addedMs)]],
    ),
    '',
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
  mock.on({
    prompt: BASH_PROMPT,
    replies: [
      { kind: 'tool_use', name: 'Bash', input: { command: 'echo ran' } },
      { kind: 'text', text: 'ran' },
    ],
  });
  process.on('SIGINT', () => void stopAllChildren().finally(() => process.exit(130)));
  const client = new Client({ name: 'bench-claude', version: '1.0.0' });
  const unsandboxedClient = new Client({ name: 'bench-claude-unsandboxed', version: '1.0.0' });
  const loadAtStart = os.loadavg();
  try {
    const version = execFileSync(binary, ['--version'], { env: claude.env, encoding: 'utf8', timeout: 30_000 }).trim();
    const server = await startOurServer(sandbox, 'server', 100, {
      ...claude.env,
      WORKSPACE_ROOTS: claude.workspace,
      MAX_CONCURRENT_RUNS: String(SLOTS),
      MAX_QUEUED_RUNS: String(Math.max(100, CALLS)),
    });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.state.mcpUrl)));
    // The bare binary runs without a sandbox, so what the server itself adds is measured on an unsandboxed server;
    // the sandbox's own cost is the next section.
    const offServer = await startOurServer(sandbox, 'server-unsandboxed', 100, {
      ...claude.env,
      WORKSPACE_ROOTS: claude.workspace,
      CLAUDE_SANDBOX: 'off',
    });
    await unsandboxedClient.connect(new StreamableHTTPClientTransport(new URL(offServer.state.mcpUrl)));
    log(`servers at ${server.state.mcpUrl} (sandboxed) and ${offServer.state.mcpUrl}; mock at ${mock.url}`);
    const { server: viaServer, bare } = await latency(unsandboxedClient, binary, claude, mock);
    const sandboxSamples = await sandboxOverhead(client, unsandboxedClient);
    const loadAfterLatency = os.loadavg();
    log(`burst: ${CALLS} calls`);
    const burst = await runBurst({
      server,
      client,
      mock,
      folder: path.join(claude.workspace, 'burst'),
      calls: CALLS,
      slots: SLOTS,
      holdMs: 5000,
      replyDelayMs: 250,
      callTimeoutMs: BURST_CALL_TIMEOUT_MS,
    });
    const loadAtEnd = os.loadavg();
    const loads = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    const cpu = os.cpus();
    process.stdout.write(
      [
        `# Claude tools benchmark: claude-code-mcp ${server.state.version}`,
        '',
        `- ${new Date().toISOString()}, Node ${process.version}, ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}; load average (1/5/15 min) ` +
          `at start ${loads(loadAtStart)}, after the latency and sandbox rounds ${loads(loadAfterLatency)}, at the end ${loads(loadAtEnd)}`,
        '- servers: `node build/server/main.js serve` (SQLite, LOG_LEVEL=info, AUTH_MODE=none) in their own processes, one with ' +
          'CLAUDE_SANDBOX=required (the burst runs there) and one with CLAUDE_SANDBOX=off (the latency rounds); v2 MCP client; ' +
          `the Agent SDK's bundled claude ${version}; mock Messages API on 127.0.0.1 in this process.`,
        '',
        ...latencyReport(viaServer, bare),
        ...sandboxReport(sandboxSamples),
        ...burstReport(burst),
        'Measurement only: the exit code is 0 whatever the verdicts.',
        '',
      ].join('\n'),
    );
  } finally {
    await client.close().catch(() => undefined);
    await unsandboxedClient.close().catch(() => undefined);
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
