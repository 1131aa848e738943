import type { RequestHandler } from 'express';
import type { Caller } from '../../mcp/caller.js';
import { toolCallNames } from '../../mcp/jsonrpc.js';

/** Options of {@link requireToolScopes}. */
export interface ToolStepUpOptions {
  /** The scope `caller` lacks for an existing tool it may not use yet; undefined when none would help. */
  scopeNeeded: (caller: Caller, toolName: string) => string | undefined;
  /** The refusal to send: 403 `insufficient_scope` with the challenge naming the scopes to ask for. */
  refuse: (caller: Caller, needed: readonly string[]) => Error;
}

/**
 * Step-up for tool calls (MCP-Auth "Scope Selection Strategy" / "Runtime Insufficient Scope Errors", checklist
 * B.12): a `tools/call` of a tool that exists but needs a scope the token lacks is answered at the HTTP level with
 * 403 and `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"`, so a client that implements step-up can
 * ask the user for more. Tools hidden by a client's policy stay unknown-tool errors: no scope would change that.
 */
export function requireToolScopes(options: ToolStepUpOptions): RequestHandler {
  return function requireToolScopes(req, res, next) {
    const names = toolCallNames(req.body);
    if (names.length === 0) return next();
    const caller = res.locals.caller as Caller;
    const needed = [
      ...new Set(names.map((name) => options.scopeNeeded(caller, name)).filter((scope): scope is string => scope !== undefined)),
    ];
    next(needed.length > 0 ? options.refuse(caller, needed) : undefined);
  };
}
