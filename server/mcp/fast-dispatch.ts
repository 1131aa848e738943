import type { CallToolRequest, CallToolResult, JSONRPCMessage, JSONRPCRequest, MessageExtraInfo, ServerContext, Transport } from '@modelcontextprotocol/server';

/** What a JSON-RPC message is, decided as the MCP SDK's message guards decide it. */
export type JsonRpcKind = 'request' | 'notification' | 'result' | 'error' | 'invalid';

const RELATED_TASK = 'io.modelcontextprotocol/related-task';

/**
 * Classifies `value` exactly as the SDK's `isJSONRPCResultResponse`, `isJSONRPCErrorResponse`, `isJSONRPCRequest`
 * and `isJSONRPCNotification` do, in the order the SDK's `Protocol` tries them: the same strict envelopes (no keys
 * but `jsonrpc`, `id`, `method`, `params`, `result`, `error`), integer-or-string ids, object `params` and `result`,
 * and the `_meta` fields the SDK's schemas type (`progressToken`, the related-task marker).
 *
 * The guards are zod parses; every message a server receives ran through up to three of them, and the failed ones
 * build error objects. On a short tool call that was a measurable share of the CPU and most of the garbage of
 * opening a session. `test/unit/fast-dispatch.test.ts` checks this function against the SDK's guards.
 */
export function classifyJsonRpc(value: unknown): JsonRpcKind {
  if (!isPlainObject(value) || value.jsonrpc !== '2.0') return 'invalid';
  // The SDK tries the responses first: a message with `result` or `error` is never a request.
  if (hasOnly(value, RESULT_KEYS) && isRequestId(value.id) && isResult(value.result)) return 'result';
  if (hasOnly(value, ERROR_KEYS) && (value.id === undefined || isRequestId(value.id)) && isErrorObject(value.error)) return 'error';
  if (typeof value.method !== 'string' || !isParams(value.params)) return 'invalid';
  if (hasOnly(value, REQUEST_KEYS) && isRequestId(value.id)) return 'request';
  if (hasOnly(value, NOTIFICATION_KEYS)) return 'notification';
  return 'invalid';
}

const RESULT_KEYS = new Set(['jsonrpc', 'id', 'result']);
const ERROR_KEYS = new Set(['jsonrpc', 'id', 'error']);
const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);
const NOTIFICATION_KEYS = new Set(['jsonrpc', 'method', 'params']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasOnly(value: Record<string, unknown>, keys: ReadonlySet<string>): boolean {
  for (const key in value) if (!keys.has(key)) return false;
  return true;
}

function isRequestId(id: unknown): boolean {
  return typeof id === 'string' || Number.isSafeInteger(id);
}

/** `ResultSchema`: an object; its `_meta`, when present, an object (the server-info entry there never fails). */
function isResult(result: unknown): boolean {
  return isPlainObject(result) && (result._meta === undefined || isPlainObject(result._meta));
}

function isErrorObject(error: unknown): boolean {
  return isPlainObject(error) && Number.isSafeInteger(error.code) && typeof error.message === 'string';
}

/** Request and notification `params`: absent, or an object whose `_meta` matches `RequestMetaSchema`. */
function isParams(params: unknown): boolean {
  if (params === undefined) return true;
  if (!isPlainObject(params)) return false;
  const meta = params._meta;
  if (meta === undefined) return true;
  if (!isPlainObject(meta)) return false;
  if (meta.progressToken !== undefined && !isRequestId(meta.progressToken)) return false;
  const task = meta[RELATED_TASK];
  return task === undefined || (isPlainObject(task) && typeof task.taskId === 'string');
}

/** The SDK `Protocol` members a transport's messages are handed to (the SDK's own `onmessage` calls these). */
interface ProtocolDispatch {
  _onrequest(message: JSONRPCMessage, extra?: MessageExtraInfo): void;
  _onnotification(message: JSONRPCMessage, extra?: MessageExtraInfo): void;
  _onresponse(message: JSONRPCMessage): void;
  _onerror(error: Error): void;
}

/**
 * Replaces the message classifier the SDK's `Protocol.connect` installed on `transport` with
 * {@link classifyJsonRpc}; every message still reaches the same `Protocol` method it did, which then validates the
 * method's params as before. Call it right after `connect`, on a transport that had no `onmessage` of its own.
 *
 * Uses `Protocol` members the SDK does not export (the SDK version is pinned in package.json). If they are missing,
 * it changes nothing and returns false, so an SDK upgrade costs speed, never behaviour; a unit test fails then.
 */
export function installFastDispatch(protocol: object, transport: Transport): boolean {
  const target = protocol as Partial<ProtocolDispatch>;
  if (
    typeof target._onrequest !== 'function' ||
    typeof target._onnotification !== 'function' ||
    typeof target._onresponse !== 'function' ||
    typeof target._onerror !== 'function' ||
    typeof transport.onmessage !== 'function'
  ) {
    return false;
  }
  const dispatch = target as ProtocolDispatch;
  transport.onmessage = (message, extra) => {
    switch (classifyJsonRpc(message)) {
      case 'result':
      case 'error':
        return dispatch._onresponse(message);
      case 'request':
        return dispatch._onrequest(message, extra);
      case 'notification':
        return dispatch._onnotification(message, extra);
      default:
        return dispatch._onerror(new Error(`Unknown message type: ${JSON.stringify(message)}`));
    }
  };
  return true;
}

/** A `tools/call` request handler, as the SDK's `Protocol` stores and calls it. */
type StoredHandler = (request: JSONRPCRequest, ctx: ServerContext) => Promise<unknown>;

/** The SDK `Server` members {@link installFastToolCall} works with. */
interface ToolCallInternals {
  _requestHandlers: Map<string, StoredHandler>;
  _wrapHandler(method: string, handler: (request: JSONRPCRequest, ctx: ServerContext) => unknown): StoredHandler;
  _servedModernEra(): boolean;
  _negotiatedProtocolVersion: string | undefined;
}

const CALL_PARAMS_KEYS = new Set(['name', 'arguments', '_meta']);
const PLAIN_RESULT_KEYS = new Set(['content', 'isError', 'structuredContent']);
const TEXT_BLOCK_KEYS = new Set(['type', 'text']);

/**
 * A `tools/call` whose params the 2025-era schema takes as they are: only `name` (a string), `arguments` (an object)
 * and `_meta` (which {@link classifyJsonRpc} has already checked as the SDK does). Anything else (a `task`, unknown
 * keys the schema would strip, a wrong type) goes to the SDK.
 */
function isPlainCallParams(params: unknown): params is { name: string; arguments?: Record<string, unknown> } {
  if (!isPlainObject(params) || !hasOnly(params, CALL_PARAMS_KEYS) || typeof params.name !== 'string') return false;
  return params.arguments === undefined || isPlainObject(params.arguments);
}

/**
 * A result the 2025-era `CallToolResult` schema returns unchanged: text blocks of exactly `type` and `text` (the
 * schema strips other keys of a block), `isError` a boolean and `structuredContent` an object when present, nothing
 * else. Every such value passes the schema of either era, and its parse is a copy with the same JSON. The gateway's
 * relay uses it too, to spare such a result the SDK client's check.
 */
export function isPlainCallResult(result: unknown): result is CallToolResult {
  if (!isPlainObject(result) || !hasOnly(result, PLAIN_RESULT_KEYS) || !Array.isArray(result.content)) return false;
  if (result.isError !== undefined && typeof result.isError !== 'boolean') return false;
  if (result.structuredContent !== undefined && !isPlainObject(result.structuredContent)) return false;
  for (const block of result.content as unknown[]) {
    if (!isPlainObject(block) || !hasOnly(block, TEXT_BLOCK_KEYS) || block.type !== 'text' || typeof block.text !== 'string') return false;
  }
  return true;
}

/**
 * Lets the common `tools/call` of a 2025-era session skip the SDK server's three zod passes: its params are parsed
 * twice (by `setRequestHandler`'s wrapper and by the `Server`'s own `tools/call` wrapper) and its result once. When the
 * params are plain ({@link isPlainCallParams}), `handler` (the one registered with `setRequestHandler`) gets the
 * request as it came; when its result is plain ({@link isPlainCallResult}) it is answered as it is, otherwise it goes
 * through the SDK's result handling, which is the same as before. Everything else (2026-era sessions, a
 * `requestState`, params with anything more) is handled by the SDK as before. Errors pass through unchanged, as the
 * SDK passes them on a 2025-era request.
 *
 * Call it right after registering `handler` for `tools/call`. Like {@link installFastDispatch} it uses `Server`
 * members the SDK does not export; without them it changes nothing and returns false.
 */
export function installFastToolCall(server: object, handler: (request: CallToolRequest, ctx: ServerContext) => Promise<unknown>): boolean {
  const internals = server as Partial<ToolCallInternals>;
  const sdkHandler = internals._requestHandlers instanceof Map ? internals._requestHandlers.get('tools/call') : undefined;
  if (typeof sdkHandler !== 'function' || typeof internals._wrapHandler !== 'function' || typeof internals._servedModernEra !== 'function') return false;
  const sdk = internals as ToolCallInternals;
  sdk._requestHandlers.set('tools/call', (request, ctx) => {
    if (sdk._negotiatedProtocolVersion === undefined || sdk._servedModernEra() || !isPlainCallParams(request.params) || ctx.mcpReq.requestState() !== undefined) {
      return sdkHandler(request, ctx);
    }
    // Plain params are what the SDK's parse would hand the handler, as they came.
    return handler(request as unknown as CallToolRequest, ctx).then((result) => (isPlainCallResult(result) ? result : sdk._wrapHandler('tools/call', () => result)(request, ctx)));
  });
  return true;
}
