import type { CallToolResult, ServerContext } from '@modelcontextprotocol/server';
import type { InputAsker, TaskCallContext, ToolCall } from '../mcp/tool-provider.js';
import type { TaskWork } from './task-work.js';

/** Where a call running apart from the request that started it sends what it would have sent on that request. */
export interface DetachedHost {
  /** Ends the call: cancel, shutdown, an abandoned question. */
  signal: AbortSignal;
  /** A progress notification's message. */
  progress(message: string): void;
  ask?: InputAsker;
  task?: TaskCallContext;
}

/** The progress token a detached call sees: it reports progress, and the host decides where it goes. */
const DETACHED_PROGRESS_TOKEN = 'detached';

/**
 * `call` as a tool sees it when it runs apart from the request that started it (as a task, or parked between the
 * rounds of a 2026-07-28 `input_required` exchange): its signal, progress, questions and task are the host's; the
 * server-to-client requests of its old request are not available.
 */
export function detachCall(call: ToolCall, host: DetachedHost): ToolCall {
  const original = call.requestContext;
  const unavailable = () => Promise.reject(new Error('not available to a call running apart from its request'));
  const requestContext = {
    ...original,
    mcpReq: {
      ...original.mcpReq,
      signal: host.signal,
      _meta: { ...original.mcpReq._meta, progressToken: DETACHED_PROGRESS_TOKEN },
      notify: async (notification: { method: string; params?: { message?: unknown } }) => {
        if (notification.method === 'notifications/progress' && typeof notification.params?.message === 'string')
          host.progress(notification.params.message);
      },
      elicitInput: host.ask ? (params: Parameters<InputAsker>[0]) => host.ask!(params, host.signal) : unavailable,
      requestSampling: unavailable,
      send: unavailable,
      log: async () => undefined,
    },
  } as unknown as ServerContext;
  const { ask: _ask, task: _task, ...rest } = call;
  return { ...rest, requestContext, ...(host.ask ? { ask: host.ask } : {}), ...(host.task ? { task: host.task } : {}) };
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
          progress: (message) => context.progress(message),
          ...(context.ask ? { ask: context.ask } : {}),
          task: { taskId: context.taskId, annotate: (facts) => context.annotate(facts) },
        }),
      ),
  };
}
