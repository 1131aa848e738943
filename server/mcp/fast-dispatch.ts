import type { CallToolRequest, CallToolResult, ServerContext, Transport } from '@modelcontextprotocol/server';
import { classifyJsonRpc, hasOnlyKeys, isPlainObject } from './jsonrpc.js';
import { MissingSdkInternal, protocolMessageHandlers, serverRequestInternals } from './sdk-internals.js';

/**
 * Replaces the message classifier the SDK's `Protocol.connect` installed on `transport` with `classifyJsonRpc`
 * (`jsonrpc.ts`, with the SDK's rules); every message still reaches the same `Protocol` method it did, which then
 * validates the method's params as before. Call it right after `connect`, on a transport that had no `onmessage` of
 * its own.
 *
 * Uses `Protocol` members the SDK does not export, through `sdk-internals.ts`. If they are missing, it changes nothing
 * and returns false, so an SDK upgrade costs speed, never behaviour; `test/unit/mcp/sdk-internals.test.ts` fails then.
 */
export function installFastDispatch(protocol: object, transport: Transport): boolean {
  if (typeof transport.onmessage !== 'function') return false;
  const dispatch = protocolMessageHandlers(protocol);
  if (dispatch instanceof MissingSdkInternal) return false;
  transport.onmessage = (message, extra) => {
    switch (classifyJsonRpc(message)) {
      case 'result':
      case 'error':
        return dispatch.response(message);
      case 'request':
        return dispatch.request(message, extra);
      case 'notification':
        return dispatch.notification(message, extra);
      default:
        return dispatch.error(new Error(`Unknown message type: ${JSON.stringify(message)}`));
    }
  };
  return true;
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
  if (!isPlainObject(params) || !hasOnlyKeys(params, CALL_PARAMS_KEYS) || typeof params.name !== 'string') return false;
  return params.arguments === undefined || isPlainObject(params.arguments);
}

/**
 * A result the 2025-era `CallToolResult` schema returns unchanged: text blocks of exactly `type` and `text` (the
 * schema strips other keys of a block), `isError` a boolean and `structuredContent` an object when present, nothing
 * else. Every such value passes the schema of either era, and its parse is a copy with the same JSON. The gateway's
 * relay uses it too, to spare such a result the SDK client's check.
 */
export function isPlainCallResult(result: unknown): result is CallToolResult {
  if (!isPlainObject(result) || !hasOnlyKeys(result, PLAIN_RESULT_KEYS) || !Array.isArray(result.content)) return false;
  if (result.isError !== undefined && typeof result.isError !== 'boolean') return false;
  if (result.structuredContent !== undefined && !isPlainObject(result.structuredContent)) return false;
  for (const block of result.content as unknown[]) {
    if (!isPlainObject(block) || !hasOnlyKeys(block, TEXT_BLOCK_KEYS) || block.type !== 'text' || typeof block.text !== 'string') return false;
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
 * members the SDK does not export (through `sdk-internals.ts`); without them it changes nothing and returns false.
 */
export function installFastToolCall(server: object, handler: (request: CallToolRequest, ctx: ServerContext) => Promise<unknown>): boolean {
  const sdk = serverRequestInternals(server);
  if (sdk instanceof MissingSdkInternal) return false;
  const sdkHandler = sdk.storedHandler('tools/call');
  if (typeof sdkHandler !== 'function') return false;
  sdk.replaceStoredHandler('tools/call', (request, ctx) => {
    if (sdk.negotiatedProtocolVersion() === undefined || sdk.servesModernEra() || !isPlainCallParams(request.params) || ctx.mcpReq.requestState() !== undefined) {
      return sdkHandler(request, ctx);
    }
    // Plain params are what the SDK's parse would hand the handler, as they came.
    return handler(request as unknown as CallToolRequest, ctx).then((result) => (isPlainCallResult(result) ? result : sdk.wrapHandler('tools/call', () => result)(request, ctx)));
  });
  return true;
}
