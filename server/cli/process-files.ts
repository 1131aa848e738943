import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Files a background server keeps under DATA_DIR. */
export interface ProcessFiles {
  /** PID of the background server, written by `start`. */
  pidFile: string;
  /** Output of the background server. */
  logFile: string;
  /** Written by a serving process once it listens: its pid and public URL (the port may have been 0). */
  stateFile: string;
}

/** Where the process files live for a data directory. */
export function processFiles(dataDir: string): ProcessFiles {
  return {
    pidFile: path.join(dataDir, 'claude-code-mcp.pid'),
    logFile: path.join(dataDir, 'claude-code-mcp.log'),
    stateFile: path.join(dataDir, 'claude-code-mcp.state.json'),
  };
}

/** What a serving process records about itself. */
export interface ServerState {
  pid: number;
  url: string;
  mcpUrl: string;
  version: string;
  startedAt: string;
}

/**
 * Whether `pid` is a live process (signal 0 probes without delivering anything). A zombie counts as gone: it has
 * exited and only waits to be reaped, which a container's PID 1 may do late or never.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  try {
    // "pid (comm) state ...": comm may itself contain ") ", so the state follows the last one.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return false; // no procfs (trust signal 0), or it vanished just now (the next probe sees that)
  }
}

/**
 * The PID of the running background server, or undefined. A PID file whose process is gone (or, on Linux, whose
 * PID was reused by an unrelated program) is stale and removed.
 */
export function readLivePid(files: ProcessFiles): number | undefined {
  if (!existsSync(files.pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(files.pidFile, 'utf8').trim(), 10);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && looksLikeUs(pid)) return pid;
  rmSync(files.pidFile, { force: true });
  rmSync(files.stateFile, { force: true });
  return undefined;
}

function looksLikeUs(pid: number): boolean {
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline)) return true; // no procfs: trust the PID
  try {
    return /main\.(js|ts)|claude-code-mcp/.test(readFileSync(cmdline, 'utf8'));
  } catch {
    return true;
  }
}

/** Records the serving process's state (see {@link ServerState}). */
export function writeState(files: ProcessFiles, state: ServerState): void {
  writeFileSync(files.stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

/** The recorded state, if present and readable. */
export function readState(files: ProcessFiles): ServerState | undefined {
  try {
    return JSON.parse(readFileSync(files.stateFile, 'utf8')) as ServerState;
  } catch {
    return undefined;
  }
}

/** Removes the state file, but only if it still describes `pid` (a newer server may have replaced it). */
export function clearState(files: ProcessFiles, pid: number): void {
  if (readState(files)?.pid === pid) rmSync(files.stateFile, { force: true });
}
