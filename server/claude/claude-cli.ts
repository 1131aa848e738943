import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { ClaudeError } from './errors.js';

/**
 * The binary the Agent SDK bundles for this platform (`@anthropic-ai/claude-agent-sdk-<platform>-<arch>/claude`), for
 * the CLI subcommands the SDK does not wrap (plugins). Undefined when the platform package is not installed.
 */
export function bundledClaudePath(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve(`@anthropic-ai/claude-agent-sdk-${process.platform}-${process.arch}/claude`);
  } catch {
    return undefined;
  }
}

/** Options of {@link runClaudeCli}. */
export interface ClaudeCliRun {
  /** CLAUDE_CLI_PATH, or the bundled binary. */
  executable: string;
  cwd: string;
  env: Readonly<Record<string, string>>;
  timeoutMs?: number;
}

/**
 * Runs one `claude` subcommand (an argv array, never a shell string) and returns stdout. A non-zero exit becomes
 * `internal` with the first line of stderr, which names the problem ("Plugin not found...") without internals.
 */
export function runClaudeCli(args: readonly string[], { executable, cwd, env, timeoutMs = 60_000 }: ClaudeCliRun): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(executable, [...args], { cwd, env: { ...env }, timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const reason = (stderr || stdout || error.message).trim().split('\n').filter(Boolean).at(-1) ?? 'failed';
      reject(new ClaudeError('internal', `claude ${args.slice(0, 2).join(' ')} failed: ${reason.slice(0, 300)}`));
    });
  });
}

/** Parses JSON printed by a `--json` subcommand, tolerating log lines before it. */
export function parseCliJson<T>(stdout: string): T {
  const start = stdout.search(/^[[{]/m);
  try {
    return JSON.parse(start >= 0 ? stdout.slice(start) : stdout) as T;
  } catch {
    throw new ClaudeError('internal', 'claude printed output that is not JSON');
  }
}
