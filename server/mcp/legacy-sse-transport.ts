import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isJsonContentType, parseJSONRPCMessage, readRequestBody } from '@modelcontextprotocol/server';
import type { AuthInfo, JSONRPCMessage, MessageExtraInfo, RequestId, Transport } from '@modelcontextprotocol/server';
import { answerBarrier } from '../events/durable-writes.js';
import { JsonRpcErrorCode, jsonRpcRequestError, jsonRpcTransportError, type JsonRpcErrorObject } from './jsonrpc-errors.js';

/** Options of a {@link LegacySseTransport}; validated once by its constructor. */
export interface LegacySseTransportOptions {
  /**
   * Absolute path (starting with one `/`, any prefix included, e.g. `/mcp/message`) that clients POST messages to.
   * Sent to the client in the `endpoint` event with `sessionId` added to its query. A full URL is refused: the
   * 2024-11-05 clients resolve the endpoint against the SSE URL, and v2 clients reject other origins anyway.
   */
  endpoint: string;
  /** Interval of `: keepalive` comment frames that keep idle streams open through proxies; 0 disables them. */
  keepAliveMs: number;
  /** Largest POST body accepted, in bytes; larger ones are answered 413. A positive number. */
  maxMessageBytes: number;
  /** Session id to announce; a random UUID when omitted. Routers look transports up by it. */
  sessionId?: string;
  /**
   * Called for every message sent to the client. Results arrive on the stream long after their POST was answered
   * 202, so session bookkeeping counts outgoing traffic as activity too.
   */
  onSend?: () => void;
}

/** Extra context of one POSTed message. */
export interface LegacySsePostExtra {
  /** Who sent it, as established by the authentication in front of the route; handed to the MCP server. */
  authInfo?: AuthInfo;
}

/** Response headers of every SSE stream we serve (both transports). */
export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache, no-transform',
  // No `Connection` header: Node writes `keep-alive` itself, unless the client asked to close the connection.
  // nginx buffers responses by default, which would hold SSE frames back until the buffer fills.
  'X-Accel-Buffering': 'no',
} as const;

/**
 * Server side of the HTTP+SSE transport of MCP 2024-11-05 (spec "Transports", HTTP with SSE), which SDK v2 does
 * not ship: the client opens `GET /sse` (this transport's response, an SSE stream that carries every server
 * message as `event: message`), is told where to POST by the first `endpoint` event, and POSTs one JSON-RPC
 * message per request to that endpoint, answered `202 Accepted` (the reply travels over the stream).
 *
 * Modelled on v1's deprecated `SSEServerTransport`, with these differences: client mistakes get distinct statuses
 * (404 stream not open, 415, 413, 400 with a JSON-RPC error body) instead of 400/500 plain text; keep-alive frames;
 * `onclose` fires exactly once; and the message reaches the server with `request` (a web `Request`, as the SDK's
 * Streamable HTTP transport passes it) so tool handlers see the same `ctx.http.req` on both transports.
 * JSON-RPC batches are refused as Invalid Request: 2024-11-05 had none.
 */
export class LegacySseTransport implements Transport {
  /** Identifies this stream; carried in the endpoint's `sessionId` query parameter. */
  readonly sessionId: string;
  /** Set by the MCP server on connect; called once, when the stream closes for any reason. */
  onclose?: () => void;
  /** Set by the MCP server on connect; told about rejected POSTs and failures that have no caller to throw to. */
  onerror?: (error: Error) => void;
  /** Set by the MCP server on connect; receives every accepted POSTed message. */
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  private readonly endpointWithSession: string;
  private readonly keepAliveMs: number;
  private readonly maxMessageBytes: number;
  private readonly onSend: (() => void) | undefined;
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;
  /** Requests received and not yet answered, by id: what {@link answerPending} answers at a shutdown. */
  private readonly pending = new Set<RequestId>();

  /**
   * Takes over `res`, the response to the client's `GET`; nothing is written until {@link start}.
   * @throws TypeError when an option is invalid.
   */
  constructor(
    private readonly res: ServerResponse,
    options: LegacySseTransportOptions,
  ) {
    if (!options.endpoint.startsWith('/') || options.endpoint.startsWith('//')) {
      const got = JSON.stringify(options.endpoint);
      throw new TypeError(`endpoint: expected an absolute path such as /messages, got ${got}`);
    }
    if (!Number.isFinite(options.keepAliveMs) || options.keepAliveMs < 0) {
      throw new TypeError(`keepAliveMs: expected 0 (off) or a positive number, got ${String(options.keepAliveMs)}`);
    }
    if (!Number.isFinite(options.maxMessageBytes) || options.maxMessageBytes <= 0) {
      throw new TypeError(`maxMessageBytes: expected a positive number, got ${String(options.maxMessageBytes)}`);
    }
    if (options.sessionId === '') throw new TypeError('sessionId: expected a non-empty string');
    this.sessionId = options.sessionId ?? randomUUID();
    this.keepAliveMs = options.keepAliveMs;
    this.maxMessageBytes = options.maxMessageBytes;
    this.onSend = options.onSend;
    // Through URL so that an endpoint that already has a query keeps it and the id is encoded.
    const url = new URL(options.endpoint, 'http://localhost');
    url.searchParams.set('sessionId', this.sessionId);
    this.endpointWithSession = url.pathname + url.search;
    // Registered now, not in start(): a client that leaves before start() must still release the transport.
    res.once('close', () => void this.close());
  }

  /**
   * Opens the stream: SSE headers, the `endpoint` event, then keep-alive frames. Called by `McpServer.connect`.
   * @throws Error when called twice, or when the client has already disconnected.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('LegacySseTransport already started (McpServer.connect() starts it)');
    this.started = true;
    if (this.closed) throw new Error('LegacySseTransport: the client disconnected before the stream started');
    this.res.writeHead(200, SSE_HEADERS);
    this.res.write(`event: endpoint\ndata: ${this.endpointWithSession}\n\n`);
    if (this.keepAliveMs > 0) {
      this.keepAliveTimer = setInterval(() => {
        if (!this.closed) this.res.write(': keepalive\n\n');
      }, this.keepAliveMs);
      // A keep-alive alone must not keep the process running (graceful shutdown waits for the event loop).
      this.keepAliveTimer.unref();
    }
  }

  /**
   * Handles one `POST` to the endpoint: validates it, answers it, then hands the message to the MCP server.
   * Never throws for client mistakes; each is answered as documented on the class.
   *
   * @param parsedBody the body when a body parser already consumed `req` (it is then re-serialized to check size).
   */
  async handlePostMessage(req: IncomingMessage, res: ServerResponse, parsedBody?: unknown, extra?: LegacySsePostExtra): Promise<void> {
    // Before start() no server listens yet, so a message accepted then would be lost behind a 202.
    if (this.closed || !this.started) return this.refuse(res, 404, { error: 'SSE stream is not open; open a new one' });
    const contentType = req.headers['content-type'];
    if (!isJsonContentType(contentType)) {
      const error = `Unsupported Media Type: expected application/json, got ${contentType ?? 'none'}`;
      return this.refuse(res, 415, { error });
    }
    let body: MessageBody;
    try {
      body = await readMessageBody(req, parsedBody, this.maxMessageBytes);
    } catch (error) {
      return this.refuse(res, 400, { error: 'Could not read the request body' }, error);
    }
    if (body.tooLarge) {
      // The rest of the body may still be in flight; closing the connection spares reading it.
      res.setHeader('Connection', 'close');
      const error = `Payload Too Large: a message must not exceed ${this.maxMessageBytes} bytes`;
      return this.refuse(res, 413, { error });
    }
    let value: unknown;
    try {
      value = JSON.parse(body.text);
    } catch (error) {
      return this.refuse(res, 400, jsonRpcTransportError(JsonRpcErrorCode.ParseError, 'Parse error: body is not JSON'), error);
    }
    let message: JSONRPCMessage;
    try {
      message = parseJSONRPCMessage(value);
    } catch (error) {
      const invalid = jsonRpcTransportError(JsonRpcErrorCode.InvalidRequest, 'Invalid Request: not one JSON-RPC 2.0 message');
      return this.refuse(res, 400, invalid, error);
    }
    res.writeHead(202, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Accepted');
    if ('method' in message && 'id' in message) this.pending.add(message.id);
    try {
      this.onmessage?.(message, { authInfo: extra?.authInfo, request: body.request });
    } catch (error) {
      // The client already has its 202; the failure belongs to the server's error channel.
      this.onerror?.(toError(error));
    }
  }

  /**
   * Writes `message` as an `event: message` frame, waiting for the socket to drain when its buffer is full.
   * @throws Error when the stream is closed (the caller's request then fails instead of vanishing).
   */
  async send(message: JSONRPCMessage): Promise<void> {
    // An answer goes out only once the events of what it acknowledges are stored (events/durable-writes.ts).
    const held = answerBarrier();
    if (held) await held;
    if (this.closed || !this.started) throw new Error('LegacySseTransport: not connected (stream not open)');
    if (!('method' in message) && 'id' in message && message.id !== undefined) {
      // Answered once: a late answer after answerPending() is dropped, like any answer to a request no longer open.
      if (!this.pending.delete(message.id)) return;
    }
    this.onSend?.();
    if (this.res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`)) return;
    // Without this wait a slow client would make the server buffer without limit.
    await new Promise<void>((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  /**
   * Answers every request still open on this session with `error`, as the server's last word before it closes the
   * session (a shutdown). Resolves with how many were answered.
   */
  async answerPending(error: JsonRpcErrorObject): Promise<number> {
    const pending = [...this.pending];
    for (const id of pending) await this.send(jsonRpcRequestError(id, error.code, error.message, error.data)).catch(() => undefined);
    return pending.length;
  }

  /** Ends the stream and stops the keep-alive timer; calls `onclose` the first time only. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
    if (!this.res.writableEnded) this.res.end();
    this.onclose?.();
  }

  private refuse(res: ServerResponse, status: number, body: object, cause?: unknown): void {
    this.onerror?.(new Error(`LegacySseTransport: POST rejected with ${status}`, { cause }));
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  }
}

type MessageBody = { tooLarge: true } | { tooLarge: false; text: string; request: Request };

/**
 * Reads the body through the SDK's own helpers, which bound it by `Content-Length` first and by bytes received
 * after. `parsedBody` (from a body parser) is re-serialized by `toWebRequest`, so it is bounded the same way.
 */
async function readMessageBody(req: IncomingMessage, parsedBody: unknown, maxBytes: number): Promise<MessageBody> {
  // Loaded with the first legacy SSE message: most deployments never see one, so start-up does not pay for it.
  const { toWebRequest } = await import('@modelcontextprotocol/node');
  let request: Request;
  try {
    request = await toWebRequest(req, parsedBody, { maxRequestBodySize: maxBytes });
  } catch (error) {
    if (error instanceof Error && error.name === 'RequestBodyTooLargeError') return { tooLarge: true };
    throw error;
  }
  const body = await readRequestBody(request, maxBytes);
  return body.tooLarge ? body : { tooLarge: false, text: body.text, request };
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
