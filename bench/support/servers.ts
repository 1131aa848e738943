import { fileURLToPath } from 'node:url';
import { processFiles, readState, type ServerState } from '../../server/cli/process-files.js';
import { sleep, spawnChild, type ManagedChild, type Sandbox } from './processes.js';

/** The compiled CLI (`npm run build` first). */
export const CLI = fileURLToPath(new URL('../../build/server/main.js', import.meta.url));
const BASELINE = fileURLToPath(new URL('../baseline-v1-server.ts', import.meta.url));
const GC_PROBE = fileURLToPath(new URL('./gc-probe-server.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
/** How our server runs in every measurement: the defaults (SQLite, info logs) on a free loopback port. */
// AUTH_MODE=none on loopback: this benchmark measures transports; what authentication adds is bench:auth's subject.
export const OUR_ENV = {
  STORAGE: 'sqlite',
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
  LOG_FORMAT: 'json',
  AUTH_MODE: 'none',
} as const;

/** Polls `probe` until it returns a value; fails early when the child exits, and after `timeoutMs`. */
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

/** Our server started by the CLI, with what its state file says. */
export interface OurServer {
  child: ManagedChild;
  state: ServerState;
}

/** Our HTTP server (`serve`) in its own process; its state file tells the URL once it listens on port 0. */
export async function startOurServer(
  sandbox: Sandbox,
  name: string,
  maxSessions: number,
  extraEnv: Record<string, string> = {},
): Promise<OurServer> {
  const dataDir = sandbox.dir(name);
  const env = sandbox.env({ ...OUR_ENV, DATA_DIR: dataDir, MAX_SESSIONS: String(maxSessions), ...extraEnv });
  const child = spawnChild({ name: `ours (${name})`, command: process.execPath, args: [CLI, 'serve'], cwd: sandbox.cwd, env });
  const files = processFiles(dataDir);
  const state = await waitUntil('state file', child, 15_000, () => {
    const current = readState(files);
    return current?.pid === child.pid ? current : undefined;
  });
  return { child, state };
}

/** A server child that prints one JSON line with its URL once listening (the baseline, the GC probe). */
export interface UrlServer {
  child: ManagedChild;
  /** The Streamable HTTP endpoint. */
  mcpUrl: string;
  /** Base URL (for `/sse`). */
  url: string;
}

async function startUrlServer(name: string, args: string[], cwd: string, env: Record<string, string>, ipc: boolean): Promise<UrlServer> {
  let stdout = '';
  const child = spawnChild({ name, command: process.execPath, args, cwd, env, ipc, onStdout: (chunk) => (stdout += chunk) });
  return waitUntil('listening line', child, 20_000, () => {
    // The listening line, not one of the server's own JSON log lines (they have a `level`) on the same stream.
    const parsed = stdout
      .split('\n')
      .filter((line) => line.startsWith('{') && line.endsWith('}'))
      .map((line) => JSON.parse(line) as { port?: number; url?: string; mcpUrl?: string; level?: string })
      .find((object) => object.level === undefined && (object.port !== undefined || object.mcpUrl !== undefined));
    if (!parsed) return undefined;
    if (parsed.port !== undefined) return { child, url: `http://127.0.0.1:${parsed.port}`, mcpUrl: `http://127.0.0.1:${parsed.port}/mcp` };
    return { child, url: parsed.url!, mcpUrl: parsed.mcpUrl! };
  });
}

/** The v1 baseline in its own process, through tsx's loader; with `gc`, it also answers forced-GC requests. */
export function startBaseline(sandbox: Sandbox, name: string, gc = false): Promise<UrlServer> {
  const args = [...(gc ? ['--expose-gc'] : []), '--import', TSX, BASELINE];
  return startUrlServer(`baseline (${name})`, args, sandbox.cwd, sandbox.env({ BASELINE_PORT: '0' }), gc);
}

/** Our server's code (`startHttpServer`) in a process that answers forced-GC requests (see gc-probe-server.ts). */
export function startOurGcProbe(sandbox: Sandbox, name: string, maxSessions: number): Promise<UrlServer> {
  const env = sandbox.env({ ...OUR_ENV, DATA_DIR: sandbox.dir(name), MAX_SESSIONS: String(maxSessions) });
  return startUrlServer(`ours gc probe (${name})`, ['--expose-gc', '--import', TSX, GC_PROBE], sandbox.cwd, env, true);
}
