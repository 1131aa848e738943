import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import type { Caller } from '../mcp/caller.js';
import type { ToolDefinition, ToolProvider } from '../mcp/tool-provider.js';
import type { TaskRuntime } from '../tasks/task-runtime.js';
import { createBackgroundTasks } from './background-tasks.js';
import { backgroundTasksTool } from './background-tools.js';
import { catalogTools } from './catalog-tools.js';
import { checkpointTool } from './checkpoint-tool.js';
import { lastMessageUuid, type CheckpointStore } from './checkpoints.js';
import type { RunDirectory } from './cluster-runs.js';
import { createClaudeRuns } from './claude-runs.js';
import type { ClaudeExecutor } from './executor.js';
import type { RunPolicy } from './policy.js';
import { abortTool, askTool, planTool, resumeTool } from './run-tools.js';
import type { SandboxMode } from './sandbox.js';
import type { SessionStore } from './session-store.js';
import { createToolHandler } from './tool-handler.js';
import type { TranscriptStore } from './transcript-store.js';
import { claudeInputSchemas, type SchemaLimits } from './tool-schemas.js';
import type { WorkspacePolicy } from './workspace.js';

/** Options of {@link createClaudeToolProvider}. */
export interface ClaudeToolProviderOptions {
  executor: ClaudeExecutor;
  sessions: SessionStore;
  /** The task runtime background tasks run on. */
  tasks: TaskRuntime;
  checkpoints: CheckpointStore;
  /** With several replicas: the shared transcripts (where a checkpoint reads the conversation position). */
  transcripts?: TranscriptStore;
  /** With several replicas: every replica's runs (`claude_abort` reaches runs of other replicas through it). */
  directory?: RunDirectory;
  workspaces: WorkspacePolicy;
  /** The child environment, for the plugin subcommands and user agents. */
  env: Readonly<Record<string, string>>;
  /** The `claude` executable for subcommands; throws `cli_not_found` when unusable. */
  executable: () => string | undefined;
  policy: RunPolicy;
  /** Whether `caller` may use code-executing tools and hooks (CLAUDE_EXEC_TOOLS; see policy.ts EXEC_TOOLS). */
  mayExecute: (caller: Caller) => boolean;
  /** CLAUDE_SANDBOX: hooks run outside the sandbox, so a sandboxed server refuses them. */
  sandboxMode: SandboxMode;
  limits: SchemaLimits;
  /** ASYNC_PROCESS_TIMEOUT_MS: time limit of one background run. */
  backgroundTimeoutMs: number;
  /** How long stopping a task waits for its run to end. */
  stopWaitMs: number;
  /** PROGRESS_INTERVAL_MS */
  progressIntervalMs: number;
  /** PERMISSION_PROMPT_TIMEOUT_MS */
  promptTimeoutMs: number;
  events: EventBus;
  logger: Logger;
}

/**
 * Claude Code as MCP tools: `claude_ask`, `claude_plan`, `claude_resume`, `claude_abort`, the background tasks, the
 * catalogs and checkpoints. Every session belongs to the caller that created it; everything a caller asks for is
 * checked against the operator's ceilings first.
 */
export function createClaudeToolProvider(options: ClaudeToolProviderOptions): ToolProvider {
  const { executor, workspaces, events, logger } = options;
  const schemas = claudeInputSchemas(options.limits);
  const claudeTool = createToolHandler(events, logger);
  const runs = createClaudeRuns(options);
  const { runFor, owned, limitsOf } = runs;
  const tasks = createBackgroundTasks({
    runtime: options.tasks,
    runs,
    timeoutMs: options.backgroundTimeoutMs,
    stopWaitMs: options.stopWaitMs,
  });
  const built = { runs, executor, tasks, workspaces, schemas, claudeTool, ...(options.directory ? { directory: options.directory } : {}) };
  const tools: ToolDefinition[] = [askTool(built), planTool(built), resumeTool(built), abortTool(built)];
  tools.push(backgroundTasksTool(tasks, schemas.tasks, claudeTool));
  tools.push(...catalogTools({ workspaces, env: options.env, executable: options.executable, claudeTool }));
  tools.push(
    checkpointTool({
      checkpoints: options.checkpoints,
      owned,
      lastMessage: async (sessionId) =>
        (await options.transcripts?.lastMessageUuid(sessionId)) ?? lastMessageUuid(options.env.HOME, sessionId),
      events,
      claudeTool,
      fork: (call, session, atMessage, query) =>
        runFor({
          call,
          request: {
            prompt: query,
            cwd: workspaces.resolve(call.caller.principalId, session.cwd),
            priority: 'normal',
            ...limitsOf(call.caller, {}),
            resume: session.sessionId,
            forkSession: true,
            resumeSessionAt: atMessage,
          },
          forkedFrom: session.sessionId,
        }),
    }),
  );
  return { name: 'claude', tools: () => tools };
}
