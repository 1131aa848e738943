import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import {
  isInitializeRequest,
  McpServer,
  type EventId,
  type EventStore,
  type JSONRPCMessage,
  type StreamId,
} from '@modelcontextprotocol/server';
import { registerContractTools } from '../fixtures/contract-tools.js';

/**
 * The smallest in-memory {@link EventStore}: every event kept, ids `${streamId}/${n}`. The SDK ships only the
 * interface. `getStreamIdForEventId` is implemented so an unknown id is refused (400) as with ours.
 */
export class MemoryEventStore implements EventStore {
  private readonly events: Array<{ id: EventId; streamId: StreamId; message: JSONRPCMessage }> = [];

  async storeEvent(streamId: StreamId, message: JSONRPCMessage): Promise<EventId> {
    const id = `${streamId}/${this.events.length}`;
    this.events.push({ id, streamId, message });
    return id;
  }

  async getStreamIdForEventId(eventId: EventId): Promise<StreamId | undefined> {
    return this.events.find((event) => event.id === eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: EventId,
    { send }: { send: (eventId: EventId, message: JSONRPCMessage) => Promise<void> },
  ): Promise<StreamId> {
    const index = this.events.findIndex((event) => event.id === lastEventId);
    if (index === -1) throw new Error(`unknown event id ${lastEventId}`);
    const { streamId } = this.events[index]!;
    for (const event of this.events.slice(index + 1)) if (event.streamId === streamId) await send(event.id, event.message);
    return streamId;
  }
}

/** Options of {@link startSdkStreamableServer}. */
export interface SdkStreamableServerOptions {
  /** SSE `retry` sent with priming events. */
  retryMs: number;
  /** Keep-alive comment interval; 0 disables. */
  keepAliveMs: number;
}

/** A plain SDK server on 127.0.0.1. */
export interface SdkStreamableServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The SDK's sessionful Streamable HTTP as an SDK user mounts it on `node:http`: one `McpServer` (with the contract
 * tools) and one `NodeStreamableHTTPServerTransport` (with an event store) per session, found by `Mcp-Session-Id`.
 * The transport reads and parses each body itself (the bytes are handed over as `rawBody`).
 *
 * What only the session router decides — an id no session has, a non-initialize request without an id — is answered
 * as the spec says (404, 400) in the words the SDK transport uses for the same conditions within a session.
 */
export async function startSdkStreamableServer(options: SdkStreamableServerOptions): Promise<SdkStreamableServer> {
  const sessions = new Map<string, { transport: NodeStreamableHTTPServerTransport; server: McpServer }>();

  const refuse = (res: ServerResponse, status: number, code: number, message: string) =>
    void res
      .writeHead(status, { 'Content-Type': 'application/json' })
      .end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    if (req.method !== 'GET' && req.method !== 'HEAD') (req as IncomingMessage & { rawBody?: Buffer }).rawBody = raw;

    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const session = sessions.get(sessionId);
      if (!session) return refuse(res, 404, -32001, 'Session not found');
      return session.transport.handleRequest(req, res);
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      body = undefined;
    }
    if (req.method !== 'POST' || !isInitializeRequest(body))
      return refuse(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');

    const server = new McpServer({ name: 'sdk-contract', version: '1.0.0' }, { capabilities: { tools: { listChanged: true } } });
    registerContractTools(server);
    const transport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new MemoryEventStore(),
      retryInterval: options.retryMs,
      keepAliveMs: options.keepAliveMs,
      onsessioninitialized: (id) => void sessions.set(id, { transport, server }),
      onsessionclosed: (id) => void sessions.delete(id),
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  }

  const http = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) refuse(res, 500, -32603, String(error));
      else res.end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async close() {
      for (const { server } of sessions.values()) await server.close();
      sessions.clear();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
