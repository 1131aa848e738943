import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/schema.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import type { ToolProvider } from '../mcp/tool-provider.js';
import type { Storage } from '../storage/types.js';
import type { TaskRuntime } from '../tasks/task-runtime.js';
import { directoryBlobs, storageBlobs } from './checkpoint-blobs.js';
import { CheckpointStore } from './checkpoints.js';
import type { RunDirectory } from './cluster-runs.js';
import { createClaudeToolProvider } from './claude-tool-provider.js';
import { bundledClaudePath } from './claude-cli.js';
import { requireCli, resolveClaudeCli } from './cli-path.js';
import { createClaudeExecutor, type ClaudeExecutor } from './executor.js';
import { SESSION_RETENTION_SECONDS, SessionStore } from './session-store.js';
import { TranscriptStore } from './transcript-store.js';
import { createWorkspacePolicy, type WorkspacePolicy } from './workspace.js';
import { SCOPES, scopeCovers } from '../auth/scopes.js';
import { createRunIsolation, probeSandbox, type SandboxStatus } from './sandbox.js';
import { createNpmRootShim } from './npm-root-shim.js';

/** Options of {@link createClaudeService}. */
export interface ClaudeServiceOptions {
  config: Config;
  storage: Storage;
  events: EventBus;
  logger: Logger;
  /** The allow-listed child environment (config/child-env.ts). */
  env: Readonly<Record<string, string>>;
  /** Paths of the server no run may read or write (DATA_DIR, config and secret files...); see {@link serverPaths}. */
  protectedPaths: readonly string[];
  /** Where background tasks (and every other task) live. */
  tasks: TaskRuntime;
  /** With several replicas (server/cluster): every replica's runs, and the cluster-wide run limit. */
  runs?: RunDirectory;
}

/** The Claude Code capability: its executor, its tool provider, and how to stop it. */
export interface ClaudeService {
  executor: ClaudeExecutor;
  workspaces: WorkspacePolicy;
  /** The task runtime the service's background tasks run on (the one it was given). */
  tasks: TaskRuntime;
  provider: ToolProvider;
  /** CLAUDE_SANDBOX and what the start-up probe found. */
  sandbox: SandboxStatus;
  /** Interrupts, then aborts every run; resolves when no claude process is left. */
  shutdown(): Promise<void>;
}

/**
 * Builds the Claude capability from config: resolves the CLI once, validates the workspace roots (a bad root fails
 * startup with the setting's name), and wires executor, session ownership and tools together.
 */
export async function createClaudeService({
  config,
  storage,
  events,
  logger,
  env: baseEnv,
  protectedPaths,
  tasks,
  runs,
}: ClaudeServiceOptions): Promise<ClaudeService> {
  // With several replicas, transcripts, checkpoint contents and run records live in shared storage, so any replica
  // resumes, forks, checkpoints and aborts what another one started (docs/architecture.md, "Several replicas").
  const transcripts =
    storage.shared && config.transcriptMaxBytes > 0
      ? new TranscriptStore({ store: storage, ttlSeconds: SESSION_RETENTION_SECONDS, maxBytes: config.transcriptMaxBytes, logger })
      : undefined;
  const env = transcripts ? withConfigDirectory(baseEnv) : baseEnv;
  const [cli, sandbox] = await Promise.all([
    resolveClaudeCli(config.claudeCliPath, logger),
    probeSandbox({ mode: config.claudeSandbox, searchPath: env.PATH ?? '/usr/bin:/bin' }),
  ]);
  if (sandbox.mode === 'off') {
    logger.warn(
      "CLAUDE_SANDBOX=off: Claude runs are not sandboxed; their commands have the server's rights. Use it only for a trusted single user.",
    );
  } else if (!sandbox.ready) {
    logger.error(`Claude's sandbox cannot run, so no Claude run will start (CLAUDE_SANDBOX=required): ${sandbox.problem}`, {
      category: 'sandbox_unavailable',
    });
  } else {
    logger.info('Claude runs are sandboxed', { programs: sandbox.programs });
  }
  const workspaces = createWorkspacePolicy({
    roots: config.workspaceRoots,
    ...(config.defaultWorkingDirectory ? { defaultDirectory: config.defaultWorkingDirectory } : {}),
    perClient: config.perClientWorkspaces,
    protectedDirectory: config.dataDir,
    createRoots: config.workspaceRoots.length === 1 && config.workspaceRoots[0] === './workspace',
  });
  // Only sandboxed runs ask `npm root -g` at start; see npm-root-shim.ts. Asked in the background (npm takes a few
  // hundred ms to start): the first run waits for the answer, the server's start-up does not.
  const npmShim =
    sandbox.mode === 'required' && sandbox.ready
      ? createNpmRootShim(env.PATH ?? '/usr/bin:/bin').catch(() => undefined)
      : Promise.resolve(undefined);
  const executor = createClaudeExecutor({
    cli,
    env,
    pathPrefix: npmShim.then((shim) => shim?.dir),
    maxConcurrentRuns: config.maxConcurrentRuns,
    maxQueuedRuns: config.maxQueuedRuns,
    runTimeoutMs: config.runTimeoutMs,
    interruptGraceMs: config.runInterruptGraceMs,
    isolation: createRunIsolation({
      mode: config.claudeSandbox,
      allowedDomains: config.claudeSandboxAllowedDomains,
      readPaths: config.claudeSandboxReadPaths,
      protectedPaths,
    }),
    sandbox,
    ...(runs ? { directory: runs } : {}),
    ...(transcripts ? { transcripts } : {}),
    logger,
  });
  // Another replica asking to stop one of ours (claude_abort there) stops it as claude_abort here would.
  runs?.onStop((owner, runId) => void executor.stopRun(owner, runId));
  const sessions = new SessionStore(storage);
  const provider = createClaudeToolProvider({
    executor,
    sessions,
    tasks,
    checkpoints: new CheckpointStore({
      store: storage,
      blobs: storage.shared ? storageBlobs(storage, SESSION_RETENTION_SECONDS) : directoryBlobs(config.dataDir),
    }),
    ...(transcripts ? { transcripts } : {}),
    ...(runs ? { directory: runs } : {}),
    workspaces,
    env,
    executable: () => requireCli(cli) ?? bundledClaudePath(),
    policy: {
      maxPermissionMode: config.maxPermissionMode,
      disallowedTools: config.disallowedTools,
      defaultAllowedTools: config.defaultAllowedTools,
      maxBudgetUsd: config.maxBudgetUsd,
      maxTurns: config.maxTurns,
    },
    mayExecute: (caller) =>
      config.claudeExecTools === 'everyone' || (config.claudeExecTools === 'scope' && scopeCovers(caller.scopes, SCOPES.exec)),
    sandboxMode: config.claudeSandbox,
    limits: { maxPromptLength: config.maxPromptLength },
    backgroundTimeoutMs: config.asyncProcessTimeoutMs,
    stopWaitMs: config.runInterruptGraceMs + 5000,
    progressIntervalMs: config.progressIntervalMs,
    promptTimeoutMs: config.permissionPromptTimeoutMs,
    events,
    logger,
  });
  return {
    executor,
    workspaces,
    tasks,
    provider,
    sandbox,
    async shutdown() {
      // Tasks ending from now on are `interrupted` (not failed or cancelled), then every run stops.
      tasks.beginShutdown();
      await executor.shutdown();
      (await npmShim)?.remove();
      // Task records are written after their runs settle; they must land before storage closes.
      await tasks.drain();
    },
  };
}

/**
 * The child environment with Claude Code's config folder named (`CLAUDE_CONFIG_DIR`, where it already is by default:
 * `$HOME/.claude`). The Agent SDK finds the transcript lines it mirrors to the transcript store by their path under
 * that folder, which it computes from this variable or, without it, from the server's own home, which need not be
 * the child's.
 */
function withConfigDirectory(env: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  if (env.CLAUDE_CONFIG_DIR || !env.HOME) return env;
  return { ...env, CLAUDE_CONFIG_DIR: path.join(env.HOME, '.claude') };
}

/** What {@link serverPaths} needs to know about where the server lives. */
export interface ServerPathsOptions {
  config: Config;
  /** HOME of the Claude process: its `.claude` folder holds every client's transcripts. */
  home?: string;
  /** The server's working directory (its `.env`, `claude-mcp.config.json`). */
  cwd: string;
}

/**
 * The server's own paths, which no Claude run may read or write even when a workspace root contains them (for
 * example a root that is the operator's home folder): DATA_DIR and the database, every configured file (gateway
 * config with upstream secrets, API keys, tool policies, static clients, audit log), the server's working directory
 * and install folder (`.env`, `node_modules`), config folders, the transcripts of other sessions, and the secrets
 * Docker and Kubernetes mount into containers.
 */
export function serverPaths({ config, home, cwd }: ServerPathsOptions): string[] {
  const configured = [
    config.dataDir,
    config.sqlitePath,
    config.mcpConfigPath,
    config.apiKeysPath,
    config.toolPolicyPath,
    config.oauthStaticClientsPath,
    config.auditLogPath,
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  const homes = home ? [path.join(home, '.claude'), path.join(home, '.claude.json'), path.join(home, '.claude-mcp')] : [];
  const install = installDirectory();
  return [
    ...configured.map((p) => path.resolve(cwd, p)),
    cwd,
    ...(install ? [install] : []),
    ...homes,
    '/etc/claude-mcp',
    '/run/secrets',
    '/var/run/secrets',
  ];
}

/** The folder holding the server's package.json (and its node_modules). */
function installDirectory(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth += 1) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return undefined;
}
