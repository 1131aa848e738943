/**
 * Whether a parsed POST body has the shape of a JSON-RPC 2.0 message or a non-empty batch of them. The SDK
 * transports answer a well-formed JSON value that is not JSON-RPC with -32700 (Parse error); JSON-RPC 2.0 §5.1 says
 * -32600 (Invalid Request), so the HTTP layer checks the shape first. A structural check is enough here: the SDK
 * validates every message fully right after, and this runs on every request.
 */
export function isJsonRpcPayload(body: unknown): boolean {
  if (Array.isArray(body)) return body.length > 0 && body.every(isJsonRpcMessage);
  return isJsonRpcMessage(body);
}

function isJsonRpcMessage(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const message = value as { jsonrpc?: unknown; method?: unknown; id?: unknown; result?: unknown; error?: unknown };
  if (message.jsonrpc !== '2.0') return false;
  if (typeof message.method === 'string') return message.id === undefined || isId(message.id);
  return isId(message.id) && ('result' in message || 'error' in message);
}

function isId(id: unknown): boolean {
  return typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id));
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
