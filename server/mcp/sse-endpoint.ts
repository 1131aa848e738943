import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, AppErrorCode } from '../errors/app-error.js';
import type { RemoteSessions } from '../cluster/cluster.js';
import type { Logger } from '../logging/logger.js';
import { toAuthInfo, type Caller } from './caller.js';
import { installFastDispatch } from './fast-dispatch.js';
import { LegacySseTransport } from './legacy-sse-transport.js';
import type { ServerFactory } from './server-factory.js';
import type { SessionRegistry } from './session-registry.js';

/** Options of {@link createSseEndpoint}. */
export interface SseEndpointOptions {
  factory: ServerFactory;
  sessions: SessionRegistry;
  logger: Logger;
  keepAliveMs: number;
  maxBodyBytes: number;
  /** With several replicas: serves a message for a session another replica holds (server/cluster). */
  remote?: RemoteSessions;
}

/** The legacy HTTP+SSE (2024-11-05) endpoint pair: a GET stream and a POST path for messages. */
export interface SseEndpoint {
  /** Opens a session on `GET /sse`; the `endpoint` event points the client at `messagesPath`. */
  open(req: IncomingMessage, res: ServerResponse, caller: Caller, messagesPath: string): Promise<void>;
  /** Delivers one JSON-RPC message posted to `messagesPath?sessionId=`. */
  post(req: IncomingMessage, res: ServerResponse, body: unknown, caller: Caller, sessionId: string | undefined): Promise<void>;
  /** Live legacy SSE transports (for leak checks). */
  readonly transportCount: number;
}

/** Creates the legacy SSE endpoint; its sessions live in the shared registry alongside Streamable HTTP ones. */
export function createSseEndpoint(options: SseEndpointOptions): SseEndpoint {
  const { factory, sessions } = options;
  const transports = new Map<string, LegacySseTransport>();

  return {
    async open(_req, res, caller, messagesPath) {
      const release = sessions.reserve();
      if (!release) throw new AppError(AppErrorCode.TooManySessions, 'Session limit reached; try again later', { retryAfter: 5 });
      try {
        const id = randomUUID();
        const transport = new LegacySseTransport(res, {
          endpoint: messagesPath,
          keepAliveMs: options.keepAliveMs,
          maxMessageBytes: options.maxBodyBytes,
          sessionId: id,
          // Results arrive long after their POST was answered 202: outgoing traffic keeps the session alive too.
          onSend: () => {
            const live = sessions.get(id);
            if (live) sessions.touch(live);
          },
        });
        const server = factory({ caller, era: 'legacy', mode: 'sse' });
        transport.onclose = () => void sessions.remove(id, 'disconnected');
        transports.set(id, transport);
        sessions.add({
          id,
          transport: 'sse',
          ownerId: caller.principalId,
          protocolVersion: '2024-11-05',
          close: async () => {
            transports.delete(id);
            await server.close();
          },
          answerPending: (error) => transport.answerPending(error),
        });
        try {
          // The endpoint event tells the client where to post; that may be another replica, which must find it.
          await sessions.placed(id);
          await server.connect(transport);
          installFastDispatch(server.server, transport);
        } catch (error) {
          await sessions.remove(id, 'closed');
          throw error;
        }
      } finally {
        release();
      }
    },

    async post(req, res, body, caller, sessionId) {
      const entry = sessionId ? sessions.get(sessionId) : undefined;
      const transport = sessionId ? transports.get(sessionId) : undefined;
      if (!sessionId) throw new AppError(AppErrorCode.SessionRequired, 'Bad Request: sessionId query parameter is required');
      if (!entry && (await options.remote?.serve(req, res, body, caller, sessionId))) return;
      if (!entry || !transport || entry.ownerId !== caller.principalId) {
        throw new AppError(AppErrorCode.SessionNotFound, 'Session not found; open a new SSE stream');
      }
      sessions.touch(entry);
      await transport.handlePostMessage(req, res, body, { authInfo: toAuthInfo(caller) });
    },

    get transportCount() {
      return transports.size;
    },
  };
}
