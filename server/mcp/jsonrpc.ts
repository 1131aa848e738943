import type { JSONRPCMessage } from '@modelcontextprotocol/server';

/**
 * The one home of JSON-RPC 2.0 message shape checks. Three callers look at messages before the SDK does, each for its
 * own reason, so each applies its own rules; all of them are written here, over the same primitives:
 *
 * - a server's message router (`fast-dispatch.ts`, `streamable-endpoint.ts`): {@link classifyJsonRpc} with
 *   {@link SDK_MESSAGE_RULES}, exactly the SDK's guards;
 * - the gateway's stdio reader (`gateway/json-rpc-line-reader.ts`): {@link isJsonRpcEnvelope}, by
 *   {@link ENVELOPE_RULES}, the envelope only;
 * - the HTTP layer (`http/routes/mcp-routes.ts`, `node-streamable-transport.ts`): {@link isJsonRpcPayload}, loose:
 *   "is this JSON-RPC at all".
 *
 * Why they differ:
 * - The router replaces the SDK's own classification, so it must answer exactly as the SDK's zod guards do, down to
 *   `params._meta` and the safe-integer bound of zod's `int()`; `test/unit/mcp/fast-dispatch.test.ts` checks it
 *   against them.
 * - The stdio reader checks what an upstream writes: the envelope the SDK's `deserializeMessage` checks, but not
 *   what a request's or notification's `params._meta` holds (the SDK's Protocol, which validates every message it is
 *   handed, checks that), and any integer as an id or error code, as it always has. An id or code beyond 2^53 is
 *   therefore taken here and refused by the Protocol instead of by the reader (both report it through `onerror`).
 * - The HTTP layer only separates JSON that is not JSON-RPC (answered -32600 by JSON-RPC 2.0 §5.1; the SDK would say
 *   -32700) from messages the SDK then validates and answers itself: it checks no key set and no payload type, so a
 *   malformed message still gets the SDK's own answer. It has always refused a response without an `id`, which the
 *   SDK's error schema lets be absent.
 *
 * Every rule set takes `jsonrpc: "2.0"` only and string-or-integer ids (never `null`). `test/unit/mcp/jsonrpc-cases.ts`
 * is one case table the three answer.
 */

/** What a JSON-RPC message is, as the SDK's message guards decide it. */
export type JsonRpcKind = 'request' | 'notification' | 'result' | 'error' | 'invalid';

/** The rules of a strict classification ({@link classifyJsonRpc}). */
export interface JsonRpcRules {
  /**
   * `true`: ids, error codes and progress tokens must be safe integers, as the SDK's zod `int()` demands. `false`:
   * any integer (`Number.isInteger`).
   */
  readonly safeIntegers: boolean;
  /** Check request and notification `params._meta` as the SDK's `RequestMetaSchema` does. */
  readonly paramsMeta: boolean;
}

/** Exactly the SDK's guards (`isJSONRPCResultResponse` ... `isJSONRPCNotification`): for a server's message router. */
export const SDK_MESSAGE_RULES: JsonRpcRules = Object.freeze({ safeIntegers: true, paramsMeta: true });

/** The SDK's envelopes without `params._meta`, any integer taken: for the gateway's stdio reader (see above). */
export const ENVELOPE_RULES: JsonRpcRules = Object.freeze({ safeIntegers: false, paramsMeta: false });

const RELATED_TASK = 'io.modelcontextprotocol/related-task';
const RESULT_KEYS: ReadonlySet<string> = new Set(['jsonrpc', 'id', 'result']);
const ERROR_KEYS: ReadonlySet<string> = new Set(['jsonrpc', 'id', 'error']);
const REQUEST_KEYS: ReadonlySet<string> = new Set(['jsonrpc', 'id', 'method', 'params']);
const NOTIFICATION_KEYS: ReadonlySet<string> = new Set(['jsonrpc', 'method', 'params']);

/** A JSON object (not `null`, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `value` has no key outside `keys` (the SDK's envelope schemas are strict). */
export function hasOnlyKeys(value: Record<string, unknown>, keys: ReadonlySet<string>): boolean {
  for (const key in value) if (!keys.has(key)) return false;
  return true;
}

function isInteger(value: unknown, rules: JsonRpcRules): boolean {
  return rules.safeIntegers ? Number.isSafeInteger(value) : Number.isInteger(value);
}

/** The SDK's `RequestIdSchema`: a string or an integer. */
function isRequestId(id: unknown, rules: JsonRpcRules): boolean {
  return typeof id === 'string' || isInteger(id, rules);
}

/** `ResultSchema`: an object; its `_meta`, when present, an object (the server-info entry there never fails). */
function isResult(result: unknown): boolean {
  return isPlainObject(result) && (result._meta === undefined || isPlainObject(result._meta));
}

function isErrorObject(error: unknown, rules: JsonRpcRules): boolean {
  return isPlainObject(error) && isInteger(error.code, rules) && typeof error.message === 'string';
}

/** Request and notification `params`: absent, or an object (whose `_meta` matches `RequestMetaSchema`, by `rules`). */
function isParams(params: unknown, rules: JsonRpcRules): boolean {
  if (params === undefined) return true;
  if (!isPlainObject(params)) return false;
  const meta = params._meta;
  if (meta === undefined || !rules.paramsMeta) return true;
  if (!isPlainObject(meta)) return false;
  if (meta.progressToken !== undefined && !isRequestId(meta.progressToken, rules)) return false;
  const task = meta[RELATED_TASK];
  return task === undefined || (isPlainObject(task) && typeof task.taskId === 'string');
}

/**
 * Classifies `value` by `rules`. With {@link SDK_MESSAGE_RULES} (the default) it answers exactly as the SDK's
 * `isJSONRPCResultResponse`, `isJSONRPCErrorResponse`, `isJSONRPCRequest` and `isJSONRPCNotification` do, in the order
 * the SDK's `Protocol` tries them: strict envelopes (no keys but `jsonrpc`, `id`, `method`, `params`, `result`,
 * `error`), integer-or-string ids, object `params` and `result`, and the `_meta` fields the SDK's schemas type
 * (`progressToken`, the related-task marker).
 *
 * The guards are zod parses; every message a server receives ran through up to three of them, and the failed ones
 * build error objects. On a short tool call that was a measurable share of the CPU and most of the garbage of
 * opening a session.
 */
export function classifyJsonRpc(value: unknown, rules: JsonRpcRules = SDK_MESSAGE_RULES): JsonRpcKind {
  if (!isPlainObject(value) || value.jsonrpc !== '2.0') return 'invalid';
  const { method, id } = value;
  // The SDK tries the responses first, but their key sets are strict: a message with a `method` key is never one.
  if (method === undefined) {
    if (hasOnlyKeys(value, RESULT_KEYS) && isRequestId(id, rules) && isResult(value.result)) return 'result';
    if (hasOnlyKeys(value, ERROR_KEYS) && (id === undefined || isRequestId(id, rules)) && isErrorObject(value.error, rules)) return 'error';
    return 'invalid';
  }
  if (typeof method !== 'string' || !isParams(value.params, rules)) return 'invalid';
  // Either key set is strict, so an `id` key (even an undefined one) rules out a notification, and its absence a request.
  if (id === undefined) return hasOnlyKeys(value, NOTIFICATION_KEYS) ? 'notification' : 'invalid';
  return hasOnlyKeys(value, REQUEST_KEYS) && isRequestId(id, rules) ? 'request' : 'invalid';
}

/**
 * Whether `value` is a JSON-RPC 2.0 message by {@link ENVELOPE_RULES}: `jsonrpc: "2.0"`, no foreign top-level key, a
 * string-or-integer `id`, a string `method`, object `params` / `result` (with an object `_meta` if any), and an
 * `error` with an integer `code` and a string `message`. The gateway's stdio reader uses it on every line an
 * upstream writes.
 */
export function isJsonRpcEnvelope(value: unknown): value is JSONRPCMessage {
  return classifyJsonRpc(value, ENVELOPE_RULES) !== 'invalid';
}

/**
 * Whether a parsed POST body has the shape of a JSON-RPC 2.0 message or a non-empty batch of them, by the loose HTTP
 * rules (see the top of this file). The SDK transports answer a well-formed JSON value that is not JSON-RPC with
 * -32700 (Parse error); JSON-RPC 2.0 §5.1 says -32600 (Invalid Request), so the HTTP layer checks the shape first. A
 * structural check is enough here: the SDK validates every message fully right after, and this runs on every request.
 */
export function isJsonRpcPayload(body: unknown): boolean {
  if (Array.isArray(body)) return body.length > 0 && body.every(looksLikeJsonRpc);
  return looksLikeJsonRpc(body);
}

/** One message of {@link isJsonRpcPayload}: a string method (with a valid id, if any), or a response with an id. */
function looksLikeJsonRpc(value: unknown): boolean {
  if (!isPlainObject(value) || value.jsonrpc !== '2.0') return false;
  if (typeof value.method === 'string') return value.id === undefined || isRequestId(value.id, ENVELOPE_RULES);
  return isRequestId(value.id, ENVELOPE_RULES) && ('result' in value || 'error' in value);
}

/** The tool names of the `tools/call` requests in a parsed POST body (one message or a batch); `[]` when none. */
export function toolCallNames(body: unknown): string[] {
  const messages = Array.isArray(body) ? body : [body];
  const names: string[] = [];
  for (const message of messages) {
    if (typeof message !== 'object' || message === null) continue;
    const { method, params } = message as { method?: unknown; params?: unknown };
    if (method !== 'tools/call' || typeof params !== 'object' || params === null) continue;
    const name = (params as { name?: unknown }).name;
    if (typeof name === 'string') names.push(name);
  }
  return names;
}
