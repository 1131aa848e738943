import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  classifyInboundRequest,
  createMcpHandler,
  isInitializeRequest,
  legacyStatelessFallback,
  type McpHttpHandler,
  type RequestId,
} from '@modelcontextprotocol/server';
import { AppError, AppErrorCode } from '../errors/app-error.js';
import type { RemoteSessions } from '../cluster/cluster.js';
import type { Logger } from '../logging/logger.js';
import { callerFromAuthInfo, toAuthInfo, type Caller } from './caller.js';
import { BoundedEventStore } from './event-store.js';
import { installFastDispatch } from './fast-dispatch.js';
import { classifyJsonRpc } from './jsonrpc.js';
import { jsonRpcRequestError, type JsonRpcErrorObject } from './jsonrpc-errors.js';
import type { ServerFactory } from './server-factory.js';
import type { SessionRegistry } from './session-registry.js';
import { NodeStreamableTransport } from './node-streamable-transport.js';
import { serveWebHandler } from './web-bridge.js';

/** Options of {@link createStreamableEndpoint}. */
export interface StreamableEndpointOptions {
  factory: ServerFactory;
  sessions: SessionRegistry;
  logger: Logger;
  /** Serve 2025-era clients statelessly (no sessions) instead of with a sessionful transport. */
  legacyStateless: boolean;
  keepAliveMs: number;
  /** SSE `retry` hint for reconnecting clients. */
  retryMs: number;
  /** How long a dropped answer stream's requests wait for the client to resume before they are cancelled. */
  reconnectGraceMs?: number;
  /** Per-session resumability buffer; `maxEvents: 0` disables resumability. */
  eventStore: { maxEvents: number; maxBytes: number };
  maxBodyBytes: number;
  /** With several replicas: serves a request for a session another replica holds (server/cluster). */
  remote?: RemoteSessions;
}

/** The `/mcp` endpoint: one URL serving both protocol eras. */
export interface StreamableEndpoint {
  /**
   * Serves one HTTP request (`POST`, `GET` or `DELETE`) for `caller`. `body` is the parsed JSON body of a POST.
   * Throws {@link AppError} for problems answered before the SDK sees the request (unknown session, session limit).
   */
  handle(req: IncomingMessage, res: ServerResponse, body: unknown, caller: Caller): Promise<void>;
  /**
   * Answers the per-request (stateless) requests still open with `error`, as a shutdown's last word: the JSON-RPC
   * error as the JSON answer when nothing was sent yet, else as an event on the open stream. Resolves with how many.
   * Sessions' open requests are answered through the registry.
   */
  answerPending(error: JsonRpcErrorObject): Promise<number>;
  /** Closes the modern handler's in-flight exchanges. Sessions are closed through the registry. */
  close(): Promise<void>;
  /** Live sessionful transports held by this endpoint (equals its sessions in the registry; for leak checks). */
  readonly transportCount: number;
}

type AuthedRequest = IncomingMessage & { auth?: ReturnType<typeof toAuthInfo> };

/**
 * Routes each request to the right serving path:
 * - a request carrying `Mcp-Session-Id` goes to that session's transport (404 when unknown or not the caller's);
 * - a 2026-07-28 request (classified by the SDK's own predicate) goes to the stateless per-request handler;
 * - a 2025-era `initialize` opens a new sessionful transport (or, with `legacyStateless`, is served statelessly);
 * - other 2025-era requests without a session are refused with 400, as the transport spec requires.
 */
export function createStreamableEndpoint(options: StreamableEndpointOptions): StreamableEndpoint {
  const { factory, sessions, logger } = options;
  const transports = new Map<string, NodeStreamableTransport>();
  const onerror = (error: Error) => logger.debug('mcp transport error', { error: error.message });
  /** Per-request exchanges in flight with the request ids they must answer: what a shutdown answers if they cannot. */
  const bridged = new Set<{ res: ServerResponse; ids: RequestId[] }>();

  async function bridge(
    fetch: Parameters<typeof serveWebHandler>[0],
    req: AuthedRequest,
    res: ServerResponse,
    body: unknown,
  ): Promise<void> {
    const ids = requestIds(body);
    if (ids.length === 0) return serveWebHandler(fetch, req, res, body);
    const exchange = { res, ids };
    bridged.add(exchange);
    try {
      await serveWebHandler(fetch, req, res, body);
    } finally {
      bridged.delete(exchange);
    }
  }

  const modern: McpHttpHandler = createMcpHandler(
    (ctx) => factory({ caller: callerFromAuthInfo(ctx.authInfo), era: 'modern', mode: 'stateless-http' }),
    { legacy: 'reject', keepAliveMs: options.keepAliveMs, maxRequestBodySize: options.maxBodyBytes, onerror },
  );
  const legacyStatelessFetch = legacyStatelessFallback(
    (ctx) => factory({ caller: callerFromAuthInfo(ctx.authInfo), era: 'legacy', mode: 'stateless-http' }),
    onerror,
    { maxRequestBodySize: options.maxBodyBytes },
  );

  async function openSession(req: AuthedRequest, res: ServerResponse, body: unknown, caller: Caller): Promise<void> {
    const release = sessions.reserve();
    if (!release) {
      throw new AppError(AppErrorCode.TooManySessions, `Session limit reached; try again later`, { retryAfter: 5 });
    }
    const protocolVersion = (body as { params?: { protocolVersion?: unknown } }).params?.protocolVersion;
    const server = factory({ caller, era: 'legacy', mode: 'streamable-http' });
    const transport: NodeStreamableTransport = new NodeStreamableTransport({
      sessionId: randomUUID(),
      ...(options.eventStore.maxEvents > 0
        ? { eventStore: new BoundedEventStore({ maxEvents: options.eventStore.maxEvents, maxBytes: options.eventStore.maxBytes }) }
        : {}),
      retryMs: options.retryMs,
      keepAliveMs: options.keepAliveMs,
      ...(options.reconnectGraceMs !== undefined ? { reconnectGraceMs: options.reconnectGraceMs } : {}),
      onsessioninitialized: (id) => {
        transports.set(id, transport);
        sessions.add({
          id,
          transport: 'streamable-http',
          ownerId: caller.principalId,
          protocolVersion: typeof protocolVersion === 'string' ? protocolVersion : undefined,
          close: async () => {
            transports.delete(id);
            await server.close();
          },
          answerPending: (error) => transport.answerPending(error),
        });
      },
      onsessionclosed: (id) => sessions.remove(id, 'deleted'),
    });
    transport.onclose = () => {
      if (transport.sessionId) void sessions.remove(transport.sessionId, 'closed');
    };
    try {
      await server.connect(transport);
      installFastDispatch(server.server, transport);
      await serve(transport, req, res, body);
    } finally {
      release();
      // A rejected initialize never gets a session id: nothing else will ever close this pair.
      if (!transport.isInitialized) await server.close();
    }
  }

  async function handleInSession(req: AuthedRequest, res: ServerResponse, body: unknown, caller: Caller, id: string) {
    const entry = sessions.get(id);
    const transport = transports.get(id);
    if (!entry && (await options.remote?.serve(req, res, body, caller, id))) return;
    // Another caller's session answers exactly like a missing one: no hint that it exists.
    if (!entry || !transport || entry.ownerId !== caller.principalId) {
      throw new AppError(AppErrorCode.SessionNotFound, 'Session not found; initialize a new session');
    }
    sessions.touch(entry);
    // An in-flight request (a long tool call) keeps the session alive; an idle GET stream does not, so a client
    // that stays connected but silent is still expired after SESSION_TIMEOUT_MS and re-initializes.
    if (req.method !== 'GET') res.once('close', sessions.trackStream(entry));
    await serve(transport, req, res, body);
  }

  return {
    async handle(req: AuthedRequest, res, body, caller) {
      req.auth = toAuthInfo(caller);
      const sessionHeader = req.headers['mcp-session-id'];
      const sessionId = Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader;
      if (sessionId && !options.legacyStateless) return handleInSession(req, res, body, caller, sessionId);

      const method = (req.method ?? 'GET').toUpperCase();
      if (method === 'POST' && !isPlainLegacyInitialize(req, body)) {
        const outcome = classifyInboundRequest({
          httpMethod: method,
          protocolVersionHeader: header(req, 'mcp-protocol-version'),
          mcpMethodHeader: header(req, 'mcp-method'),
          mcpNameHeader: header(req, 'mcp-name'),
          body,
        });
        if (outcome.kind !== 'legacy') return bridge(modern.fetch, req, res, body);
      }
      if (options.legacyStateless) return bridge(legacyStatelessFetch, req, res, body);
      if (method === 'POST' && isInitializeRequest(body)) return openSession(req, res, body, caller);
      throw new AppError(
        AppErrorCode.SessionRequired,
        method === 'POST'
          ? 'Bad Request: Mcp-Session-Id header is required (send initialize first)'
          : `Bad Request: ${method} needs an Mcp-Session-Id header`,
      );
    },
    async answerPending(error) {
      let answered = 0;
      for (const { res, ids } of bridged) {
        if (res.writableEnded || res.destroyed) continue;
        const answers = ids.map((id) => jsonRpcRequestError(id, error.code, error.message, error.data));
        answered += answers.length;
        if (!res.headersSent) {
          // A JSON-RPC answer, as the handler would have sent it (200, JSON): clients read an HTTP error status as a
          // transport failure, not as the server's error for the request.
          const body = JSON.stringify(answers.length === 1 ? answers[0] : answers);
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
        } else if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) {
          for (const answer of answers) res.write(`event: message\ndata: ${JSON.stringify(answer)}\n\n`);
          res.end();
        } else {
          res.end();
        }
      }
      return answered;
    },
    async close() {
      await modern.close();
    },
    get transportCount() {
      return transports.size;
    },
  };
}

/**
 * Whether a POST is a 2025-era `initialize` the SDK's classifier would call legacy without a doubt: a well-formed
 * request, no `MCP-Protocol-Version` header, and no `_meta` in its params (where a 2026-07-28 envelope would be).
 * Such a request skips `classifyInboundRequest`, whose zod guards made up a tenth of what opening a session
 * allocated; anything else is still classified by the SDK.
 */
function isPlainLegacyInitialize(req: IncomingMessage, body: unknown): boolean {
  if (req.headers['mcp-protocol-version'] !== undefined || classifyJsonRpc(body) !== 'request') return false;
  const { method, params } = body as { method: string; params?: { _meta?: unknown } };
  return method === 'initialize' && params?._meta === undefined;
}

/** The ids of the JSON-RPC requests in a POST body (none for notifications and responses). */
function requestIds(body: unknown): RequestId[] {
  const messages = Array.isArray(body) ? body : [body];
  const ids: RequestId[] = [];
  for (const message of messages) {
    if (classifyJsonRpc(message) === 'request') ids.push((message as { id: RequestId }).id);
  }
  return ids;
}

function serve(transport: NodeStreamableTransport, req: AuthedRequest, res: ServerResponse, body: unknown): Promise<void> {
  return transport.handleRequest(req, res, body, req.auth);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
