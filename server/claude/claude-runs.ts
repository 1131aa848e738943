import type { CanUseTool, SDKMessage } from '@anthropic-ai/claude-agent-sdk';
import type { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../logging/logger.js';
import type { Caller } from '../mcp/caller.js';
import { ClaudeError } from './errors.js';
import type { ClaudeExecutor, RunOutcome, RunRequest } from './executor.js';
import { applyPolicy, type RequestedLimits, type RunPolicy } from './policy.js';
import { progressObserver } from './progress.js';
import type { SandboxMode } from './sandbox.js';
import type { SessionRecord, SessionStore } from './session-store.js';
import type { ToolContext } from './tool-handler.js';
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
  logger: Logger;
}

/** What a run started by a tool takes. */
export interface RunForOptions {
  caller: Caller;
  ctx: ToolContext;
  /** The run, but for what the call supplies (owner, cancellation signal, message observer). */
  request: Omit<RunRequest, 'owner' | 'signal' | 'onMessage'>;
  /** Sees every SDK message as it arrives (claude_plan reads the plan from it). */
  observe?: (message: SDKMessage) => void;
  /** The session this run forks, recorded with the new session's ownership. */
  forkedFrom?: string;
  /** Asks the person about tools neither allowed nor disallowed (permission prompts). */
  canUseTool?: CanUseTool;
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
  /**
   * Permission prompts through MCP elicitation when the client declared it can answer; `undefined` otherwise, and
   * Claude Code's policy then denies the tool (it appears in `permissionDenials`).
   */
  permissionPrompt(server: McpServer, ctx: ToolContext): CanUseTool | undefined;
  /** The operator's ceilings applied to what `caller` asked for. */
  limitsOf(caller: Caller, requested: RequestedLimits): RunLimits;
  /** The hook commands a caller may run, or a `permission_denied` saying why not. */
  hookCommandsFor(caller: Caller, hooks: HookArguments): Record<string, string[]>;
  /** The caller's extra working directories, each resolved like `workingDirectory` (inside its workspace). */
  extraDirectories(caller: Caller, requested: readonly string[] | undefined, cwd: string): string[];
  /** What every run a tool starts has: the prompt, where, its queue priority, the clamped limits, the model. */
  baseRequest(args: { query: string; priority?: RunRequest['priority']; model?: string }, cwd: string, limits: RunLimits): Omit<RunRequest, 'owner'>;
}

/** Creates the shared run helpers of the Claude tools. */
export function createClaudeRuns(options: ClaudeRunsOptions): ClaudeRuns {
  const { executor, sessions, workspaces, policy, logger } = options;

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
  async function runFor({ caller, ctx, request, observe, forkedFrom, canUseTool }: RunForOptions): Promise<RunOutcome> {
    const owner = caller.principalId;
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
        return workspaces.resolve(caller.principalId, dir);
      } catch (error) {
        if (error instanceof ClaudeError) throw new ClaudeError(error.category, error.message.replace(/^workingDirectory/, 'additionalDirectories'));
        throw error;
      }
    });
    return [...new Set(resolved)].filter((dir) => dir !== cwd);
  }

  /** What every run a tool starts has: the prompt, where, its queue priority, the clamped limits, the model. */
  function baseRequest(args: { query: string; priority?: RunRequest['priority']; model?: string }, cwd: string, limits: RunLimits) {
    return { prompt: args.query, cwd, priority: args.priority ?? 'normal', ...limits, ...(args.model ? { model: args.model } : {}) };
  }

  return { runFor, owned, permissionPrompt, limitsOf, hookCommandsFor, extraDirectories, baseRequest };
}

/** A run's outcome as a tool result: Claude's answer as text, every figure as `structuredContent`. */
export function runResult(outcome: RunOutcome, workingDirectory: string, extra: Record<string, unknown> = {}) {
  const structuredContent = { ...outcome, workingDirectory, ...extra };
  return { content: [{ type: 'text' as const, text: outcome.result }], structuredContent };
}

function describeToolInput(input: Record<string, unknown>): string {
  const detail = input.command ?? input.file_path ?? input.path ?? input.url ?? input.pattern;
  return typeof detail === 'string' ? detail.slice(0, 300) : '';
}

/** Hook event names of Claude Code for the seed's hook arguments; `onError` fires when a tool fails. */
const HOOK_EVENTS = { preToolUse: 'PreToolUse', postToolUse: 'PostToolUse', sessionStart: 'SessionStart', preCompact: 'PreCompact', onError: 'PostToolUseFailure' } as const;

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
