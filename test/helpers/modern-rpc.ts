/**
 * Raw 2026-07-28 JSON-RPC over HTTP, as a stateless client sends it: every request carries the per-request `_meta`
 * envelope (protocol version, client info, the client capabilities of *this* request) and the routing headers
 * (`MCP-Protocol-Version`, `Mcp-Method`, and `Mcp-Name` for `tools/call`, `prompts/get`, `resources/read` and
 * `tasks/get|update|cancel`). The SDK clients cannot create a task on this era (the v2 client refuses
 * `resultType: "task"`), so tests speak the wire.
 */

/** The tasks extension id. */
export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** One answer: the HTTP status and the JSON-RPC response (from a JSON body or the last SSE `data:` line). */
export interface ModernAnswer {
  status: number;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
  /** Notifications sent on the request's SSE stream before its answer, in order. */
  notifications: Array<{ method: string; params?: Record<string, unknown> }>;
}

/** Options of one request. */
export interface ModernRequestOptions {
  /** The client capabilities this request declares (default: the client's). */
  capabilities?: Record<string, unknown>;
  /** Extra or replaced headers (`mcp-name` to send a mismatching one). */
  headers?: Record<string, string>;
}

/** A raw 2026-07-28 client of one MCP URL. */
export interface ModernRpc {
  request(method: string, params: Record<string, unknown>, options?: ModernRequestOptions): Promise<ModernAnswer>;
}

const NAMED_BY: Record<string, string> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
};

/** A client of `url` declaring `capabilities` on every request, authenticated with `token` when given. */
export function modernRpc(
  url: string,
  { capabilities = {}, token }: { capabilities?: Record<string, unknown>; token?: string } = {},
): ModernRpc {
  let id = 0;
  return {
    async request(method, params, options = {}) {
      id += 1;
      const body = {
        jsonrpc: '2.0',
        id,
        method,
        params: {
          ...params,
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientInfo': { name: 'raw-2026', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': options.capabilities ?? capabilities,
            ...(params._meta as Record<string, unknown> | undefined),
          },
        },
      };
      const nameKey = NAMED_BY[method];
      const name = nameKey ? params[nameKey] : undefined;
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': method,
          ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...options.headers,
        },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      const events = response.headers.get('content-type')?.includes('text/event-stream')
        ? text
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trim())
        : [];
      const data = events.length > 0 ? events.filter((line) => line.includes(`"id":${id}`)).pop() : text;
      const message = data ? (JSON.parse(data) as { result?: Record<string, unknown>; error?: ModernAnswer['error'] }) : {};
      const notifications = events
        .map((line) => JSON.parse(line) as { id?: unknown; method?: string; params?: Record<string, unknown> })
        .filter(
          (event): event is { method: string; params?: Record<string, unknown> } =>
            event.id === undefined && typeof event.method === 'string',
        );
      return {
        status: response.status,
        ...(message.result ? { result: message.result } : {}),
        ...(message.error ? { error: message.error } : {}),
        notifications,
      };
    },
  };
}

/** Whether a 2026-07-28 task has ended (neither `working` nor `input_required`). */
export const taskEnded = (task: Record<string, unknown>): boolean => !['working', 'input_required'].includes(String(task.status));

/** Polls `tasks/get` every 100 ms until `done` says so; throws once `timeoutMs` passed, naming the last status. */
export async function pollTask(
  rpc: ModernRpc,
  taskId: string,
  done: (task: Record<string, unknown>) => boolean,
  timeoutMs = 20_000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await rpc.request('tasks/get', { taskId });
    if (!answer.result) throw new Error(`tasks/get failed: ${JSON.stringify(answer)}`);
    if (done(answer.result)) return answer.result;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still ${String(answer.result.status)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
