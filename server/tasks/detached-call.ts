import type { CallToolResult, ElicitResult, ServerContext } from '@modelcontextprotocol/server';
import type { InputAsker, TaskCallContext, ToolCall } from '../mcp/tool-provider.js';
import type { TaskWork } from './task-work.js';

/** A request only the client can answer: on a 2025-era session a server-to-client request, in 2026-07-28 an input request. */
export interface ClientRequest {
  method: 'elicitation/create' | 'sampling/createMessage' | 'roots/list';
  params?: Record<string, unknown>;
  /**
   * The key the asker gave it, when it has one (a 2026-07-28 upstream's own `inputRequests` key): a host that puts
   * requests to the client under keys uses it while it is free, so the client sees the upstream's names.
   */
  key?: string;
}

/** Asks the client `request` on behalf of a detached call; resolves with the client's answer. */
export type ClientRequester = (request: ClientRequest, signal: AbortSignal) => Promise<unknown>;

/** The figures of a progress notification, kept when the host relays them. */
export interface ProgressFigures {
  progress: number;
  total?: number;
}

/** Where a call running apart from the request that started it sends what it would have sent on that request. */
export interface DetachedHost {
  /** Ends the call: cancel, shutdown, an abandoned question. */
  signal: AbortSignal;
  /** A progress notification: its message (if it has one) and its figures. */
  progress(message: string | undefined, figures?: ProgressFigures): void;
  ask?: InputAsker;
  /** Every kind of client request (elicitation, sampling, roots); when set, questions go here and `ask` is derived from it. */
  request?: ClientRequester;
  task?: TaskCallContext;
}

/** The host's requester behind each detached context that has one (see {@link clientRequesterOf}). */
const requesters = new WeakMap<object, ClientRequester>();

/**
 * The requester behind a context made by {@link detachContext} whose host takes every kind of client request (a
 * parked 2026-07-28 call): it keeps a request's {@link ClientRequest.key}, which the context's `elicitInput` cannot
 * carry. Undefined for any other context.
 */
export function clientRequesterOf(ctx: ServerContext): ClientRequester | undefined {
  return requesters.get(ctx.mcpReq);
}

/** The progress token a detached call sees: it reports progress, and the host decides where it goes. */
const DETACHED_PROGRESS_TOKEN = 'detached';

/**
 * `call` as a tool sees it when it runs apart from the request that started it (as a task, or parked between the
 * rounds of a 2026-07-28 `input_required` exchange): its signal, progress, questions and task are the host's; the
 * server-to-client requests of its old request are not available.
 */
export function detachCall(call: ToolCall, host: DetachedHost): ToolCall {
  const ask = askerOf(host);
  const requestContext = detachContext(call.requestContext, host);
  const { ask: _ask, task: _task, ...rest } = call;
  return { ...rest, requestContext, ...(ask ? { ask } : {}), ...(host.task ? { task: host.task } : {}) };
}

/** The elicitation-form asker of `host`: derived from its `request` when it has one. */
function askerOf(host: DetachedHost): InputAsker | undefined {
  const { request } = host;
  if (!request) return host.ask;
  return (params, signal) =>
    request({ method: 'elicitation/create', params: params as unknown as Record<string, unknown> }, signal) as Promise<ElicitResult>;
}

/**
 * A request context as work running apart from that request sees it (see {@link detachCall}): its signal, progress
 * and client requests are the host's.
 */
export function detachContext(original: ServerContext, host: DetachedHost): ServerContext {
  const unavailable = () => Promise.reject(new Error('not available to a call running apart from its request'));
  const { request } = host;
  const ask = askerOf(host);
  const mcpReq = {
    ...original.mcpReq,
    signal: host.signal,
    _meta: { ...original.mcpReq._meta, progressToken: DETACHED_PROGRESS_TOKEN },
    notify: async (notification: { method: string; params?: { message?: unknown; progress?: unknown; total?: unknown } }) => {
      if (notification.method !== 'notifications/progress') return;
      const { message, progress, total } = notification.params ?? {};
      const figures = typeof progress === 'number' ? { progress, ...(typeof total === 'number' ? { total } : {}) } : undefined;
      host.progress(typeof message === 'string' ? message : undefined, figures);
    },
    elicitInput: ask ? (params: Parameters<InputAsker>[0]) => ask(params, host.signal) : unavailable,
    requestSampling: request
      ? (params: Record<string, unknown>) => request({ method: 'sampling/createMessage', params }, host.signal)
      : unavailable,
    // Of the requests a call may send on its own request, a detached one can send `roots/list` (to a host that relays it).
    send: (sent: { method?: unknown; params?: Record<string, unknown> }) =>
      request && sent.method === 'roots/list'
        ? request({ method: 'roots/list', ...(sent.params ? { params: sent.params } : {}) }, host.signal)
        : unavailable(),
    log: async () => undefined,
  };
  if (request) requesters.set(mcpReq, request);
  return { ...original, mcpReq } as unknown as ServerContext;
}

/**
 * A tool call as a task's work: the same tool, run through the same layers (interceptors, result projection) by
 * `run`, so the task's result is exactly what the call would have answered.
 */
export function toolCallWork(call: ToolCall, run: (call: ToolCall) => Promise<CallToolResult>): TaskWork {
  return {
    kind: 'tool-call',
    run: (context) =>
      run(
        detachCall(call, {
          signal: context.signal,
          // A task's status line is a message: figures alone change nothing there.
          progress: (message) => {
            if (message !== undefined) context.progress(message);
          },
          ...(context.ask ? { ask: context.ask } : {}),
          task: { taskId: context.taskId, annotate: (facts) => context.annotate(facts) },
        }),
      ),
  };
}
