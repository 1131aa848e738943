import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The bundled `claude` binary the Agent SDK ships. */
export const BUNDLED_CLAUDE = path.resolve('node_modules/@anthropic-ai/claude-agent-sdk-linux-x64/claude');

/** Folders one test gets for the binary: its own HOME, TMPDIR and a workspace root. */
export interface ClaudeSandbox {
  root: string;
  home: string;
  tmp: string;
  /** A workspace root (realpath) for working directories. */
  workspace: string;
  /** The environment that keeps the binary on the mock and inside these folders (shared/reference/claude-code.md). */
  env: Record<string, string>;
  remove(): void;
}

/** Creates the folders and the isolated environment for runs against the mock at `apiUrl`. */
export function createClaudeSandbox(apiUrl: string): ClaudeSandbox {
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), 'ccm-claude-')));
  const home = path.join(root, 'home');
  const tmp = path.join(root, 'tmp');
  const workspace = path.join(root, 'ws');
  for (const dir of [home, tmp, workspace]) mkdirSync(dir, { recursive: true });
  return {
    root,
    home,
    tmp,
    workspace,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      TMPDIR: tmp,
      CLAUDE_CODE_TMPDIR: tmp,
      ANTHROPIC_BASE_URL: apiUrl,
      ANTHROPIC_API_KEY: 'sk-test',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      CLAUDE_CODE_MAX_RETRIES: '0', // no retry: API errors surface in well under a second
      IS_SANDBOX: '1',
    },
    remove() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Whether a process (a `claude` child) still exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
