import type { ChildProcess } from 'node:child_process';
import { StdioClientTransport, type StdioServerParameters } from '@modelcontextprotocol/client/stdio';
import { ProtocolError, SdkError, SdkErrorCode, STDIO_DEFAULT_MAX_BUFFER_SIZE, type JSONRPCMessage } from '@modelcontextprotocol/client';
import { replaceStdioReadBuffer, stdioChildProcess } from '../mcp/sdk-internals.js';
import { JsonRpcLineReader } from './json-rpc-line-reader.js';

/** Options of a {@link DirectRequester.request}. */
export interface DirectRequestOptions {
  /**
   * Aborting it gives the request up as the SDK's `Protocol.request` does: `notifications/cancelled` (with the
   * request's id and `String(reason)`) goes upstream, and the promise rejects with the reason when it is an
   * `SdkError`, else with `SdkError(RequestTimeout, String(reason))`.
   */
  signal?: AbortSignal;
  /** No answer within this many ms gives the request up as an abort does, with `SdkError(RequestTimeout, "Request timed out")`. */
  timeoutMs?: number;
}

/**
 * Sends JSON-RPC requests straight over a connection, below the SDK client's Protocol layer: no result decoding and
 * no result schema, so the caller checks what it gets.
 */
export interface DirectRequester {
  /**
   * Sends `method` with `params` and resolves to the upstream's `result` as it arrived. A JSON-RPC error answer
   * rejects with a `ProtocolError` of its code, message and data (`ProtocolError.fromError`, as the SDK does); the
   * connection closing rejects every request still waiting with `SdkError(ConnectionClosed)`, at once.
   */
  request(method: string, params: Record<string, unknown>, options: DirectRequestOptions): Promise<unknown>;
}

/** Ids of direct requests: strings, so they never collide with the SDK's numeric ids on the same connection. */
const ID_PREFIX = 'gw-';

/**
 * A direct request waiting for its answer. One object per request, which is also its abort listener (an
 * `EventListenerObject`), so a request costs no closures beyond its promise's.
 */
class PendingRequest {
  timer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    private readonly transport: CoalescingStdioClientTransport,
    private readonly signal: AbortSignal | undefined,
    private readonly onResolve: (result: unknown) => void,
    private readonly onReject: (error: Error) => void,
  ) {}

  resolve(result: unknown): void {
    this.cleanup();
    this.onResolve(result);
  }

  reject(error: Error): void {
    this.cleanup();
    this.onReject(error);
  }

  /** The signal aborted. */
  handleEvent(): void {
    this.transport.giveUp(this, this.signal?.reason);
  }

  private cleanup(): void {
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this);
  }
}

/**
 * The SDK's stdio client transport, with the messages sent in one turn of the event loop written to the upstream's
 * stdin together, and with {@link DirectRequester} requests answered here, before the SDK's Protocol sees them.
 *
 * Each write to a pipe is a system call that also wakes the upstream process; on a small machine under concurrent
 * calls that was the single largest cost of relaying a tool call (docs/benchmarks.md, "Gateway"). Corking
 * stdin until the event loop's check phase merges every message sent while the loop handled one batch of socket
 * events into one write, and delays none of them past that turn. Order is kept: a corked stream writes in order.
 *
 * The SDK parses every line the upstream writes with zod, classifies it with several more zod passes and keeps
 * timers, listeners and handler maps per request; for a relayed `tools/call` that was most of the gateway's own client
 * side work. Here the SDK's read buffer is replaced by a {@link JsonRpcLineReader} (JSON.parse and an envelope
 * check) that takes the answers to direct requests (string ids `gw-<n>`) out of the stream; every other message goes
 * on to `onmessage` in arrival order as before, so the Protocol, which validates what it is handed, and a handler set
 * before connect still see it.
 */
export class CoalescingStdioClientTransport extends StdioClientTransport implements DirectRequester {
  private corked = false;
  private readonly pending = new Map<string, PendingRequest>();
  private requestCounter = 0;

  constructor(server: StdioServerParameters) {
    super(server);
    // Should the SDK stop reading stdout through its read buffer, direct requests would never be answered: fail loudly.
    const missing = replaceStdioReadBuffer(
      this,
      new JsonRpcLineReader(server.maxBufferSize ?? STDIO_DEFAULT_MAX_BUFFER_SIZE, (message) => this.settle(message)),
    );
    if (missing) throw missing;
  }

  /** The SDK transport's child process (see its `send`); reading it keeps the SDK's spawn and staged shutdown. */
  private get child(): ChildProcess | undefined {
    return stdioChildProcess(this);
  }

  override async start(): Promise<void> {
    await super.start();
    // The moment the SDK reports the connection closed and fails its own requests: the process has exited and its
    // stdout is drained, so no answer still in the pipe is lost ('exit' can come before the last answers are read).
    this.child?.once('close', () => this.failPending(new SdkError(SdkErrorCode.ConnectionClosed, 'Connection closed')));
  }

  override send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    // A lone call in flight has nothing to share a write with: it goes out at once instead of at the check phase.
    if (stdin && !this.corked && !stdin.destroyed && this.pending.size > 1) {
      this.corked = true;
      stdin.cork();
      setImmediate(() => {
        this.corked = false;
        stdin.uncork();
      });
    }
    return super.send(message);
  }

  request(method: string, params: Record<string, unknown>, { signal, timeoutMs }: DirectRequestOptions): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(asSdkError(signal.reason));
    const id = `${ID_PREFIX}${++this.requestCounter}`;
    return new Promise<unknown>((resolve, reject) => {
      const request = new PendingRequest(id, this, signal, resolve, reject);
      this.pending.set(id, request);
      signal?.addEventListener('abort', request, { once: true });
      if (timeoutMs !== undefined) {
        request.timer = setTimeout(
          () => this.giveUp(request, new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out', { timeout: timeoutMs })),
          timeoutMs,
        );
        request.timer.unref();
      }
      this.send({ jsonrpc: '2.0', id, method, params }).catch((error: unknown) => {
        if (this.pending.delete(id)) request.reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  /**
   * Gives a direct request up (its signal aborted or its time ran out) as the SDK's `Protocol.request` does: tells the
   * upstream with `notifications/cancelled` and rejects. Does nothing once the request is settled.
   */
  giveUp(request: PendingRequest, reason: unknown): void {
    if (!this.pending.delete(request.id)) return;
    this.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: request.id, reason: String(reason) } }).catch(
      () => undefined,
    );
    request.reject(asSdkError(reason));
  }

  /** Settles the direct request a response answers; `true` when the message is ours (answered or given up on). */
  private settle(message: JSONRPCMessage): boolean {
    if ('method' in message) return false;
    const { id } = message;
    if (typeof id !== 'string' || !id.startsWith(ID_PREFIX)) return false;
    const request = this.pending.get(id);
    // A late answer to a request given up on (cancelled, timed out): the SDK would only report it as unknown.
    if (!request) return true;
    this.pending.delete(id);
    if ('result' in message) request.resolve(message.result);
    else request.reject(ProtocolError.fromError(message.error.code, message.error.message, message.error.data));
    return true;
  }

  private failPending(error: Error): void {
    const requests = [...this.pending.values()];
    this.pending.clear();
    for (const request of requests) request.reject(error);
  }
}

/** The SDK's conversion of an abort reason into the error a given-up request rejects with. */
function asSdkError(reason: unknown): SdkError {
  return reason instanceof SdkError ? reason : new SdkError(SdkErrorCode.RequestTimeout, String(reason));
}
