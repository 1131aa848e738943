import {
  CLIENT_CAPABILITIES_META_KEY,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  RELATED_TASK_META_KEY,
  type McpServer,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { JsonRpcErrorCode } from '../mcp/jsonrpc-errors.js';
import type { ToolProviderContext } from '../mcp/tool-provider.js';
import { isElicitAnswer, isTerminal, type TaskRecord } from './task-record.js';
import type { TaskRuntime } from './task-runtime.js';
import { detailed2026, result2025, task2025 } from './task-views.js';

/** The 2026-07-28 tasks extension (SEP-2663), as clients and servers declare it under `capabilities.extensions`. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/**
 * `extensions` without the tasks extension, `undefined` when nothing else is left. Tasks through the gateway are this
 * server's (following an upstream's own), so the extension is neither offered in an upstream's name nor declared to
 * an upstream in a client's name, but where the gateway follows the upstream's task (`gateway/modern-relay.ts`).
 */
export function withoutTasksExtension<T>(extensions: Record<string, T> | undefined): Record<string, T> | undefined {
  if (!extensions) return undefined;
  const { [TASKS_EXTENSION]: _tasks, ...rest } = extensions;
  return Object.keys(rest).length > 0 ? rest : undefined;
}

/** The 2025-11-25 server capability: task-augmented `tools/call`, with `tasks/list` and `tasks/cancel`. */
const TASKS_CAPABILITY_2025 = { list: {}, cancel: {}, requests: { tools: { call: {} } } };

/** Tasks per `tasks/list` page. */
const LIST_PAGE = 50;

const taskIdParams = z.object({ taskId: z.string() }).passthrough();
const listParams = z.object({ cursor: z.string().optional() }).passthrough();

/** Options of {@link installTaskMethods}. */
export interface TaskMethodsOptions {
  runtime: TaskRuntime;
  /** PERMISSION_PROMPT_TIMEOUT_MS: how long an elicitation sent on `tasks/result` waits for its answer. */
  promptTimeoutMs: number;
  /** PROGRESS_INTERVAL_MS: keep-alives of a blocking `tasks/result` that carries a progress token. */
  progressIntervalMs: number;
}

/** Whether the request's own `_meta` envelope declares the 2026-07-28 tasks extension. */
export function declaresTasks(ctx: ServerContext): boolean {
  return declaredCapabilities(ctx)?.extensions?.[TASKS_EXTENSION] !== undefined;
}

/** The client capabilities a 2026-07-28 request declares in its envelope. */
export function declaredCapabilities(ctx: ServerContext): DeclaredCapabilities | undefined {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  return envelope?.[CLIENT_CAPABILITIES_META_KEY] as DeclaredCapabilities | undefined;
}

/** Whether a request that declared `declared` can answer any request a 2025-era server could send it. */
export function answersClientRequests(declared: DeclaredCapabilities | undefined): boolean {
  return declared?.elicitation !== undefined || declared?.sampling !== undefined || declared?.roots !== undefined;
}

/** The client capabilities a 2026-07-28 request declares, as far as serving it reads them. */
export interface DeclaredCapabilities {
  elicitation?: object;
  sampling?: object;
  roots?: object;
  extensions?: Record<string, unknown>;
}

/**
 * Declares tasks on one server instance and registers the `tasks/*` methods of its era, over the caller's tasks only
 * (another caller's task is "not found", exactly like one that does not exist).
 *
 * - 2025-11-25: capability `tasks`; `tasks/get`, `tasks/result` (blocks until the task ends, and puts the task's
 *   questions to the client on its own stream as `elicitation/create` with the related-task `_meta`), `tasks/list`,
 *   `tasks/cancel` (-32602 for a task already ended).
 * - 2026-07-28: extension `io.modelcontextprotocol/tasks`; `tasks/get` (the result inline), `tasks/update` (answers
 *   to `inputRequests`), `tasks/cancel` (an acknowledgement, also for an ended task). A request that does not declare
 *   the extension gets -32021 (MissingRequiredClientCapabilityError). `tasks/result` and `tasks/list` do not exist in
 *   this era (the SDK answers -32601).
 */
export function installTaskMethods(server: McpServer, context: ToolProviderContext, options: TaskMethodsOptions): void {
  const { runtime } = options;
  const owner = context.caller.principalId;
  const found = async (taskId: string): Promise<TaskRecord> => {
    const record = await runtime.get(owner, taskId);
    if (!record) throw new ProtocolError(JsonRpcErrorCode.InvalidParams, 'Failed to retrieve task: Task not found');
    return record;
  };
  const low = server.server;
  if (context.era === 'legacy') {
    low.registerCapabilities({ tasks: TASKS_CAPABILITY_2025 } as never);
    low.setRequestHandler('tasks/get', { params: taskIdParams }, async ({ taskId }) => task2025(await found(taskId)));
    low.setRequestHandler('tasks/result', { params: taskIdParams }, ({ taskId }, ctx) => taskResult(owner, taskId, ctx, options, found));
    low.setRequestHandler('tasks/list', { params: listParams }, async ({ cursor }) => {
      const all = await runtime.list(owner);
      const from = cursor === undefined ? 0 : all.findIndex((record) => record.taskId === cursor) + 1;
      if (from === 0 && cursor !== undefined) throw new ProtocolError(JsonRpcErrorCode.InvalidParams, 'Invalid cursor');
      const page = all.slice(from, from + LIST_PAGE);
      return { tasks: page.map(task2025), ...(from + LIST_PAGE < all.length ? { nextCursor: page.at(-1)!.taskId } : {}) };
    });
    low.setRequestHandler('tasks/cancel', { params: taskIdParams }, async ({ taskId }) => {
      const record = await found(taskId);
      if (isTerminal(record.state))
        throw new ProtocolError(JsonRpcErrorCode.InvalidParams, `Cannot cancel task: already ${task2025(record).status}`);
      return task2025((await runtime.cancel(owner, taskId)) ?? record);
    });
    return;
  }
  low.registerCapabilities({ extensions: { [TASKS_EXTENSION]: {} } });
  const gate = (ctx: ServerContext) => {
    if (!declaresTasks(ctx))
      throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
  };
  low.setRequestHandler('tasks/get', { params: taskIdParams }, async ({ taskId }, ctx) => {
    gate(ctx);
    return detailed2026(await found(taskId));
  });
  // Answers arrive as `inputResponses`, which the SDK lifts out of the params into the context.
  low.setRequestHandler('tasks/update', { params: taskIdParams }, async ({ taskId }, ctx) => {
    gate(ctx);
    const record = await found(taskId);
    for (const [key, answer] of Object.entries(ctx.mcpReq.inputResponses ?? {})) {
      if (record.inputRequests?.[key] && isElicitAnswer(answer)) await runtime.answer(owner, taskId, key, answer);
    }
    return {};
  });
  low.setRequestHandler('tasks/cancel', { params: taskIdParams }, async ({ taskId }, ctx) => {
    gate(ctx);
    if (!(await runtime.cancel(owner, taskId)))
      throw new ProtocolError(JsonRpcErrorCode.InvalidParams, 'Failed to retrieve task: Task not found');
    return {};
  });
}

/** Questions being put to a client on some `tasks/result` stream of this process (`taskId\nkey`): asked once. */
const asking = new Set<string>();

/**
 * 2025-11-25 `tasks/result`: blocks until the task ends and answers exactly what the call would have answered. While
 * it waits, each outstanding question is sent on this request's stream (`elicitation/create`, related to the task)
 * and its answer handed to the task; a progress token on the request gets keep-alives.
 */
async function taskResult(
  owner: string,
  taskId: string,
  ctx: ServerContext,
  options: TaskMethodsOptions,
  found: (taskId: string) => Promise<TaskRecord>,
) {
  const { runtime } = options;
  const token = ctx.mcpReq._meta?.progressToken;
  let progress = 0;
  let lastProgress = Date.now();
  for (;;) {
    const record = await found(taskId);
    if (isTerminal(record.state)) return result2025(record);
    for (const [key, input] of Object.entries(record.inputRequests ?? {})) {
      const id = `${taskId}\n${key}`;
      if (asking.has(id)) continue;
      asking.add(id);
      ctx.mcpReq
        .elicitInput(
          { ...input.params, _meta: { ...input.params._meta, [RELATED_TASK_META_KEY]: { taskId } } },
          { timeout: options.promptTimeoutMs, signal: ctx.mcpReq.signal },
        )
        .then((answer) => runtime.answer(owner, taskId, key, answer))
        .catch(() => undefined)
        .finally(() => asking.delete(id));
    }
    if (ctx.mcpReq.signal.aborted) throw new ProtocolError(JsonRpcErrorCode.InternalError, 'the request was cancelled');
    await runtime.waitForChange(taskId, record.pollIntervalMs, ctx.mcpReq.signal);
    if (token !== undefined && Date.now() - lastProgress >= options.progressIntervalMs) {
      lastProgress = Date.now();
      progress += 1;
      ctx.mcpReq
        .notify({
          method: 'notifications/progress',
          params: { progressToken: token, progress, message: record.statusMessage ?? record.state },
        })
        .catch(() => undefined);
    }
  }
}
