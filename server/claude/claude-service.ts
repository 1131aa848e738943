import type { Config } from '../config/schema.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import type { ToolProvider } from '../mcp/tool-provider.js';
import type { Storage } from '../storage/types.js';
import { BackgroundTasks } from './background-tasks.js';
import { CheckpointStore } from './checkpoints.js';
import { createClaudeToolProvider } from './claude-tool-provider.js';
import { bundledClaudePath } from './claude-cli.js';
import { requireCli, resolveClaudeCli } from './cli-path.js';
import { createClaudeExecutor, type ClaudeExecutor } from './executor.js';
import { SessionStore } from './session-store.js';
import { createWorkspacePolicy, type WorkspacePolicy } from './workspace.js';

/** Options of {@link createClaudeService}. */
export interface ClaudeServiceOptions {
  config: Config;
  storage: Storage;
  events: EventBus;
  logger: Logger;
  /** The allow-listed child environment (config/child-env.ts). */
  env: Readonly<Record<string, string>>;
}

/** The Claude Code capability: its executor, its tool provider, and how to stop it. */
export interface ClaudeService {
  executor: ClaudeExecutor;
  workspaces: WorkspacePolicy;
  tasks: BackgroundTasks;
  provider: ToolProvider;
  /** Interrupts, then aborts every run; resolves when no claude process is left. */
  shutdown(): Promise<void>;
}

/**
 * Builds the Claude capability from config: resolves the CLI once, validates the workspace roots (a bad root fails
 * startup with the setting's name), and wires executor, session ownership and tools together.
 */
export async function createClaudeService({ config, storage, events, logger, env }: ClaudeServiceOptions): Promise<ClaudeService> {
  const cli = await resolveClaudeCli(config.claudeCliPath, logger);
  const workspaces = createWorkspacePolicy({
    roots: config.workspaceRoots,
    ...(config.defaultWorkingDirectory ? { defaultDirectory: config.defaultWorkingDirectory } : {}),
    perClient: config.perClientWorkspaces,
    protectedDirectory: config.dataDir,
    createRoots: config.workspaceRoots.length === 1 && config.workspaceRoots[0] === './workspace',
  });
  const executor = createClaudeExecutor({
    cli,
    env,
    maxConcurrentRuns: config.maxConcurrentRuns,
    maxQueuedRuns: config.maxQueuedRuns,
    runTimeoutMs: config.runTimeoutMs,
    interruptGraceMs: config.runInterruptGraceMs,
    logger,
  });
  const sessions = new SessionStore(storage);
  const tasks = new BackgroundTasks({
    store: storage,
    executor,
    sessions,
    events,
    logger,
    maxTasks: config.maxAsyncProcesses,
    timeoutMs: config.asyncProcessTimeoutMs,
    shared: storage.kind === 'redis',
  });
  // A failed recovery must not stop the server from serving; the stale records stay `running` until it works.
  await tasks.recover().catch((error: unknown) => logger.warn('could not recover background task records', { error }));
  // With replicas, tasks of a replica that dies are found by their stopped heartbeat, so look again now and then.
  const sweep = storage.kind === 'redis' ? setInterval(() => void tasks.recover().catch(() => undefined), 30_000) : undefined;
  sweep?.unref();
  const provider = createClaudeToolProvider({
    executor,
    sessions,
    tasks,
    checkpoints: new CheckpointStore({ store: storage, dataDir: config.dataDir }),
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
    limits: { maxPromptLength: config.maxPromptLength },
    events,
    logger,
  });
  return {
    executor,
    workspaces,
    tasks,
    provider,
    async shutdown() {
      if (sweep) clearInterval(sweep);
      await executor.shutdown();
      // Task records are written after their runs settle; they must land before storage closes.
      await tasks.drain();
    },
  };
}
