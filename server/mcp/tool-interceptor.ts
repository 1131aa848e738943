import type { CallToolResult } from '@modelcontextprotocol/server';
import { currentContext } from '../logging/context.js';
import type { ToolProviderContext } from './tool-provider.js';

/** One tool call as an interceptor sees it. */
export interface ToolCall {
  /** The registered tool name (bounded: it is a label in metrics). */
  tool: string;
  /** Who calls, on which transport. */
  context: ToolProviderContext;
  /** The arguments as the client sent them (before the tool validates them). */
  args: Readonly<Record<string, unknown>>;
  /** The session the call arrived on, when the SDK reports one. */
  sessionId?: string;
  /** The HTTP request id (X-Request-Id) the call arrived with, when known. */
  requestId?: string;
}

/**
 * Runs around every tool call of every provider (rate limits, metrics, the per-call log line). It calls `next()` to
 * run the tool, or returns/throws without calling it to refuse the call. Errors thrown here reach the client as
 * JSON-RPC errors; results with `isError` are tool errors.
 */
export type ToolCallInterceptor = (call: ToolCall, next: () => Promise<CallToolResult>) => Promise<CallToolResult>;

/**
 * How a tool call that ran ended: `ok`, or `error` (a result with `isError`, or a thrown error). Calls refused by a
 * rate limit never reach the tool; they are counted in `rate_limit_rejections_total{scope="tool"}`.
 */
export type ToolOutcome = 'ok' | 'error';

/** The outcome of a finished call. */
export function toolOutcome(result: CallToolResult | undefined, error: unknown): ToolOutcome {
  return error !== undefined || result?.isError ? 'error' : 'ok';
}

/** What the SDK passes as the last argument of a tool callback (its `ServerContext`), the part we read. */
interface HandlerExtra {
  sessionId?: string;
  http?: { req?: { headers?: { get(name: string): string | null } } };
}

/**
 * Wraps a tool callback so `interceptors` run around it, outermost first. The callback keeps its arity: the SDK calls
 * `(args, ctx)` for tools with an input schema and `(ctx)` for tools without.
 */
export function interceptToolCallback(
  tool: string,
  context: ToolProviderContext,
  callback: (...args: unknown[]) => Promise<CallToolResult> | CallToolResult,
  interceptors: readonly ToolCallInterceptor[],
): (...args: unknown[]) => Promise<CallToolResult> {
  return function intercepted(...callbackArgs: unknown[]) {
    const extra = (callbackArgs.at(-1) ?? {}) as HandlerExtra;
    const args = callbackArgs.length > 1 && callbackArgs[0] && typeof callbackArgs[0] === 'object' ? (callbackArgs[0] as Record<string, unknown>) : {};
    const requestId = currentContext()?.requestId ?? extra.http?.req?.headers?.get('x-request-id') ?? undefined;
    const call: ToolCall = {
      tool,
      context,
      args,
      ...(extra.sessionId ? { sessionId: extra.sessionId } : {}),
      ...(requestId ? { requestId } : {}),
    };
    const run = (index: number): Promise<CallToolResult> =>
      index < interceptors.length ? interceptors[index]!(call, () => run(index + 1)) : Promise.resolve(callback(...callbackArgs));
    return run(0);
  };
}
