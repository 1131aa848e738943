import type { CallToolRequest, CallToolResult, McpServer, ServerContext, Transport } from '@modelcontextprotocol/server';
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
    if (!isPlainObject(block) || !hasOnlyKeys(block, TEXT_BLOCK_KEYS) || block.type !== 'text' || typeof block.text !== 'string')
      return false;
  }
  return true;
}

/** Answers that go out as they are: see {@link sendAsIs}. */
const AS_IS = new WeakSet<object>();

/**
 * Marks a `tools/call` answer that is not a tool result — a 2025-11-25 `CreateTaskResult` (`{ task }`) or a
 * 2026-07-28 flat one (`resultType: "task"`) — to go out exactly as it is. The SDK's `tools/call` wrapper would
 * refuse the first (`content is required when the body carries 'task'`) and add `content: []` to the second;
 * {@link installFastToolCall} lets marked answers past it. The mark is invisible on the wire.
 */
export function sendAsIs<T extends object>(answer: T): T {
  AS_IS.add(answer);
  return answer;
}

/** Carries a marked answer out of the SDK's wrapper, which checks results but passes a handler's throw on. */
class AsIsAnswer {
  constructor(readonly answer: object) {}
}

function escapeAsIs<T>(result: T): T {
  if (typeof result === 'object' && result !== null && AS_IS.has(result)) throw new AsIsAnswer(result);
  return result;
}

function catchAsIs(error: unknown): object {
  if (error instanceof AsIsAnswer) return error.answer;
  throw error;
}

/**
 * Registers `handler` for `tools/call` on `server` and lets the common `tools/call` of a 2025-era session skip the
 * SDK server's three zod passes: its params are parsed twice (by `setRequestHandler`'s wrapper and by the `Server`'s
 * own `tools/call` wrapper) and its result once. When the params are plain ({@link isPlainCallParams}), `handler`
 * gets the request as it came; when its result is plain ({@link isPlainCallResult}) it is answered as it is,
 * otherwise it goes through the SDK's result handling, which is the same as before. Everything else (2026-era
 * sessions, a `requestState`, params with anything more) is handled by the SDK as before — params checked, a
 * `requestState` verified — except that an answer marked with {@link sendAsIs} goes out as it is. Errors pass through
 * unchanged, as the SDK passes them on a 2025-era request.
 *
 * Like {@link installFastDispatch} it uses `Server` members the SDK does not export (through `sdk-internals.ts`);
 * without them it registers `handler` plainly and returns false: calls work as before, but a marked answer would
 * meet the SDK's check, so the caller must not offer tasks then.
 */
export function installFastToolCall(
  server: McpServer['server'],
  handler: (request: CallToolRequest, ctx: ServerContext) => Promise<CallToolResult>,
): boolean {
  const sdk = serverRequestInternals(server);
  if (sdk instanceof MissingSdkInternal) {
    server.setRequestHandler('tools/call', handler);
    return false;
  }
  server.setRequestHandler('tools/call', (request, ctx) => handler(request, ctx).then(escapeAsIs));
  const sdkHandler = sdk.storedHandler('tools/call')!;
  sdk.replaceStoredHandler('tools/call', (request, ctx) => {
    if (
      sdk.negotiatedProtocolVersion() === undefined ||
      sdk.servesModernEra() ||
      !isPlainCallParams(request.params) ||
      ctx.mcpReq.requestState() !== undefined
    ) {
      return sdkHandler(request, ctx).catch(catchAsIs);
    }
    // Plain params are what the SDK's parse would hand the handler, as they came.
    return handler(request as unknown as CallToolRequest, ctx).then((result) =>
      AS_IS.has(result) || isPlainCallResult(result) ? result : sdk.wrapHandler('tools/call', () => result)(request, ctx),
    );
  });
  return true;
}
