import type { JSONRPCMessage, MessageExtraInfo, Transport } from '@modelcontextprotocol/server';

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
