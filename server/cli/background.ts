import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isAlive, processFiles, readLivePid, readState } from './process-files.js';

/** What the background commands print and return; `code` is the process exit code. */
export interface CommandResult {
  code: number;
  message: string;
}

/** Options shared by the background commands. */
export interface BackgroundOptions {
  dataDir: string;
  /** Script to run as the server (this CLI's own entry). */
  entry: string;
  /** Arguments passed through to `serve` (config and flags). */
  serveArgs: string[];
  /** How long `start` waits for the server to answer /health. */
  startTimeoutMs?: number;
  /** How long `stop` waits after SIGTERM before SIGKILL. */
  stopTimeoutMs: number;
}

/**
 * `start`: runs `serve` detached, output appended to the log file, PID recorded. Refuses when one already runs;
 * waits until it answers `/health`, so success means it is really up.
 */
export async function startInBackground(options: BackgroundOptions): Promise<CommandResult> {
  const files = processFiles(options.dataDir);
  mkdirSync(options.dataDir, { recursive: true });
  const running = readLivePid(files);
  if (running !== undefined) {
    const state = readState(files);
    return { code: 1, message: `already running${state ? ` at ${state.url}` : ''}, pid ${running} (stop it first)` };
  }
  rmSync(files.stateFile, { force: true });
  const log = openSync(files.logFile, 'a');
  const child = spawn(process.execPath, [...process.execArgv, options.entry, 'serve', ...options.serveArgs], {
    detached: true,
    // Output goes to a file, so LOG_FORMAT=auto writes JSON lines there.
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) return { code: 1, message: 'could not spawn the server process' };
  writeFileSync(files.pidFile, `${pid}\n`);
  child.unref();

  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  while (Date.now() < deadline) {
    if (!isAlive(pid)) {
      rmSync(files.pidFile, { force: true });
      return { code: 1, message: `server exited during start; last log lines:\n${tail(files.logFile, 15)}` };
    }
    const state = readState(files);
    if (state?.pid === pid && (await healthOk(state.url))) {
      return { code: 0, message: `started at ${state.mcpUrl}, pid ${pid}, log ${files.logFile}` };
    }
    await sleep(100);
  }
  return { code: 1, message: `server (pid ${pid}) did not answer /health in time; see ${files.logFile}` };
}

/** `stop`: SIGTERM, wait for a graceful exit, SIGKILL past the timeout. Not running is not an error. */
export async function stopBackground(options: Pick<BackgroundOptions, 'dataDir' | 'stopTimeoutMs'>): Promise<CommandResult> {
  const files = processFiles(options.dataDir);
  const pid = readLivePid(files);
  if (pid === undefined) return { code: 0, message: 'not running' };
  const started = Date.now();
  try {
    process.kill(pid, 'SIGTERM');
  } catch (error) {
    // It exited between the PID check and the signal: that is a stop too.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
  while (isAlive(pid) && Date.now() - started < options.stopTimeoutMs) await sleep(50);
  let forced = false;
  if (isAlive(pid)) {
    forced = true;
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid) && Date.now() - started < options.stopTimeoutMs + 5000) await sleep(50);
  }
  rmSync(files.pidFile, { force: true });
  rmSync(files.stateFile, { force: true });
  const took = Date.now() - started;
  return forced
    ? { code: 1, message: `pid ${pid} did not stop within ${options.stopTimeoutMs} ms; killed (SIGKILL)` }
    : { code: 0, message: `stopped pid ${pid} in ${took} ms` };
}

/** `status`: the PID and a live `/health` answer. Exit code 3 when not running (LSB convention). */
export async function backgroundStatus(options: Pick<BackgroundOptions, 'dataDir'>): Promise<CommandResult> {
  const files = processFiles(options.dataDir);
  const pid = readLivePid(files);
  if (pid === undefined) return { code: 3, message: 'not running' };
  const state = readState(files);
  if (!state) return { code: 1, message: `pid ${pid} is alive but has not reported its URL yet (starting?)` };
  try {
    const response = await fetch(`${state.url}/health`, { signal: AbortSignal.timeout(3000) });
    const health = (await response.json()) as { status: string; sessions: { active: number } };
    return { code: 0, message: `running at ${state.mcpUrl}, ${health.sessions.active} sessions, pid ${pid} (${health.status})` };
  } catch (error) {
    return { code: 1, message: `pid ${pid} is alive but ${state.url}/health does not answer: ${(error as Error).message}` };
  }
}

async function healthOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
