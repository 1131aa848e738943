import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createSandbox,
  isRunning,
  killStarted,
  PACKAGE_VERSION,
  runCli,
  serversFor,
  track,
  type CliResult,
  type Sandbox,
} from '../helpers/cli-process.js';

// `start`/`stop`/`status` as an operator runs them: the compiled CLI in child processes, the server detached.

let sandbox: Sandbox;

const pidFile = () => path.join(sandbox.dataDir, 'claude-code-mcp.pid');
const stateFile = () => path.join(sandbox.dataDir, 'claude-code-mcp.state.json');
const logFile = () => path.join(sandbox.dataDir, 'claude-code-mcp.log');
const cli = (args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> =>
  runCli(args, { env: sandbox.env(env), cwd: sandbox.cwd });
const output = (result: CliResult) => `${result.stdout}${result.stderr}`.trim();

/** `start`, with the server's PID tracked for cleanup before any assertion can fail. */
async function start(): Promise<{ result: CliResult; pid: number; mcpUrl: string }> {
  const result = await cli(['start']);
  const match = /^started at (http:\/\/127\.0\.0\.1:(\d+)\/mcp), pid (\d+), log (.+)$/.exec(output(result));
  if (match) track(Number(match[3]));
  expect({ code: result.code, output: output(result) }).toEqual({ code: 0, output: expect.stringMatching(/^started at /) });
  expect(match).not.toBeNull();
  expect(match![4]).toBe(logFile());
  return { result, pid: Number(match![3]), mcpUrl: match![1]! };
}

beforeAll(() => {
  sandbox = createSandbox();
});

afterAll(async () => {
  await killStarted();
  sandbox.remove();
});

describe('start / status / stop', () => {
  let pid: number;
  let mcpUrl: string;

  it('start runs the server detached, records its PID and returns once /health answers', async () => {
    ({ pid, mcpUrl } = await start());

    expect(readFileSync(pidFile(), 'utf8').trim()).toBe(String(pid));
    expect(isRunning(pid)).toBe(true);
    const health = await fetch(new URL('/health', mcpUrl), { signal: AbortSignal.timeout(3000) });
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', version: PACKAGE_VERSION });
  });

  it('status reports the URL, the session count and the PID', async () => {
    const result = await cli(['status']);

    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(new RegExp(`^running at ${escape(mcpUrl)}, 0 sessions, pid ${pid}\\b`));
  });

  it('a second start refuses, names the running PID and starts nothing', async () => {
    const result = await cli(['start']);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`already running.*pid ${pid}`));
    expect(readFileSync(pidFile(), 'utf8').trim()).toBe(String(pid));
    const servers = serversFor(sandbox.dataDir);
    if (servers) expect(servers).toEqual([pid]);
  });

  it('stop ends the server gracefully and removes the PID and state files', async () => {
    const result = await cli(['stop']);

    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(new RegExp(`^stopped pid ${pid} in \\d+ ms$`));
    expect(isRunning(pid)).toBe(false);
    expect(existsSync(pidFile())).toBe(false);
    expect(existsSync(stateFile())).toBe(false);
    // The graceful path ran (SIGTERM handled), not a SIGKILL.
    expect(readFileSync(logFile(), 'utf8')).toMatch(/"message":"stopped"/);
  });

  it('after stop, status exits 3 and a second stop is a no-op', async () => {
    const status = await cli(['status']);
    expect({ code: status.code, output: output(status) }).toEqual({ code: 3, output: 'not running' });

    const stop = await cli(['stop']);
    expect({ code: stop.code, output: output(stop) }).toEqual({ code: 0, output: 'not running' });
  });
});

describe('a stale PID file', () => {
  afterEach(async () => {
    await cli(['stop']);
    await killStarted();
  });

  it('is removed by status (exit 3), and start then works', async () => {
    const exited = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    const deadPid = await new Promise<number>((resolve) => exited.once('close', () => resolve(exited.pid!)));
    writeFileSync(pidFile(), `${deadPid}\n`);

    const status = await cli(['status']);
    expect({ code: status.code, output: output(status) }).toEqual({ code: 3, output: 'not running' });
    expect(existsSync(pidFile())).toBe(false);

    writeFileSync(pidFile(), `${deadPid}\n`);
    const { pid } = await start();
    expect(pid).not.toBe(deadPid);
    expect(isRunning(pid)).toBe(true);
  });
});

describe('start with an invalid configuration', () => {
  it('fails fast naming the setting, and leaves nothing running', async () => {
    const result = await cli(['start'], { PORT: 'abc' });

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('PORT');
    expect(result.durationMs).toBeLessThan(5000);
    expect(existsSync(pidFile())).toBe(false);
    const servers = serversFor(sandbox.dataDir);
    if (servers) expect(servers).toEqual([]);
  });
});

describe('--help and --version', () => {
  it.each([['--version'], ['-V']])('%s prints the package version', async (flag) => {
    const result = await cli([flag]);

    expect({ code: result.code, stdout: result.stdout.trim() }).toEqual({ code: 0, stdout: PACKAGE_VERSION });
  });

  it.each([
    [[], ['serve', 'stdio', 'start', 'stop', 'status', 'config', '--port', '--config', '--data-dir']],
    [['serve'], ['foreground']],
    [['stdio'], ['stdin/stdout']],
    [['start'], ['background']],
    [['stop'], ['SIGTERM']],
    [['status'], ['sessions']],
    [['config'], ['check']],
    [['config', 'check'], ['secrets masked']],
  ])('%j --help describes the command', async (command, mentions) => {
    const result = await cli([...command, '--help']);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Usage: claude-code-mcp ${command.join(' ')}`));
    for (const word of mentions) expect(result.stdout).toContain(word);
    expect(existsSync(pidFile())).toBe(false);
  });

  it.each([[['start']], [['stop']], [['serve']], [['config', 'check']]])(
    '%j --version prints the version and runs nothing',
    async (command) => {
      const result = await cli([...command, '--version']);

      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(PACKAGE_VERSION);
      expect(existsSync(pidFile())).toBe(false);
    },
  );

  it('config check runs a real sandbox probe and fails when the sandbox cannot run', async () => {
    const ok = await cli(['config', 'check']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout.slice(0, ok.stdout.lastIndexOf('}') + 1)).sandbox).toMatchObject({ mode: 'required', ready: true });
    // bubblewrap and socat are not on the PATH Claude would get.
    const broken = await cli(['config', 'check'], { PATH: '/nonexistent' });
    expect(broken.code).toBe(2);
    expect(JSON.parse(broken.stdout.slice(0, broken.stdout.lastIndexOf('}') + 1)).sandbox).toMatchObject({
      mode: 'required',
      ready: false,
    });
    expect(broken.stderr).toContain('CLAUDE_SANDBOX: required, but the sandbox cannot run: bubblewrap (bwrap) and socat not found');
    const off = await cli(['config', 'check'], { PATH: '/nonexistent', CLAUDE_SANDBOX: 'off' });
    expect(off.code).toBe(0);
    expect(off.stdout).toContain('warning: CLAUDE_SANDBOX=off');
  });

  it('global flags work after the subcommand too', async () => {
    const result = await cli(['config', 'check', '--port', '4001']);

    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout.slice(0, result.stdout.lastIndexOf('}') + 1)) as {
      settings: { port: { value: number; source: string } };
    };
    expect(summary.settings.port).toMatchObject({ value: 4001, source: 'flag' });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
