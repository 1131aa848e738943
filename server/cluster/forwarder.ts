import { randomUUID } from 'node:crypto';
import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from '../logging/logger.js';
import { JsonRpcErrorCode, jsonRpcTransportError } from '../mcp/jsonrpc-errors.js';
import type { ReplicaBus } from './redis-bus.js';
import type { ReplicaPresence } from './replicas.js';

/** Header carrying the cluster secret on a request one replica passes to itself for another (see {@link Forwarder}). */
export const FORWARDED_HEADER = 'x-claude-code-mcp-forwarded';

/** Request headers passed on: what the MCP routes read. Hop-by-hop headers and the body's length are not. */
const PASSED_HEADERS = [
  'accept',
  'authorization',
  'content-type',
  'host',
  'last-event-id',
  'mcp-method',
  'mcp-name',
  'mcp-protocol-version',
  'mcp-session-id',
  'origin',
  'user-agent',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-request-id',
];
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
]);

/** One message between two replicas about one forwarded request. */
type Frame =
  | { type: 'request'; id: string; replyTo: string; method: string; url: string; headers: Record<string, string>; body?: string }
  | { type: 'abort'; id: string }
  | { type: 'ping'; id: string }
  | { type: 'head'; id: string; status: number; headers: Record<string, string | string[]> }
  | { type: 'data'; id: string; data: string }
  | { type: 'end'; id: string }
  | { type: 'error'; id: string; message: string };

/** What a replica does with a request for a session another replica holds. */
export interface Forwarder {
  /**
   * Passes `req` (its parsed `body`) to `replica` and streams the answer back into `res` until it ends, the client
   * leaves (the other replica's request is aborted too) or `replica` dies (the answer ends; a request that got no
   * answer yet is told the session is gone, so the client starts a new one). Resolves `gone` when `replica` turned out
   * dead.
   */
  forward(req: IncomingMessage, res: ServerResponse, body: unknown, replica: string): Promise<'answered' | 'gone'>;
  /** Whether `req` was passed here by another replica of this cluster (it carries the cluster's secret). */
  isForwarded(req: IncomingMessage): boolean;
  close(): Promise<void>;
}

/** Options of {@link createForwarder}. */
export interface ForwarderOptions {
  bus: ReplicaBus;
  presence: ReplicaPresence;
  /** Shared by every replica (kept in shared storage): proves a forwarded request came from one of them. */
  secret: string;
  /** Where this replica's own HTTP listener answers (loopback). */
  localUrl: string;
  logger: Logger;
  /** How often a forwarded request checks that the replica answering it is still alive. */
  livenessCheckMs?: number;
}

const channelOf = (replica: string) => `cluster:replica:${replica}`;

/**
 * Forwarding over the replica bus (Redis pub/sub). Replica B, holding a request for a session of replica A,
 * publishes it to A's channel; A replays it against its own HTTP listener — the same authentication, body checks and
 * transport as any request, the forwarded marker sparing only the rate limits (B already counted the request) — and
 * publishes the answer back to B's channel as it is written: head, chunks, end. A long-lived answer (an SSE stream)
 * is relayed for as long as it lasts. Each direction is one publisher, so frames keep their order.
 */
export async function createForwarder(options: ForwarderOptions): Promise<Forwarder> {
  const { bus, presence, secret, logger } = options;
  const livenessCheckMs = options.livenessCheckMs ?? 2_000;
  const local = new URL(options.localUrl);
  const agent = new Agent({ keepAlive: true });
  /** Requests this replica forwarded, by id: where their answer frames go. */
  const waiting = new Map<string, (frame: Frame) => void>();
  /** Requests this replica serves for others, by id: how to abort each. */
  const serving = new Map<string, () => void>();

  /** Publishes `frame` to `replica`; resolves with whether anyone listened there (0 listeners: the replica is gone). */
  const send = (replica: string, frame: Frame): Promise<boolean> =>
    bus.publish(channelOf(replica), JSON.stringify(frame)).then(
      (listeners) => listeners > 0,
      (error: unknown) => {
        logger.warn('cluster: frame not sent', { replica, error, category: 'cluster' });
        return false;
      },
    );

  function serve(frame: Extract<Frame, { type: 'request' }>): void {
    const reply = (answer: Frame) => void send(frame.replyTo, answer);
    const body = frame.body === undefined ? undefined : Buffer.from(frame.body);
    const outgoing = httpRequest(
      {
        host: local.hostname,
        port: local.port,
        method: frame.method,
        path: frame.url,
        agent,
        headers: { ...frame.headers, [FORWARDED_HEADER]: secret, ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (answer) => {
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
        reply({ type: 'head', id: frame.id, status: answer.statusCode ?? 502, headers });
        answer.on('data', (chunk: Buffer) => reply({ type: 'data', id: frame.id, data: chunk.toString('base64') }));
        answer.on('end', () => {
          serving.delete(frame.id);
          reply({ type: 'end', id: frame.id });
        });
        answer.on('error', () => undefined);
      },
    );
    outgoing.on('error', (error) => {
      if (!serving.delete(frame.id)) return;
      reply({ type: 'error', id: frame.id, message: error.message });
    });
    serving.set(frame.id, () => {
      serving.delete(frame.id);
      outgoing.destroy();
    });
    outgoing.end(body);
  }

  await bus.subscribe(channelOf(presence.id), (raw) => {
    let frame: Frame;
    try {
      frame = JSON.parse(raw) as Frame;
    } catch {
      return;
    }
    if (frame.type === 'request') serve(frame);
    else if (frame.type === 'abort') serving.get(frame.id)?.();
    else if (frame.type === 'ping') return;
    else waiting.get(frame.id)?.(frame);
  });

  return {
    forward(req, res, body, replica) {
      const id = randomUUID();
      const headers: Record<string, string> = {};
      for (const name of PASSED_HEADERS) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      return new Promise<'answered' | 'gone'>((resolve) => {
        let finished = false;
        const finish = (outcome: 'answered' | 'gone' = 'answered') => {
          if (finished) return;
          finished = true;
          waiting.delete(id);
          clearInterval(watchdog);
          res.off('close', onClientGone);
          if (!res.writableEnded) res.end();
          resolve(outcome);
        };
        const onClientGone = () => {
          if (finished) return;
          void send(replica, { type: 'abort', id });
          finish();
        };
        // The replica answering may die mid-answer: the answer then ends (or, with nothing sent yet, says the
        // session is gone), never hangs. Its channel losing its listener (its Redis connection closed with the
        // process) tells within a check; its lease running out tells even if Redis kept a half-open connection.
        const watchdog = setInterval(() => {
          void Promise.all([send(replica, { type: 'ping', id }), presence.alive(replica)]).then(
            ([heard, alive]) => {
              if ((heard && alive) || finished) return;
              if (!res.headersSent) sessionGone(res);
              finish('gone');
            },
            () => undefined,
          );
        }, livenessCheckMs);
        watchdog.unref();
        waiting.set(id, (frame) => {
          switch (frame.type) {
            case 'head':
              res.writeHead(frame.status, frame.headers);
              res.flushHeaders();
              return;
            case 'data':
              res.write(Buffer.from(frame.data, 'base64'));
              return;
            case 'end':
              finish();
              return;
            case 'error':
              if (!res.headersSent) sessionGone(res);
              finish();
              return;
            default:
              return;
          }
        });
        res.once('close', onClientGone);
        // Nobody listening on the replica's channel: it died (its Redis connection went with it) before its lease ran
        // out. The session went with it.
        void send(replica, {
          type: 'request',
          id,
          replyTo: presence.id,
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          headers,
          ...(body !== undefined && req.method === 'POST' ? { body: JSON.stringify(body) } : {}),
        }).then((heard) => {
          if (heard || finished) return;
          if (!res.headersSent) sessionGone(res);
          finish('gone');
        });
      });
    },
    isForwarded(req) {
      return req.headers[FORWARDED_HEADER] === secret;
    },
    async close() {
      for (const abort of [...serving.values()]) abort();
      agent.destroy();
    },
  };
}

/** The answer when the session's replica is gone: 404, as for any unknown session, so clients start a new one. */
function sessionGone(res: ServerResponse): void {
  const body = JSON.stringify(
    jsonRpcTransportError(JsonRpcErrorCode.SessionNotFound, 'Session not found; initialize a new session', { error: 'session_not_found' }),
  );
  res.writeHead(404, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
}
