import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A folder holding the `npm` stand-in, to put first on the Claude process's PATH. */
export interface NpmRootShim {
  dir: string;
  /** What `npm root -g` answers here (the real npm's answer, asked once). */
  globalRoot: string;
  remove(): void;
}

/**
 * Claude Code's sandbox looks for an optional helper in the global npm folder at every start, by running
 * `npm root -g`: npm's whole start-up on every sandboxed run, most of what the sandbox adds (docs/benchmarks.md,
 * `bench:claude`). The answer cannot change while the server runs, so it is asked once here, and an `npm` script that
 * gives exactly that answer to exactly that question, and hands every other invocation to the real npm unchanged, is
 * put first on the Claude process's PATH. Sandboxed commands never meet it: its folder is not in their file system,
 * so their PATH lookup finds the real npm. Without npm on the PATH there is nothing to shorten: `undefined`.
 */
export async function createNpmRootShim(searchPath: string, timeoutMs = 10_000): Promise<NpmRootShim | undefined> {
  const npm = await new Promise<{ root: string; bin: string } | undefined>((resolve) => {
    // `command -v` names the npm a PATH lookup would run; `npm root -g` is the answer to remember.
    execFile('/bin/sh', ['-c', 'command -v npm && npm root -g'], { env: { PATH: searchPath }, timeout: timeoutMs }, (error, stdout) => {
      const [bin, root] = stdout.trim().split('\n');
      resolve(error || !bin || !root ? undefined : { bin, root });
    });
  });
  if (!npm || [npm.bin, npm.root].some((value) => value.includes("'") || value.includes('\n'))) return undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'ccm-npm-'));
  const script = [
    '#!/bin/sh',
    '# claude-code-mcp: answers `npm root -g` from memory; everything else goes to the real npm.',
    `if [ "$#" -eq 2 ] && [ "$1" = root ] && [ "$2" = -g ]; then printf '%s\\n' '${npm.root}'; exit 0; fi`,
    `exec '${npm.bin}' "$@"`,
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'npm'), script);
  chmodSync(path.join(dir, 'npm'), 0o755);
  return { dir, globalRoot: npm.root, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
