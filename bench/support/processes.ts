import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Variables a child may inherit; everything else (a developer's PORT, STORAGE, REDIS_URL...) stays out. */
const INHERITED = ['PATH', 'TMPDIR', 'LANG'];

/** A throw-away home, working directory and data directory, so no developer config or `.env` leaks into a child. */
export interface Sandbox {
  root: string;
  home: string;
  cwd: string;
  /** Allow-listed variables plus HOME, then `overrides`. */
  env(overrides?: Record<string, string>): Record<string, string>;
  /** A fresh directory under the sandbox (a DATA_DIR per run). */
  dir(name: string): string;
  remove(): void;
}

/** Creates a {@link Sandbox} under the system temp directory. */
export function createSandbox(prefix: string): Sandbox {
  const root = mkdtempSync(path.join(tmpdir(), prefix));
  const home = path.join(root, 'home');
  const cwd = path.join(root, 'cwd');
  mkdirSync(home);
  mkdirSync(cwd);
  return {
    root,
    home,
    cwd,
    env(overrides = {}) {
      const env: Record<string, string> = { HOME: home };
      for (const name of INHERITED) {
        const value = process.env[name];
        if (value !== undefined) env[name] = value;
      }
      return { ...env, ...overrides };
    },
    dir(name) {
      const dir = path.join(root, name);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    remove() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A child process the bench started, with a bounded tail of its output for error messages. */
export interface ManagedChild {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Last few KB of stdout + stderr. */
  tail(): string;
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>;
  /** Staged stop by PID: SIGTERM, then SIGKILL after `graceMs`. Idempotent; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Something the bench must stop before it exits. */
interface Tracked {
  stop(graceMs?: number): Promise<void>;
}

const live = new Map<number, Tracked>();

/** Options of {@link spawnChild}. */
export interface SpawnChildOptions {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Called with every stdout chunk (e.g. to find a "listening" line). */
  onStdout?: (chunk: string) => void;
  /** Open an IPC channel (for `requestGc`). */
  ipc?: boolean;
}

const TAIL_BYTES = 8192;

/** Spawns a child (args as an array, no shell), drains its output into a bounded tail and tracks it for cleanup. */
export function spawnChild(options: SpawnChildOptions): ManagedChild {
  const stdio: Array<'ignore' | 'pipe' | 'ipc'> = ['ignore', 'pipe', 'pipe', ...(options.ipc ? (['ipc'] as const) : [])];
  const child = spawn(options.command, options.args, { cwd: options.cwd, env: options.env, stdio });
  if (child.pid === undefined) throw new Error(`could not spawn ${options.name}`);
  const pid = child.pid;
  let tail = '';
  const keep = (chunk: string) => {
    tail = (tail + chunk).slice(-TAIL_BYTES);
  };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    keep(chunk);
    options.onStdout?.(chunk);
  });
  child.stderr!.setEncoding('utf8').on('data', keep);
  let gone = child.exitCode !== null || child.signalCode !== null;
  const exited = new Promise<void>((resolve) => {
    if (gone) return resolve();
    child.once('exit', () => {
      gone = true;
      resolve();
    });
  });
  let stopping: Promise<void> | undefined;
  const managed: ManagedChild = {
    name: options.name,
    pid,
    child,
    tail: () => tail,
    exited,
    stop(graceMs = 3000) {
      stopping ??= (async () => {
        if (!gone) {
          signal(pid, 'SIGTERM');
          if (!(await settlesWithin(exited, graceMs))) {
            signal(pid, 'SIGKILL');
            await settlesWithin(exited, 2000);
          }
        }
        live.delete(pid);
      })();
      return stopping;
    },
  };
  live.set(pid, managed);
  void exited.then(() => live.delete(pid));
  return managed;
}

/**
 * Tracks a process started by someone else (the v1 stdio client transport spawns its own child) so an interrupted
 * run still stops it by PID. Returns the function that untracks it once its owner has stopped it.
 */
export function trackPid(pid: number): () => void {
  live.set(pid, {
    async stop(graceMs = 2000) {
      signal(pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (isAlive(pid) && Date.now() < deadline) await sleep(25);
      if (isAlive(pid)) signal(pid, 'SIGKILL');
    },
  });
  return () => void live.delete(pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

/** Stops every child still running (finally blocks and SIGINT). */
export async function stopAllChildren(): Promise<void> {
  await Promise.allSettled([...live.values()].map((child) => child.stop(2000)));
  live.clear();
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** True when `promise` settled within `ms` (the timer is unref'd so it never holds the process open). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resident set size of `pid` in bytes (Linux `/proc/<pid>/status` VmRSS). */
export function readRssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

const CLOCK_TICKS = (() => {
  try {
    return Number.parseInt(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim(), 10) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU time of `pid` in ms (`/proc/<pid>/stat` fields 14 and 15), or NaN when unreadable. */
export function readCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ...": comm may contain spaces, so count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/**
 * Busy CPU time of the whole machine in ms, summed over cores (`/proc/stat` first line: everything but idle and
 * iowait), or NaN when unreadable. Compared with our processes' CPU it shows how much else ran meanwhile.
 */
export function readMachineBusyMs(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return ((user! + nice! + system! + irq! + softirq! + steal!) * 1000) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('could not get a free port');
  return address.port;
}

/** The soft limit on open files of this process (`/proc/self/limits`), or undefined. */
export function openFileLimit(): number | undefined {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!match) return undefined;
    return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
  } catch {
    return undefined;
  }
}

/** Sleeps `ms` (bounded waits between measurements). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
