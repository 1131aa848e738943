import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { HookCallbackMatcher, Options, SandboxSettings } from '@anthropic-ai/claude-agent-sdk';

/** CLAUDE_SANDBOX. */
export type SandboxMode = 'required' | 'off';

/** What the start-up probe found; reported by /health, `config check`, `server_status` and the start-up log. */
export interface SandboxStatus {
  mode: SandboxMode;
  /** True when runs may start: the sandbox works, or it is off. */
  ready: boolean;
  /** Why the sandbox cannot run (bubblewrap or socat missing, user namespaces refused, unsupported platform). */
  problem?: string;
  /** The programs the sandbox uses, when found. */
  programs?: Record<string, string>;
}

/**
 * Folders sandboxed commands may read so that ordinary programs run (binaries, libraries, `/etc` for users, DNS and
 * certificates). Everything else of the file system is hidden from them, except the run's own folders and the
 * operator's CLAUDE_SANDBOX_READ_PATHS.
 */
export const SYSTEM_READ_PATHS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt'];

/** Files of the host that stay unreadable even inside the system folders above. */
const HOST_SECRETS = ['/etc/shadow', '/etc/gshadow', '/etc/sudoers', '/etc/sudoers.d', '/etc/ssh', '/etc/ssl/private', '/etc/claude-mcp'];

/**
 * Environment variables of the Claude process that commands must not see: its own credentials for the Messages API.
 * A command that printed them would hand the operator's API key to whoever asked.
 */
const CLAUDE_CREDENTIALS = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_CUSTOM_HEADERS'];

/** Options of {@link createRunIsolation}. */
export interface RunIsolationOptions {
  mode: SandboxMode;
  /** CLAUDE_SANDBOX_ALLOWED_DOMAINS. */
  allowedDomains: readonly string[];
  /** CLAUDE_SANDBOX_READ_PATHS: absolute paths runs may read and not write. */
  readPaths: readonly string[];
  /**
   * Paths of the server that no run may read or write, even when a working directory or a read path contains them:
   * DATA_DIR, the server's working directory and install folder, config, key and secret files, other sessions'
   * transcripts.
   */
  protectedPaths: readonly string[];
}

/** What one run needs from its isolation. */
export interface RunFolders {
  /** The run's working directory (real path). */
  cwd: string;
  /** Further working directories (real paths inside the workspace roots). */
  additionalDirectories: readonly string[];
  /** The run's private temporary folder (CLAUDE_CODE_TMPDIR): Claude Code's scratch files and the sandbox's sockets. */
  tmpDir: string;
}

/** The Agent SDK options that confine one run. */
export interface IsolationOptions {
  /** Flag-tier settings (`--settings`): the file-tool confinement. */
  settings: Record<string, unknown>;
  /** Claude Code's command sandbox; absent when CLAUDE_SANDBOX=off. */
  sandbox?: SandboxSettings;
  /** Only MCP servers the server passes (none): others would run outside the sandbox. */
  strictMcpConfig: boolean;
  /** In-process hooks (the WebFetch guard). */
  hooks?: Options['hooks'];
}

/** Builds the confinement of every run from the operator's settings (validated once). */
export interface RunIsolation {
  readonly mode: SandboxMode;
  /** The SDK options for one run. */
  optionsFor(run: RunFolders): IsolationOptions;
}

/**
 * The layers every run gets (docs/security.md):
 * - **File tools** (Read, Grep, Glob, Edit, Write, NotebookEdit): Claude Code's `blockReadsOutsideWorkingDirectories`
 *   and `blockWritesOutsideWorkingDirectories`, with the server's own paths in `workingDirectoriesExclude`. Both are
 *   flag-tier settings ("true in any source wins"), so a workspace's `.claude/settings.json` cannot lift them.
 * - **Commands** (Bash, Monitor and what they start), when `mode` is `required`: Claude Code's sandbox, which runs them
 *   under bubblewrap with a fresh pid namespace (the server's `/proc/<pid>` does not exist there), no network but a
 *   filtering proxy that admits only `allowedDomains`, writes only to the working directories and reads only them,
 *   the system folders and `readPaths`. `failIfUnavailable` makes Claude Code refuse to start rather than run commands
 *   unsandboxed; `allowUnsandboxedCommands: false` removes the model's escape hatch.
 * - **MCP servers and plugins' servers** would run outside the sandbox: only those the server passes are used.
 * - **WebFetch** runs in the Claude process, outside the command sandbox: a PreToolUse hook admits only URLs whose
 *   host is in `allowedDomains`.
 */
export function createRunIsolation(options: RunIsolationOptions): RunIsolation {
  const existing = (paths: readonly string[]) => unique(paths.filter((p) => path.isAbsolute(p) && existsSync(p)).flatMap(spellings));
  const protectedPaths = existing([...options.protectedPaths, ...HOST_SECRETS]);
  const readPaths = existing(options.readPaths);
  const systemPaths = existing(SYSTEM_READ_PATHS);
  const domains = [...options.allowedDomains];
  const webFetchGuard = webFetchHook(domains);

  return {
    mode: options.mode,
    optionsFor(run) {
      const workingDirectories = [run.cwd, ...run.additionalDirectories];
      const settings: Record<string, unknown> = {
        permissions: {
          blockReadsOutsideWorkingDirectories: true,
          blockWritesOutsideWorkingDirectories: true,
          // A workspace's settings file must not turn the run into one without any checks.
          disableBypassPermissionsMode: 'disable',
          ...(domains.length === 0 ? { deny: ['WebFetch'] } : {}),
          workingDirectoriesExclude: protectedPaths,
          ...(readPaths.length ? { blockReadsExemptPaths: readPaths } : {}),
        },
        // Project MCP servers (.mcp.json) would start outside the sandbox.
        enableAllProjectMcpServers: false,
        // So would hooks from a workspace's or a plugin's settings: shell commands Claude Code runs itself. The
        // in-process hooks passed below still run.
        ...(options.mode === 'required' ? { disableAllHooks: true } : {}),
      };
      // Commands see nothing but what allowRead lists; a protected path matters only where it lies inside one of those
      // (a deny around a working directory would hide the working directory itself).
      const allowRead = unique([...workingDirectories, run.tmpDir, ...systemPaths, ...readPaths]);
      const fenced = (within: readonly string[]) => protectedPaths.filter((p) => within.some((allowed) => isInside(p, allowed)));
      const sandbox: SandboxSettings | undefined =
        options.mode === 'required'
          ? {
              enabled: true,
              failIfUnavailable: true,
              allowUnsandboxedCommands: false,
              autoAllowBashIfSandboxed: false,
              network: { allowedDomains: domains, strictAllowlist: true },
              filesystem: { denyRead: ['/', ...fenced(allowRead)], allowRead, denyWrite: fenced(workingDirectories) },
              credentials: { envVars: CLAUDE_CREDENTIALS.map((name) => ({ name, mode: 'deny' as const })) },
            }
          : undefined;
      return {
        settings,
        ...(sandbox ? { sandbox } : {}),
        strictMcpConfig: true,
        ...(domains.length ? { hooks: { PreToolUse: [webFetchGuard] } } : {}),
      };
    },
  };
}

/** Denies WebFetch of a URL whose host is not in `domains` (`*.example.com` matches subdomains, not the apex). */
function webFetchHook(domains: readonly string[]): HookCallbackMatcher {
  return {
    matcher: 'WebFetch',
    onFailure: 'block',
    hooks: [
      async (input) => {
        const url = (input as { tool_input?: { url?: unknown } }).tool_input?.url;
        const host = typeof url === 'string' ? hostOf(url) : undefined;
        if (host && domains.some((domain) => hostMatches(host, domain))) return {};
        return {
          hookSpecificOutput: {
            hookEventName: 'PreToolUse',
            permissionDecision: 'deny',
            permissionDecisionReason: `this server lets runs fetch only from ${domains.join(', ')}`,
          },
        };
      },
    ],
  };
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return undefined;
  }
}

/** `example.com` matches itself; `*.example.com` matches `a.example.com` and deeper, never `example.com`. */
export function hostMatches(host: string, domain: string): boolean {
  const wanted = domain.toLowerCase();
  if (wanted.startsWith('*.')) return host.endsWith(wanted.slice(1));
  return host === wanted;
}

/** A path as given and where it really is: Claude Code compares paths as written, so list both spellings. */
function spellings(p: string): string[] {
  const resolved = path.resolve(p);
  try {
    const real = realpathSync(resolved);
    return real === resolved ? [resolved] : [resolved, real];
  } catch {
    return [resolved];
  }
}

/** True when `inner` is `outer` or lies below it. */
function isInside(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith(path.sep) ? outer : outer + path.sep);
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** The lines /health and the start-up log carry about the sandbox: loud whenever runs are not sandboxed. */
export function sandboxWarnings(status: SandboxStatus): string[] {
  if (status.mode === 'off') return ["Claude runs are not sandboxed (CLAUDE_SANDBOX=off): their commands have the server's rights"];
  if (!status.ready) return [`Claude's sandbox cannot run, so Claude tools answer sandbox_unavailable: ${status.problem}`];
  return [];
}

/** Options of {@link probeSandbox}. */
export interface SandboxProbeOptions {
  mode: SandboxMode;
  /** The PATH the Claude process gets: the sandbox programs must be found there. */
  searchPath: string;
  platform?: NodeJS.Platform;
  timeoutMs?: number;
}

/**
 * Checks, once at start-up, that the sandbox can run here: on Linux `bwrap` and `socat` are on the Claude process's
 * PATH and `bwrap` can create the namespaces Claude Code asks for (user namespaces may be off in the kernel or refused
 * by a container's seccomp profile); on macOS `sandbox-exec` exists. Never throws.
 */
export async function probeSandbox(options: SandboxProbeOptions): Promise<SandboxStatus> {
  if (options.mode === 'off') return { mode: 'off', ready: true };
  const platform = options.platform ?? process.platform;
  const unavailable = (problem: string): SandboxStatus => ({ mode: 'required', ready: false, problem });
  if (platform === 'darwin') {
    return existsSync('/usr/bin/sandbox-exec')
      ? { mode: 'required', ready: true, programs: { 'sandbox-exec': '/usr/bin/sandbox-exec' } }
      : unavailable('sandbox-exec is missing');
  }
  if (platform !== 'linux') return unavailable(`Claude Code's sandbox does not run on ${platform}`);
  const bwrap = findProgram('bwrap', options.searchPath);
  const socat = findProgram('socat', options.searchPath);
  const missing = [...(bwrap ? [] : ['bubblewrap (bwrap)']), ...(socat ? [] : ['socat'])];
  if (missing.length)
    return unavailable(`${missing.join(' and ')} not found on PATH; install the Debian/Ubuntu packages bubblewrap and socat`);
  const args = [
    '--new-session',
    '--die-with-parent',
    '--unshare-net',
    '--unshare-pid',
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--',
    'true',
  ];
  const failure = await new Promise<string | undefined>((resolve) => {
    execFile(bwrap!, args, { timeout: options.timeoutMs ?? 5000, env: { PATH: options.searchPath } }, (error, _stdout, stderr) =>
      resolve(error ? (stderr.trim().split('\n')[0] || error.message).slice(0, 300) : undefined),
    );
  });
  if (failure) return unavailable(`bubblewrap cannot create a sandbox here (${failure}); user namespaces may be disabled`);
  return { mode: 'required', ready: true, programs: { bwrap: bwrap!, socat: socat! } };
}

function findProgram(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
