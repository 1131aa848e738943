// Values come from the server package, which is loaded at start-up anyway: importing them from the client package
// here would load the whole client SDK with the gateway provider, which upstream-loader.ts defers to the first
// upstream. The SDK's error classes are branded, so `instanceof` holds across the two packages' copies.
import type {
  ClientCapabilities,
  CreateMessageRequest,
  CreateMessageResult,
  ElicitRequest,
  ElicitResult,
  ListRootsRequest,
  ListRootsResult,
  LoggingMessageNotification,
  RequestOptions,
  Tool,
} from '@modelcontextprotocol/client';
import {
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  SdkErrorCode,
  specTypeSchemas,
  type CallToolResult,
  type ServerContext,
  type StandardSchemaV1,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { isPlainCallResult } from '../mcp/fast-dispatch.js';
import { OVERSIZED_MESSAGE } from './json-rpc-line-reader.js';
import { requestInRounds } from './modern-relay.js';
import type { ProgressParams, RelayTarget, UpstreamConnection } from './upstream.js';

/** One `tools/call` to forward upstream for a client's call. */
export interface ToolCallRelayOptions {
  /** Identifies whose call this is (see {@link RelayTarget.owner}). */
  owner: object | string;
  /** The client's request: abort signal, progress token, notifications, sampling, elicitation, logging. */
  ctx: ServerContext;
  /** The upstream's own tool name. */
  name: string;
  /** The arguments as the client sent them (the upstream validates them). */
  args: Readonly<Record<string, unknown>>;
  /** No answer and no progress within this time fails the call (and cancels it upstream). */
  timeoutMs: number;
  /**
   * The tool's input schema, when it declares `x-mcp-header` parameters (SEP-2243): only the SDK's `callTool` mirrors
   * them into `Mcp-Param-*` headers (and, on its own, recovers from a header mismatch), so such a call goes through it.
   */
  headerSchema?: Tool['inputSchema'];
  /** The client capabilities a 2026-07-28 upstream sees for this call (`modern-relay.ts`); unused on 2025-era connections. */
  capabilities?: ClientCapabilities;
}

/** What sending a call upstream needs besides its params. */
interface SendOptions {
  signal: AbortSignal;
  /** Undefined: the caller's own timer decides. */
  timeoutMs: number | undefined;
  headerSchema: Tool['inputSchema'] | undefined;
  ctx: ServerContext;
  capabilities: ClientCapabilities;
  /** See {@link RoundsOptions.onAsking}. */
  onAsking?: (asking: boolean) => void;
}

/** The SDK's request timeout when our own timer decides (the largest a Node timer takes). */
const BACKSTOP_TIMEOUT_MS = 2_147_483_647;

/** Result families other than a tool's: such a body without `content` is not an empty tool success (the SDK's rule). */
const OTHER_RESULT_KEYS = ['task', 'inputRequests', 'requestState'] as const;

/** Issues reported as the SDK reports a failed result check: `Invalid result for tools/call: <zod's issue list>`. */
function invalid(issues: readonly object[]): StandardSchemaV1.FailureResult {
  return { issues: [{ message: JSON.stringify(issues, null, 2) }] };
}

/** The one rule of the 2025 result schema that the current one (SEP-2106: any JSON value) no longer has. */
const LEGACY_STRUCTURED_CONTENT = z.object({ structuredContent: z.record(z.string(), z.unknown()).optional() });

/** The SDK's full check of a result, for what {@link isPlainCallResult} cannot vouch for. */
function fullCheck(
  value: unknown,
  legacy: boolean,
): StandardSchemaV1.Result<CallToolResult> | Promise<StandardSchemaV1.Result<CallToolResult>> {
  if (typeof value === 'object' && value !== null && (value as { content?: unknown }).content === undefined) {
    const key = OTHER_RESULT_KEYS.find((candidate) => candidate in value);
    if (key)
      return invalid([
        {
          code: 'custom',
          message: `content is required when the body carries '${key}' — another result family cannot default into an empty tools/call success`,
          path: [],
        },
      ]);
  }
  const verdict = (checked: StandardSchemaV1.Result<unknown>): StandardSchemaV1.Result<CallToolResult> => {
    if (checked.issues) return invalid(checked.issues);
    const legacyCheck = legacy ? LEGACY_STRUCTURED_CONTENT.safeParse(checked.value) : undefined;
    return legacyCheck && !legacyCheck.success ? invalid(legacyCheck.error.issues) : { value: checked.value as CallToolResult };
  };
  const checked = specTypeSchemas.CallToolResult['~standard'].validate(value);
  return checked instanceof Promise ? checked.then(verdict) : verdict(checked);
}

/**
 * The result check of a relayed `tools/call` on a connection of one protocol era. The SDK's `callTool` runs zod over
 * every content block and ajv over `structuredContent`, but the upstream is the authority on its tool's output and
 * our server checks every result against the served era's schema before it answers. So the common plain result
 * passes on a few property reads, and anything else gets the SDK's own checks, so a broken result is still a tool
 * error the model reads (`SdkError(InvalidResult)`), not a protocol failure. No longer checked: `structuredContent`
 * against the tool's `outputSchema`.
 */
function resultCheck(legacy: boolean): StandardSchemaV1<unknown, CallToolResult> {
  return {
    '~standard': {
      version: 1,
      vendor: 'claude-code-mcp',
      validate: (value) => (isPlainCallResult(value) ? { value } : fullCheck(value, legacy)),
    },
  };
}

const LEGACY_RESULT = resultCheck(true);
const MODERN_RESULT = resultCheck(false);

/** Why a relayed call ended on our timer; `SdkError(RequestTimeout)` carries it to the tool result. */
function timeoutReason(timeoutMs: number): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InternalError, `no answer or progress within ${timeoutMs} ms`);
}

/**
 * A forwarded call while it is in flight: where the upstream's sampling, elicitation and log messages go, and the
 * ordered queue of what is relayed to the client, so every notification is sent before the result. The methods
 * live on the prototype, so a call allocates this one object.
 */
class CallRelay implements RelayTarget {
  /** Tail of the notifications relayed so far; absent until the first (most calls relay none). */
  private sent: Promise<unknown> | undefined;

  constructor(
    readonly owner: object | string,
    private readonly ctx: ServerContext,
  ) {}

  sample(params: CreateMessageRequest['params']): Promise<CreateMessageResult> {
    return this.ctx.mcpReq.requestSampling(params) as Promise<CreateMessageResult>;
  }

  elicit(params: ElicitRequest['params']): Promise<ElicitResult> {
    return this.ctx.mcpReq.elicitInput(params as Parameters<ServerContext['mcpReq']['elicitInput']>[0]);
  }

  listRoots(params: ListRootsRequest['params']): Promise<ListRootsResult> {
    return this.ctx.mcpReq.send({ method: 'roots/list', ...(params ? { params } : {}) }) as Promise<ListRootsResult>;
  }

  /** Logged through the request, so the client's logging/setLevel applies and it arrives before the result. */
  log(params: LoggingMessageNotification['params']): void {
    this.enqueue(() => this.ctx.mcpReq.log(params.level, params.data, params.logger));
  }

  /** Relays an upstream progress notification under the client's own token. */
  progress(progressToken: string | number, { progress, total, message }: ProgressParams): void {
    this.enqueue(() =>
      this.ctx.mcpReq.notify({
        method: 'notifications/progress',
        params: { progressToken, progress, ...(total !== undefined ? { total } : {}), ...(message !== undefined ? { message } : {}) },
      }),
    );
  }

  /** Settles when everything relayed so far has been sent (or failed); `undefined` when nothing was. */
  flushed(): Promise<unknown> | undefined {
    return this.sent;
  }

  private enqueue(send: () => Promise<unknown>): void {
    this.sent = (this.sent ?? Promise.resolve()).then(send).catch(() => undefined);
  }
}

/**
 * A 2025-era `tools/call` result that came by the direct path, handled as the SDK handles one it receives: a later
 * revision's `resultType` dropped, then the result check, a failure being the SDK's `SdkError(InvalidResult)`.
 */
function checkedDirectResult(raw: unknown): CallToolResult | Promise<CallToolResult> {
  let result = raw;
  if (typeof raw === 'object' && raw !== null && 'resultType' in raw) {
    const { resultType: _dropped, ...rest } = raw as Record<string, unknown>;
    result = rest;
  }
  const verdict = (checked: StandardSchemaV1.Result<CallToolResult>): CallToolResult => {
    if (!checked.issues) return checked.value;
    throw new SdkError(
      SdkErrorCode.InvalidResult,
      `Invalid result for tools/call: ${checked.issues.map((issue) => issue.message).join(', ')}`,
    );
  };
  const checked = LEGACY_RESULT['~standard'].validate(result);
  return checked instanceof Promise ? checked.then(verdict) : verdict(checked);
}

/**
 * Sends the call: by the connection's direct path when it has one (a stdio upstream: no SDK Protocol bookkeeping or
 * zod passes per call), to a 2026-07-28 upstream in the caller's name and rounds (`modern-relay.ts`), else through the
 * SDK client.
 */
function send(
  connection: UpstreamConnection,
  params: { name: string; arguments: Record<string, unknown>; _meta?: { progressToken: string } },
  { signal, timeoutMs, headerSchema, ctx, capabilities, onAsking }: SendOptions,
): Promise<CallToolResult> {
  const options: RequestOptions = { signal, timeout: timeoutMs ?? BACKSTOP_TIMEOUT_MS };
  if (connection.era === 'modern') {
    return requestInRounds(connection, {
      method: 'tools/call',
      params,
      schema: MODERN_RESULT,
      options,
      capabilities,
      ctx,
      ...(headerSchema ? { mirrorHeadersOf: { name: params.name, inputSchema: headerSchema } } : {}),
      ...(onAsking ? { onAsking } : {}),
    });
  }
  if (headerSchema) return connection.client.callTool(params, options) as Promise<CallToolResult>;
  const direct = connection.direct;
  if (direct)
    return direct.request('tools/call', params, { signal, ...(timeoutMs !== undefined ? { timeoutMs } : {}) }).then(checkedDirectResult);
  return connection.client.request({ method: 'tools/call', params }, LEGACY_RESULT, options);
}

/**
 * Forwards a client's `tools/call` upstream and answers with the upstream's result; a JSON-RPC error the upstream
 * answers propagates with its code and data. While the call is in flight the upstream's sampling, elicitation and log
 * messages go to this client (see {@link UpstreamConnection.attachRelay}); the client's cancellation is relayed
 * upstream; and when the client asked for progress, the upstream's progress comes back under the client's token, in
 * order and before the result, each one resetting the timeout.
 */
export async function relayToolCall(
  connection: UpstreamConnection,
  { owner, ctx, name, args, timeoutMs, headerSchema, capabilities }: ToolCallRelayOptions,
): Promise<CallToolResult> {
  const relay = new CallRelay(owner, ctx);
  const clientToken = ctx.mcpReq._meta?.progressToken;
  // Both paths serialize the arguments and never write to them.
  const params = { name, arguments: args as Record<string, unknown> };
  const sending = { signal: ctx.mcpReq.signal, timeoutMs, headerSchema, ctx, capabilities: capabilities ?? {} };
  try {
    return await inFlight(connection, relay, () =>
      clientToken === undefined
        ? withoutProgress(connection, params, sending)
        : withProgress(connection, relay, clientToken, params, sending),
    );
  } catch (error) {
    // An answer too large to relay is the call failing, which the model should read as a tool error naming the limit.
    if (error instanceof ProtocolError && (error.data as Record<string, unknown> | undefined)?.[OVERSIZED_MESSAGE])
      throw new Error(error.message);
    throw error;
  }
}

/** Runs `request` with `relay` attached to `connection`; settles once what it relayed has been sent. */
async function inFlight<T>(connection: UpstreamConnection, relay: CallRelay, request: () => Promise<T>): Promise<T> {
  connection.attachRelay(relay);
  try {
    return await request();
  } finally {
    connection.detachRelay(relay);
    const sent = relay.flushed();
    if (sent) await sent;
  }
}

/**
 * A call without progress: the upstream gets no progress token, so nothing can reset the timeout and the request's own
 * timer (the SDK's, or the direct path's) is ours. The client's signal goes to the request as it is (giving up sends
 * `notifications/cancelled` upstream).
 */
async function withoutProgress(
  connection: UpstreamConnection,
  params: { name: string; arguments: Record<string, unknown> },
  sending: SendOptions & { timeoutMs: number },
): Promise<CallToolResult> {
  try {
    return await send(connection, params, sending);
  } catch (error) {
    // The request's timer fired (not the client cancelling): the same error as the timer of withProgress gives.
    if (error instanceof SdkError && error.code === SdkErrorCode.RequestTimeout && !sending.signal.aborted) {
      throw new SdkError(SdkErrorCode.RequestTimeout, String(timeoutReason(sending.timeoutMs)));
    }
    throw error;
  }
}

/**
 * A call whose progress is relayed. The upstream gets our own token (see {@link UpstreamConnection.trackProgress}), so
 * the SDK never sees the progress and cannot reset its timeout: our timer decides, reset by each progress relayed
 * (the SDK's timeout, on that path, is only a backstop).
 */
async function withProgress(
  connection: UpstreamConnection,
  relay: CallRelay,
  clientToken: string | number,
  params: { name: string; arguments: Record<string, unknown> },
  sending: SendOptions & { timeoutMs: number },
): Promise<CallToolResult> {
  const { signal: clientSignal, timeoutMs } = sending;
  const controller = new AbortController();
  const forwardAbort = () => controller.abort(clientSignal.reason);
  if (clientSignal.aborted) forwardAbort();
  else clientSignal.addEventListener('abort', forwardAbort, { once: true });
  // While a 2026-07-28 upstream's question is with the caller, the upstream is not working: that time does not count.
  let asking = 0;
  const timer = setTimeout(() => (asking > 0 ? timer.refresh() : controller.abort(timeoutReason(timeoutMs))), timeoutMs);
  timer.unref();
  const progress = connection.trackProgress((params) => {
    timer.refresh();
    relay.progress(clientToken, params);
  });
  const onAsking = (started: boolean) => {
    asking += started ? 1 : -1;
    timer.refresh();
  };
  try {
    return await send(
      connection,
      { ...params, _meta: { progressToken: progress.token } },
      { ...sending, signal: controller.signal, timeoutMs: undefined, onAsking },
    );
  } finally {
    progress.done();
    clearTimeout(timer);
    clientSignal.removeEventListener('abort', forwardAbort);
  }
}

/**
 * Runs `request` (a forwarded `prompts/get` or `resources/read`) as a call in flight on `connection`: the upstream's
 * sampling, elicitation and roots requests meanwhile go to this client (a 2025-era one; a 2026-07-28 request has no
 * channel, so they fail), and no other client's call takes them for its own.
 */
export async function relayDuring<T>(
  connection: UpstreamConnection,
  owner: object | string,
  ctx: ServerContext,
  request: () => Promise<T>,
): Promise<T> {
  return inFlight(connection, new CallRelay(owner, ctx), request);
}

/**
 * Options of a forwarded request other than a tool call (prompts, resource reads): the client's cancellation (its
 * abort signal) relayed upstream, and the upstream's progress relayed back under the client's own token, in order.
 */
export function relayRequestOptions(ctx: ServerContext, timeoutMs: number): RequestOptions {
  const progressToken = ctx.mcpReq._meta?.progressToken;
  if (progressToken === undefined) return { signal: ctx.mcpReq.signal, timeout: timeoutMs, resetTimeoutOnProgress: true };
  let sent: Promise<unknown> = Promise.resolve();
  return {
    signal: ctx.mcpReq.signal,
    timeout: timeoutMs,
    resetTimeoutOnProgress: true,
    onprogress: (progress) => {
      sent = sent
        .then(() => ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken, ...progress } }))
        .catch(() => undefined);
    },
  };
}
