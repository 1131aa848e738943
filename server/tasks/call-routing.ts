import {
  ProtocolError,
  type CallToolResult,
  type InputRequiredResult,
  type McpServer,
  type ServerOptions,
} from '@modelcontextprotocol/server';
import { sendAsIs } from '../mcp/fast-dispatch.js';
import { JsonRpcErrorCode } from '../mcp/jsonrpc-errors.js';
import type { Caller } from '../mcp/caller.js';
import type { InputAsker, RequestRounds, ToolCall, ToolDefinition, ToolProviderContext } from '../mcp/tool-provider.js';
import { detachContext, toolCallWork } from './detached-call.js';
import type { ParkedCalls } from './parked-calls.js';
import { answersClientRequests, declaredCapabilities, declaresTasks, installTaskMethods } from './task-protocol.js';
import type { TaskRecord } from './task-record.js';
import type { TaskRuntime } from './task-runtime.js';
import { TaskLimitReached, type TaskSpec } from './task-work.js';
import { created2026, task2025 } from './task-views.js';

/** Options of {@link createCallRouting}. */
export interface CallRoutingOptions {
  /** The task runtime; absent when tasks are off (TASKS_ENABLED=false). */
  runtime?: TaskRuntime;
  parked: ParkedCalls;
  /** PERMISSION_PROMPT_TIMEOUT_MS */
  promptTimeoutMs: number;
  /** PROGRESS_INTERVAL_MS */
  progressIntervalMs: number;
}

/** One `tools/call` as the server factory hands it over. */
export interface RoutedCall {
  server: McpServer;
  context: ToolProviderContext;
  definition: ToolDefinition;
  call: ToolCall;
  /** The 2025-11-25 `task` param, when the call carries one. */
  task?: { ttl?: number | null };
  /** Whether task answers can go out on this instance (the SDK internals they need are there). */
  taskAnswers: boolean;
  /** Runs the tool as a direct call would (interceptors, result projection). */
  run(call: ToolCall): Promise<CallToolResult>;
}

/**
 * How a `tools/call` is served — the one place that decides, by era, what the client declared and the tool:
 *
 * | request | served as | questions (permission prompts) reach the person through |
 * |---|---|---|
 * | 2025-era, `task` param, tool with task support | a task (`CreateTaskResult` at once) | `tasks/result` (elicitation related to the task), if the session declared elicitation |
 * | 2025-era, `task` param, tool without | -32601, as the spec says | — |
 * | 2025-era, plain | a direct call | `elicitation/create` on the call's stream, if the session declared elicitation |
 * | 2026-07-28, extension declared, tool with task support | a task (flat `CreateTaskResult` at once) | `input_required` + `tasks/update`, if the request declared elicitation |
 * | 2026-07-28, extension declared, tool that starts its task late | a direct call (parked between rounds if the request can answer) until the tool starts the task; then its `CreateTaskResult` | `input_required` rounds, then as any task |
 * | 2026-07-28, tool with task support, elicitation declared | a direct call parked between rounds | `input_required` results and retries |
 * | 2026-07-28, gateway tool, elicitation/sampling/roots declared | a direct call parked between rounds | `input_required` rounds |
 * | anything else | a direct call | nobody: the operator's policy decides |
 */
export interface CallRouting {
  /** Server options every instance needs (the verification of multi-round-trip `requestState`). */
  readonly serverOptions: Pick<ServerOptions, 'requestState'>;
  /** Whether calls may become tasks (TASKS_ENABLED). */
  readonly offersTasks: boolean;
  /** Declares tasks and registers `tasks/*` on one instance, when tasks are on and answers can go out. */
  install(server: McpServer, context: ToolProviderContext, taskAnswers: boolean): void;
  /** Serves one call; a task's `CreateTaskResult` comes back marked to go out as it is (fast-dispatch.ts). */
  serve(routed: RoutedCall): Promise<CallToolResult | InputRequiredResult>;
  /** The {@link RequestRounds} of a 2026-07-28 instance serving `caller`. */
  rounds(caller: Caller): RequestRounds;
}

/** Creates the routing of `tools/call`. */
export function createCallRouting({ runtime, parked, promptTimeoutMs, progressIntervalMs }: CallRoutingOptions): CallRouting {
  const startTask = async (spec: TaskSpec): Promise<TaskRecord> => {
    try {
      return await runtime!.start(spec);
    } catch (error) {
      if (!(error instanceof TaskLimitReached)) throw error;
      // The client asked for a task and gets one: already failed, with the tool error it would have got.
      return runtime!.settled(
        { ...spec, kind: spec.work.kind },
        { isError: true, content: [{ type: 'text', text: `busy: ${error.message}` }] },
      );
    }
  };

  /**
   * A call whose tool starts its task itself ({@link ToolDefinition.startsTaskLate}): parked between rounds when the
   * client can answer, and answered with the task's `CreateTaskResult` once the tool hands its work over.
   */
  const serveLate = (
    call: ToolCall,
    run: RoutedCall['run'],
    { parks, canAsk }: { parks: boolean; canAsk: boolean },
  ): Promise<CallToolResult | InputRequiredResult> => {
    let created: CallToolResult | undefined;
    const late: ToolCall = {
      ...call,
      startTask: async (work) => {
        const record = await startTask({ owner: call.caller.principalId, tool: call.tool, origin: 'task-2026', work, canAsk });
        created = sendAsIs(created2026(record)) as unknown as CallToolResult;
        return { content: [] };
      },
    };
    const runLate = (routed: ToolCall) => run(routed).then((result) => created ?? result);
    return parks ? parked.serve(late, runLate) : runLate(late);
  };

  return {
    serverOptions: { requestState: { verify: parked.verify } },
    offersTasks: runtime !== undefined,
    install(server, context, taskAnswers) {
      if (runtime && taskAnswers) installTaskMethods(server, context, { runtime, promptTimeoutMs, progressIntervalMs });
    },
    rounds(caller) {
      return (ctx, name, start) => {
        // A retry comes back with its requestState; a first round is parked only when the client can answer something.
        if (ctx.mcpReq.requestState() === undefined && !answersClientRequests(declaredCapabilities(ctx))) return start(ctx);
        return parked.serveRequest(ctx, caller.principalId, `${ctx.mcpReq.method} ${name}`, (host) => start(detachContext(ctx, host)));
      };
    },
    async serve({ server, context, definition, call, task, taskAnswers, run }) {
      const tasksOn = runtime !== undefined && taskAnswers;
      const ctx = call.requestContext;
      const owner = call.caller.principalId;
      if (context.era === 'legacy') {
        const sessionCapabilities = server.server.getClientCapabilities() as { elicitation?: object; tasks?: object } | undefined;
        const canAsk = sessionCapabilities?.elicitation !== undefined;
        if (task && tasksOn) {
          if (definition.taskSupport === undefined)
            throw new ProtocolError(JsonRpcErrorCode.MethodNotFound, `Tool ${call.tool} does not support task-augmented calls`);
          const record = await startTask({
            owner,
            tool: call.tool,
            origin: 'task-2025',
            work: toolCallWork(call, run),
            ttlMs: task.ttl,
            canAsk,
          });
          return sendAsIs({ task: task2025(record) }) as unknown as CallToolResult;
        }
        const ask: InputAsker | undefined = canAsk
          ? (params, signal) => ctx.mcpReq.elicitInput(params, { timeout: promptTimeoutMs, signal })
          : undefined;
        return run({ ...call, ...(ask ? { ask } : {}), answersTasks: canAsk && sessionCapabilities?.tasks !== undefined });
      }
      const declared = declaredCapabilities(ctx);
      const canAsk = declared?.elicitation !== undefined;
      const modernCall: ToolCall = { ...call, answersTasks: canAsk && declaresTasks(ctx) };
      // A retry of a parked call comes back with its requestState, whatever else it declares.
      if (ctx.mcpReq.requestState() !== undefined) return parked.serve(modernCall, run);
      if (tasksOn && definition.taskSupport !== undefined && declaresTasks(ctx)) {
        if (definition.startsTaskLate) return serveLate(modernCall, run, { parks: answersClientRequests(declared), canAsk });
        const record = await startTask({ owner, tool: call.tool, origin: 'task-2026', work: toolCallWork(modernCall, run), canAsk });
        return sendAsIs(created2026(record)) as unknown as CallToolResult;
      }
      if (canAsk && definition.taskSupport !== undefined) return parked.serve(modernCall, run);
      if (definition.relaysClientRequests && answersClientRequests(declared)) return parked.serve(modernCall, run);
      return run(modernCall);
    },
  };
}
