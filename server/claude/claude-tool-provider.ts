import type { CanUseTool, SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { McpServer } from '@modelcontextprotocol/server';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import type { Caller } from '../mcp/caller.js';
import type { ToolDefinition, ToolProvider } from '../mcp/tool-provider.js';
import type { BackgroundTasks } from './background-tasks.js';
import { backgroundTasksTool } from './background-tools.js';
import { catalogTools } from './catalog-tools.js';
import { checkpointTool } from './checkpoint-tool.js';
import type { CheckpointStore } from './checkpoints.js';
import { ClaudeError } from './errors.js';
import type { ClaudeExecutor, RunOutcome, RunRequest } from './executor.js';
import { applyPolicy, type RequestedLimits, type RunPolicy } from './policy.js';
import { progressObserver } from './progress.js';
import { createToolHandler, type ToolContext } from './tool-handler.js';
import type { SessionStore } from './session-store.js';
import {
  abortOutputSchema,
  claudeInputSchemas,
  runOutputSchema,
  THINKING_LEVELS,
  type SchemaLimits,
} from './tool-schemas.js';
import type { SandboxMode } from './sandbox.js';
import type { WorkspacePolicy } from './workspace.js';

/** Options of {@link createClaudeToolProvider}. */
export interface ClaudeToolProviderOptions {
  executor: ClaudeExecutor;
  sessions: SessionStore;
  tasks: BackgroundTasks;
  checkpoints: CheckpointStore;
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
  events: EventBus;
  logger: Logger;
}

/** Read-only tools a plan may use; everything that writes or runs commands is removed. */
const PLAN_TOOLS = ['Read', 'Grep', 'Glob'];
const WRITE_TOOLS = ['Write', 'Edit', 'MultiEdit', 'NotebookEdit', 'Bash'];

/**
 * Claude Code as MCP tools: `claude_ask`, `claude_plan`, `claude_resume`, `claude_abort`. Every session belongs to
 * the caller that created it; everything a caller asks for is checked against the operator's ceilings first.
 */
export function createClaudeToolProvider(options: ClaudeToolProviderOptions): ToolProvider {
  const { executor, sessions, tasks, workspaces, policy, events, logger } = options;
  const schemas = claudeInputSchemas(options.limits);

  const claudeTool = createToolHandler(events, logger);

  /**
   * Permission prompts: a tool that is neither allowed nor disallowed is put to the user through MCP elicitation
   * when the client declared it can answer; without that capability no callback is set and Claude Code's policy
   * denies the tool (it then appears in `permissionDenials`).
   */
  function permissionPrompt(server: McpServer, ctx: ToolContext): CanUseTool | undefined {
    const capabilities = server.server.getClientCapabilities() as { elicitation?: { form?: object } } | undefined;
    if (!capabilities?.elicitation) return undefined;
    return async (toolName, input, { signal }) => {
      const detail = describeToolInput(input);
      try {
        const answer = await ctx.mcpReq.elicitInput({
          mode: 'form',
          message: `Claude Code wants to use ${toolName}${detail ? ` (${detail})` : ''}. Allow it?`,
          requestedSchema: { type: 'object', properties: { allow: { type: 'boolean', title: `Allow ${toolName}` } }, required: ['allow'] },
        });
        if (signal.aborted) return { behavior: 'deny', message: 'the run was interrupted' };
        if (answer.action === 'accept' && answer.content?.allow === true) return { behavior: 'allow', updatedInput: input };
        return { behavior: 'deny', message: `the user did not allow ${toolName}` };
      } catch (error) {
        logger.debug('permission prompt failed; denying', { tool: toolName, error });
        return { behavior: 'deny', message: `${toolName} needs approval and the client could not be asked` };
      }
    };
  }

  /** Runs Claude for `caller`, recording session ownership as soon as Claude Code names the session. */
  async function runFor(
    caller: Caller,
    ctx: ToolContext,
    request: Omit<RunRequest, 'owner' | 'signal' | 'onMessage'>,
    observe?: (message: SDKMessage) => void,
    forkedFrom?: string,
    canUseTool?: CanUseTool,
  ): Promise<RunOutcome> {
    const owner = caller.clientId;
    let saving: Promise<unknown> = Promise.resolve();
    const token = ctx.mcpReq._meta?.progressToken;
    let progress: ((message: SDKMessage) => void) | undefined;
    const onMessage = (message: SDKMessage) => {
      if (message.type === 'system' && message.subtype === 'init') {
        saving = sessions.save({ sessionId: message.session_id, owner, cwd: request.cwd, ...(forkedFrom ? { forkedFrom } : {}) }).catch((error: unknown) =>
          logger.error('could not record session owner', { error, sessionId: message.session_id }),
        );
        if (token !== undefined && !progress) {
          progress = progressObserver(
            (value, text) => ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress: value, message: text } }),
            message.session_id,
          );
        }
      }
      progress?.(message);
      observe?.(message);
    };
    try {
      return await executor.run({
        ...request,
        owner,
        signal: ctx.mcpReq.signal,
        onMessage,
        includePartialMessages: token !== undefined,
        ...(canUseTool ? { canUseTool } : {}),
      });
    } finally {
      await saving;
    }
  }

  /** The session when the caller owns it; `session_not_found` otherwise (also for other callers' sessions). */
  async function owned(caller: Caller, sessionId: string) {
    const record = await sessions.findOwned(caller.clientId, sessionId);
    if (!record) throw new ClaudeError('session_not_found', `no session ${sessionId}`);
    return record;
  }

  const success = (outcome: RunOutcome, workingDirectory: string, extra: Record<string, unknown> = {}) => {
    const structuredContent = { ...outcome, workingDirectory, ...extra };
    return { content: [{ type: 'text' as const, text: outcome.result }], structuredContent };
  };

  function limitsOf(caller: Caller, args: RequestedLimits): ReturnType<typeof applyPolicy> {
    return applyPolicy(policy, args, { mayExecute: options.mayExecute(caller) });
  }

  /**
   * Hooks are shell commands Claude Code runs itself, outside its command sandbox: a sandboxed server refuses them,
   * and elsewhere they need the right to execute, like Bash.
   */
  function hookCommandsFor(caller: Caller, hooks: Partial<Record<keyof typeof HOOK_EVENTS, string[]>>): Record<string, string[]> {
    if (options.sandboxMode === 'required') {
      throw new ClaudeError('permission_denied', 'hooks run outside the sandbox, and this server runs Claude sandboxed (CLAUDE_SANDBOX=required)');
    }
    if (!options.mayExecute(caller)) throw new ClaudeError('permission_denied', 'hooks run shell commands, which needs the claude:exec scope on this server');
    return hookCommandsOf(hooks, policy.disallowedTools);
  }

  /** The caller's extra working directories, each resolved like `workingDirectory` (inside its workspace). */
  function extraDirectories(caller: Caller, requested: readonly string[] | undefined, cwd: string): string[] {
    if (!requested?.length) return [];
    const resolved = requested.map((dir) => {
      try {
        return workspaces.resolve(caller.clientId, dir);
      } catch (error) {
        if (error instanceof ClaudeError) throw new ClaudeError(error.category, error.message.replace(/^workingDirectory/, 'additionalDirectories'));
        throw error;
      }
    });
    return [...new Set(resolved)].filter((dir) => dir !== cwd);
  }

  /** What every run a tool starts has: the prompt, where, its queue priority, the clamped limits, the model. */
  function baseRequest(args: { query: string; priority?: RunRequest['priority']; model?: string }, cwd: string, limits: ReturnType<typeof applyPolicy>) {
    return { prompt: args.query, cwd, priority: args.priority ?? 'normal', ...limits, ...(args.model ? { model: args.model } : {}) };
  }

  const tools: ToolDefinition[] = [];
  tools.push(claudeTool(
    'claude_ask',
    {
      title: 'Ask Claude Code',
      description:
        'Runs Claude Code on a task in a workspace directory and returns its answer, session id, cost and usage. ' +
        'Pass sessionId to continue one of your sessions. Tools not allowed are denied (listed in permissionDenials).',
      input: schemas.ask,
      output: runOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
    },
    async (args, { caller, ctx, server }) => {
      const record = args.sessionId ? await owned(caller, args.sessionId) : undefined;
      const cwd = workspaces.resolve(caller.clientId, args.workingDirectory ?? record?.cwd);
      const limits = limitsOf(caller, args);
      const thinking = args.thinkingLevel ? THINKING_LEVELS[args.thinkingLevel] : undefined;
      const request = {
        ...baseRequest(args, cwd, limits),
        ...(args.additionalDirectories ? { additionalDirectories: extraDirectories(caller, args.additionalDirectories, cwd) } : {}),
        ...(record ? { resume: record.sessionId } : {}),
        ...(args.subagent ? { agent: args.subagent } : {}),
        ...(args.appendSystemPrompt ? { appendSystemPrompt: args.appendSystemPrompt } : {}),
        ...(thinking ? { effort: thinking.effort, thinkingBudgetTokens: thinking.budgetTokens } : {}),
        ...(args.outputSchema ? { outputSchema: args.outputSchema } : {}),
        ...(args.hooks ? { hookCommands: hookCommandsFor(caller, args.hooks) } : {}),
      };
      if (args.backgroundTask) {
        const task = await tasks.start(caller.clientId, request);
        const placeholder: RunOutcome = {
          result: `started background task ${task.taskId}`,
          sessionId: record?.sessionId ?? '',
          isError: false,
          subtype: 'background',
          numTurns: 0,
          costUsd: 0,
          usage: { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
          durationMs: 0,
          permissionDenials: [],
        };
        return success(placeholder, cwd, { taskId: task.taskId });
      }
      const outcome = await runFor(caller, ctx, request, undefined, undefined, permissionPrompt(server, ctx));
      return success(outcome, cwd);
    },
  ));

  tools.push(claudeTool(
    'claude_plan',
    {
      title: 'Plan with Claude Code',
      description:
        'Runs Claude Code in plan mode with read-only tools: it investigates and returns a plan without changing any file.',
      input: schemas.plan,
      output: runOutputSchema,
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    async (args, { caller, ctx }) => {
      const record = args.sessionId ? await owned(caller, args.sessionId) : undefined;
      const cwd = workspaces.resolve(caller.clientId, args.workingDirectory ?? record?.cwd);
      const limits = limitsOf(caller, { permissionMode: 'plan', allowedTools: PLAN_TOOLS, disallowedTools: WRITE_TOOLS, ...(args.maxTurns ? { maxTurns: args.maxTurns } : {}) });
      let plan: string | undefined;
      const outcome = await runFor(
        caller,
        ctx,
        {
          ...baseRequest(args, cwd, limits),
          ...(record ? { resume: record.sessionId } : {}),
          ...(args.appendSystemPrompt ? { appendSystemPrompt: args.appendSystemPrompt } : {}),
        },
        (message) => {
          // In plan mode Claude hands its plan to ExitPlanMode; that argument is the plan itself.
          if (message.type !== 'assistant') return;
          for (const block of message.message.content) {
            if (block.type === 'tool_use' && block.name === 'ExitPlanMode') {
              const input = block.input as { plan?: unknown };
              if (typeof input.plan === 'string') plan = input.plan;
            }
          }
        },
      );
      const result = plan ?? outcome.result;
      return success({ ...outcome, result }, cwd);
    },
  ));

  tools.push(claudeTool(
    'claude_resume',
    {
      title: 'Resume a Claude Code session',
      description: 'Continues one of your sessions with a new message, or forks it (fork: true) into a new session with the same history.',
      input: schemas.resume,
      output: runOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
    },
    async (args, { caller, ctx, server }) => {
      const record = await owned(caller, args.sessionId);
      const cwd = workspaces.resolve(caller.clientId, record.cwd);
      const limits = limitsOf(caller, args.maxTurns ? { maxTurns: args.maxTurns } : {});
      const outcome = await runFor(
        caller,
        ctx,
        {
          ...baseRequest(args, cwd, limits),
          resume: record.sessionId,
          ...(args.fork ? { forkSession: true } : {}),
        },
        undefined,
        args.fork ? record.sessionId : undefined,
        permissionPrompt(server, ctx),
      );
      return success(outcome, cwd, args.fork ? { forkedFrom: record.sessionId } : {});
    },
  ));

  tools.push(claudeTool(
    'claude_abort',
    {
      title: 'Abort a Claude Code run',
      description: 'Interrupts your run working on a session (or a run id) gracefully, then aborts it if it does not stop.',
      input: schemas.abort,
      output: abortOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async (args, { caller }) => {
      if (args.taskId) {
        const before = await tasks.get(caller.clientId, args.taskId);
        if (before.status !== 'running') throw new ClaudeError('not_found', `task ${args.taskId} is not running (${before.status})`);
        const task = await tasks.stop(caller.clientId, args.taskId);
        const structuredContent = { aborted: task.status !== 'running', taskId: task.taskId, status: task.status };
        return { content: [{ type: 'text' as const, text: `task ${task.taskId} ${task.status}` }], structuredContent };
      }
      if (!args.sessionId && !args.runId) throw new ClaudeError('invalid_input', 'pass sessionId, taskId or runId');
      const stopped = args.sessionId
        ? executor.stopSession(caller.clientId, args.sessionId)
        : executor.stopRun(caller.clientId, args.runId!);
      if (!stopped) {
        throw args.sessionId
          ? new ClaudeError('session_not_found', `no running session ${args.sessionId}`)
          : new ClaudeError('not_found', `no running run ${args.runId}`);
      }
      const structuredContent = { aborted: true, ...(args.sessionId ? { sessionId: args.sessionId } : {}), ...(args.runId ? { runId: args.runId } : {}) };
      return { content: [{ type: 'text' as const, text: `aborting ${args.sessionId ?? args.runId}` }], structuredContent };
    },
  ));

  tools.push(backgroundTasksTool(tasks, schemas.tasks, claudeTool));
  tools.push(...catalogTools({ workspaces, env: options.env, executable: options.executable, claudeTool }));
  tools.push(checkpointTool({
    checkpoints: options.checkpoints,
    owned,
    home: options.env.HOME,
    events,
    claudeTool,
    fork: (call, session, atMessage, query) =>
      runFor(
        call.caller,
        call.ctx,
        {
          prompt: query,
          cwd: workspaces.resolve(call.caller.clientId, session.cwd),
          priority: 'normal',
          ...limitsOf(call.caller, {}),
          resume: session.sessionId,
          forkSession: true,
          resumeSessionAt: atMessage,
        },
        undefined,
        session.sessionId,
        permissionPrompt(call.server, call.ctx),
      ),
  }));
  return { name: 'claude', tools: () => tools };
}

function describeToolInput(input: Record<string, unknown>): string {
  const detail = input.command ?? input.file_path ?? input.path ?? input.url ?? input.pattern;
  return typeof detail === 'string' ? detail.slice(0, 300) : '';
}

/** Hook event names of Claude Code for the seed's hook arguments; `onError` fires when a tool fails. */
const HOOK_EVENTS = { preToolUse: 'PreToolUse', postToolUse: 'PostToolUse', sessionStart: 'SessionStart', preCompact: 'PreCompact', onError: 'PostToolUseFailure' } as const;

/** Hooks are shell commands, as powerful as the Bash tool: where the operator disallows Bash they are refused too. */
function hookCommandsOf(hooks: Partial<Record<keyof typeof HOOK_EVENTS, string[]>>, disallowed: readonly string[]): Record<string, string[]> {
  if (disallowed.includes('Bash')) throw new ClaudeError('permission_denied', 'hooks run shell commands, and this server disallows Bash');
  const out: Record<string, string[]> = {};
  for (const [key, event] of Object.entries(HOOK_EVENTS)) {
    const list = hooks[key as keyof typeof HOOK_EVENTS];
    if (list && list.length > 0) out[event] = list;
  }
  return out;
}
