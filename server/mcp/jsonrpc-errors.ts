import { JSONRPC_VERSION, ProtocolErrorCode, type RequestId } from '@modelcontextprotocol/server';

/**
 * Every JSON-RPC error code this server answers with, by name: the only place such a number is written (lint refuses
 * numeric JSON-RPC error literals anywhere else in `server/`). The standard codes (JSON-RPC 2.0 §5.1) are the SDK's
 * {@link ProtocolErrorCode} members; the SDK's HTTP transports also use two implementation-defined server errors
 * (-32000 to -32099) that its enum does not name, which get names here.
 */
export const JsonRpcErrorCode = Object.freeze({
  /** -32700: the body is not JSON (or, as the SDK's HTTP transports say it, not a JSON-RPC message). */
  ParseError: ProtocolErrorCode.ParseError,
  /** -32600: JSON, but not a valid request (or not one the transport takes now). */
  InvalidRequest: ProtocolErrorCode.InvalidRequest,
  /** -32601 */
  MethodNotFound: ProtocolErrorCode.MethodNotFound,
  /** -32602 */
  InvalidParams: ProtocolErrorCode.InvalidParams,
  /** -32603 */
  InternalError: ProtocolErrorCode.InternalError,
  /**
   * -32000: a transport-level refusal (wrong `Accept`, missing session header, unsupported protocol version...) and
   * anything else without a code of its own, such as a rate limit.
   */
  ServerError: -32000,
  /** -32001: the `Mcp-Session-Id` names no session (with HTTP 404, as the SDK's transports answer). */
  SessionNotFound: -32001,
} as const);

/** A {@link JsonRpcErrorCode} value. */
export type JsonRpcErrorCode = (typeof JsonRpcErrorCode)[keyof typeof JsonRpcErrorCode];

/** The error object of a JSON-RPC 2.0 error response (§5.1). */
export interface JsonRpcErrorObject {
  code: JsonRpcErrorCode;
  message: string;
  data?: unknown;
}

/** A JSON-RPC 2.0 error response (§5): `id` is `null` when the request's id could not be determined. */
export interface JsonRpcErrorResponse {
  jsonrpc: typeof JSONRPC_VERSION;
  id: RequestId | null;
  error: JsonRpcErrorObject;
}

function errorObject(code: JsonRpcErrorCode, message: string, data: unknown): JsonRpcErrorObject {
  return data === undefined ? { code, message } : { code, message, data };
}

/**
 * An error response not tied to one request (`id: null`, JSON-RPC 2.0 §5): what the HTTP transports answer when they
 * refuse a POST, a GET or a DELETE as a whole. Keys in the order the SDK's transports write them.
 */
export function jsonRpcTransportError(code: JsonRpcErrorCode, message: string, data?: unknown): JsonRpcErrorResponse {
  return { jsonrpc: JSONRPC_VERSION, error: errorObject(code, message, data), id: null };
}

/** The error response to the request `id`, as the SDK's Protocol writes one. */
export function jsonRpcRequestError(
  id: RequestId,
  code: JsonRpcErrorCode,
  message: string,
  data?: unknown,
): JsonRpcErrorResponse & { id: RequestId } {
  return { jsonrpc: JSONRPC_VERSION, id, error: errorObject(code, message, data) };
}
