/**
 * The sessionful Streamable HTTP contract (MCP 2025-03-26 to 2025-11-25, spec "Transports"): wire-level cases every
 * implementation must pass, read off raw HTTP so nothing a client library smooths over goes unseen. Run by
 * `streamable-http.contract.test.ts` against our server as it serves `/mcp` and against the SDK's own transport.
 *
 * Compared is what a client can observe: status, the media type, `Mcp-Session-Id`, the SSE framing headers, the
 * JSON-RPC body, and the events of a stream (their order, `retry`, whether they carry an id, the messages). What
 * legitimately varies is normalised: session ids (compared with the session's own), event ids (only their presence,
 * and that a replay repeats them), media-type parameters, transfer framing, unrelated headers.
 *
 * Where the implementations differ on purpose the case says so with {@link differs}: the value expected of each and
 * the reason, in one place.
 */
import { expect, it } from '@jest/globals';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';

/** Which implementation a target is. */
export type Implementation = 'ours' | 'sdk';

/** A running server under test. */
export interface StreamableTarget {
  implementation: Implementation;
  /** The Streamable HTTP endpoint. */
  url: string;
  /** The SSE `retry` both send with priming events. */
  retryMs: number;
}

/** One SSE event as it came off the wire. */
export interface WireEvent {
  id?: string;
  event?: string;
  retry?: number;
  data: string;
}

/** An event as compared: ids reduced to their presence, data parsed. */
interface SeenEvent {
  id: boolean;
  event?: string;
  retry?: number;
  message: unknown;
}

/** A response as compared. */
interface Seen {
  status: number;
  /** The media type without parameters (`charset` varies with the layer that answered). */
  type: string | null;
  /** `Mcp-Session-Id`: the session's own, none, or another. */
  session: 'own' | 'none' | 'other';
  body: unknown;
}

/**
 * The value expected of `target`'s implementation where ours differs on purpose. `why` is the one-line reason; it is
 * required so no difference goes without one.
 */
export function differs<T>(target: StreamableTarget, expected: { ours: T; sdk: T }, why: string): T {
  if (why.trim().length === 0) throw new Error('a difference needs its reason');
  return expected[target.implementation];
}

const V_LATEST = '2025-11-25';
/** As both name them in a 400 for an unsupported version header: the versions the SDK's server speaks. */
const SUPPORTED = SUPPORTED_PROTOCOL_VERSIONS.join(', ');

/** The error body both transports answer with, `{ jsonrpc, error: { code, message }, id: null }`. */
function rpcError(code: number, message: string): unknown {
  return { jsonrpc: '2.0', error: { code, message }, id: null };
}

/**
 * An error answered by our HTTP layer (error translator) instead of the transport: same status and JSON-RPC code,
 * our own wording, and `data` with the error code and the request id (docs/errors.md).
 */
function appError(code: number, errorCode: string, message: string): unknown {
  return { jsonrpc: '2.0', error: { code, message, data: { error: errorCode, requestId: expect.any(String) } }, id: null };
}

function parseEvents(text: string): WireEvent[] {
  const events: WireEvent[] = [];
  for (const block of text.split('\n\n')) {
    const event: WireEvent = { data: '' };
    let fields = 0;
    for (const line of block.split('\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const [name, value] = [line.slice(0, colon), line.slice(colon + 1).replace(/^ /, '')];
      fields += 1;
      if (name === 'id') event.id = value;
      else if (name === 'event') event.event = value;
      else if (name === 'retry') event.retry = Number(value);
      else if (name === 'data') event.data += value;
      else fields -= 1;
    }
    if (fields > 0) events.push(event);
  }
  return events;
}

/** Reads an SSE response event by event; several reads may share one stream. */
class EventReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  private text = '';
  private taken = 0;
  ended = false;

  constructor(response: Response) {
    this.reader = response.body!.getReader();
  }

  /**
   * Reads until `until` holds for the events read by this call, the stream ends, or `timeoutMs` passes; returns
   * those events (complete ones only).
   */
  async next(until: (events: WireEvent[]) => boolean = () => false, timeoutMs = 5_000): Promise<WireEvent[]> {
    const deadline = Date.now() + timeoutMs;
    const fresh = () => parseEvents(this.text.slice(0, this.text.lastIndexOf('\n\n') + 2)).slice(this.taken);
    while (!this.ended && !until(fresh()) && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        this.reader.read(),
        new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(1, deadline - Date.now())))),
      ]);
      clearTimeout(timer);
      if (chunk === 'timeout') break;
      if (chunk.done) this.ended = true;
      else this.text += this.decoder.decode(chunk.value, { stream: true });
    }
    const events = fresh();
    this.taken += events.length;
    return events;
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
  }
}

/**
 * Reads a stream's events until `until` holds, the stream ends, or `timeoutMs` passes, then lets go of it (which
 * drops the connection if it was still open). `ended` tells whether the server ended the stream.
 */
export async function readEvents(
  response: Response,
  until: (events: WireEvent[]) => boolean = () => false,
  timeoutMs = 5_000,
): Promise<{ events: WireEvent[]; ended: boolean }> {
  const reader = new EventReader(response);
  try {
    const events = await reader.next(until, timeoutMs);
    return { events, ended: reader.ended };
  } finally {
    await reader.cancel();
  }
}

function seenEvents(events: WireEvent[]): SeenEvent[] {
  return events.map((event) => ({
    id: event.id !== undefined,
    ...(event.event !== undefined ? { event: event.event } : {}),
    ...(event.retry !== undefined ? { retry: event.retry } : {}),
    message: event.data === '' ? '' : (JSON.parse(event.data) as unknown),
  }));
}

/**
 * Everything compared about a response. An SSE body is read to its end, or for at most 5 s: a stream that stays open
 * where a case expects it to end shows as the events it sent, instead of a case waiting out its timeout.
 */
async function see(response: Response, sessionId?: string): Promise<Seen> {
  const type = response.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() ?? null;
  const header = response.headers.get('mcp-session-id');
  const session = header === null ? 'none' : header === sessionId ? 'own' : 'other';
  let body: unknown;
  if (type === 'text/event-stream') {
    body = seenEvents((await readEvents(response)).events);
  } else {
    const text = await response.text();
    body = text === '' ? '' : (JSON.parse(text) as unknown);
  }
  return { status: response.status, type, session, body };
}

/** The framing headers both transports put on every SSE response. */
function sseHeaders(response: Response): Record<string, string | null> {
  return { 'cache-control': response.headers.get('cache-control'), 'x-accel-buffering': response.headers.get('x-accel-buffering') };
}

function initializeBody(protocolVersion: string, id: number | string = 1): unknown {
  return {
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'contract', version: '1' } },
  };
}

function callBody(id: number | string, name: string, args: Record<string, unknown>, progressToken?: string): unknown {
  return {
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name, arguments: args, ...(progressToken ? { _meta: { progressToken } } : {}) },
  };
}

const POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** An open session: its id and request helpers that carry it. */
interface Session {
  id: string;
  post(body: unknown, headers?: Record<string, string>): Promise<Response>;
  postRaw(body: string, headers?: Record<string, string>): Promise<Response>;
  get(headers?: Record<string, string>, signal?: AbortSignal): Promise<Response>;
  delete(headers?: Record<string, string>): Promise<Response>;
}

function post(target: StreamableTarget, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(target.url, { method: 'POST', headers: { ...POST_HEADERS, ...headers }, body });
}

/** initialize + notifications/initialized, as a client does. */
async function openSession(target: StreamableTarget, protocolVersion = V_LATEST): Promise<Session> {
  const initialize = await post(target, JSON.stringify(initializeBody(protocolVersion)));
  expect(initialize.status).toBe(200);
  const id = initialize.headers.get('mcp-session-id')!;
  await initialize.text();
  const sessionHeaders = { 'mcp-session-id': id, 'mcp-protocol-version': protocolVersion };
  const session: Session = {
    id,
    postRaw: (body, headers = {}) => post(target, body, { ...sessionHeaders, ...headers }),
    post: (body, headers = {}) => session.postRaw(JSON.stringify(body), headers),
    get: (headers = {}, signal) =>
      fetch(target.url, { headers: { accept: 'text/event-stream', ...sessionHeaders, ...headers }, ...(signal ? { signal } : {}) }),
    delete: (headers = {}) => fetch(target.url, { method: 'DELETE', headers: { ...sessionHeaders, ...headers } }),
  };
  const initialized = await session.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
  expect(initialized.status).toBe(202);
  await initialized.text();
  return session;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The result message of a `tools/call` answered with text. */
function textResult(id: number | string, text: string): unknown {
  return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }] } };
}

function progress(token: string, step: number, total: number): unknown {
  return { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, progress: step, total } };
}

/**
 * Declares the contract's cases. `target` is read when a case runs (the suite starts the server in `beforeAll`);
 * `reconnectGraceMs` is how long our server lets a dropped call wait for its client.
 */
export function streamableHttpCases(target: () => StreamableTarget, { reconnectGraceMs }: { reconnectGraceMs: number }): void {
  const primed = () => ({ id: true, retry: target().retryMs, message: '' });

  // ── the handshake and priming ───────────────────────────────────────────────────────────────────────────────
  it('answers a 2025-11-25 initialize on an SSE stream: a priming event (id, retry, empty data), then the result', async () => {
    const response = await post(target(), JSON.stringify(initializeBody(V_LATEST)));
    const sessionId = response.headers.get('mcp-session-id') ?? undefined;
    expect(sessionId).toMatch(/^[\x21-\x7e]+$/);
    expect(sseHeaders(response)).toEqual({ 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
    const seen = await see(response, sessionId);
    expect(seen).toMatchObject({ status: 200, type: 'text/event-stream', session: 'own' });
    expect(seen.body).toEqual([
      primed(),
      {
        id: true,
        event: 'message',
        message: expect.objectContaining({ id: 1, result: expect.objectContaining({ protocolVersion: V_LATEST }) }),
      },
    ]);
  });

  it('sends no priming event to a 2025-06-18 client', async () => {
    const response = await post(target(), JSON.stringify(initializeBody('2025-06-18')));
    const seen = await see(response, response.headers.get('mcp-session-id') ?? undefined);
    expect(seen).toMatchObject({ status: 200, type: 'text/event-stream', session: 'own' });
    expect(seen.body).toEqual([
      {
        id: true,
        event: 'message',
        message: expect.objectContaining({ id: 1, result: expect.objectContaining({ protocolVersion: '2025-06-18' }) }),
      },
    ]);
  });

  it('answers an initialize asking for an unknown later version with 2025-11-25, without priming (the body version is not one it speaks)', async () => {
    const seen = await see(await post(target(), JSON.stringify(initializeBody('2099-01-01'))));
    expect(seen.body).toEqual([
      { id: true, event: 'message', message: expect.objectContaining({ result: expect.objectContaining({ protocolVersion: V_LATEST }) }) },
    ]);
  });

  it('takes an initialize whatever its MCP-Protocol-Version header says (negotiation is in the body)', async () => {
    const seen = await see(await post(target(), JSON.stringify(initializeBody(V_LATEST)), { 'mcp-protocol-version': '1999-01-01' }));
    expect(seen).toMatchObject({ status: 200, type: 'text/event-stream' });
  });

  it('answers a notification with 202 and no body', async () => {
    const session = await openSession(target());
    const seen = await see(await session.post({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' }), session.id);
    expect(seen).toEqual({ status: 202, type: null, session: 'none', body: '' });
  });

  it('answers a response from the client with 202 and no body', async () => {
    const session = await openSession(target());
    const seen = await see(await session.post({ jsonrpc: '2.0', id: 'from-client', result: {} }), session.id);
    expect(seen).toEqual({ status: 202, type: null, session: 'none', body: '' });
  });

  it("answers a request on a stream of its own, with the session's id, priming first", async () => {
    const session = await openSession(target());
    const response = await session.post(callBody(2, 'echo', { text: 'hi' }));
    expect(sseHeaders(response)).toEqual({ 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
    expect(await see(response, session.id)).toEqual({
      status: 200,
      type: 'text/event-stream',
      session: 'own',
      body: [primed(), { id: true, event: 'message', message: textResult(2, 'hi') }],
    });
  });

  it('streams progress before the result, each event with an id', async () => {
    const session = await openSession(target());
    const seen = await see(await session.post(callBody(3, 'slow_count', { steps: 2, delayMs: 10 }, 'tok')), session.id);
    expect(seen.body).toEqual([
      primed(),
      { id: true, event: 'message', message: progress('tok', 1, 2) },
      { id: true, event: 'message', message: progress('tok', 2, 2) },
      { id: true, event: 'message', message: textResult(3, 'counted to 2') },
    ]);
  });

  it('primes nothing for a request of a 2025-06-18 session, nor for one without MCP-Protocol-Version (2025-03-26 assumed)', async () => {
    const session = await openSession(target(), '2025-06-18');
    expect((await see(await session.post(callBody(2, 'echo', { text: 'a' })), session.id)).body).toEqual([
      { id: true, event: 'message', message: textResult(2, 'a') },
    ]);
    const latest = await openSession(target());
    const unversioned = await post(target(), JSON.stringify(callBody(3, 'echo', { text: 'b' })), { 'mcp-session-id': latest.id });
    expect((await see(unversioned, latest.id)).body).toEqual([{ id: true, event: 'message', message: textResult(3, 'b') }]);
  });

  it('answers an unknown method with a JSON-RPC error on the stream (-32601), HTTP 200', async () => {
    const session = await openSession(target());
    const seen = await see(await session.post({ jsonrpc: '2.0', id: 9, method: 'no/such/method' }), session.id);
    expect(seen.status).toBe(200);
    expect(seen.body).toEqual([
      primed(),
      { id: true, event: 'message', message: { jsonrpc: '2.0', id: 9, error: expect.objectContaining({ code: -32601 }) } },
    ]);
  });

  // ── batches ─────────────────────────────────────────────────────────────────────────────────────────────────
  it('answers the requests of a batch on one stream that ends once all are answered (notifications in it are taken)', async () => {
    const session = await openSession(target());
    const seen = await see(
      await session.post([
        callBody('slow', 'slow_count', { steps: 2, delayMs: 40 }),
        callBody('fast', 'echo', { text: 'b' }),
        { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
      ]),
      session.id,
    );
    expect(seen).toMatchObject({ status: 200, type: 'text/event-stream', session: 'own' });
    expect(seen.body).toEqual([
      primed(),
      { id: true, event: 'message', message: textResult('fast', 'b') },
      { id: true, event: 'message', message: textResult('slow', 'counted to 2') },
    ]);
  });

  it('answers a batch of only notifications and responses with 202', async () => {
    const session = await openSession(target());
    const seen = await see(
      await session.post([
        { jsonrpc: '2.0', method: 'notifications/roots/list_changed' },
        { jsonrpc: '2.0', id: 'c1', result: {} },
      ]),
      session.id,
    );
    expect(seen).toEqual({ status: 202, type: null, session: 'none', body: '' });
  });

  it('refuses a batch of more than 100 messages (400, -32600)', async () => {
    const session = await openSession(target());
    const batch = Array.from({ length: 101 }, () => ({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' }));
    expect(await see(await session.post(batch), session.id)).toEqual({
      status: 400,
      type: 'application/json',
      session: 'none',
      body: rpcError(-32600, 'Invalid Request: Batch must not exceed 100 messages'),
    });
  });

  it('refuses an empty batch (ours) where the SDK takes it as nothing to do', async () => {
    const session = await openSession(target());
    const expected = differs(
      target(),
      {
        ours: { status: 400, body: appError(-32600, 'invalid_request', 'Invalid Request: the body is not a JSON-RPC 2.0 message') },
        sdk: { status: 202, body: '' },
      },
      'JSON-RPC 2.0 §6: an empty array is an Invalid Request; our HTTP layer checks the shape before the transport',
    );
    expect(await see(await session.postRaw('[]'), session.id)).toMatchObject(expected);
  });

  it('refuses an initialize inside a batch of an initialized session (400, -32600)', async () => {
    const session = await openSession(target());
    const seen = await see(
      await session.post([initializeBody(V_LATEST, 5), { jsonrpc: '2.0', method: 'notifications/roots/list_changed' }]),
      session.id,
    );
    expect(seen).toEqual({
      status: 400,
      type: 'application/json',
      session: 'none',
      body: rpcError(-32600, 'Invalid Request: Server already initialized'),
    });
  });

  // ── the GET stream ──────────────────────────────────────────────────────────────────────────────────────────
  it('opens one GET stream per session (409 for a second), carries server notifications on it, and frees it when the client leaves', async () => {
    const session = await openSession(target());
    const first = new AbortController();
    const stream = await session.get({}, first.signal);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    expect(stream.headers.get('mcp-session-id')).toBe(session.id);
    expect(sseHeaders(stream)).toEqual({ 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });

    expect(await see(await session.get(), session.id)).toEqual({
      status: 409,
      type: 'application/json',
      session: 'none',
      body: rpcError(-32000, 'Conflict: Only one SSE stream is allowed per session'),
    });

    const announced = await session.post(callBody(4, 'announce_tools_changed', {}));
    expect((await see(announced, session.id)).body).toEqual([
      primed(),
      { id: true, event: 'message', message: textResult(4, 'announced') },
    ]);
    const { events } = await readEvents(stream, (read) => read.length >= 1);
    expect(seenEvents(events)).toEqual([
      { id: true, event: 'message', message: { jsonrpc: '2.0', method: 'notifications/tools/list_changed' } },
    ]);
    first.abort();

    let again: Response | undefined;
    for (let attempt = 0; attempt < 50 && again?.status !== 200; attempt += 1) {
      await again?.body?.cancel();
      await sleep(20);
      again = await session.get();
    }
    expect(again!.status).toBe(200);
    await again!.body?.cancel();
  });

  it('refuses a GET that does not accept text/event-stream (406)', async () => {
    const session = await openSession(target());
    expect(await see(await session.get({ accept: 'application/json' }), session.id)).toEqual({
      status: 406,
      type: 'application/json',
      session: 'none',
      body: rpcError(-32000, 'Not Acceptable: Client must accept text/event-stream'),
    });
  });

  // ── resumability ────────────────────────────────────────────────────────────────────────────────────────────
  it('resumes a dropped answer stream from Last-Event-ID: the rest of it, with the same event ids, then the end', async () => {
    const session = await openSession(target());
    const live = await readEvents(
      await session.post(callBody(7, 'slow_count', { steps: 4, delayMs: 60 }, 'p')),
      (read) => read.length >= 2,
    );
    expect(seenEvents(live.events)).toEqual([primed(), { id: true, event: 'message', message: progress('p', 1, 4) }]);

    // As a client does once its stream broke; the server may not have seen the connection end yet (409 until then).
    let resumed = await session.get({ 'last-event-id': live.events[1]!.id! });
    for (let attempt = 0; attempt < 20 && resumed.status === 409; attempt += 1) {
      await resumed.text();
      await sleep(10);
      resumed = await session.get({ 'last-event-id': live.events[1]!.id! });
    }
    expect(resumed.status).toBe(200);
    expect(resumed.headers.get('mcp-session-id')).toBe(session.id);
    const rest = await readEvents(resumed);
    expect(rest.ended).toBe(true);
    expect(seenEvents(rest.events)).toEqual([
      { id: true, event: 'message', message: progress('p', 2, 4) },
      { id: true, event: 'message', message: progress('p', 3, 4) },
      { id: true, event: 'message', message: progress('p', 4, 4) },
      { id: true, event: 'message', message: textResult(7, 'counted to 4') },
    ]);

    // From the priming event again: everything after it, under the ids already seen.
    const replayed = await readEvents(await session.get({ 'last-event-id': live.events[0]!.id! }));
    expect(replayed.ended).toBe(true);
    expect(replayed.events.map((event) => event.id)).toEqual([live.events[1]!.id, ...rest.events.map((event) => event.id)]);
    expect(new Set(replayed.events.map((event) => event.id)).size).toBe(5);
  });

  it('refuses to resume a stream that is still connected (409), which goes on undisturbed', async () => {
    const session = await openSession(target());
    const live = new EventReader(await session.post(callBody(8, 'slow_count', { steps: 3, delayMs: 100 })));
    try {
      const [priming] = await live.next((read) => read.length >= 1);
      expect(await see(await session.get({ 'last-event-id': priming!.id! }), session.id)).toEqual({
        status: 409,
        type: 'application/json',
        session: 'none',
        body: rpcError(-32000, 'Conflict: Stream already has an active connection'),
      });
      expect(seenEvents(await live.next())).toEqual([{ id: true, event: 'message', message: textResult(8, 'counted to 3') }]);
      expect(live.ended).toBe(true);
    } finally {
      await live.cancel();
    }
  });

  it('refuses an unknown Last-Event-ID (400)', async () => {
    const session = await openSession(target());
    expect(await see(await session.get({ 'last-event-id': 'no-such-event' }), session.id)).toEqual({
      status: 400,
      type: 'application/json',
      session: 'none',
      body: rpcError(-32000, 'Invalid event ID format'),
    });
  });

  it('keeps (SDK) or cancels (ours) a call whose client dropped its stream and did not come back in time', async () => {
    const session = await openSession(target());
    const live = await readEvents(
      await session.post(callBody(10, 'slow_count', { steps: 8, delayMs: 100 }, 'q')),
      (read) => read.length >= 1,
    );
    // Past both the grace period and the call's own 800 ms.
    await sleep(Math.max(reconnectGraceMs, 800) + 200);
    const late = await readEvents(await session.get({ 'last-event-id': live.events[0]!.id! }));
    const messages = seenEvents(late.events).map((event) => event.message as { id?: unknown; method?: string });
    expect(late.ended).toBe(true);
    const expected = differs(
      target(),
      { ours: [], sdk: [textResult(10, 'counted to 8')] },
      'ours cancels the requests of a dropped stream after STREAM_RECONNECT_GRACE_MS (the tool sees its signal abort); the SDK runs them to the end',
    );
    expect(messages.filter((message) => message.method === undefined)).toEqual(expected);
  });

  // ── ending a session ────────────────────────────────────────────────────────────────────────────────────────
  it('ends the session on DELETE (200, no body); the id is then unknown (404, -32001) to POST, GET and DELETE', async () => {
    const session = await openSession(target());
    expect(await see(await session.delete(), session.id)).toEqual({ status: 200, type: null, session: 'none', body: '' });
    const gone = differs(
      target(),
      {
        ours: appError(-32001, 'session_not_found', 'Session not found; initialize a new session'),
        sdk: rpcError(-32001, 'Session not found'),
      },
      "ours: the session registry answers before any transport, in the error translator's form",
    );
    for (const response of [await session.post(callBody(2, 'echo', { text: 'x' })), await session.get(), await session.delete()]) {
      expect(await see(response, session.id)).toEqual({ status: 404, type: 'application/json', session: 'none', body: gone });
    }
  });

  // ── bad input ───────────────────────────────────────────────────────────────────────────────────────────────
  it('refuses a POST whose Accept lacks text/event-stream or application/json (406)', async () => {
    const session = await openSession(target());
    const expected = {
      status: 406,
      type: 'application/json',
      session: 'none',
      body: rpcError(-32000, 'Not Acceptable: Client must accept both application/json and text/event-stream'),
    };
    expect(await see(await session.post(callBody(2, 'echo', { text: 'x' }), { accept: 'application/json' }), session.id)).toEqual(expected);
    expect(await see(await session.post(callBody(2, 'echo', { text: 'x' }), { accept: 'text/event-stream' }), session.id)).toEqual(
      expected,
    );
    // The same for an initialize, before there is a session.
    expect(await see(await post(target(), JSON.stringify(initializeBody(V_LATEST)), { accept: 'application/json' }))).toEqual(expected);
  });

  it('refuses a body that is not application/json (415)', async () => {
    const session = await openSession(target());
    expect(await see(await session.post(callBody(2, 'echo', { text: 'x' }), { 'content-type': 'text/plain' }), session.id)).toEqual({
      status: 415,
      type: 'application/json',
      session: 'none',
      body: rpcError(-32000, 'Unsupported Media Type: Content-Type must be application/json'),
    });
  });

  it('answers invalid JSON with a parse error (400, -32700)', async () => {
    const session = await openSession(target());
    const body = differs(
      target(),
      {
        ours: appError(-32700, 'invalid_json', 'Parse error: request body is not valid JSON'),
        sdk: rpcError(-32700, 'Parse error: Invalid JSON'),
      },
      'ours parses the body in the HTTP layer (json-body.ts), whose errors the error translator words',
    );
    expect(await see(await session.postRaw('{"jsonrpc":'), session.id)).toEqual({
      status: 400,
      type: 'application/json',
      session: 'none',
      body,
    });
  });

  it('answers JSON that is not JSON-RPC with -32600 (ours) or -32700 (SDK)', async () => {
    const session = await openSession(target());
    const body = differs(
      target(),
      {
        ours: appError(-32600, 'invalid_request', 'Invalid Request: the body is not a JSON-RPC 2.0 message'),
        sdk: rpcError(-32700, 'Parse error: Invalid JSON-RPC message'),
      },
      'JSON-RPC 2.0 §5.1 says -32600 for a valid JSON value that is not a request; our HTTP layer checks it first (docs/errors.md invalid_request)',
    );
    for (const raw of ['{"hello":1}', '42', '[{"jsonrpc":"2.0","id":1}]']) {
      expect(await see(await session.postRaw(raw), session.id)).toEqual({ status: 400, type: 'application/json', session: 'none', body });
    }
  });

  it('answers a message the classifier rejects at once: 400 with -32600 to its id (ours) or -32700 (SDK)', async () => {
    const session = await openSession(target());
    const text = 'Invalid Request: not a valid JSON-RPC 2.0 message (check params, id and the top-level keys)';
    const answer = (id: number | null) =>
      differs(
        target(),
        {
          ours: id === null ? rpcError(-32600, text) : { jsonrpc: '2.0', id, error: { code: -32600, message: text } },
          sdk: rpcError(-32700, 'Parse error: Invalid JSON-RPC message'),
        },
        'JSON-RPC 2.0 §5.1: a valid JSON value that is not a valid request is -32600, answered to its id when it has a usable one',
      );
    const cases: Array<[string, number | null]> = [
      ['{"jsonrpc":"2.0","id":11,"method":"tools/list","params":[]}', 11],
      ['{"jsonrpc":"2.0","id":12,"method":"tools/list","params":"x"}', 12],
      ['{"jsonrpc":"2.0","id":13,"method":"tools/list","__proto__":{"a":1}}', 13],
      ['{"jsonrpc":"2.0","id":14,"method":"tools/list","extra":true}', 14],
      ['{"jsonrpc":"2.0","method":"notifications/progress","params":[1]}', null],
      ['[{"jsonrpc":"2.0","id":15,"method":"tools/list"},{"jsonrpc":"2.0","id":16,"method":"ping","params":[]}]', 16],
    ];
    for (const [raw, id] of cases) {
      const started = Date.now();
      expect({ raw, seen: await see(await session.postRaw(raw), session.id) }).toEqual({
        raw,
        seen: { status: 400, type: 'application/json', session: 'none', body: answer(id) },
      });
      expect(Date.now() - started).toBeLessThan(2_000);
    }
  });

  it('answers an empty JSON body with -32600 (ours) or -32700 (SDK)', async () => {
    const session = await openSession(target());
    const body = differs(
      target(),
      {
        ours: appError(-32600, 'invalid_request', 'Invalid Request: the body is not a JSON-RPC 2.0 message'),
        sdk: rpcError(-32700, 'Parse error: Invalid JSON'),
      },
      'our body reader reads an empty JSON body as {} as express.json() does, which is JSON but not JSON-RPC',
    );
    expect(await see(await session.postRaw(''), session.id)).toEqual({ status: 400, type: 'application/json', session: 'none', body });
  });

  it('answers a bad body before a bad Accept header (ours) or the other way round (SDK)', async () => {
    const session = await openSession(target());
    const status = differs(
      target(),
      { ours: 400, sdk: 406 },
      'ours reads and checks the body in the HTTP layer, before the transport looks at Accept',
    );
    expect((await see(await session.postRaw('{"jsonrpc":', { accept: 'application/json' }), session.id)).status).toBe(status);
  });

  it('answers an unknown session id with 404 (-32001)', async () => {
    const body = differs(
      target(),
      {
        ours: appError(-32001, 'session_not_found', 'Session not found; initialize a new session'),
        sdk: rpcError(-32001, 'Session not found'),
      },
      "ours: the session registry answers before any transport, in the error translator's form",
    );
    const response = await post(target(), JSON.stringify(callBody(2, 'echo', { text: 'x' })), {
      'mcp-session-id': 'no-such-session',
      'mcp-protocol-version': V_LATEST,
    });
    expect(await see(response)).toEqual({ status: 404, type: 'application/json', session: 'none', body });
  });

  it('answers a request other than initialize without Mcp-Session-Id with 400 (-32000), for POST, GET and DELETE', async () => {
    const requests: Array<[string, Promise<Response>]> = [
      ['POST', post(target(), JSON.stringify(callBody(2, 'echo', { text: 'x' })))],
      ['GET', fetch(target().url, { headers: { accept: 'text/event-stream' } })],
      ['DELETE', fetch(target().url, { method: 'DELETE' })],
    ];
    for (const [method, request] of requests) {
      const body = differs(
        target(),
        {
          ours: appError(
            -32000,
            'session_required',
            method === 'POST'
              ? 'Bad Request: Mcp-Session-Id header is required (send initialize first)'
              : `Bad Request: ${method} needs an Mcp-Session-Id header`,
          ),
          sdk: rpcError(-32000, 'Bad Request: Mcp-Session-Id header is required'),
        },
        "ours: the endpoint answers before any transport, in the error translator's form; the SDK side is its session router",
      );
      expect([method, await see(await request)]).toEqual([method, { status: 400, type: 'application/json', session: 'none', body }]);
    }
  });

  it('refuses an unsupported MCP-Protocol-Version header inside a session (400), naming the supported versions', async () => {
    const session = await openSession(target());
    const expected = {
      status: 400,
      type: 'application/json',
      session: 'none',
      body: rpcError(-32000, `Bad Request: Unsupported protocol version: 1999-01-01 (supported versions: ${SUPPORTED})`),
    };
    expect(await see(await session.post(callBody(2, 'echo', { text: 'x' }), { 'mcp-protocol-version': '1999-01-01' }), session.id)).toEqual(
      expected,
    );
    expect(await see(await session.get({ 'mcp-protocol-version': '1999-01-01' }), session.id)).toEqual(expected);
    expect(await see(await session.delete({ 'mcp-protocol-version': '1999-01-01' }), session.id)).toEqual(expected);
  });

  it('refuses a second initialize in a session (400, -32600)', async () => {
    const session = await openSession(target());
    expect(await see(await session.post(initializeBody(V_LATEST, 3)), session.id)).toEqual({
      status: 400,
      type: 'application/json',
      session: 'none',
      body: rpcError(-32600, 'Invalid Request: Server already initialized'),
    });
  });

  it('refuses other HTTP methods with 405 and an Allow header', async () => {
    const session = await openSession(target());
    const response = await fetch(target().url, { method: 'PUT', headers: { ...POST_HEADERS, 'mcp-session-id': session.id }, body: '{}' });
    const allow = response.headers.get('allow');
    const expected = differs(
      target(),
      {
        ours: {
          allow: 'GET, POST, DELETE, OPTIONS',
          body: appError(-32000, 'method_not_allowed', 'PUT is not supported on the MCP endpoint'),
        },
        sdk: { allow: 'GET, POST, DELETE', body: rpcError(-32000, 'Method not allowed.') },
      },
      'ours: the route answers before any transport, and it also serves OPTIONS (CORS preflight)',
    );
    expect({ allow, ...(await see(response, session.id)) }).toEqual({
      allow: expected.allow,
      status: 405,
      type: 'application/json',
      session: 'none',
      body: expected.body,
    });
  });
}
