import { parseJSONRPCMessage } from '@modelcontextprotocol/server';

/**
 * Whether a parsed POST body is a JSON-RPC 2.0 message or a non-empty batch of them. The SDK transports answer a
 * well-formed JSON value that is not JSON-RPC with -32700 (Parse error); JSON-RPC 2.0 §5.1 says -32600 (Invalid
 * Request), so the HTTP layer checks the shape first.
 */
export function isJsonRpcPayload(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  if (messages.length === 0) return false;
  try {
    for (const message of messages) parseJSONRPCMessage(message);
    return true;
  } catch {
    return false;
  }
}
