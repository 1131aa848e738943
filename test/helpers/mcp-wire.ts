/**
 * Raw MCP over HTTP for fault tests, which must tell apart how a request ended: a JSON-RPC result, a JSON-RPC error
 * (in a JSON body or on the SSE stream, whatever the HTTP status), an HTTP answer without JSON-RPC, a stream that
 * ended with no answer, a connection that failed with none, or no end at all within the time allowed.
 */

/** The protocol version sessions are opened with. */
export const SESSION_PROTOCOL = '2025-11-25';

/** A JSON-RPC error object. */
export interface RpcError {
  code: number;
  message: string;
  data?: Record<string, unknown>;
}

/** How one JSON-RPC request over HTTP ended. */
export type RpcOutcome =
  | { kind: 'result'; status: number; result: Record<string, unknown>; headers: Headers; progress: number }
  | { kind: 'error'; status: number; error: RpcError; headers: Headers }
  /** An HTTP answer that carries no JSON-RPC response (a 401 challenge, a 503 before the MCP layer...). */
  | { kind: 'http'; status: number; body: string; headers: Headers }
  /** The answer began (2xx) but its body ended without a response to the request: no answer. */
  | { kind: 'no-answer'; status: number; body: string }
  /** The connection failed or was reset before any answer to the request. */
  | { kind: 'reset'; reason: string }
  /** Nothing ended within the time allowed. */
  | { kind: 'timeout' };

/** Headers of a Streamable HTTP POST. */
export function mcpHeaders({ token, sessionId }: { token?: string; sessionId?: string } = {}): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': SESSION_PROTOCOL,
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...(sessionId ? { 'mcp-session-id': sessionId } : {}),
  };
}

/** The JSON-RPC messages of an SSE body (every `data:` line that parses). */
function sseMessages(text: string): unknown[] {
  const messages: unknown[] = [];
  for (const block of text.split(/\n\n/)) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trimStart())
      .join('\n');
    if (!data) continue;
    try {
      messages.push(JSON.parse(data));
    } catch {
      // a partial event at a cut
    }
  }
  return messages;
}

type Message = { id?: unknown; method?: string; result?: Record<string, unknown>; error?: RpcError };

/** What a response body says about request `id`. */
function classify(status: number, headers: Headers, body: string, id: unknown, complete: boolean): RpcOutcome {
  const stream = headers.get('content-type')?.includes('text/event-stream');
  let messages: Message[] = [];
  if (stream) messages = sseMessages(body) as Message[];
  else {
    try {
      const parsed = JSON.parse(body) as Message | Message[];
      messages = Array.isArray(parsed) ? parsed : [parsed];
    } catch {
      messages = [];
    }
  }
  const answer = messages.find(
    (message) =>
      message &&
      (message.id === id || (id === undefined && ('result' in message || 'error' in message))) &&
      ('result' in message || 'error' in message),
  );
  const progress = messages.filter((message) => message?.method === 'notifications/progress').length;
  if (answer?.error) return { kind: 'error', status, error: answer.error, headers };
  if (answer?.result) return { kind: 'result', status, result: answer.result, headers, progress };
  // A JSON-RPC error with a null id (refused before the request was read) still answers it.
  const refusal = messages.find((message) => message?.error && (message.id === null || message.id === undefined));
  if (refusal?.error) return { kind: 'error', status, error: refusal.error, headers };
  if (status >= 300 || !complete) return { kind: 'http', status, body, headers };
  return { kind: 'no-answer', status, body };
}

/**
 * POSTs one JSON-RPC message (or a raw body) to an MCP URL and reads the answer to its end; `timeoutMs` bounds the
 * whole exchange.
 */
export async function postRpc(
  url: string,
  message: unknown,
  { headers = mcpHeaders(), timeoutMs = 30_000 }: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RpcOutcome> {
  const id = (message as { id?: unknown } | undefined)?.id;
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body: typeof message === 'string' ? message : JSON.stringify(message), signal });
  } catch (error) {
    return signal.aborted ? { kind: 'timeout' } : { kind: 'reset', reason: describe(error) };
  }
  let body = '';
  const decoder = new TextDecoder();
  try {
    if (response.body) for await (const chunk of response.body) body += decoder.decode(chunk as Uint8Array, { stream: true });
  } catch (error) {
    // The body broke off: whatever arrived before decides; with no answer in it this is a reset (or a timeout).
    const partial = classify(response.status, response.headers, body, id, false);
    if (partial.kind === 'result' || partial.kind === 'error') return partial;
    return signal.aborted ? { kind: 'timeout' } : { kind: 'reset', reason: `${response.status}, body cut: ${describe(error)}` };
  }
  return classify(response.status, response.headers, body, id, true);
}

function describe(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/** Opens a 2025-era session (initialize, then notifications/initialized); returns its id. */
export async function openSession(mcpUrl: string, token?: string, timeoutMs = 10_000): Promise<string> {
  const init = await postRpc(
    mcpUrl,
    {
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: SESSION_PROTOCOL, capabilities: {}, clientInfo: { name: 'faults', version: '1' } },
    },
    { headers: mcpHeaders({ token }), timeoutMs },
  );
  const sessionId = init.kind === 'result' ? init.headers.get('mcp-session-id') : undefined;
  if (!sessionId) throw new Error(`initialize failed: ${JSON.stringify(init)}`);
  const initialized = await fetch(mcpUrl, {
    method: 'POST',
    headers: mcpHeaders({ token, sessionId }),
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  await initialized.arrayBuffer();
  return sessionId;
}

let nextId = 1;

/** A `tools/call` message; `progress` asks for progress notifications. */
export function toolCall(
  name: string,
  args: Record<string, unknown>,
  { progress = false } = {},
): { jsonrpc: '2.0'; id: number; method: 'tools/call'; params: Record<string, unknown> } {
  const id = nextId++;
  return {
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, arguments: args, ...(progress ? { _meta: { progressToken: `p${id}` } } : {}) },
  };
}

/** The text of a tool result's first content item. */
export function resultText(result: Record<string, unknown>): string {
  return String((result.content as Array<{ text?: string }> | undefined)?.[0]?.text ?? '');
}
