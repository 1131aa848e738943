import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { modernRpc, type ModernAnswer, type ModernRpc } from '../helpers/modern-rpc.js';
import { startGatewayTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * A 2026-07-28 client has no channel for server-to-client requests; the gateway's upstreams (2025-era sessions, or
 * servers whose SDK turns their own `input_required` into such requests there) still send them mid-call. The gateway
 * turns each into an `input_required` round of the client's call — elicitation, sampling and roots — and hands the
 * retry's answers back to the upstream's waiting request. Upstreams: test/fixtures/conformance-upstream.mjs (the
 * conformance suite's multi round-trip tools, `roots: true`) and test/fixtures/gateway-upstream.mjs.
 */
const ALICE = 'key-alice-0123456789';
const BOB = 'key-bob-0123456789';
const ALL = { elicitation: {}, sampling: {}, roots: {} };
type Requests = Record<string, { method: string; params?: Record<string, unknown> }>;

const text = (answer: ModernAnswer) =>
  ((answer.result?.content as Array<{ text?: string }> | undefined) ?? []).map((block) => block.text ?? '').join('');
const inputRequests = (answer: ModernAnswer) => {
  expect(answer.result).toMatchObject({ resultType: 'input_required' });
  return answer.result!.inputRequests as Requests;
};
/** The answers a person and a model would give to each request. */
function answersTo(requests: Requests): Record<string, unknown> {
  const answers: Record<string, unknown> = {};
  for (const [key, { method }] of Object.entries(requests)) {
    if (method === 'elicitation/create') answers[key] = { action: 'accept', content: { name: 'Alice', go: true, color: 'blue', ok: true } };
    if (method === 'sampling/createMessage')
      answers[key] = { role: 'assistant', content: { type: 'text', text: 'Paris' }, model: 'test-model', stopReason: 'endTurn' };
    if (method === 'roots/list') answers[key] = { roots: [{ uri: 'file:///work/alice', name: 'alice' }] };
  }
  return answers;
}

describe('gateway: an upstream asking a 2026-07-28 client mid-call', () => {
  let server: TestServer;
  let conf: string;
  let gw: string;

  beforeAll(async () => {
    const servers = {
      conf: { command: process.execPath, args: [path.resolve('test/fixtures/conformance-upstream.mjs')], roots: true },
      gw: { command: process.execPath, args: [path.resolve('test/fixtures/gateway-upstream.mjs')] },
    };
    server = await startGatewayTestServer(servers, {
      authMode: 'oauth',
      authInitialAdmin: false,
      apiKeys: [`${ALICE}:client-alice`, `${BOB}:client-bob`],
    });
    conf = `${server.url}/servers/conf/mcp`;
    gw = `${server.url}/servers/gw/mcp`;
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  const call = (rpc: ModernRpc, name: string, extra: Record<string, unknown> = {}, headers?: Record<string, string>) =>
    rpc.request('tools/call', { name, arguments: {}, ...extra }, headers ? { headers } : {});

  it('elicitation, sampling and roots become input_required rounds; the retry completes the call', async () => {
    const rpc = modernRpc(conf, { token: ALICE, capabilities: ALL });
    for (const [tool, method, expected] of [
      ['test_input_required_result_elicitation', 'elicitation/create', 'Hello, Alice!'],
      ['test_input_required_result_sampling', 'sampling/createMessage', 'Model said: Paris'],
      ['test_input_required_result_list_roots', 'roots/list', 'Roots: file:///work/alice'],
    ] as const) {
      const first = await call(rpc, tool);
      const requests = inputRequests(first);
      expect(Object.values(requests).map((request) => request.method)).toEqual([method]);
      // The upstream's own progress token for its request names nothing the client could follow.
      expect(JSON.stringify(requests)).not.toContain('progressToken');
      expect(typeof first.result!.requestState).toBe('string');
      const done = await call(rpc, tool, { inputResponses: answersTo(requests), requestState: first.result!.requestState });
      expect([tool, done.result?.resultType, text(done)]).toEqual([tool, 'complete', expected]);
    }
  });

  it("an upstream's several requests share one round; several rounds each get a new state", async () => {
    const rpc = modernRpc(conf, { token: ALICE, capabilities: ALL });
    const first = await call(rpc, 'test_input_required_result_multiple_inputs');
    const requests = inputRequests(first);
    expect(
      Object.values(requests)
        .map((request) => request.method)
        .sort(),
    ).toEqual(['elicitation/create', 'roots/list', 'sampling/createMessage']);
    const done = await call(rpc, 'test_input_required_result_multiple_inputs', {
      inputResponses: answersTo(requests),
      requestState: first.result!.requestState,
    });
    expect(done.result?.resultType).toBe('complete');

    const states: string[] = [];
    let answer = await call(rpc, 'test_input_required_result_multi_round');
    while (answer.result?.resultType === 'input_required' && states.length < 5) {
      states.push(answer.result.requestState as string);
      answer = await call(rpc, 'test_input_required_result_multi_round', {
        inputResponses: answersTo(inputRequests(answer)),
        requestState: answer.result.requestState,
      });
    }
    expect(states).toHaveLength(2);
    expect(new Set(states).size).toBe(2);
    expect(answer.result?.resultType).toBe('complete');
  });

  it('what a request did not declare is answered in its place: only declared kinds reach the client', async () => {
    // The upstream sees the gateway's capabilities and asks all three; this request declared sampling alone.
    const rpc = modernRpc(conf, { token: ALICE, capabilities: { sampling: {} } });
    const first = await call(rpc, 'test_input_required_result_capabilities');
    const requests = inputRequests(first);
    expect(Object.values(requests).map((request) => request.method)).toEqual(['sampling/createMessage']);
    // Answered, so no call of Alice's stays in flight on the shared upstream (see the last test).
    const done = await call(rpc, 'test_input_required_result_capabilities', {
      inputResponses: answersTo(requests),
      requestState: first.result!.requestState,
    });
    expect(done.result?.resultType).toBe('complete');
    // A request that can answer nothing is not parked: the upstream's question fails, and the call says so.
    const none = await call(modernRpc(gw, { token: ALICE, capabilities: {} }), 'ask_user');
    expect(none.result).toMatchObject({ resultType: 'complete', isError: true });
  });

  it('progress reaches each round on its own token, in order, with the upstream figures', async () => {
    const rpc = modernRpc(gw, { token: ALICE, capabilities: { elicitation: {} } });
    const first = await call(rpc, 'progress_then_ask', { _meta: { progressToken: 'round-1' } });
    const requests = inputRequests(first);
    expect(Object.values(requests)).toEqual([
      expect.objectContaining({ method: 'elicitation/create', params: expect.objectContaining({ message: 'Go on?' }) }),
    ]);
    const firstProgress = first.notifications.filter((n) => n.method === 'notifications/progress').map((n) => n.params);
    expect(firstProgress).toEqual([
      { progressToken: 'round-1', progress: 1, total: 3, message: 'started' },
      { progressToken: 'round-1', progress: 2, total: 3, message: 'asking' },
    ]);
    const done = await call(rpc, 'progress_then_ask', {
      inputResponses: answersTo(requests),
      requestState: first.result!.requestState,
      _meta: { progressToken: 'round-2' },
    });
    expect(text(done)).toBe('user accept: true');
    expect(done.notifications.filter((n) => n.method === 'notifications/progress').map((n) => n.params)).toEqual([
      { progressToken: 'round-2', progress: 3, total: 3, message: 'answered' },
    ]);
  });

  it("a tampered state, or another principal's, is refused and answers nothing", async () => {
    const alice = modernRpc(conf, { token: ALICE, capabilities: ALL });
    const bob = modernRpc(conf, { token: BOB, capabilities: ALL });
    const first = await call(alice, 'test_input_required_result_elicitation');
    const requests = inputRequests(first);
    const state = first.result!.requestState as string;
    const tampered = await call(alice, 'test_input_required_result_elicitation', {
      inputResponses: answersTo(requests),
      requestState: `${state}x`,
    });
    expect(tampered.error?.code).toBe(-32602);
    const stolen = await call(bob, 'test_input_required_result_elicitation', { inputResponses: answersTo(requests), requestState: state });
    expect(stolen.error?.code).toBe(-32602);
    // The park is still Alice's: her retry completes it.
    const done = await call(alice, 'test_input_required_result_elicitation', { inputResponses: answersTo(requests), requestState: state });
    expect(text(done)).toBe('Hello, Alice!');
  });

  it('the v2 client on 2026-07-28, its defaults: the rounds happen inside callTool, through its own handlers', async () => {
    const client = new Client(
      { name: 'v2-modern', version: '1' },
      { capabilities: { elicitation: {}, sampling: {}, roots: {} }, versionNegotiation: { mode: 'auto' } },
    );
    const asked: string[] = [];
    client.setRequestHandler('elicitation/create', async () => {
      asked.push('elicitation');
      return { action: 'accept', content: { name: 'Alice' } };
    });
    client.setRequestHandler('sampling/createMessage', async () => {
      asked.push('sampling');
      return { role: 'assistant', content: { type: 'text', text: 'Hi!' }, model: 'test-model', stopReason: 'endTurn' };
    });
    client.setRequestHandler('roots/list', async () => {
      asked.push('roots');
      return { roots: [{ uri: 'file:///work/alice', name: 'alice' }] };
    });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(conf), { requestInit: { headers: { authorization: `Bearer ${ALICE}` } } }),
    );
    try {
      expect(client.getProtocolEra()).toBe('modern');
      const result = await client.callTool({ name: 'test_input_required_result_multiple_inputs', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect(asked.sort()).toEqual(['elicitation', 'roots', 'sampling']);
    } finally {
      await client.close();
    }
  });

  it("a 2025-era client: an upstream entry with roots relays the upstream's roots/list to the caller's own roots", async () => {
    const client = new V1Client({ name: 'v1-roots', version: '1' }, { capabilities: { roots: {} } });
    let asked = 0;
    client.setRequestHandler(ListRootsRequestSchema, async () => {
      asked += 1;
      return { roots: [{ uri: 'file:///work/v1', name: 'v1' }] };
    });
    await client.connect(new V1Transport(new URL(conf), { requestInit: { headers: { authorization: `Bearer ${ALICE}` } } }));
    try {
      const result = (await client.callTool({ name: 'test_input_required_result_list_roots', arguments: {} })) as {
        content: Array<{ text?: string }>;
      };
      expect([asked, result.content[0]?.text]).toEqual([1, 'Roots: file:///work/v1']);
    } finally {
      await client.close();
    }
  });

  it('prompts/get and resources/read: a 2025-era client is asked meanwhile; a 2026-07-28 one in input_required rounds', async () => {
    const client = new V1Client({ name: 'v1-prompt', version: '1' }, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { context: 'tests' } }));
    await client.connect(new V1Transport(new URL(conf), { requestInit: { headers: { authorization: `Bearer ${ALICE}` } } }));
    try {
      const prompt = await client.getPrompt({ name: 'test_input_required_result_prompt' });
      expect(JSON.stringify(prompt.messages)).toContain('Context: tests');
    } finally {
      await client.close();
    }
    const rpc = modernRpc(conf, { token: ALICE, capabilities: ALL });
    const first = await rpc.request('prompts/get', { name: 'test_input_required_result_prompt' });
    const requests = inputRequests(first);
    expect(Object.values(requests).map((request) => request.method)).toEqual(['elicitation/create']);
    const state = first.result!.requestState;
    // The state names this prompt: a tools/call cannot spend it.
    const misused = await call(rpc, 'test_input_required_result_elicitation', { inputResponses: answersTo(requests), requestState: state });
    expect(misused.error?.code).toBe(-32602);
    const answers = { [Object.keys(requests)[0]!]: { action: 'accept', content: { context: 'rounds' } } };
    const done = await rpc.request('prompts/get', {
      name: 'test_input_required_result_prompt',
      inputResponses: answers,
      requestState: state,
    });
    expect(JSON.stringify(done.result?.messages)).toContain('Context: rounds');

    const reader = modernRpc(gw, { token: ALICE, capabilities: { elicitation: {} } });
    const asked = await reader.request('resources/read', { uri: 'fixture://asking' });
    const question = inputRequests(asked);
    expect(Object.values(question)).toEqual([expect.objectContaining({ method: 'elicitation/create' })]);
    const read = await reader.request('resources/read', {
      uri: 'fixture://asking',
      inputResponses: answersTo(question),
      requestState: asked.result!.requestState,
    });
    expect(read.result?.contents).toEqual([{ uri: 'fixture://asking', mimeType: 'text/plain', text: 'page Alice' }]);
  });

  it("Mcp-Param-* headers are checked against an upstream tool's x-mcp-header parameters (400, -32020)", async () => {
    const rpc = modernRpc(conf, { token: ALICE, capabilities: {} });
    const args = { region: 'eu-west-1', query: 'q' };
    const matching = await call(rpc, 'test_custom_headers', { arguments: args }, { 'mcp-param-region': 'eu-west-1' });
    expect(text(matching)).toBe('region=eu-west-1');
    const mismatch = await call(rpc, 'test_custom_headers', { arguments: args }, { 'mcp-param-region': 'us-east-1' });
    expect([mismatch.status, mismatch.error?.code]).toEqual([400, -32020]);
    const missing = await call(rpc, 'test_custom_headers', { arguments: args });
    expect([missing.status, missing.error?.code]).toEqual([400, -32020]);
  });
});
