import { z } from 'zod';
import { bool, enumOf, fieldMeta, int } from '../field-helpers.js';

/** Claude Code: CLI, workspaces, runs and ceilings; see docs/tools.md. */
export const claudeFields = {
  // ── Claude ────────────────────────────────────────────────────────────────
  /**
   * A system `claude` binary to run instead of the one bundled with the Agent SDK. Resolved once at startup and
   * checked (exists, executable, answers `--version`); when the check fails every Claude tool answers `cli_not_found`.
   */
  claudeCliPath: z
    .string()
    .min(1)
    .optional()
    .describe('Path of a system `claude` binary to use instead of the bundled one (checked once at startup).')
    .register(fieldMeta, { env: 'CLAUDE_CLI_PATH', group: 'Claude', example: '/usr/local/bin/claude' }),
  /** Claude Code processes running at once; further runs wait in the priority queue. */
  maxConcurrentRuns: int(1, 256)
    .default(4)
    .describe('Claude Code runs executing at once; further runs wait in the queue (high before normal before low).')
    .register(fieldMeta, { env: 'MAX_CONCURRENT_RUNS', group: 'Claude' }),
  /** Runs allowed to wait; beyond it a call fails at once with `busy` rather than piling up. */
  maxQueuedRuns: int(0, 100_000)
    .default(100)
    .describe('Runs allowed to wait for a slot; beyond it calls fail with `busy`.')
    .register(fieldMeta, { env: 'MAX_QUEUED_RUNS', group: 'Claude' }),
  /** Longest one run may take (queue wait excluded); then it is interrupted and answered `timeout`. */
  runTimeoutMs: int(1000, 24 * 3600_000)
    .default(10 * 60_000)
    .describe('Longest a single Claude Code run may take once started; then it is interrupted (`timeout`).')
    .register(fieldMeta, { env: 'RUN_TIMEOUT_MS', group: 'Claude' }),
  /** Time an interrupted run gets to end its turn before its process is aborted (killed). */
  runInterruptGraceMs: int(0, 600_000)
    .default(3000)
    .describe('Grace period between interrupting a run (abort, timeout, shutdown) and killing its process.')
    .register(fieldMeta, { env: 'RUN_INTERRUPT_GRACE_MS', group: 'Claude' }),
  /** Longest accepted prompt, in characters. */
  maxPromptLength: int(1, 10_000_000)
    .default(100_000)
    .describe('Longest accepted prompt (`query`), in characters.')
    .register(fieldMeta, { env: 'MAX_PROMPT_LENGTH', group: 'Claude' }),
  /**
   * Directories Claude may work in. A requested `workingDirectory` must resolve (realpath, so symlinks count where
   * they point) inside one of them. None may contain DATA_DIR (Claude could read the server's keys and tokens).
   * The default `./workspace` is created on start.
   */
  workspaceRoots: z
    .array(z.string().min(1))
    .default(['./workspace'])
    .describe(
      'Comma list of directories a `workingDirectory` must resolve inside (realpath; symlink escapes refused). Must not contain DATA_DIR; the default is created on start.',
    )
    .register(fieldMeta, { env: 'WORKSPACE_ROOTS', group: 'Claude', example: '/srv/projects,/home/me/code' }),
  /** Where runs without a `workingDirectory` work; defaults to the first workspace root. */
  defaultWorkingDirectory: z
    .string()
    .min(1)
    .optional()
    .describe('Working directory of runs that name none (default: the first workspace root). Must lie inside a root.')
    .register(fieldMeta, { env: 'DEFAULT_WORKING_DIRECTORY', group: 'Claude', example: '/srv/projects/main' }),
  /** Give each client its own subfolder (`<root>/<clientId>`) of the default working directory. */
  perClientWorkspaces: bool()
    .default(false)
    .describe('Run each client in its own subfolder `<default working directory>/<client id>` (created on demand).')
    .register(fieldMeta, { env: 'PER_CLIENT_WORKSPACES', group: 'Claude' }),
  /**
   * With several replicas (STORAGE=redis) every session's transcript is also kept in Redis, so any replica can
   * resume, fork and checkpoint it. A transcript growing past this stays with the replica that ran it (resumable
   * there only); 0 keeps no transcript in Redis.
   */
  transcriptMaxBytes: int(0, 1024 * 1024 * 1024)
    .default(32 * 1024 * 1024)
    .describe(
      'Several replicas: largest Claude transcript kept in Redis for the other replicas; a larger one is resumable only where it ran (0: none kept).',
    )
    .register(fieldMeta, { env: 'TRANSCRIPT_MAX_BYTES', group: 'Claude' }),
  /**
   * The most permissive permission mode a caller may ask for, in the order plan < dontAsk < default < acceptEdits <
   * auto < bypassPermissions. Asking for more is refused (`permission_denied`).
   */
  maxPermissionMode: enumOf(['plan', 'dontAsk', 'default', 'acceptEdits', 'auto', 'bypassPermissions'] as const)
    .default('acceptEdits')
    .describe('Most permissive permission mode a caller may request (plan < dontAsk < default < acceptEdits < auto < bypassPermissions).')
    .register(fieldMeta, { env: 'CLAUDE_MAX_PERMISSION_MODE', group: 'Claude' }),
  /**
   * How Claude runs are isolated (docs/security.md). `required`: every run works inside Claude Code's sandbox
   * (bubblewrap on Linux: a private pid namespace, no network but the allow-list, reads limited to the working
   * directories and system folders) with its file tools confined to the working directories; when the sandbox
   * cannot start, Claude tools answer `sandbox_unavailable` and nothing runs. `off`: commands run with the server's
   * own rights (file tools stay confined), for trusted single-user setups only; warned about at start, in /health
   * and on every run's log line.
   */
  claudeSandbox: enumOf(['required', 'off'] as const)
    .default('required')
    .describe(
      '`required`: every Claude run is sandboxed (bubblewrap + socat on Linux) and none runs without it; `off`: no OS sandbox, for trusted single-user setups.',
    )
    .register(fieldMeta, { env: 'CLAUDE_SANDBOX', group: 'Claude' }),
  /**
   * Hosts that commands in the sandbox (and WebFetch) may reach, e.g. `registry.npmjs.org,*.github.com`. Empty: no
   * network at all for them. Loopback, private and metadata addresses are never reachable from the sandbox. Claude
   * Code's own connection to the Messages API is not affected.
   */
  claudeSandboxAllowedDomains: z
    .array(z.string().regex(/^(\*\.)?[A-Za-z0-9.-]+$/, { error: 'expected host names, optionally starting with *.' }))
    .default([])
    .describe('Comma list of hosts sandboxed commands and WebFetch may reach (`*.example.com` allowed); empty: none.')
    .register(fieldMeta, { env: 'CLAUDE_SANDBOX_ALLOWED_DOMAINS', group: 'Claude', example: 'registry.npmjs.org,*.github.com' }),
  /**
   * Extra absolute paths every run may read but not write (toolchains, shared reference data), for the file tools
   * and for sandboxed commands. Paths of the server itself (DATA_DIR, its working directory, config and secret
   * files) stay unreadable even when listed here.
   */
  claudeSandboxReadPaths: z
    .array(z.string().regex(/^\//, { error: 'expected absolute paths' }))
    .default([])
    .describe('Comma list of absolute paths every run may read (never write) besides its working directories.')
    .register(fieldMeta, { env: 'CLAUDE_SANDBOX_READ_PATHS', group: 'Claude', example: '/opt/toolchains,/srv/reference' }),
  /**
   * Who may use the tools that execute code (Bash, Monitor, PowerShell, Workflow) and run hooks: `scope` (callers
   * granted `claude:exec`), `everyone` (every caller that may ask), `nobody`.
   */
  claudeExecTools: enumOf(['scope', 'everyone', 'nobody'] as const)
    .default('scope')
    .describe(
      'Who may use code-executing tools (Bash, Monitor, PowerShell, Workflow): `scope` (the `claude:exec` scope), `everyone`, `nobody`.',
    )
    .register(fieldMeta, { env: 'CLAUDE_EXEC_TOOLS', group: 'Claude' }),
  /** Tools no run may use, whatever the caller asks (`Bash`, `WebFetch`, `Bash(rm *)`...). */
  disallowedTools: z
    .array(z.string().min(1))
    .default([])
    .describe('Comma list of tools no run may use, whatever the caller asks (e.g. `WebFetch,Bash(rm *)`).')
    .register(fieldMeta, { env: 'CLAUDE_DISALLOWED_TOOLS', group: 'Claude', example: 'WebFetch,WebSearch' }),
  /** Tools allowed without asking when the caller names none. */
  defaultAllowedTools: z
    .array(z.string().min(1))
    .default(['Read', 'Grep', 'Glob'])
    .describe('Comma list of tools runs may use without asking when the caller passes no `allowedTools`.')
    .register(fieldMeta, { env: 'DEFAULT_ALLOWED_TOOLS', group: 'Claude' }),
  /** Spending cap of one run in USD (`maxBudgetUsd`); a run that reaches it ends with `budget_exceeded`. */
  maxBudgetUsd: z
    .number({ error: (issue) => `expected a positive number, got ${JSON.stringify(issue.input)}` })
    .positive({ error: 'expected a positive number' })
    .default(5)
    .describe('Spending cap of one run in USD; a run reaching it ends with `budget_exceeded`.')
    .register(fieldMeta, { env: 'CLAUDE_MAX_BUDGET_USD', group: 'Claude' }),
  /** Upper bound on agentic turns per run; a caller's `maxTurns` is clamped to it. */
  maxTurns: int(1, 10_000)
    .default(50)
    .describe("Most agentic turns of one run; a caller's `maxTurns` is clamped to it.")
    .register(fieldMeta, { env: 'CLAUDE_MAX_TURNS', group: 'Claude' }),
  /**
   * Tasks alive at once in this process, however they were created (`claude_ask` with `backgroundTask: true`, a
   * task-augmented call, a 2026-07-28 task), plus 2026-07-28 calls parked while they wait for an answer. Beyond it a
   * `backgroundTask` is refused with `busy`, a task request gets a task that failed with `busy`, and a parked call's
   * question is denied.
   */
  maxAsyncProcesses: int(1, 1000)
    .default(10)
    .describe('Tasks (background tasks, task-augmented calls) alive at once; further ones are refused or fail with `busy`.')
    .register(fieldMeta, { env: 'MAX_ASYNC_PROCESSES', group: 'Claude' }),
  /** Time limit of one background task run. */
  asyncProcessTimeoutMs: int(1000, 7 * 24 * 3600_000)
    .default(30 * 60_000)
    .describe('Longest a background task may run before it is interrupted (`timeout`).')
    .register(fieldMeta, { env: 'ASYNC_PROCESS_TIMEOUT_MS', group: 'Claude' }),
  /**
   * Extra environment variables passed to Claude Code. The child otherwise gets only PATH, HOME, TMPDIR, locale,
   * proxies, `ANTHROPIC_*`, `CLAUDE_CODE_*` and `DISABLE_*`: server secrets never reach it.
   */
  claudeEnvAllow: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/, { error: 'expected variable names, optionally ending in *' }))
    .default([])
    .describe('Comma list of extra environment variables (or `PREFIX_*`) passed to Claude Code beyond the built-in allow-list.')
    .register(fieldMeta, { env: 'CLAUDE_ENV_ALLOW', group: 'Claude', example: 'GITHUB_TOKEN,NPM_CONFIG_*' }),
};
