import { descendantsOf, killLeftovers, listeningAt, spawnCli, within, type CliProcess, type Sandbox } from './cli-process.js';

/** A `serve` process of the compiled CLI, listening. */
export interface ServerProcess {
  cli: CliProcess;
  pid: number;
  /** `http://127.0.0.1:<port>`, where it listens. */
  url: string;
  mcpUrl: string;
}

const running = new Set<ServerProcess>();

/**
 * Spawns `serve` in `sandbox` with `env` (on top of the sandbox's defaults: port 0 on 127.0.0.1, JSON logs) and
 * waits until it listens.
 */
export async function startServer(sandbox: Sandbox, env: Record<string, string | undefined>): Promise<ServerProcess> {
  const cli = spawnCli(['serve'], { env: sandbox.env({ LOG_FORMAT: 'json', HOST: '127.0.0.1', ...env }), cwd: sandbox.cwd });
  const server: ServerProcess = { cli, pid: cli.pid, url: '', mcpUrl: '' };
  running.add(server);
  const { url } = await listeningAt(cli);
  server.url = url;
  server.mcpUrl = `${url}/mcp`;
  return server;
}

/** How a server process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** From the signal to the exit. */
  ms: number;
  /** Processes it had started that were still running after it died (killed now). */
  leftovers: number;
}

/**
 * Sends `signal` to the server by PID and waits (at most `timeoutMs`) for it to exit. After a SIGKILL, the processes
 * it had started (Claude Code runs, upstreams), which nothing stops any more, are killed by PID.
 */
export async function signalServer(server: ServerProcess, signal: NodeJS.Signals, timeoutMs = 30_000): Promise<Exit> {
  const children = descendantsOf(server.pid);
  const sent = Date.now();
  if (server.cli.child.exitCode === null && server.cli.child.signalCode === null) process.kill(server.pid, signal);
  try {
    const { code, signal: by } = await within(server.cli.exited, timeoutMs, `exit of pid ${server.pid} after ${signal}`);
    return { code, signal: by, ms: Date.now() - sent, leftovers: killLeftovers(children) };
  } finally {
    running.delete(server);
  }
}

/** SIGKILLs every server this module started that still runs, and what they started: for afterEach/afterAll. */
export async function killServers(): Promise<void> {
  await Promise.all([...running].map((server) => signalServer(server, 'SIGKILL').catch(() => undefined)));
}
