// Values from the server package, as in call-relay.ts: the client package loads with the first upstream only.
import type { ClientCapabilities, InputRequiredResult, RequestOptions, Tool } from '@modelcontextprotocol/client';
import {
  CLIENT_CAPABILITIES_META_KEY,
  LOG_LEVEL_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext,
  type StandardSchemaV1,
} from '@modelcontextprotocol/server';
import { clientRequesterOf, type ClientRequest } from '../tasks/detached-call.js';
import { TASKS_EXTENSION, withoutTasksExtension } from '../tasks/task-protocol.js';
import type { UpstreamConnection } from './upstream.js';

/**
 * Where a 2026-07-28 upstream's task answer (`resultType: "task"`) is carried: the SDK client decodes only complete
 * and `input_required` results, so the connection rewrites a task answer on arrival into a complete result holding
 * the task under this `_meta` key (`UpstreamConnection.connect`); only the task relay reads it. Defined here, not in
 * upstream.ts, which loads the client SDK that start-up defers to the first upstream (upstream-loader.ts).
 */
export const UPSTREAM_TASK_META_KEY = 'claude-code-mcp/upstream-task';

/** Rounds one request may take before the relay gives up on an upstream that keeps asking. */
const MAX_ROUNDS = 16;
/** Input requests one round may carry: each becomes a question to the caller. */
const MAX_INPUTS_PER_ROUND = 64;

/** The methods a 2026-07-28 server may answer with `input_required`. */
export type RoundsMethod = 'tools/call' | 'prompts/get' | 'resources/read';

/**
 * The client capabilities a 2026-07-28 upstream sees for a call: the caller's own (its session's on a 2025-era
 * instance, its request's on a 2026-07-28 one), as far as the gateway relays them — elicitation and sampling always,
 * roots when the entry sets `roots`, the caller's extensions but tasks, which the gateway declares only when it
 * follows the upstream's task (`withTasks`). So the upstream decides as it would for that caller: what it did not
 * declare is refused by the upstream (-32021), not asked and then declined here.
 */
export function upstreamCapabilities(
  caller: ClientCapabilities | undefined,
  { roots, withTasks }: { roots: boolean; withTasks: boolean },
): ClientCapabilities {
  const extensions = {
    ...withoutTasksExtension(caller?.extensions as Record<string, object> | undefined),
    ...(withTasks ? { [TASKS_EXTENSION]: {} } : {}),
  };
  return {
    ...(caller?.elicitation ? { elicitation: caller.elicitation } : {}),
    ...(caller?.sampling ? { sampling: caller.sampling } : {}),
    ...(roots && caller?.roots ? { roots: caller.roots } : {}),
    ...(Object.keys(extensions).length > 0 ? { extensions } : {}),
  };
}

/** Options of {@link requestInRounds}. */
export interface RoundsOptions<T> {
  method: RoundsMethod;
  params: Record<string, unknown>;
  /** The complete result's check. */
  schema: StandardSchemaV1<unknown, T>;
  /** Signal, timeout, progress of each leg. */
  options: RequestOptions;
  /** The client capabilities the upstream sees (see {@link upstreamCapabilities}). */
  capabilities: ClientCapabilities;
  /** The caller's request, whose client answers the upstream's input requests. */
  ctx: ServerContext;
  /** The call follows the upstream's task, so a task answer is expected (see {@link upstreamTaskOf}). */
  acceptsTask?: boolean;
  /**
   * A tool declaring `x-mcp-header` parameters: its call goes through the SDK's `callTool`, which mirrors them into
   * `Mcp-Param-*` headers for an HTTP upstream. Given without an output schema, whose check `callTool` would apply to
   * an `input_required` answer too (the upstream owns its output; see call-relay.ts).
   */
  mirrorHeadersOf?: Pick<Tool, 'name' | 'inputSchema'>;
  /** Told when the caller is being asked and when it answered: a timer of the call's own stops counting meanwhile. */
  onAsking?: (asking: boolean) => void;
}

/**
 * Sends one request to a 2026-07-28 upstream in its caller's name and serves the upstream's `input_required` rounds
 * through that caller: each input request is put to the caller under the upstream's own key (a parked 2026-07-28
 * call passes it on in its own `input_required` round; a 2025-era session gets it as a server-to-client request),
 * and the request is sent again with the answers and the upstream's `requestState`, echoed as it came. Each leg is a
 * new request upstream; the rounds belong to this call alone, whoever else is calling the same upstream.
 */
export async function requestInRounds<T>(connection: UpstreamConnection, rounds: RoundsOptions<T>): Promise<T> {
  const { method, ctx, options } = rounds;
  const first = {
    ...rounds.params,
    _meta: { ...(rounds.params._meta as object | undefined), [CLIENT_CAPABILITIES_META_KEY]: rounds.capabilities, ...logLevelOf(ctx) },
  };
  let params: Record<string, unknown> = { ...first, ...unsolicitedAnswers(ctx) };
  // Between two legs nothing is in flight upstream, yet the call goes on: the connection stays in use.
  const release = connection.hold();
  try {
    for (let round = 0; ; round += 1) {
      const legOptions = { ...options, allowInputRequired: true };
      const answer = (
        rounds.mirrorHeadersOf && method === 'tools/call'
          ? await connection.client.callTool(params as never, { ...legOptions, toolDefinition: rounds.mirrorHeadersOf as Tool })
          : await connection.client.request({ method, params } as never, rounds.schema as never, legOptions)
      ) as T | InputRequiredResult;
      if (!isInputRequired(answer)) {
        if (!rounds.acceptsTask && upstreamTaskOf(answer) !== undefined)
          throw new ProtocolError(ProtocolErrorCode.InternalError, `${method}: the upstream answered with a task the call did not ask for`);
        return answer;
      }
      if (round + 1 >= MAX_ROUNDS)
        throw new ProtocolError(
          ProtocolErrorCode.InternalError,
          `${method}: the upstream still asked for input after ${MAX_ROUNDS} rounds`,
        );
      const asked = Object.entries(answer.inputRequests ?? {});
      if (asked.length > MAX_INPUTS_PER_ROUND)
        throw new ProtocolError(
          ProtocolErrorCode.InternalError,
          `${method}: the upstream asked for ${asked.length} inputs in one round (at most ${MAX_INPUTS_PER_ROUND} are relayed)`,
        );
      const responses: Record<string, unknown> = {};
      rounds.onAsking?.(true);
      try {
        await Promise.all(
          asked.map(async ([key, request]) => {
            responses[key] = await askCaller(ctx, { ...(request as ClientRequest), key }, options.signal);
          }),
        );
      } finally {
        rounds.onAsking?.(false);
      }
      params = {
        ...first,
        ...(Object.keys(responses).length > 0 ? { inputResponses: responses } : {}),
        ...(answer.requestState !== undefined ? { requestState: answer.requestState } : {}),
      };
    }
  } finally {
    release();
  }
}

/**
 * Answers a caller sent with its first request, unasked (`inputResponses` without a `requestState`): the upstream's
 * to use or ignore, as if the caller had called it directly. A retry's answers are the gateway's round's, not these.
 */
function unsolicitedAnswers(ctx: ServerContext): { inputResponses?: Record<string, unknown> } {
  const answers = ctx.mcpReq.inputResponses;
  if (!answers || Object.keys(answers).length === 0 || ctx.mcpReq.requestState() !== undefined) return {};
  return { inputResponses: answers };
}

/**
 * The log level a 2026-07-28 upstream is asked for (it sends no log messages without one): a 2026-07-28 caller's
 * own, if it asked for any; for a 2025-era session every message, which the session's `logging/setLevel` then
 * filters as it relays them.
 */
function logLevelOf(ctx: ServerContext): Record<string, unknown> {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  if (!envelope) return { [LOG_LEVEL_META_KEY]: 'debug' };
  const level = envelope[LOG_LEVEL_META_KEY];
  return level === undefined ? {} : { [LOG_LEVEL_META_KEY]: level };
}

/** The upstream task a {@link requestInRounds} answer carries, when the upstream answered with a task. */
export function upstreamTaskOf(answer: unknown): Record<string, unknown> | undefined {
  const meta = (answer as { _meta?: Record<string, unknown> } | undefined)?._meta;
  const task = meta?.[UPSTREAM_TASK_META_KEY];
  return typeof task === 'object' && task !== null ? (task as Record<string, unknown>) : undefined;
}

/** Whether `error` is an upstream's -32021 asking for the tasks extension (it runs the tool only as a task). */
export function requiresTasks(error: unknown): boolean {
  if (!(error instanceof ProtocolError) || error.code !== ProtocolErrorCode.MissingRequiredClientCapability) return false;
  const required = (error.data as { requiredCapabilities?: { extensions?: Record<string, unknown> } } | undefined)?.requiredCapabilities;
  return required?.extensions?.[TASKS_EXTENSION] !== undefined;
}

function isInputRequired(answer: unknown): answer is InputRequiredResult {
  return (answer as { resultType?: unknown } | undefined)?.resultType === 'input_required';
}

/**
 * Puts one input request to the caller. What it cannot answer is answered in its place, as for a request it did not
 * declare: an elicitation is declined, roots are none; sampling cannot be answered by anyone else, so the call fails.
 */
async function askCaller(ctx: ServerContext, request: ClientRequest, signal: AbortSignal | undefined): Promise<unknown> {
  const requester = clientRequesterOf(ctx);
  const params = (request.params ?? {}) as never;
  try {
    if (requester) return await requester(request, signal ?? ctx.mcpReq.signal);
    switch (request.method) {
      case 'elicitation/create':
        return await ctx.mcpReq.elicitInput(params);
      case 'sampling/createMessage':
        return await ctx.mcpReq.requestSampling(params);
      case 'roots/list':
        return await ctx.mcpReq.send({ method: 'roots/list' } as never);
      default:
        throw new Error(`unknown input request ${String(request.method)}`);
    }
  } catch (error) {
    if (request.method === 'elicitation/create') return { action: 'decline' };
    if (request.method === 'roots/list') return { roots: [] };
    throw new ProtocolError(
      ProtocolErrorCode.InternalError,
      `the upstream asked for ${String(request.method)}, which the client could not answer: ${(error as Error).message}`,
    );
  }
}
