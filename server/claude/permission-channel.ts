import type { CanUseTool } from '@anthropic-ai/claude-agent-sdk';
import type { ElicitRequestFormParams } from '@modelcontextprotocol/server';
import type { Logger } from '../logging/logger.js';
import type { InputAsker } from '../mcp/tool-provider.js';

/** Options of {@link permissionPrompts}. */
export interface PermissionPromptOptions {
  /** PERMISSION_PROMPT_TIMEOUT_MS: how long a question waits for its answer; then the tool is denied. */
  timeoutMs: number;
  logger: Logger;
}

/**
 * Claude Code's permission prompts (`canUseTool`) put to the person through `ask` — whichever way the call can reach
 * them (an elicitation request on a 2025-era session, the task's `input_required` status, a 2026-07-28
 * `input_required` result; see `ToolCall.ask`). Accepting with `allow: true` lets the tool run; anything else — a
 * refusal, no answer within the timeout, a client that cannot be reached — denies it, and Claude Code lists it in
 * `permissionDenials`. Without `ask` there is no callback: Claude Code's own policy (the operator's permission mode,
 * allowed and disallowed tools) decides, and denies what it would have asked about.
 */
export function permissionPrompts(ask: InputAsker | undefined, { timeoutMs, logger }: PermissionPromptOptions): CanUseTool | undefined {
  if (!ask) return undefined;
  return async function askPermission(toolName, input, { signal }) {
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const answer = await ask(permissionQuestion(toolName, input), AbortSignal.any([signal, timeout]));
      if (signal.aborted) return { behavior: 'deny', message: 'the run was interrupted' };
      if (answer.action === 'accept' && answer.content?.allow === true) return { behavior: 'allow', updatedInput: input };
      return { behavior: 'deny', message: `the user did not allow ${toolName}` };
    } catch (error) {
      if (timeout.aborted)
        return { behavior: 'deny', message: `${toolName} needs approval and no answer came within ${Math.round(timeoutMs / 1000)} s` };
      logger.debug('permission prompt failed; denying', { tool: toolName, error });
      return { behavior: 'deny', message: `${toolName} needs approval and the client could not be asked` };
    }
  };
}

/** "Claude Code wants to use Write (src/x.ts). Allow it?" with one boolean `allow`. */
export function permissionQuestion(toolName: string, input: Record<string, unknown>): ElicitRequestFormParams {
  const detail = describeToolInput(input);
  return {
    mode: 'form',
    message: `Claude Code wants to use ${toolName}${detail ? ` (${detail})` : ''}. Allow it?`,
    requestedSchema: { type: 'object', properties: { allow: { type: 'boolean', title: `Allow ${toolName}` } }, required: ['allow'] },
  };
}

function describeToolInput(input: Record<string, unknown>): string {
  const detail = input.command ?? input.file_path ?? input.path ?? input.url ?? input.pattern;
  return typeof detail === 'string' ? detail.slice(0, 300) : '';
}
