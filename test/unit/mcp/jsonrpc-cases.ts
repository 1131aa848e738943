import type { JsonRpcKind } from '../../../server/mcp/jsonrpc.js';

/**
 * One case table for the three JSON-RPC shape checks of `server/mcp/jsonrpc.ts`, each column the answer of one rule
 * set. `fast-dispatch.test.ts`, `gateway/json-rpc-line-reader.test.ts` and `jsonrpc.test.ts` each run every row
 * against their check; where the columns differ, `why` names the rule that makes them differ.
 */
export interface JsonRpcCase {
  name: string;
  /** A parsed JSON value: one message, or (HTTP only) a batch. */
  message: unknown;
  /** `classifyJsonRpc` with the SDK's rules (a server's message router), which match the SDK's guards. */
  sdk: JsonRpcKind;
  /** `isJsonRpcEnvelope` (the gateway's stdio reader). */
  envelope: boolean;
  /** `isJsonRpcPayload` (the HTTP layer). */
  http: boolean;
  /** Why the columns disagree, when they do. */
  why?: string;
}

const M = { jsonrpc: '2.0' } as const;
const NOT_HTTP_KEYS = 'strict envelope: the HTTP check takes any key set and leaves the rest to the SDK';
const META = 'params._meta: only the SDK rules check it; the stdio reader leaves it to the Protocol';
const SAFE = 'the SDK rules take safe integers only (zod int()); the other two any integer';
const TYPES = 'payload types: the HTTP check does not look at params, result or error';

export const JSON_RPC_CASES: readonly JsonRpcCase[] = [
  {
    name: 'request, integer id',
    message: { ...M, id: 1, method: 'tools/call', params: { name: 't' } },
    sdk: 'request',
    envelope: true,
    http: true,
  },
  { name: 'request, string id, no params', message: { ...M, id: 'a', method: 'ping' }, sdk: 'request', envelope: true, http: true },
  {
    name: 'request, string progress token',
    message: { ...M, id: 2, method: 'tools/call', params: { _meta: { progressToken: 'p' } } },
    sdk: 'request',
    envelope: true,
    http: true,
  },
  { name: 'notification', message: { ...M, method: 'notifications/initialized' }, sdk: 'notification', envelope: true, http: true },
  {
    name: 'notification with params',
    message: { ...M, method: 'notifications/progress', params: { progressToken: 1, progress: 1 } },
    sdk: 'notification',
    envelope: true,
    http: true,
  },
  { name: 'result', message: { ...M, id: 3, result: {} }, sdk: 'result', envelope: true, http: true },
  { name: 'result with object _meta', message: { ...M, id: 3, result: { _meta: {} } }, sdk: 'result', envelope: true, http: true },
  {
    name: 'error with id',
    message: { ...M, id: 4, error: { code: -32601, message: 'nope', data: 1 } },
    sdk: 'error',
    envelope: true,
    http: true,
  },
  {
    name: 'error without id',
    message: { ...M, error: { code: -32700, message: 'Parse error' } },
    sdk: 'error',
    envelope: true,
    http: false,
    why: 'the HTTP check wants an id on every response',
  },
  {
    name: 'progress token null',
    message: { ...M, id: 5, method: 'm', params: { _meta: { progressToken: null } } },
    sdk: 'invalid',
    envelope: true,
    http: true,
    why: META,
  },
  {
    name: 'progress token fractional',
    message: { ...M, id: 5, method: 'm', params: { _meta: { progressToken: 1.5 } } },
    sdk: 'invalid',
    envelope: true,
    http: true,
    why: META,
  },
  {
    name: 'related-task id not a string',
    message: { ...M, method: 'm', params: { _meta: { 'io.modelcontextprotocol/related-task': { taskId: 1 } } } },
    sdk: 'invalid',
    envelope: true,
    http: true,
    why: META,
  },
  {
    name: '_meta not an object',
    message: { ...M, id: 5, method: 'm', params: { _meta: 'x' } },
    sdk: 'invalid',
    envelope: true,
    http: true,
    why: META,
  },
  { name: 'request id beyond 2^53', message: { ...M, id: 2 ** 53, method: 'm' }, sdk: 'invalid', envelope: true, http: true, why: SAFE },
  { name: 'result id beyond 2^53', message: { ...M, id: 2 ** 60, result: {} }, sdk: 'invalid', envelope: true, http: true, why: SAFE },
  {
    name: 'error code beyond 2^53',
    message: { ...M, id: 6, error: { code: 2 ** 60, message: 'm' } },
    sdk: 'invalid',
    envelope: true,
    http: true,
    why: SAFE,
  },
  {
    name: 'request with an extra key',
    message: { ...M, id: 7, method: 'm', extra: 1 },
    sdk: 'invalid',
    envelope: false,
    http: true,
    why: NOT_HTTP_KEYS,
  },
  {
    name: 'notification with an extra key',
    message: { ...M, method: 'm', params: {}, extra: 1 },
    sdk: 'invalid',
    envelope: false,
    http: true,
    why: NOT_HTTP_KEYS,
  },
  {
    name: 'result with an extra key',
    message: { ...M, id: 7, result: {}, extra: true },
    sdk: 'invalid',
    envelope: false,
    http: true,
    why: NOT_HTTP_KEYS,
  },
  {
    name: 'method and result',
    message: { ...M, id: 7, method: 'm', result: {} },
    sdk: 'invalid',
    envelope: false,
    http: true,
    why: NOT_HTTP_KEYS,
  },
  {
    name: 'result and error',
    message: { ...M, id: 7, result: {}, error: { code: 1, message: 'm' } },
    sdk: 'invalid',
    envelope: false,
    http: true,
    why: NOT_HTTP_KEYS,
  },
  {
    name: 'non-string method with a result',
    message: { ...M, id: 7, method: 7, result: {} },
    sdk: 'invalid',
    envelope: false,
    http: true,
    why: NOT_HTTP_KEYS,
  },
  { name: 'params an array', message: { ...M, id: 8, method: 'm', params: [] }, sdk: 'invalid', envelope: false, http: true, why: TYPES },
  { name: 'params null', message: { ...M, method: 'm', params: null }, sdk: 'invalid', envelope: false, http: true, why: TYPES },
  { name: 'result an array', message: { ...M, id: 8, result: [] }, sdk: 'invalid', envelope: false, http: true, why: TYPES },
  { name: 'result null', message: { ...M, id: 8, result: null }, sdk: 'invalid', envelope: false, http: true, why: TYPES },
  {
    name: 'result _meta not an object',
    message: { ...M, id: 8, result: { _meta: 5 } },
    sdk: 'invalid',
    envelope: false,
    http: true,
    why: TYPES,
  },
  {
    name: 'error code fractional',
    message: { ...M, id: 8, error: { code: 1.5, message: 'm' } },
    sdk: 'invalid',
    envelope: false,
    http: true,
    why: TYPES,
  },
  {
    name: 'error code a string',
    message: { ...M, id: 8, error: { code: '1', message: 'm' } },
    sdk: 'invalid',
    envelope: false,
    http: true,
    why: TYPES,
  },
  { name: 'error without message', message: { ...M, id: 8, error: { code: 1 } }, sdk: 'invalid', envelope: false, http: true, why: TYPES },
  { name: 'request id fractional', message: { ...M, id: 1.5, method: 'm' }, sdk: 'invalid', envelope: false, http: false },
  { name: 'request id null', message: { ...M, id: null, method: 'm' }, sdk: 'invalid', envelope: false, http: false },
  { name: 'request id an object', message: { ...M, id: { x: 1 }, method: 'm' }, sdk: 'invalid', envelope: false, http: false },
  { name: 'result id null', message: { ...M, id: null, result: {} }, sdk: 'invalid', envelope: false, http: false },
  { name: 'result without id', message: { ...M, result: {} }, sdk: 'invalid', envelope: false, http: false },
  { name: 'method not a string', message: { ...M, id: 9, method: 7 }, sdk: 'invalid', envelope: false, http: false },
  { name: 'neither method nor response', message: { ...M, id: 9 }, sdk: 'invalid', envelope: false, http: false },
  { name: 'jsonrpc 1.0', message: { jsonrpc: '1.0', id: 9, method: 'm' }, sdk: 'invalid', envelope: false, http: false },
  { name: 'no jsonrpc', message: { id: 9, result: {} }, sdk: 'invalid', envelope: false, http: false },
  { name: 'not JSON-RPC at all', message: { hello: 'world' }, sdk: 'invalid', envelope: false, http: false },
  { name: 'a string', message: 'text', sdk: 'invalid', envelope: false, http: false },
  { name: 'a number', message: 42, sdk: 'invalid', envelope: false, http: false },
  { name: 'null', message: null, sdk: 'invalid', envelope: false, http: false },
  {
    name: 'a batch',
    message: [
      { ...M, id: 1, method: 'ping' },
      { ...M, method: 'notifications/x' },
    ],
    sdk: 'invalid',
    envelope: false,
    http: true,
    why: 'batches: only HTTP bodies may be one (each message checked)',
  },
  { name: 'an empty batch', message: [], sdk: 'invalid', envelope: false, http: false },
  { name: 'a batch with junk', message: [{ ...M, id: 1, method: 'ping' }, 'junk'], sdk: 'invalid', envelope: false, http: false },
];
