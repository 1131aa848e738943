import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logging/logger.js';
import { ClaudeError } from './errors.js';

/** What {@link resolveClaudeCli} found. */
export type ClaudeCli =
  | { ok: true; /** Undefined: the binary bundled with the Agent SDK. */ path?: string; version?: string }
  | { ok: false; error: ClaudeError };

/**
 * Resolves CLAUDE_CLI_PATH once, at startup: the file must exist, be executable and answer `--version` within
 * `timeoutMs`. A failure is logged once here and then reported as `cli_not_found` by every call (see
 * {@link requireCli}), instead of each call spawning a doomed process and logging the same problem again.
 * Without CLAUDE_CLI_PATH the Agent SDK's bundled binary is used and nothing is checked here.
 */
export async function resolveClaudeCli(configured: string | undefined, logger: Logger, timeoutMs = 10_000): Promise<ClaudeCli> {
  if (!configured) return { ok: true };
  const file = path.resolve(configured);
  const fail = (reason: string): ClaudeCli => {
    logger.error('claude CLI unusable; Claude tools will answer cli_not_found', { path: file, reason, category: 'cli_not_found' });
    return { ok: false, error: new ClaudeError('cli_not_found', 'the Claude Code CLI configured on this server is not available') };
  };
  try {
    if (!statSync(file).isFile()) return fail('not a regular file');
    accessSync(file, constants.X_OK);
  } catch (error) {
    return fail((error as NodeJS.ErrnoException).code ?? 'not accessible');
  }
  const version = await new Promise<string | Error>((resolve) => {
    execFile(file, ['--version'], { timeout: timeoutMs, env: { PATH: '/usr/bin:/bin' } }, (error, stdout) =>
      resolve(error ?? stdout.trim()),
    );
  });
  if (version instanceof Error) return fail(`--version failed: ${version.message.split('\n')[0]}`);
  logger.info('claude CLI resolved', { path: file, version });
  return { ok: true, path: file, version };
}

/** The executable path to hand to the SDK, or the cached `cli_not_found` error. */
export function requireCli(cli: ClaudeCli): string | undefined {
  if (!cli.ok) throw cli.error;
  return cli.path;
}
