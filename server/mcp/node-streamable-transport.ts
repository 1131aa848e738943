import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  DEFAULT_NEGOTIATED_PROTOCOL_VERSION,
  isJsonContentType,
  SUPPORTED_PROTOCOL_VERSIONS,
  type AuthInfo,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
  type Transport,
  type TransportSendOptions,
} from '@modelcontextprotocol/server';
import { answerBarrier } from '../events/durable-writes.js';
import type { BoundedEventStore } from './event-store.js';
import { classifyJsonRpc, isJsonRpcPayload } from './jsonrpc.js';
import {
  JsonRpcErrorCode,
  jsonRpcRequestError,
  jsonRpcTransportError,
  type JsonRpcErrorObject,
  type JsonRpcErrorResponse,
} from './jsonrpc-errors.js';
import { SSE_HEADERS } from './legacy-sse-transport.js';

/** Options of {@link NodeStreamableTransport}. */
export interface NodeStreamableTransportOptions {
  /** The id this session gets when its `initialize` is accepted. */
  sessionId: string;
  /** Resumability buffer; without it streams carry no event ids and cannot be resumed. */
  eventStore?: BoundedEventStore;
  /** SSE `retry` hint sent with each stream's priming event. */
  retryMs?: number;
  /** Interval of `: keepalive` comments on open streams; 0 disables them. */
  keepAliveMs: number;
  /** Called once, when the session's `initialize` is accepted (before the server sees it). */
  onsessioninitialized?: (sessionId: string) => void;
  /** Called when the client ends the session with `DELETE`. */
  onsessionclosed?: (sessionId: string) => void;
  /**
   * How long the requests of an answer stream the client dropped wait for it to come back (`GET` with
   * `Last-Event-ID`) before they are cancelled. Without an event store nothing can resume them: they are cancelled
   * at once.
   */
  reconnectGraceMs?: number;
}

/** An open SSE response: a POST's answer stream or the session's GET stream. */
interface SseStream {
  res: ServerResponse;
  /** Events already written by a replay, not to be written twice. */
  replayed?: Set<string>;
  /** Writes the headers and priming event of a stream whose start was deferred; nothing once done. */
  start(): void;
  write(json: string, eventId: string | undefined): void;
  close(): void;
}

/** The request as tool handlers see it (`ctx.http.req`): method, URL and `headers.get()`, as on a web `Request`. */
export interface TransportRequestView {
  method: string;
  url: string;
  headers: { get(name: string): string | null };
}

/** The SDK transport's batch limit (its `MAX_BATCH_SIZE`, not exported): a longer batch is a 400 there too. */
const MAX_BATCH = 100;
const STANDALONE = '_GET_stream';
/** How long a POST's answer stream may hold its headers back waiting for its first event. */
const HOLD_HEADERS_MS = 50;

/**
 * The server side of one sessionful Streamable HTTP session (MCP 2025-03-26 to 2025-11-25, spec "Transports"),
 * written straight to Node's request and response.
 *
 * Same wire behaviour as the SDK's `WebStandardStreamableHTTPServerTransport`, which it replaces on this path: a POST
 * carrying requests is answered with an SSE stream that ends once every request in it is answered; a POST of only
 * notifications and responses gets 202; `GET` opens the one standalone stream (409 for a second), or with
 * `Last-Event-ID` replays a stream from the event store; `DELETE` ends the session; a priming event (an id with empty
 * data, plus `retry`) opens each stream for clients of 2025-11-25 and later when resumability is on; every error is
 * the SDK's status and JSON-RPC body. What it does not do is build a web `Request`, `Response`, `ReadableStream` and
 * `TextEncoder` per call or re-validate each message with zod to classify it: the HTTP layer has already checked
 * each message's JSON-RPC shape, and the MCP server validates each method's params. That was a third of a call's
 * CPU on this path (docs/benchmarks.md).
 */
export class NodeStreamableTransport implements Transport {
  /** Set once the session's `initialize` is accepted. */
  sessionId?: string;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  private readonly options: NodeStreamableTransportOptions;
  private readonly streams = new Map<string, SseStream>();
  /** Open requests: the stream their answer goes to. */
  private readonly requestStreams = new Map<RequestId, string>();
  /** Answers waiting for the other requests of their batch. */
  private readonly answered = new Set<RequestId>();
  private supportedVersions: readonly string[] = SUPPORTED_PROTOCOL_VERSIONS;
  private initialized = false;
  private closed = false;
  /** POST answer streams opened so far; names the next one. */
  private streamCount = 0;

  constructor(options: NodeStreamableTransportOptions) {
    this.options = options;
  }

  /** Whether `initialize` was accepted (a session that never got this far has nothing registered to close). */
  get isInitialized(): boolean {
    return this.initialized;
  }

  async start(): Promise<void> {}

  /** Called by the MCP server on connect with the versions it speaks. */
  setSupportedProtocolVersions(versions: string[]): void {
    this.supportedVersions = versions;
  }

  /**
   * Serves one HTTP request of this session. `body` is the parsed JSON body of a POST (undefined when it was not
   * JSON). Resolves once the request is answered or its stream is open.
   */
  async handleRequest(req: IncomingMessage, res: ServerResponse, body: unknown, authInfo?: AuthInfo): Promise<void> {
    if (this.closed) return this.refuse(res, 404, JsonRpcErrorCode.SessionNotFound, 'Session not found');
    switch (req.method) {
      case 'POST':
        return this.handlePost(req, res, body, authInfo);
      case 'GET':
        return this.handleGet(req, res);
      case 'DELETE':
        return this.handleDelete(req, res);
      default:
        res.setHeader('Allow', 'GET, POST, DELETE');
        return this.refuse(res, 405, JsonRpcErrorCode.ServerError, 'Method not allowed.');
    }
  }

  private handlePost(req: IncomingMessage, res: ServerResponse, body: unknown, authInfo: AuthInfo | undefined): void {
    const accept = req.headers.accept;
    if (!accept?.includes('application/json') || !accept.includes('text/event-stream')) {
      return this.refuse(
        res,
        406,
        JsonRpcErrorCode.ServerError,
        'Not Acceptable: Client must accept both application/json and text/event-stream',
      );
    }
    if (!isJsonContentType(req.headers['content-type'] ?? null) || body === undefined) {
      return this.refuse(res, 415, JsonRpcErrorCode.ServerError, 'Unsupported Media Type: Content-Type must be application/json');
    }
    if (Array.isArray(body) && body.length > MAX_BATCH) {
      return this.refuse(res, 400, JsonRpcErrorCode.InvalidRequest, `Invalid Request: Batch must not exceed ${MAX_BATCH} messages`);
    }
    if (!isJsonRpcPayload(body)) return this.refuse(res, 400, JsonRpcErrorCode.ParseError, 'Parse error: Invalid JSON-RPC message');
    const messages = (Array.isArray(body) ? body : [body]) as JSONRPCMessage[];
    // The SDK's Protocol drops a message it cannot classify (params an array, an unknown top-level key...) and
    // reports it to onerror only: a request among them would never be answered and its stream would stay open.
    const invalid = messages.find((message) => classifyJsonRpc(message) === 'invalid');
    if (invalid) return this.refuseInvalid(res, invalid);

    const initialize = messages.find((message) => 'method' in message && message.method === 'initialize' && 'id' in message) as
      { params?: { protocolVersion?: unknown } } | undefined;
    if (initialize) {
      if (this.initialized) return this.refuse(res, 400, JsonRpcErrorCode.InvalidRequest, 'Invalid Request: Server already initialized');
      if (messages.length > 1)
        return this.refuse(res, 400, JsonRpcErrorCode.InvalidRequest, 'Invalid Request: Only one initialization request is allowed');
      this.initialized = true;
      this.sessionId = this.options.sessionId;
      this.options.onsessioninitialized?.(this.sessionId);
    } else if (!this.checkSession(req, res) || !this.checkProtocolVersion(req, res)) {
      return;
    }

    const request = requestView(req);
    const requests = messages.filter(isRequest);
    if (requests.length === 0) {
      for (const message of messages)
        this.onmessage?.(message, { request: request as unknown as Request, ...(authInfo ? { authInfo } : {}) });
      res.writeHead(202).end();
      return;
    }

    // Stream ids only need to be unique within the session (event ids are `${streamId}_${seq}`, looked up per session):
    // a counter keeps every event id on the wire short.
    const streamId = `${(this.streamCount += 1)}`;
    const version =
      typeof initialize?.params?.protocolVersion === 'string'
        ? initialize.params.protocolVersion
        : (header(req, 'mcp-protocol-version') ?? DEFAULT_NEGOTIATED_PROTOCOL_VERSION);
    const resumable = this.options.eventStore !== undefined && this.supportsPriming(version);
    this.openStream(streamId, res, { priming: resumable, holdHeaders: true, deferStart: true });
    for (const message of requests) this.requestStreams.set(message.id, streamId);
    for (const message of messages) {
      const extra: MessageExtraInfo = { request: request as unknown as Request, ...(authInfo ? { authInfo } : {}) };
      if (resumable && isRequest(message)) {
        extra.closeSSEStream = () => this.closeRequestStream(message.id);
        extra.closeStandaloneSSEStream = () => this.streams.get(STANDALONE)?.close();
      }
      this.onmessage?.(message, extra);
    }
  }

  private async handleGet(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!req.headers.accept?.includes('text/event-stream')) {
      return this.refuse(res, 406, JsonRpcErrorCode.ServerError, 'Not Acceptable: Client must accept text/event-stream');
    }
    if (!this.checkSession(req, res) || !this.checkProtocolVersion(req, res)) return;
    const lastEventId = header(req, 'last-event-id');
    if (this.options.eventStore && lastEventId) return this.replay(lastEventId, res);
    if (this.streams.has(STANDALONE))
      return this.refuse(res, 409, JsonRpcErrorCode.ServerError, 'Conflict: Only one SSE stream is allowed per session');
    // The client learns the stream is open from its headers; nothing else may be written for a while.
    this.openStream(STANDALONE, res, {});
  }

  private async handleDelete(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.checkSession(req, res) || !this.checkProtocolVersion(req, res)) return;
    try {
      this.options.onsessionclosed?.(this.sessionId!);
      res.writeHead(200).end();
    } finally {
      await this.close();
    }
  }

  /** Replays the stream `lastEventId` belongs to and, if it is still open, keeps it attached to this response. */
  private async replay(lastEventId: string, res: ServerResponse): Promise<void> {
    const store = this.options.eventStore!;
    const streamId = await store.getStreamIdForEventId(lastEventId);
    if (!streamId) return this.refuse(res, 400, JsonRpcErrorCode.ServerError, 'Invalid event ID format');
    if (this.streams.has(streamId))
      return this.refuse(res, 409, JsonRpcErrorCode.ServerError, 'Conflict: Stream already has an active connection');
    const replayed = new Set<string>();
    this.writeHead(res);
    try {
      await store.replayEventsAfter(lastEventId, {
        send: async (eventId, message) => {
          replayed.add(eventId);
          writeEvent(res, JSON.stringify(message), eventId);
        },
      });
    } catch (error) {
      this.onerror?.(error as Error);
      res.end();
      return;
    }
    if (this.closed || res.destroyed) {
      res.end();
      return;
    }
    // A request stream whose answers were all sent has nothing more to carry: the replay alone is the answer.
    if (streamId !== STANDALONE && ![...this.requestStreams.values()].includes(streamId)) {
      res.end();
      return;
    }
    this.openStream(streamId, res, { replayed });
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    // An answer goes out only once the events of what it acknowledges are stored (events/durable-writes.ts).
    const held = answerBarrier();
    if (held) await held;
    const response = isResponse(message);
    const requestId = response ? (message as { id: RequestId }).id : options?.relatedRequestId;
    const json = JSON.stringify(message);
    if (requestId === undefined) {
      if (response) throw new Error('Cannot send a response on a standalone SSE stream unless resuming a previous client request');
      const eventId = this.options.eventStore?.append(STANDALONE, message, json);
      const stream = this.streams.get(STANDALONE);
      if (stream && (eventId === undefined || !stream.replayed?.has(eventId))) stream.write(json, eventId);
      return;
    }
    const streamId = this.requestStreams.get(requestId);
    if (streamId === undefined) throw new Error(`No connection established for request ID: ${String(requestId)}`);
    const stream = this.streams.get(streamId);
    // The priming event is stored first, so its id precedes every message's and a resume from it misses none.
    stream?.start();
    const eventId = this.options.eventStore?.append(streamId, message, json);
    if (stream && (eventId === undefined || !stream.replayed?.has(eventId))) stream.write(json, eventId);
    else if (!stream && !this.options.eventStore && response) {
      this.onerror?.(
        new Error(
          `Response for request ID ${String(requestId)} is undeliverable: per-request stream is disconnected and no eventStore is configured`,
        ),
      );
    }
    if (!response) return;

    this.answered.add(requestId);
    const related: RequestId[] = [];
    for (const [id, sid] of this.requestStreams) if (sid === streamId) related.push(id);
    if (!related.every((id) => this.answered.has(id))) return;
    for (const id of related) {
      this.answered.delete(id);
      this.requestStreams.delete(id);
    }
    stream?.close();
  }

  /**
   * Answers every request still open on this session with `error`, as the server's last word before it closes the
   * session (a shutdown): the client gets an error it can act on instead of a stream that just ends. Resolves with
   * how many were answered.
   */
  async answerPending(error: JsonRpcErrorObject): Promise<number> {
    const pending = [...this.requestStreams.keys()].filter((id) => !this.answered.has(id));
    for (const id of pending) await this.send(jsonRpcRequestError(id, error.code, error.message, error.data));
    return pending.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stream of [...this.streams.values()]) stream.close();
    this.streams.clear();
    this.requestStreams.clear();
    this.answered.clear();
    this.onclose?.();
  }

  /**
   * The client dropped the answer stream `streamId`: its open requests are cancelled, as if the client had sent
   * `notifications/cancelled` for each (the server's handlers see their signal abort: a Claude run is interrupted, an
   * upstream call cancelled), unless the client resumes the stream within the grace period. Background work that
   * answered at once is not affected: it has no open request.
   */
  private clientDropped(streamId: string): void {
    const cancel = () => {
      if (this.closed || this.streams.has(streamId)) return;
      for (const [id, sid] of [...this.requestStreams]) {
        if (sid !== streamId || this.answered.has(id)) continue;
        this.requestStreams.delete(id);
        this.onmessage?.({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: id, reason: 'the client disconnected' },
        });
      }
    };
    const grace = this.options.eventStore ? (this.options.reconnectGraceMs ?? 0) : 0;
    if (grace <= 0) return cancel();
    setTimeout(cancel, grace).unref();
  }

  /** Closes a request's stream so the client reconnects later with `Last-Event-ID` (SSE polling). */
  private closeRequestStream(requestId: RequestId): void {
    const streamId = this.requestStreams.get(requestId);
    if (streamId !== undefined) this.streams.get(streamId)?.close();
  }

  private writeHead(res: ServerResponse): void {
    res.writeHead(200, this.sessionId === undefined ? SSE_HEADERS : { ...SSE_HEADERS, 'mcp-session-id': this.sessionId });
  }

  /**
   * Starts an SSE response on `res` and registers it as `streamId`.
   *
   * Writes are few: each write to a socket is a system call that wakes the client, which on small machines costs as
   * much as the rest of a short call. The headers (and the priming event) of a POST's answer are held in the
   * socket's buffer until its first event, so a call answered without progress leaves in one write together with the
   * end of the stream; if nothing comes within {@link HOLD_HEADERS_MS} they go out alone, so the client still sees
   * the stream open. Events written in one turn of the event loop share a write. A GET stream's headers go at once.
   *
   * With `deferStart`, the stream is registered at once but its headers, priming event and keep-alive are prepared in
   * the check phase of this turn, or before its first write or its close if that comes sooner: the request is handed
   * to the server first, so a relayed call reaches its upstream sooner and the stream is set up while the upstream
   * works. What goes on the wire, and in which order, is the same.
   */
  private openStream(
    streamId: string,
    res: ServerResponse,
    how: { priming?: boolean; holdHeaders?: boolean; replayed?: Set<string>; deferStart?: boolean },
  ): void {
    let started = false;
    let forgotten = false;
    let corked = false;
    let hold: NodeJS.Timeout | undefined;
    let keepAlive: NodeJS.Timeout | undefined;
    const uncork = () => {
      if (!corked) return;
      corked = false;
      clearTimeout(hold);
      res.uncork();
    };
    const start = () => {
      if (started) return;
      started = true;
      if (!res.headersSent) this.writeHead(res);
      res.cork();
      corked = true;
      if (how.holdHeaders) {
        hold = setTimeout(uncork, HOLD_HEADERS_MS);
        hold.unref();
      } else {
        res.flushHeaders();
        process.nextTick(uncork);
      }
      if (how.priming) {
        const eventId = this.options.eventStore!.append(streamId, {} as JSONRPCMessage, '{}');
        res.write(
          this.options.retryMs === undefined ? `id: ${eventId}\ndata: \n\n` : `id: ${eventId}\nretry: ${this.options.retryMs}\ndata: \n\n`,
        );
      }
      if (this.options.keepAliveMs > 0) {
        keepAlive = setInterval(() => res.write(': keepalive\n\n'), this.options.keepAliveMs);
        keepAlive.unref();
      }
    };
    const stream: SseStream = {
      res,
      ...(how.replayed ? { replayed: how.replayed } : {}),
      start: () => {
        if (!res.writableEnded && !res.destroyed) start();
      },
      write: (json, eventId) => {
        if (res.writableEnded) return;
        start();
        writeEvent(res, json, eventId);
        if (corked) {
          // Later events of this turn (the rest of a batch, the end of the stream) join this write.
          corked = false;
          clearTimeout(hold);
          process.nextTick(() => res.uncork());
        }
      },
      close: () => {
        stream.start();
        forget();
        // end() flushes whatever is still corked, in the same write.
        corked = false;
        if (!res.writableEnded) res.end();
      },
    };
    const forget = () => {
      forgotten = true;
      clearInterval(keepAlive);
      clearTimeout(hold);
      res.off('close', dropped);
      if (this.streams.get(streamId) === stream) this.streams.delete(streamId);
    };
    // The connection ended before the stream did: the client went away (killed, network gone, request aborted).
    const dropped = () => {
      const byClient = !res.writableEnded;
      forget();
      if (byClient && streamId !== STANDALONE) this.clientDropped(streamId);
    };
    res.once('close', dropped);
    this.streams.set(streamId, stream);
    if (!how.deferStart) start();
    else
      setImmediate(() => {
        if (!forgotten) start();
      });
  }

  private checkSession(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.initialized) {
      this.refuse(res, 400, JsonRpcErrorCode.ServerError, 'Bad Request: Server not initialized');
      return false;
    }
    const id = header(req, 'mcp-session-id');
    if (!id) {
      this.refuse(res, 400, JsonRpcErrorCode.ServerError, 'Bad Request: Mcp-Session-Id header is required');
      return false;
    }
    if (id !== this.sessionId) {
      this.refuse(res, 404, JsonRpcErrorCode.SessionNotFound, 'Session not found');
      return false;
    }
    return true;
  }

  private checkProtocolVersion(req: IncomingMessage, res: ServerResponse): boolean {
    const version = header(req, 'mcp-protocol-version');
    if (version === undefined || this.supportedVersions.includes(version)) return true;
    this.refuse(
      res,
      400,
      JsonRpcErrorCode.ServerError,
      `Bad Request: Unsupported protocol version: ${version} (supported versions: ${this.supportedVersions.join(', ')})`,
    );
    return false;
  }

  /** Priming events (empty data) are understood by clients of 2025-11-25 and later, among the versions we speak. */
  private supportsPriming(version: string): boolean {
    return this.supportedVersions.includes(version) && version >= '2025-11-25';
  }

  private refuse(res: ServerResponse, status: number, code: JsonRpcErrorCode, message: string): void {
    this.onerror?.(new Error(message));
    this.answer(res, status, jsonRpcTransportError(code, message));
  }

  /** 400 -32600 for a POST with a message that is not valid JSON-RPC, answered to that message's id when it has one. */
  private refuseInvalid(res: ServerResponse, message: unknown): void {
    const text = 'Invalid Request: not a valid JSON-RPC 2.0 message (check params, id and the top-level keys)';
    this.onerror?.(new Error(text));
    const id = (message as { id?: unknown }).id;
    const validId = typeof id === 'string' || (typeof id === 'number' && Number.isSafeInteger(id)) ? id : undefined;
    this.answer(
      res,
      400,
      validId === undefined
        ? jsonRpcTransportError(JsonRpcErrorCode.InvalidRequest, text)
        : jsonRpcRequestError(validId, JsonRpcErrorCode.InvalidRequest, text),
    );
  }

  private answer(res: ServerResponse, status: number, error: JsonRpcErrorResponse): void {
    const body = JSON.stringify(error);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
  }
}

function writeEvent(res: ServerResponse, json: string, eventId: string | undefined): void {
  if (res.writableEnded) return;
  res.write(eventId === undefined ? `event: message\ndata: ${json}\n\n` : `event: message\nid: ${eventId}\ndata: ${json}\n\n`);
}

function isRequest(message: JSONRPCMessage): message is JSONRPCMessage & { id: RequestId; method: string } {
  return 'method' in message && 'id' in message && message.id !== undefined;
}

function isResponse(message: JSONRPCMessage): boolean {
  return !('method' in message) && ('result' in message || 'error' in message);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `ctx.http.req` for handlers: reads the Node request's headers on demand instead of copying them per call. */
function requestView(req: IncomingMessage): TransportRequestView {
  return {
    method: req.method ?? 'POST',
    url: `http://localhost${req.url ?? '/'}`,
    headers: {
      get(name: string) {
        const value = req.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    },
  };
}
