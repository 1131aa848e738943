import { describe, expect, it } from '@jest/globals';
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  type CallToolRequest,
  type JSONRPCMessage,
  type Transport,
} from '@modelcontextprotocol/server';
import { installFastDispatch, installFastToolCall, sendAsIs } from '../../../server/mcp/fast-dispatch.js';
import { classifyJsonRpc, type JsonRpcKind } from '../../../server/mcp/jsonrpc.js';
import { JSON_RPC_CASES } from './jsonrpc-cases.js';

/** What the SDK's `Protocol.connect` decides for a message, in its order. */
function sdkKind(value: unknown): JsonRpcKind {
  if (isJSONRPCResultResponse(value)) return 'result';
  if (isJSONRPCErrorResponse(value)) return 'error';
  if (isJSONRPCRequest(value)) return 'request';
  if (isJSONRPCNotification(value)) return 'notification';
  return 'invalid';
}

const IDS: unknown[] = [1, 0, -7, 'abc', '', 1.5, 2 ** 53, -(2 ** 53), null, true, {}, [], undefined, Number.NaN];
const METHODS: unknown[] = ['tools/call', '', 7, null, undefined];
const META: unknown[] = [
  undefined,
  {},
  { progressToken: 'p' },
  { progressToken: 3 },
  { progressToken: 3.5 },
  { progressToken: null },
  { progressToken: {} },
  { 'io.modelcontextprotocol/related-task': { taskId: 't' } },
  { 'io.modelcontextprotocol/related-task': { taskId: 1 } },
  { 'io.modelcontextprotocol/related-task': 'x' },
  { other: [1, 2] },
  null,
  'meta',
  [],
];
const PARAMS: unknown[] = [undefined, {}, { a: 1 }, null, [], 'p', 3, ...META.map((_meta) => ({ _meta, x: 1 }))];
const RESULTS: unknown[] = [
  {},
  { content: [] },
  { _meta: {} },
  { _meta: null },
  { _meta: 'm' },
  { _meta: { 'io.modelcontextprotocol/serverInfo': 5 } },
  null,
  [],
  'r',
  0,
  undefined,
];
const ERRORS: unknown[] = [
  { code: -32601, message: 'nope' },
  { code: -32601, message: 'nope', data: { x: 1 } },
  { code: -32601.5, message: 'nope' },
  { code: '1', message: 'nope' },
  { code: 1 },
  { message: 'm' },
  { code: 1, message: 2 },
  null,
  [],
  'e',
  undefined,
];

/** Every combination of the fields that decide a message's kind, with and without each key. */
function corpus(): unknown[] {
  const out: unknown[] = [null, [], 'x', 1, undefined, {}, [{ jsonrpc: '2.0', method: 'a' }]];
  const with_ = (base: Record<string, unknown>, key: string, value: unknown) =>
    value === undefined ? [base, { ...base, [key]: undefined }] : [{ ...base, [key]: value }];
  for (const jsonrpc of ['2.0', '1.0', 2, undefined]) {
    const base = jsonrpc === undefined ? {} : { jsonrpc };
    for (const id of IDS) {
      for (const withId of with_(base, 'id', id)) {
        for (const method of METHODS) {
          for (const withMethod of method === undefined ? [withId] : [{ ...withId, method }]) {
            for (const params of PARAMS) out.push(...with_(withMethod, 'params', params));
          }
        }
        for (const result of RESULTS) out.push(...with_(withId, 'result', result));
        for (const error of ERRORS) out.push(...with_(withId, 'error', error));
      }
    }
  }
  // Extra keys: the SDK's envelopes are strict.
  out.push(
    { jsonrpc: '2.0', id: 1, method: 'm', extra: 1 },
    { jsonrpc: '2.0', method: 'm', extra: 1 },
    { jsonrpc: '2.0', id: 1, result: {}, method: 'm' },
    { jsonrpc: '2.0', id: 1, result: {}, error: { code: 1, message: 'm' } },
    { jsonrpc: '2.0', id: 1, error: { code: 1, message: 'm' }, method: 'm' },
    { jsonrpc: '2.0', id: 1, method: 'm', params: {}, result: {} },
  );
  return out;
}

describe('classifyJsonRpc', () => {
  it('decides every message of a combinatorial corpus as the SDK guards do', () => {
    const messages = corpus();
    expect(messages.length).toBeGreaterThan(5_000);
    const mismatches = messages
      .map((message) => ({ message, ours: classifyJsonRpc(message), sdk: sdkKind(message) }))
      .filter((row) => row.ours !== row.sdk);
    expect(mismatches.slice(0, 5)).toEqual([]);
    // The corpus reaches every kind, so agreement is not agreement on "invalid" alone.
    const kinds = new Set(messages.map((message) => classifyJsonRpc(message)));
    expect([...kinds].sort()).toEqual(['error', 'invalid', 'notification', 'request', 'result']);
  });

  it.each(JSON_RPC_CASES)('shared case: $name -> $sdk, as the SDK guards say', ({ message, sdk }) => {
    expect(sdkKind(message)).toBe(sdk);
    expect(classifyJsonRpc(message)).toBe(sdk);
  });
});

/** A transport that records what the server sends. */
function recordingTransport(): Transport & { sent: JSONRPCMessage[] } {
  return {
    sent: [],
    async start() {},
    async close() {},
    async send(message) {
      this.sent.push(message);
    },
  };
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
} as JSONRPCMessage;

async function connected() {
  const server = new McpServer({ name: 's', version: '1' }, { capabilities: { tools: {} } });
  server.server.setRequestHandler('tools/list', () => ({ tools: [] }));
  const transport = recordingTransport();
  await server.connect(transport);
  const errors: Error[] = [];
  const previous = server.server.onerror;
  server.server.onerror = (error) => {
    errors.push(error);
    previous?.(error);
  };
  return { server, transport, errors };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('installFastDispatch', () => {
  it('hands each kind of message to the same server method as the SDK, with the same answers', async () => {
    const runs = [];
    for (const fast of [false, true]) {
      const { server, transport, errors } = await connected();
      if (fast) expect(installFastDispatch(server.server, transport)).toBe(true);
      transport.onmessage!(INITIALIZE);
      await settle();
      transport.onmessage!({ jsonrpc: '2.0', method: 'notifications/initialized' } as JSONRPCMessage);
      transport.onmessage!({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} } as JSONRPCMessage);
      transport.onmessage!({ jsonrpc: '2.0', id: 3, method: 'no/such' } as JSONRPCMessage);
      transport.onmessage!({ jsonrpc: '2.0', id: 4, method: 'tools/list', params: { cursor: 5 } } as JSONRPCMessage);
      transport.onmessage!({ jsonrpc: '2.0', id: 5, method: 'tools/list', extra: true } as unknown as JSONRPCMessage);
      await settle();
      runs.push({ sent: transport.sent, errors: errors.map((error) => error.message) });
      await server.close();
    }
    const [sdk, ours] = runs;
    expect(ours!.sent).toEqual(sdk!.sent);
    expect(ours!.errors).toEqual(sdk!.errors);
    // The run exercised answers, a method-not-found error, params the SDK refuses and an unknown message.
    const outcome = (message: JSONRPCMessage) => [(message as { id: number }).id, 'error' in message ? message.error.code : 'ok'];
    expect(ours!.sent.map(outcome).sort()).toEqual([
      [1, 'ok'],
      [2, 'ok'],
      [3, -32601],
      [4, -32603],
    ]);
    expect(ours!.errors.some((message) => message.startsWith('Unknown message type'))).toBe(true);
  });

  it('changes nothing when the server lacks the dispatch members it relies on', async () => {
    const transport = recordingTransport();
    const original = () => undefined;
    transport.onmessage = original;
    expect(installFastDispatch({}, transport)).toBe(false);
    expect(transport.onmessage).toBe(original);
  });
});

/** What the test server's tools answer, by tool name: plain results, and each way a result can be other than plain. */
const TOOL_RESULTS: Record<string, unknown> = {
  plain: { content: [{ type: 'text', text: 'ok' }] },
  plainError: {
    content: [
      { type: 'text', text: 'bad' },
      { type: 'text', text: '' },
    ],
    isError: true,
  },
  structured: { content: [], structuredContent: { a: [1, { b: null }] }, isError: false },
  extraBlockKey: { content: [{ type: 'text', text: 'x', extra: 1 }] },
  annotated: { content: [{ type: 'text', text: 'x', annotations: { priority: 0.5 } }] },
  blockMeta: { content: [{ type: 'text', text: 'x', _meta: { k: 1 } }] },
  image: { content: [{ type: 'image', data: 'AAAA', mimeType: 'image/png' }] },
  badText: { content: [{ type: 'text', text: 5 }] },
  badType: { content: [{ type: 'video', text: 'x' }] },
  noContent: { isError: false },
  extraKey: { content: [], extra: 'x' },
  resultMeta: { content: [], _meta: { k: 1 } },
  badIsError: { content: [], isError: 'yes' },
  arrayStructured: { content: [], structuredContent: [1] },
  nullStructured: { content: [], structuredContent: null },
  contentNotArray: { content: 'text' },
  nullResult: null,
  taskFamily: { task: {} },
  resultType: { content: [], resultType: 'complete' },
};
/** Tools that fail instead: a JSON-RPC error of the tool's own, and a plain exception. */
const THROWS: Record<string, () => never> = {
  protocolError: () => {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'nope', { why: 'test' });
  },
  exception: () => {
    throw new Error('boom');
  },
};

/** `tools/call` params, by how they differ from plain; `NAME` is replaced by each tool's name. */
const NAME = Symbol('name');
const CALL_PARAMS: unknown[] = [
  { name: NAME, arguments: { text: 'hi', n: 1, nested: { a: [1, 'x'] } } },
  { name: NAME },
  { name: NAME, arguments: {}, _meta: { progressToken: 7 } },
  { name: NAME, _meta: { 'io.modelcontextprotocol/related-task': { taskId: 't' }, other: 1 } },
  { name: NAME, arguments: [] },
  { name: NAME, arguments: null },
  { name: NAME, arguments: 'x' },
  { name: NAME, extra: true },
  { name: NAME, task: { ttl: 1000 } },
  { name: NAME, task: 'bad' },
  { name: 5 },
  {},
  undefined,
];

async function toolServer(fast: boolean) {
  const { server, transport, errors } = await connected();
  let asSent = 0;
  const handler = async (request: CallToolRequest) => {
    // The SDK hands its handler a parsed copy; the fast path the params as they came (the test freezes them).
    if (Object.isFrozen(request.params)) asSent += 1;
    const name = request.params.name;
    THROWS[name]?.();
    return structuredClone(TOOL_RESULTS[name]) as never;
  };
  server.server.setRequestHandler('tools/call', handler);
  if (fast) expect(installFastToolCall(server.server, handler)).toBe(true);
  return { server, transport, errors, asSent: () => asSent };
}

describe('installFastToolCall', () => {
  it('answers every tools/call of a combinatorial corpus exactly as the SDK does, skipping its parses for plain ones', async () => {
    const runs = [];
    for (const fast of [false, true]) {
      const { server, transport, errors, asSent } = await toolServer(fast);
      let id = 0;
      const call = (params: unknown) => {
        const frozen = params === undefined ? undefined : Object.freeze(params);
        transport.onmessage!({
          jsonrpc: '2.0',
          id: (id += 1),
          method: 'tools/call',
          ...(frozen === undefined ? {} : { params: frozen }),
        } as JSONRPCMessage);
      };
      // Before initialize: no protocol era yet, which the SDK handles.
      call({ name: 'plain' });
      await settle();
      transport.onmessage!(INITIALIZE);
      await settle();
      transport.onmessage!({ jsonrpc: '2.0', method: 'notifications/initialized' } as JSONRPCMessage);
      for (const name of [...Object.keys(TOOL_RESULTS), ...Object.keys(THROWS)]) {
        for (const params of CALL_PARAMS) {
          call(
            typeof params === 'object' && params !== null
              ? Object.fromEntries(Object.entries(params).map(([key, value]) => [key, value === NAME ? name : value]))
              : params,
          );
        }
      }
      await settle();
      // The fast path answers in fewer turns, so answers can leave in another order: compare them by id.
      const byId = (a: JSONRPCMessage, b: JSONRPCMessage) => Number((a as { id?: number }).id) - Number((b as { id?: number }).id);
      runs.push({ sent: [...transport.sent].sort(byId), errors: errors.map((error) => error.message), asSent: asSent() });
      await server.close();
    }
    const [sdk, ours] = runs;
    expect(ours!.sent).toHaveLength(sdk!.sent.length);
    expect(ours!.sent).toEqual(sdk!.sent);
    expect(ours!.errors).toEqual(sdk!.errors);
    // The corpus reached the fast path (plain params: 4 shapes for each of the 21 tools) and every kind of answer.
    expect(sdk!.asSent).toBe(0);
    expect(ours!.asSent).toBe(4 * 21);
    const codes = new Set(
      ours!.sent.map((message) =>
        'error' in message
          ? message.error.code
          : 'result' in message && (message.result as { isError?: boolean }).isError
            ? 'tool error'
            : 'ok',
      ),
    );
    expect([...codes].sort()).toEqual([-32602, -32603, 'ok', 'tool error'].sort());
  });

  it('lets an answer marked sendAsIs past the SDK result check that refuses it unmarked (a 2025-11-25 CreateTaskResult)', async () => {
    const { server, transport } = await connected();
    const task = { taskId: 't1', status: 'working', ttl: 1000, createdAt: 'c', lastUpdatedAt: 'c' };
    const marked = (request: CallToolRequest) => (request.params.name === 'marked' ? sendAsIs({ task }) : { task });
    expect(installFastToolCall(server.server, async (request) => marked(request) as never)).toBe(true);
    transport.onmessage!(INITIALIZE);
    await settle();
    const call = (id: number, name: string, task?: object) =>
      transport.onmessage!({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name, arguments: {}, ...(task ? { task } : {}) },
      } as JSONRPCMessage);
    call(2, 'marked', { ttl: 1000 });
    call(3, 'unmarked', { ttl: 1000 });
    call(4, 'marked');
    await settle();
    const byId = new Map(transport.sent.map((message) => [(message as { id: number }).id, message]));
    expect(byId.get(2)).toEqual({ jsonrpc: '2.0', id: 2, result: { task } });
    expect(byId.get(3)).toMatchObject({ error: { code: -32602 } });
    expect(byId.get(4)).toEqual({ jsonrpc: '2.0', id: 4, result: { task } });
    await server.close();
  });

  it('registers the handler plainly when the server lacks the members it relies on', () => {
    const registered: string[] = [];
    const bare = { setRequestHandler: (method: string) => void registered.push(method) } as unknown as Parameters<
      typeof installFastToolCall
    >[0];
    expect(installFastToolCall(bare, async () => ({ content: [] }))).toBe(false);
    expect(registered).toEqual(['tools/call']);
  });
});
