// Values from the server package, as in call-relay.ts: the client package loads with the first upstream only.
import type { ClientCapabilities, ElicitRequest, ElicitResult } from '@modelcontextprotocol/client';
import {
  CLIENT_CAPABILITIES_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  RELATED_TASK_META_KEY,
  type CallToolResult,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { InputAsker } from '../mcp/tool-provider.js';
import { requestInRounds, upstreamTaskOf } from './modern-relay.js';
import type { UpstreamConnection } from './upstream.js';

/** An upstream's 2025-11-25 `Task`, as far as the relay reads it. */
const upstreamTask = z.looseObject({
  taskId: z.string(),
  status: z.enum(['working', 'input_required', 'completed', 'failed', 'cancelled']),
  statusMessage: z.string().optional(),
  pollInterval: z.number().optional(),
});
type UpstreamTask = z.infer<typeof upstreamTask>;

/** A 2026-07-28 upstream's task (the tasks extension): its `tasks/get` carries the questions, the result or the error. */
const upstreamTask2026 = z.looseObject({
  taskId: z.string(),
  status: z.enum(['working', 'input_required', 'completed', 'failed', 'cancelled']),
  statusMessage: z.string().optional(),
  pollIntervalMs: z.number().optional(),
  inputRequests: z
    .record(z.string(), z.looseObject({ method: z.string(), params: z.record(z.string(), z.unknown()).optional() }))
    .optional(),
  result: z.unknown().optional(),
  error: z.looseObject({ code: z.number(), message: z.string(), data: z.unknown().optional() }).optional(),
});
export type UpstreamTask2026 = z.infer<typeof upstreamTask2026>;

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
  /** The client capabilities a 2026-07-28 upstream sees, the tasks extension among them (`modern-relay.ts`). */
  capabilities?: ClientCapabilities;
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
  if (connection.era === 'modern') return relayModernTask(connection, options);
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
    throw await ended(connection, options, upstreamId, error, {});
  } finally {
    detach?.();
  }
}

/**
 * The error a relayed task ends with: a lost connection says so; a caller's cancellation is sent upstream first
 * (`tasks/cancel`, with `meta` as the request's `_meta`).
 */
async function ended(
  connection: UpstreamConnection,
  options: UpstreamTaskOptions,
  upstreamId: string | undefined,
  error: unknown,
  meta: Record<string, unknown>,
): Promise<unknown> {
  if (connection.closedSignal.aborted) {
    const message = `upstream ${options.server} closed the connection the task ran on (it stopped or restarted); the task is lost`;
    return options.asTask ? new ProtocolError(ProtocolErrorCode.InternalError, message) : new Error(message);
  }
  if (options.ctx.mcpReq.signal.aborted && upstreamId !== undefined) {
    const params = { taskId: upstreamId, ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}) };
    await connection.client
      .request({ method: 'tasks/cancel', params } as never, z.looseObject({}) as never, { timeout: options.timeoutMs })
      .catch(() => undefined);
  }
  return error;
}

/** A 2026-07-28 upstream's answer to a call that may become its task: its task, or the result it answered instead. */
export type ModernTaskStart = { task: UpstreamTask2026 } | { result: CallToolResult };

/**
 * {@link relayUpstreamTask} for a 2026-07-28 upstream (the tasks extension): {@link startModernTask}, then
 * {@link followModernTask}.
 */
async function relayModernTask(connection: UpstreamConnection, options: UpstreamTaskOptions): Promise<CallToolResult> {
  const started = await startModernTask(connection, options);
  return 'result' in started ? started.result : followModernTask(connection, started.task, options);
}

/** The `_meta` of requests about a 2026-07-28 upstream's task: the capabilities declared for the call, tasks among them. */
function taskMeta(options: UpstreamTaskOptions): Record<string, unknown> {
  return { [CLIENT_CAPABILITIES_META_KEY]: options.capabilities ?? {} };
}

/**
 * Calls a tool of a 2026-07-28 upstream in the caller's name with the tasks extension declared. The upstream's
 * `input_required` rounds before its task exists reach the caller as any call's do (`modern-relay.ts`); it ends
 * with the upstream's task, or with the result the upstream answered without one.
 */
export async function startModernTask(connection: UpstreamConnection, options: UpstreamTaskOptions): Promise<ModernTaskStart> {
  const { ctx, timeoutMs } = options;
  const signal = AbortSignal.any([ctx.mcpReq.signal, connection.closedSignal]);
  try {
    const created = await requestInRounds(connection, {
      method: 'tools/call',
      params: { name: options.name, arguments: options.args },
      schema: payload as never,
      options: { signal, timeout: timeoutMs },
      capabilities: options.capabilities ?? {},
      ctx,
      acceptsTask: true,
    });
    const task = upstreamTaskOf(created);
    return task ? { task: upstreamTask2026.parse(task) } : { result: withoutUpstreamMeta(created as Record<string, unknown>) };
  } catch (error) {
    throw await ended(connection, options, undefined, error, taskMeta(options));
  }
}

/**
 * Follows a 2026-07-28 upstream's task to its end: `tasks/get` at the upstream's interval (each status a progress
 * line on `options.ctx`), its questions (`inputRequests` while `input_required`) put to the person through `ask` and
 * answered with `tasks/update` under the upstream's keys, and the result or error inline once it ends. `options.ctx`'s
 * signal aborting (the caller cancelled) sends `tasks/cancel` upstream.
 */
export async function followModernTask(
  connection: UpstreamConnection,
  created: UpstreamTask2026,
  options: UpstreamTaskOptions,
): Promise<CallToolResult> {
  const { ctx, timeoutMs } = options;
  const signal = AbortSignal.any([ctx.mcpReq.signal, connection.closedSignal]);
  const meta = taskMeta(options);
  const request = <T>(method: string, params: Record<string, unknown>, schema: z.ZodType<T>): Promise<T> =>
    connection.client.request({ method, params: { ...params, _meta: meta } } as never, schema as never, {
      signal,
      timeout: timeoutMs,
    }) as Promise<T>;
  const upstreamId = created.taskId;
  // A task followed keeps its connection in use (a principal's idle connection is not closed under it).
  const release = connection.hold();
  try {
    // The create answer is a bare task: past `working` its questions, result or error come only with tasks/get.
    let task = created.status === 'working' ? created : await request('tasks/get', { taskId: upstreamId }, upstreamTask2026);
    const status = statusReporter(ctx);
    // Questions already put to the person, by key, while the task stays input_required (an answer takes a poll to show).
    const asked = new Set<string>();
    for (;;) {
      status(task);
      if (task.status === 'completed') {
        if (task.result === undefined)
          throw new ProtocolError(
            ProtocolErrorCode.InternalError,
            `upstream ${options.server} reported its task completed without a result`,
          );
        return withoutUpstreamMeta(payload.parse(task.result));
      }
      if (task.status === 'failed')
        throw new ProtocolError(
          task.error?.code ?? ProtocolErrorCode.InternalError,
          task.error?.message ?? 'the upstream task failed',
          task.error?.data,
        );
      if (task.status === 'cancelled')
        throw new ProtocolError(ProtocolErrorCode.InternalError, `upstream ${options.server} cancelled the task`);
      if (task.status === 'input_required') {
        // All at once, so the person sees every open question; each answer goes upstream as it comes.
        const open = Object.entries(task.inputRequests ?? {}).filter(([key]) => !asked.has(key));
        for (const [key] of open) asked.add(key);
        await Promise.all(
          open.map(async ([key, input]) => {
            const answer = await answerInTask(options, input, signal);
            await request('tasks/update', { taskId: upstreamId, inputResponses: { [key]: answer } }, z.looseObject({}));
          }),
        );
      } else asked.clear();
      await pause(Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, task.pollIntervalMs ?? 1000)), signal);
      task = await request('tasks/get', { taskId: upstreamId }, upstreamTask2026);
    }
  } catch (error) {
    throw await ended(connection, options, upstreamId, error, meta);
  } finally {
    release();
  }
}

/** The answer to one question of a 2026-07-28 upstream task: an elicitation is put to the person; other kinds have no one to ask. */
async function answerInTask(
  options: UpstreamTaskOptions,
  input: { method: string; params?: Record<string, unknown> },
  signal: AbortSignal,
): Promise<unknown> {
  if (input.method === 'elicitation/create') return askFor(options, (input.params ?? {}) as ElicitRequest['params'], signal);
  if (input.method === 'roots/list') return { roots: [] };
  throw new ProtocolError(
    ProtocolErrorCode.InternalError,
    `upstream ${options.server}'s task asked for ${input.method}, which a task cannot relay`,
  );
}

/** A question of the upstream's task, put to the person without the upstream's task id; declined when none can be asked. */
async function askFor(options: UpstreamTaskOptions, params: ElicitRequest['params'], signal: AbortSignal): Promise<ElicitResult> {
  if (!options.ask || params.mode === 'url') return { action: 'decline' };
  const { _meta: upstreamMeta, ...question } = params;
  const { [RELATED_TASK_META_KEY]: _upstream, ...meta } = upstreamMeta ?? {};
  return options.ask({ ...question, ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}) } as Parameters<InputAsker>[0], signal);
}

/** Reports each status of the task as a progress line on the request's token (a task's status message), if it has one. */
function statusReporter(ctx: ServerContext): (task: Pick<UpstreamTask, 'status' | 'statusMessage'>) => void {
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
