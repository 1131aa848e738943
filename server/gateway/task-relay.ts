// Values from the server package, as in call-relay.ts: the client package loads with the first upstream only.
import type { ElicitRequest, ElicitResult } from '@modelcontextprotocol/client';
import {
  ProtocolError,
  ProtocolErrorCode,
  RELATED_TASK_META_KEY,
  type CallToolResult,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { InputAsker } from '../mcp/tool-provider.js';
import type { UpstreamConnection } from './upstream.js';

/** An upstream's 2025-11-25 `Task`, as far as the relay reads it. */
const upstreamTask = z.looseObject({
  taskId: z.string(),
  status: z.enum(['working', 'input_required', 'completed', 'failed', 'cancelled']),
  statusMessage: z.string().optional(),
  pollInterval: z.number().optional(),
});
type UpstreamTask = z.infer<typeof upstreamTask>;

/** What a task-augmented `tools/call` answers: `{ task }`, or (an upstream that chose not to) a plain tool result. */
const createAnswer = z.looseObject({ task: upstreamTask.optional(), content: z.array(z.unknown()).optional() });
/** `tasks/result`: the tool result the call would have answered. */
const payload = z.looseObject({ content: z.array(z.unknown()) });

/** Bounds of the polling interval an upstream asks for. */
const MIN_POLL_MS = 50;
const MAX_POLL_MS = 5000;
/** `tasks/result` blocks until the task ends: only the connection ending, or the caller giving up, stops it. */
const UNBOUNDED_MS = 2_147_483_647;

/** Options of {@link relayUpstreamTask}. */
export interface UpstreamTaskOptions {
  /** The upstream's name, for messages. */
  server: string;
  /** The upstream's own tool name and the arguments as the client sent them. */
  name: string;
  args: Readonly<Record<string, unknown>>;
  /** The request the task is followed for: its signal (cancel), its progress token (status lines). */
  ctx: ServerContext;
  /** How the task's questions reach the person; absent: they are declined. */
  ask?: InputAsker;
  /** Time limit of each request to the upstream but `tasks/result` (the upstream's `timeoutMs`). */
  timeoutMs: number;
  /** Whether the caller is itself a task: a lost connection is then a JSON-RPC error the task ends with. */
  asTask: boolean;
}

/**
 * Runs a tool of an upstream as the upstream's own task (2025-11-25) and answers what the call answers: creates the
 * task (`tools/call` with `task`), follows it with `tasks/get` at the upstream's interval (each status is a progress
 * line), fetches the result with `tasks/result` once it ends or asks for input, and relays the questions it sends
 * there (`elicitation/create` with the related-task `_meta`) through `ask`. The upstream's task id never leaves this
 * function: results lose the upstream's related-task `_meta`, questions too.
 *
 * The task lives on `connection`: when that connection ends (the upstream crashed, restarted, or a per-session
 * connection closed with its session) the call fails saying so. When `ctx`'s signal aborts (the client cancelled
 * its task or its request), `tasks/cancel` is sent upstream.
 */
export async function relayUpstreamTask(connection: UpstreamConnection, options: UpstreamTaskOptions): Promise<CallToolResult> {
  const { ctx, timeoutMs } = options;
  const signal = AbortSignal.any([ctx.mcpReq.signal, connection.closedSignal]);
  const request = <T>(method: string, params: Record<string, unknown>, schema: z.ZodType<T>, timeout = timeoutMs): Promise<T> =>
    connection.client.request({ method, params } as never, schema as never, { signal, timeout }) as Promise<T>;

  let upstreamId: string | undefined;
  let detach: (() => void) | undefined;
  try {
    const created = await request('tools/call', { name: options.name, arguments: options.args, task: {} }, createAnswer);
    if (!created.task) return withoutUpstreamMeta(created as CallToolResult);
    upstreamId = created.task.taskId;
    detach = connection.attachTask(upstreamId, { elicit: (params) => askFor(options, params, signal) });
    const status = statusReporter(ctx);
    let task: UpstreamTask = created.task;
    for (;;) {
      status(task);
      if (task.status === 'cancelled')
        throw new ProtocolError(ProtocolErrorCode.InternalError, `upstream ${options.server} cancelled the task`);
      // Blocks until the task ends; the questions it waits for arrive meanwhile.
      if (task.status !== 'working')
        return withoutUpstreamMeta(await request('tasks/result', { taskId: upstreamId }, payload, UNBOUNDED_MS));
      await pause(Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, task.pollInterval ?? 1000)), signal);
      task = await request('tasks/get', { taskId: upstreamId }, upstreamTask);
    }
  } catch (error) {
    if (connection.closedSignal.aborted) {
      const message = `upstream ${options.server} closed the connection the task ran on (it stopped or restarted); the task is lost`;
      throw options.asTask ? new ProtocolError(ProtocolErrorCode.InternalError, message) : new Error(message);
    }
    if (ctx.mcpReq.signal.aborted && upstreamId !== undefined) {
      await connection.client
        .request({ method: 'tasks/cancel', params: { taskId: upstreamId } } as never, upstreamTask as never, { timeout: timeoutMs })
        .catch(() => undefined);
    }
    throw error;
  } finally {
    detach?.();
  }
}

/** A question of the upstream's task, put to the person without the upstream's task id; declined when none can be asked. */
async function askFor(options: UpstreamTaskOptions, params: ElicitRequest['params'], signal: AbortSignal): Promise<ElicitResult> {
  if (!options.ask || params.mode === 'url') return { action: 'decline' };
  const { _meta: upstreamMeta, ...question } = params;
  const { [RELATED_TASK_META_KEY]: _upstream, ...meta } = upstreamMeta ?? {};
  return options.ask({ ...question, ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}) } as Parameters<InputAsker>[0], signal);
}

/** Reports each status of the task as a progress line on the request's token (a task's status message), if it has one. */
function statusReporter(ctx: ServerContext): (task: UpstreamTask) => void {
  const token = ctx.mcpReq._meta?.progressToken;
  let progress = 0;
  return (task) => {
    if (token === undefined) return;
    progress += 1;
    const message = task.statusMessage ?? task.status;
    ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress, message } }).catch(() => undefined);
  };
}

/** A result without the upstream's related-task `_meta` (which names the upstream's task id). */
function withoutUpstreamMeta(answer: Record<string, unknown>): CallToolResult {
  const result = answer as CallToolResult;
  if (!result._meta || !(RELATED_TASK_META_KEY in result._meta)) return result;
  const { [RELATED_TASK_META_KEY]: _upstream, ...meta } = result._meta;
  const { _meta: _dropped, ...rest } = result;
  return { ...rest, ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}) };
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
