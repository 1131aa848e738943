import type { ToolDefinition } from '../mcp/tool-provider.js';
import { isTerminal } from '../tasks/task-record.js';
import { backgroundStatus } from '../tasks/task-views.js';
import type { BackgroundTasks } from './background-tasks.js';
import { runResult, type ClaudeRuns } from './claude-runs.js';
import type { RunDirectory } from './cluster-runs.js';
import { ClaudeError } from './errors.js';
import type { ClaudeExecutor, RunOutcome } from './executor.js';
import type { createToolHandler } from './tool-handler.js';
import { abortOutputSchema, runOutputSchema, THINKING_LEVELS, type claudeInputSchemas } from './tool-schemas.js';
import type { WorkspacePolicy } from './workspace.js';

/** What the run tools are built from. */
export interface RunToolsOptions {
  runs: ClaudeRuns;
  executor: ClaudeExecutor;
  tasks: BackgroundTasks;
  workspaces: WorkspacePolicy;
  schemas: ReturnType<typeof claudeInputSchemas>;
  claudeTool: ReturnType<typeof createToolHandler>;
  /** With several replicas: every replica's runs, so `claude_abort` reaches a run wherever it runs. */
  directory?: RunDirectory;
}

/** Read-only tools a plan may use; everything that writes or runs commands is removed. */
const PLAN_TOOLS = ['Read', 'Grep', 'Glob'];
const WRITE_TOOLS = ['Write', 'Edit', 'MultiEdit', 'NotebookEdit', 'Bash'];

/** `claude_ask`: a run on a task, new or continuing one of the caller's sessions, direct or as a background task. */
export function askTool({ runs, tasks, workspaces, schemas, claudeTool }: RunToolsOptions): ToolDefinition {
  const { runFor, owned, limitsOf, hookCommandsFor, extraDirectories, baseRequest } = runs;
  return claudeTool(
    'claude_ask',
    {
      title: 'Ask Claude Code',
      description:
        'Runs Claude Code on a task in a workspace directory and returns its answer, session id, cost and usage. ' +
        'Pass sessionId to continue one of your sessions. Tools not allowed are denied (listed in permissionDenials).',
      input: schemas.ask,
      output: runOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
      taskSupport: 'optional',
    },
    async (args, call) => {
      const { caller } = call;
      const record = args.sessionId ? await owned(caller, args.sessionId) : undefined;
      const cwd = workspaces.resolve(caller.principalId, args.workingDirectory ?? record?.cwd);
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
        const task = await tasks.start(call, request);
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
        return runResult(placeholder, cwd, { taskId: task.taskId });
      }
      const outcome = await runFor({ call, request });
      return runResult(outcome, cwd);
    },
  );
}

/** `claude_plan`: a run in plan mode with read-only tools; the answer is the plan Claude hands to ExitPlanMode. */
export function planTool({ runs, workspaces, schemas, claudeTool }: RunToolsOptions): ToolDefinition {
  const { runFor, owned, limitsOf, baseRequest } = runs;
  return claudeTool(
    'claude_plan',
    {
      title: 'Plan with Claude Code',
      description: 'Runs Claude Code in plan mode with read-only tools: it investigates and returns a plan without changing any file.',
      input: schemas.plan,
      output: runOutputSchema,
      annotations: { readOnlyHint: true, openWorldHint: true },
      taskSupport: 'optional',
    },
    async (args, call) => {
      const { caller } = call;
      const record = args.sessionId ? await owned(caller, args.sessionId) : undefined;
      const cwd = workspaces.resolve(caller.principalId, args.workingDirectory ?? record?.cwd);
      const limits = limitsOf(caller, {
        permissionMode: 'plan',
        allowedTools: PLAN_TOOLS,
        disallowedTools: WRITE_TOOLS,
        ...(args.maxTurns ? { maxTurns: args.maxTurns } : {}),
      });
      let plan: string | undefined;
      const outcome = await runFor({
        call,
        // Plan mode changes nothing; a question about a tool (ExitPlanMode included) would only interrupt the person.
        prompts: false,
        request: {
          ...baseRequest(args, cwd, limits),
          ...(record ? { resume: record.sessionId } : {}),
          ...(args.appendSystemPrompt ? { appendSystemPrompt: args.appendSystemPrompt } : {}),
        },
        observe: (message) => {
          // In plan mode Claude hands its plan to ExitPlanMode; that argument is the plan itself.
          if (message.type !== 'assistant') return;
          for (const block of message.message.content) {
            if (block.type === 'tool_use' && block.name === 'ExitPlanMode') {
              const input = block.input as { plan?: unknown };
              if (typeof input.plan === 'string') plan = input.plan;
            }
          }
        },
      });
      const result = plan ?? outcome.result;
      return runResult({ ...outcome, result }, cwd);
    },
  );
}

/** `claude_resume`: continues one of the caller's sessions, or forks it. */
export function resumeTool({ runs, workspaces, schemas, claudeTool }: RunToolsOptions): ToolDefinition {
  const { runFor, owned, limitsOf, baseRequest } = runs;
  return claudeTool(
    'claude_resume',
    {
      title: 'Resume a Claude Code session',
      description: 'Continues one of your sessions with a new message, or forks it (fork: true) into a new session with the same history.',
      input: schemas.resume,
      output: runOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
      taskSupport: 'optional',
    },
    async (args, call) => {
      const { caller } = call;
      const record = await owned(caller, args.sessionId);
      const cwd = workspaces.resolve(caller.principalId, record.cwd);
      const limits = limitsOf(caller, args.maxTurns ? { maxTurns: args.maxTurns } : {});
      const outcome = await runFor({
        call,
        request: { ...baseRequest(args, cwd, limits), resume: record.sessionId, ...(args.fork ? { forkSession: true } : {}) },
        ...(args.fork ? { forkedFrom: record.sessionId } : {}),
      });
      return runResult(outcome, cwd, args.fork ? { forkedFrom: record.sessionId } : {});
    },
  );
}

/** `claude_abort`: interrupts the caller's run on a session, a run by id, or a background task, on whichever replica it runs. */
export function abortTool({ executor, tasks, directory, schemas, claudeTool }: RunToolsOptions): ToolDefinition {
  return claudeTool(
    'claude_abort',
    {
      title: 'Abort a Claude Code run',
      description: 'Interrupts your run working on a session (or a run id) gracefully, then aborts it if it does not stop.',
      input: schemas.abort,
      output: abortOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    async (args, { caller }) => {
      const owner = caller.principalId;
      const named = (run: { runId: string; sessionId?: string }) =>
        args.sessionId ? run.sessionId === args.sessionId : run.runId === args.runId;
      const here = executor.live(owner).some((run) => named({ runId: run.id, ...(run.sessionId ? { sessionId: run.sessionId } : {}) }));
      // Not running here: with several replicas it may run on another one.
      const elsewhere =
        !args.taskId && !here && directory && (args.sessionId || args.runId) ? (await directory.elsewhere(owner)).find(named) : undefined;
      // A task is cancelled as tasks/cancel cancels it, whether named by its id or by the session its run works on.
      const taskId = args.taskId ?? (args.sessionId ? (tasks.runningOn(owner, args.sessionId)?.taskId ?? elsewhere?.taskId) : undefined);
      if (taskId) {
        const before = await tasks.get(owner, taskId);
        if (isTerminal(before.state))
          throw new ClaudeError('not_found', `task ${taskId} is not running (${backgroundStatus(before.state)})`);
        const task = await tasks.stop(owner, taskId);
        const status = backgroundStatus(task.state);
        const structuredContent = {
          aborted: isTerminal(task.state),
          taskId,
          status,
          ...(args.sessionId ? { sessionId: args.sessionId } : {}),
        };
        return { content: [{ type: 'text' as const, text: `task ${taskId} ${status}` }], structuredContent };
      }
      if (!args.sessionId && !args.runId) throw new ClaudeError('invalid_input', 'pass sessionId, taskId or runId');
      let stopped = args.sessionId ? executor.stopSession(owner, args.sessionId) : executor.stopRun(owner, args.runId!);
      if (!stopped && elsewhere) {
        await directory!.stop(elsewhere);
        stopped = true;
      }
      if (!stopped) {
        throw args.sessionId
          ? new ClaudeError('session_not_found', `no running session ${args.sessionId}`)
          : new ClaudeError('not_found', `no running run ${args.runId}`);
      }
      const structuredContent = {
        aborted: true,
        ...(args.sessionId ? { sessionId: args.sessionId } : {}),
        ...(args.runId ? { runId: args.runId } : {}),
      };
      return { content: [{ type: 'text' as const, text: `aborting ${args.sessionId ?? args.runId}` }], structuredContent };
    },
  );
}
