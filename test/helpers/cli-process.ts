import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The compiled CLI (`npm run build` first). */
export const CLI = fileURLToPath(new URL('../../build/server/main.js', import.meta.url));

/** package.json's version, which `--version` and `server_status` must report. */
export const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;

/** Variables a child may inherit; everything else (a developer's PORT, STORAGE, REDIS_URL...) stays out. */
const INHERITED = ['PATH', 'TMPDIR', 'LANG', 'SYSTEMROOT'];

/**
 * A throw-away home, working directory and DATA_DIR, so a child finds no `~/.claude-mcp/config.json`,
 * `./claude-mcp.config.json` or `.env` of the developer's.
 */
export interface Sandbox {
  root: string;
  home: string;
  /** Working directory of every child. */
  cwd: string;
  dataDir: string;
  /**
   * The child environment: the allow-listed variables, the sandbox, memory storage, port 0, authentication off;
   * `undefined` removes.
   */
  env(overrides?: Record<string, string | undefined>): Record<string, string>;
  remove(): void;
}

/** Creates a {@link Sandbox} under the system temp directory. */
export function createSandbox(): Sandbox {
  const root = mkdtempSync(path.join(tmpdir(), 'ccm-cli-'));
  const home = path.join(root, 'home');
  const cwd = path.join(root, 'cwd');
  const dataDir = path.join(root, 'data');
  mkdirSync(home);
  mkdirSync(cwd);
  return {
    root,
    home,
    cwd,
    dataDir,
    env(overrides = {}) {
      const env: Record<string, string | undefined> = {};
      for (const name of INHERITED) if (process.env[name] !== undefined) env[name] = process.env[name];
      Object.assign(env, { HOME: home, DATA_DIR: dataDir, STORAGE: 'memory', PORT: '0', LOG_LEVEL: 'info', AUTH_MODE: 'none' }, overrides);
      return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
    },
    remove() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** How a finished CLI run ended. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** Options of {@link runCli} and {@link spawnCli}. */
export interface CliOptions {
  env: Record<string, string>;
  cwd: string;
  /** {@link runCli} kills the child and fails past this (default 15 s). */
  timeoutMs?: number;
}

/** Tracked PIDs, each with the 'close' of its ChildProcess when this process spawned it. */
const started = new Map<number, Promise<void> | undefined>();

/**
 * Records a PID (ours or a grandchild such as the background server) for {@link killStarted}. Pass the ChildProcess
 * when this process spawned it: {@link killStarted} then also waits for its 'close', so that neither its process
 * handle nor its pipes outlive the test file (a Jest worker holding them cannot exit when told to).
 */
export function track(pid: number, child?: ChildProcess): void {
  const closed = child && new Promise<void>((resolve) => child.once('close', () => resolve()));
  started.set(pid, child && (child.exitCode !== null || child.signalCode !== null) ? undefined : closed);
}

/** Runs the CLI to completion, output captured. */
export async function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  const cli = spawnCli(args, options);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), timeoutMs);
  try {
    const { code, signal } = await cli.exited;
    if (signal === 'SIGKILL')
      throw new Error(`claude-code-mcp ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${cli.stdout()}${cli.stderr()}`);
    return { code, signal, stdout: cli.stdout(), stderr: cli.stderr(), durationMs: Date.now() - cli.startedAt };
  } finally {
    clearTimeout(timer);
  }
}

/** A CLI child that keeps running. */
export interface CliProcess {
  child: ChildProcess;
  pid: number;
  startedAt: number;
  stdout(): string;
  stderr(): string;
  /** stdout parsed as JSON lines (non-JSON lines are skipped). */
  logLines(): LogLine[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** One JSON log line. */
export type LogLine = Record<string, unknown> & { message?: string; level?: string };

/** Spawns the CLI (`node build/server/main.js ...args`) and tracks its PID. */
export function spawnCli(args: string[], options: CliOptions): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('could not spawn the CLI');
  track(child.pid, child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    pid: child.pid,
    startedAt: Date.now(),
    stdout: () => stdout,
    stderr: () => stderr,
    logLines: () => parseJsonLines(stdout),
    exited,
  };
}

/** The JSON objects among `text`'s lines. */
export function parseJsonLines(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const line of text.split('\n')) {
    try {
      const value: unknown = JSON.parse(line);
      if (value && typeof value === 'object') lines.push(value as LogLine);
    } catch {
      // not JSON (a blank line or a partial write)
    }
  }
  return lines;
}

/** Polls `condition` every 25 ms; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Rejects after `ms` unless `promise` settles first. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether `pid` is still a running process, checked independently of the code under test: signal 0, and on Linux
 * a zombie (exited, waiting to be reaped) counts as gone.
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * PIDs of `serve` processes whose DATA_DIR is `dataDir` (Linux: read from /proc), to prove a background start did
 * or did not create one. Undefined without procfs.
 */
export function serversFor(dataDir: string): number[] | undefined {
  if (!existsSync('/proc/self/environ')) return undefined;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!cmdline.includes(CLI) || !cmdline.includes('serve')) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`DATA_DIR=${dataDir}`)) pids.push(Number(entry));
    } catch {
      // exited while we looked, or not ours to read
    }
  }
  return pids.filter(isRunning);
}

/**
 * Stops every tracked process that still runs the CLI: SIGTERM, then SIGKILL after `graceMs`. The command-line
 * check keeps a PID the system has since reused for something else out of harm's way.
 */
export async function killStarted(graceMs = 3000): Promise<void> {
  const pids = [...started.keys()];
  const closes = [...started.values()].filter((closed) => closed !== undefined);
  started.clear();
  const alive = pids.filter((pid) => isRunning(pid) && runsCli(pid));
  for (const pid of alive) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive.some(isRunning) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
  for (const pid of alive.filter(isRunning)) signal(pid, 'SIGKILL');
  // Gone is not yet closed: the exit is reaped and the pipes reach their end a moment later.
  await within(Promise.all(closes), 5000, 'the close of every started child').catch(() => undefined);
}

function runsCli(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(CLI);
  } catch {
    return !existsSync('/proc/self'); // no procfs: trust the PID
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/**
 * Waits for a `serve` child's `listening` log line (JSON logs) and returns its address; fails with the child's
 * output if it exits first or does not listen within `timeoutMs`.
 */
export async function listeningAt(server: CliProcess, timeoutMs = 30_000): Promise<{ url: string; port: number }> {
  const line = await waitFor(
    () =>
      server.logLines().find((entry) => entry.message === 'listening') ??
      (server.child.exitCode !== null && new Error(`serve exited early: ${server.stderr()}${server.stdout()}`)),
    'the listening log line',
    timeoutMs,
  );
  if (line instanceof Error) throw line;
  const port = Number(line.port);
  return { url: `http://127.0.0.1:${port}`, port };
}

/** A process as seen once: its PID and start time (clock ticks since boot), which together survive PID reuse. */
export interface ProcessIdentity {
  pid: number;
  startTicks: number;
}

/** `/proc/<pid>/stat` fields after the command name: [0] state, [1] parent PID, ... [19] start time. */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const startTicksOf = (pid: number) => {
  const fields = statFields(pid);
  return fields ? Number(fields[19]) : undefined;
};

/**
 * Every descendant of `pid` now (Linux: parent PIDs read from /proc): the Claude Code runs, sandboxes and gateway
 * upstreams a server started. Empty without procfs.
 */
export function descendantsOf(pid: number): ProcessIdentity[] {
  const children = new Map<number, ProcessIdentity[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return [];
  }
  for (const entry of entries) {
    const fields = statFields(entry);
    if (!fields) continue;
    const parent = Number(fields[1]);
    children.set(parent, [...(children.get(parent) ?? []), { pid: Number(entry), startTicks: Number(fields[19]) }]);
  }
  const found: ProcessIdentity[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    for (const child of children.get(pending.pop()!) ?? []) {
      found.push(child);
      pending.push(child.pid);
    }
  }
  return found;
}

/**
 * SIGKILLs the processes of a {@link descendantsOf} snapshot that still run (the same process: PID and start time
 * match): what a server killed with SIGKILL left behind. Returns how many were still running.
 */
export function killLeftovers(processes: readonly ProcessIdentity[]): number {
  let killed = 0;
  for (const { pid, startTicks } of processes) {
    if (startTicksOf(pid) !== startTicks || !isRunning(pid)) continue;
    signal(pid, 'SIGKILL');
    killed += 1;
  }
  return killed;
}

/** Restarts a process's peak resident memory (`VmHWM`) from its current size (Linux: `/proc/<pid>/clear_refs`). */
export function resetPeakMemory(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

/** Resident memory of a process in KiB, now (`VmRSS`) and at its peak (`VmHWM`), from /proc/<pid>/status. */
export function memoryOf(pid: number): { rssKb: number; peakKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssKb: field('VmRSS'), peakKb: field('VmHWM') };
}
