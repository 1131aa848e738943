import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { Logger } from '../logging/logger.js';
import type { Caller } from '../mcp/caller.js';
import type { ToolCall } from '../mcp/tool-provider.js';
import { ClaudeError } from './errors.js';
import type { ClaudeExecutor, RunOutcome, RunRequest } from './executor.js';
import { permissionPrompts } from './permission-channel.js';
import { applyPolicy, type RequestedLimits, type RunPolicy } from './policy.js';
import { progressChannel, progressObserver } from './progress.js';
import type { SandboxMode } from './sandbox.js';
import type { SessionRecord, SessionStore } from './session-store.js';
import type { WorkspacePolicy } from './workspace.js';

/** Options of {@link createClaudeRuns}. */
export interface ClaudeRunsOptions {
  executor: ClaudeExecutor;
  sessions: SessionStore;
  workspaces: WorkspacePolicy;
  policy: RunPolicy;
  /** Whether `caller` may use code-executing tools and hooks (CLAUDE_EXEC_TOOLS; see policy.ts EXEC_TOOLS). */
  mayExecute: (caller: Caller) => boolean;
  /** CLAUDE_SANDBOX: hooks run outside the sandbox, so a sandboxed server refuses them. */
  sandboxMode: SandboxMode;
  /** PROGRESS_INTERVAL_MS: most time between two progress notifications of a call that asked for progress. */
  progressIntervalMs: number;
  /** PERMISSION_PROMPT_TIMEOUT_MS: how long a permission prompt waits for its answer. */
  promptTimeoutMs: number;
  logger: Logger;
}

/** The serialisable part of a {@link RunRequest}: what a task stores to run it again. */
export type StoredRequest = Omit<RunRequest, 'owner' | 'signal' | 'onMessage' | 'canUseTool' | 'includePartialMessages' | 'taskId'>;

/** What a run started by a tool takes. */
export interface RunForOptions {
  /** The call: who, its cancellation and progress, how it can ask the person, the task it runs as. */
  call: Pick<ToolCall, 'caller' | 'requestContext' | 'ask' | 'task'>;
  /** The run, but for what the call supplies (owner, cancellation signal, message observer, permission prompts). */
  request: StoredRequest;
  /** Sees every SDK message as it arrives (claude_plan reads the plan from it). */
  observe?: (message: SDKMessage) => void;
  /** The session this run forks, recorded with the new session's ownership. */
  forkedFrom?: string;
  /**
   * Put tools neither allowed nor disallowed to the person (default true) when the call can ask (`ToolCall.ask`);
   * otherwise, and without a way to ask, Claude Code's policy decides (and denies them).
   */
  prompts?: boolean;
}

/** A caller's hooks by the seed's names (`preToolUse`...). */
export type HookArguments = Partial<Record<keyof typeof HOOK_EVENTS, string[]>>;

/** The limits a run gets (the operator's ceilings applied to what the caller asked). */
export type RunLimits = ReturnType<typeof applyPolicy>;

/** What the run tools share: starting runs for a caller and checking what the caller asked for. */
export interface ClaudeRuns {
  /** Runs Claude for a caller, recording session ownership as soon as Claude Code names the session. */
  runFor(options: RunForOptions): Promise<RunOutcome>;
  /** The session when the caller owns it; `session_not_found` otherwise (also for other callers' sessions). */
  owned(caller: Caller, sessionId: string): Promise<SessionRecord>;
  /** The operator's ceilings applied to what `caller` asked for. */
  limitsOf(caller: Caller, requested: RequestedLimits): RunLimits;
  /** The hook commands a caller may run, or a `permission_denied` saying why not. */
  hookCommandsFor(caller: Caller, hooks: HookArguments): Record<string, string[]>;
  /** The caller's extra working directories, each resolved like `workingDirectory` (inside its workspace). */
  extraDirectories(caller: Caller, requested: readonly string[] | undefined, cwd: string): string[];
  /** What every run a tool starts has: the prompt, where, its queue priority, the clamped limits, the model. */
  baseRequest(args: { query: string; priority?: RunRequest['priority']; model?: string }, cwd: string, limits: RunLimits): StoredRequest;
}

/** Creates the shared run helpers of the Claude tools. */
export function createClaudeRuns(options: ClaudeRunsOptions): ClaudeRuns {
  const { executor, sessions, workspaces, policy, logger } = options;

  /**
   * Runs Claude for the call's caller, recording session ownership as soon as Claude Code names the session. A call
   * running as a task tells the task its session, prompt, figures and what restarting it would run.
   */
  async function runFor({ call, request, observe, forkedFrom, prompts = true }: RunForOptions): Promise<RunOutcome> {
    const owner = call.caller.principalId;
    const ctx = call.requestContext;
    let saving: Promise<unknown> = Promise.resolve();
    const token = ctx.mcpReq._meta?.progressToken;
    const channel =
      token === undefined
        ? undefined
        : progressChannel(
            (value, text) =>
              ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress: value, message: text } }),
            options.progressIntervalMs,
          );
    let progress: ((message: SDKMessage) => void) | undefined;
    call.task?.annotate({ promptPreview: request.prompt.slice(0, 500), request: { ...request } });
    const onMessage = (message: SDKMessage) => {
      if (message.type === 'system' && message.subtype === 'init') {
        saving = sessions
          .save({ sessionId: message.session_id, owner, cwd: request.cwd, ...(forkedFrom ? { forkedFrom } : {}) })
          .catch((error: unknown) => logger.error('could not record session owner', { error, sessionId: message.session_id }));
        call.task?.annotate({ sessionId: message.session_id });
        if (channel && !progress) progress = progressObserver((line) => channel.send(line), message.session_id);
      }
      progress?.(message);
      observe?.(message);
    };
    const canUseTool = prompts ? permissionPrompts(call.ask, { timeoutMs: options.promptTimeoutMs, logger }) : undefined;
    try {
      const outcome = await executor.run({
        ...request,
        owner,
        signal: ctx.mcpReq.signal,
        onMessage,
        ...(call.task ? { taskId: call.task.taskId } : {}),
        // Text as it is written makes lively progress, but a task keeps whole lines in its transcript.
        includePartialMessages: token !== undefined && call.task === undefined,
        ...(canUseTool ? { canUseTool } : {}),
      });
      call.task?.annotate(figuresOf(outcome));
      return outcome;
    } catch (error) {
      const partial = error instanceof ClaudeError ? (error.details as Partial<RunOutcome> | undefined) : undefined;
      if (partial) call.task?.annotate(figuresOf(partial));
      throw error;
    } finally {
      channel?.stop();
      await saving;
    }
  }

  /** The session when the caller owns it; `session_not_found` otherwise (also for other callers' sessions). */
  async function owned(caller: Caller, sessionId: string) {
    const record = await sessions.findOwned(caller.principalId, sessionId);
    if (!record) throw new ClaudeError('session_not_found', `no session ${sessionId}`);
    return record;
  }

  function limitsOf(caller: Caller, args: RequestedLimits): RunLimits {
    return applyPolicy(policy, args, { mayExecute: options.mayExecute(caller) });
  }

  /**
   * Hooks are shell commands Claude Code runs itself, outside its command sandbox: a sandboxed server refuses them,
   * and elsewhere they need the right to execute, like Bash.
   */
  function hookCommandsFor(caller: Caller, hooks: HookArguments): Record<string, string[]> {
    if (options.sandboxMode === 'required') {
      throw new ClaudeError(
        'permission_denied',
        'hooks run outside the sandbox, and this server runs Claude sandboxed (CLAUDE_SANDBOX=required)',
      );
    }
    if (!options.mayExecute(caller))
      throw new ClaudeError('permission_denied', 'hooks run shell commands, which needs the claude:exec scope on this server');
    return hookCommandsOf(hooks, policy.disallowedTools);
  }

  /** The caller's extra working directories, each resolved like `workingDirectory` (inside its workspace). */
  function extraDirectories(caller: Caller, requested: readonly string[] | undefined, cwd: string): string[] {
    if (!requested?.length) return [];
    const resolved = requested.map((dir) => {
      try {
        return workspaces.resolve(caller.principalId, dir);
      } catch (error) {
        if (error instanceof ClaudeError)
          throw new ClaudeError(error.category, error.message.replace(/^workingDirectory/, 'additionalDirectories'));
        throw error;
      }
    });
    return [...new Set(resolved)].filter((dir) => dir !== cwd);
  }

  /** What every run a tool starts has: the prompt, where, its queue priority, the clamped limits, the model. */
  function baseRequest(args: { query: string; priority?: RunRequest['priority']; model?: string }, cwd: string, limits: RunLimits) {
    return { prompt: args.query, cwd, priority: args.priority ?? 'normal', ...limits, ...(args.model ? { model: args.model } : {}) };
  }

  return { runFor, owned, limitsOf, hookCommandsFor, extraDirectories, baseRequest };
}

/** A run's outcome as a tool result: Claude's answer as text, every figure as `structuredContent`. */
export function runResult(outcome: RunOutcome, workingDirectory: string, extra: Record<string, unknown> = {}) {
  const structuredContent = { ...outcome, workingDirectory, ...extra };
  return { content: [{ type: 'text' as const, text: outcome.result }], structuredContent };
}

/** The figures of a (possibly partial) outcome a task keeps. */
function figuresOf(outcome: Partial<RunOutcome>) {
  return {
    sessionId: outcome.sessionId || undefined,
    costUsd: outcome.costUsd,
    numTurns: outcome.numTurns,
    durationMs: outcome.durationMs,
  };
}

/** Hook event names of Claude Code for the seed's hook arguments; `onError` fires when a tool fails. */
const HOOK_EVENTS = {
  preToolUse: 'PreToolUse',
  postToolUse: 'PostToolUse',
  sessionStart: 'SessionStart',
  preCompact: 'PreCompact',
  onError: 'PostToolUseFailure',
} as const;

/** Hooks are shell commands, as powerful as the Bash tool: where the operator disallows Bash they are refused too. */
function hookCommandsOf(hooks: HookArguments, disallowed: readonly string[]): Record<string, string[]> {
  if (disallowed.includes('Bash')) throw new ClaudeError('permission_denied', 'hooks run shell commands, and this server disallows Bash');
  const out: Record<string, string[]> = {};
  for (const [key, event] of Object.entries(HOOK_EVENTS)) {
    const list = hooks[key as keyof typeof HOOK_EVENTS];
    if (list && list.length > 0) out[event] = list;
  }
  return out;
}
