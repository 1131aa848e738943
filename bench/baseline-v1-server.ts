/**
 * BASELINE for `bench/transport.ts`: the MCP TypeScript SDK v1 minimal sessionful Streamable HTTP server, shaped
 * like the SDK's own `examples/server/simpleStreamableHttp` without its extras (no OAuth, no event store, no
 * per-request console logging, no task store): `createMcpExpressApp()` (Express + `express.json()` + localhost
 * Host-header validation), one `McpServer` + `StreamableHTTPServerTransport` per session with
 * `sessionIdGenerator: randomUUID`, POST/GET/DELETE `/mcp`, and one tool `server_status` whose structuredContent
 * has the same shape and roughly the same size as ours.
 *
 * Run as its own process (the bench spawns it): binds 127.0.0.1 on BASELINE_PORT (0 = any free port) and prints
 * one line `{"port":N,"pid":N}` on stdout once listening. SIGTERM/SIGINT close every session, then exit.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { answerGcRequests } from './support/gc-ipc.js';

const startedAt = Date.now();
const transports = new Map<string, StreamableHTTPServerTransport>();

const outputSchema = z.object({
  version: z.string(),
  startedAt: z.string(),
  uptimeSeconds: z.number(),
  transports: z.array(z.string()),
  storage: z.string(),
  sessions: z.object({
    active: z.number().int(),
    limit: z.number().int(),
    oldest: z.string().nullable(),
    newest: z.string().nullable(),
    averageAgeSeconds: z.number(),
    byTransport: z.record(z.string(), z.number().int()),
  }),
  process: z.object({ pid: z.number().int(), node: z.string(), rssBytes: z.number().int(), heapUsedBytes: z.number().int() }),
  caller: z.object({ clientId: z.string(), scopes: z.array(z.string()) }),
});

function buildServer(): McpServer {
  const server = new McpServer({ name: 'baseline-v1', version: '1.0.0' }, { capabilities: { tools: {}, logging: {} } });
  server.registerTool(
    'server_status',
    {
      title: 'Server status',
      description: 'Version, uptime and session figures of this baseline server.',
      inputSchema: {},
      outputSchema: outputSchema.shape,
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async () => {
      const memory = process.memoryUsage();
      const now = new Date().toISOString();
      const status: z.infer<typeof outputSchema> = {
        version: '1.0.0',
        startedAt: new Date(startedAt).toISOString(),
        uptimeSeconds: Math.round((Date.now() - startedAt) / 100) / 10,
        transports: ['streamable-http'],
        storage: 'memory',
        sessions: {
          active: transports.size,
          limit: 100_000,
          oldest: now,
          newest: now,
          averageAgeSeconds: 0,
          byTransport: { 'streamable-http': transports.size, sse: 0, stdio: 0 },
        },
        process: { pid: process.pid, node: process.version, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
        caller: { clientId: 'local', scopes: ['*'] },
      };
      const text = `baseline-v1 1.0.0, up ${status.uptimeSeconds}s, transports streamable-http, storage memory; sessions ${transports.size}`;
      return { content: [{ type: 'text', text }], structuredContent: status };
    },
  );
  return server;
}

function sessionIdOf(req: Request): string | undefined {
  const value = req.headers['mcp-session-id'];
  return Array.isArray(value) ? value[0] : value;
}

function jsonRpcError(res: Response, status: number, code: number, message: string): void {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

const app = createMcpExpressApp({ host: '127.0.0.1' });

app.post('/mcp', async function postMcp(req: Request, res: Response) {
  const sessionId = sessionIdOf(req);
  const existing = sessionId ? transports.get(sessionId) : undefined;
  if (existing) return existing.handleRequest(req, res, req.body);
  if (sessionId) return jsonRpcError(res, 404, -32001, 'Session not found');
  if (!isInitializeRequest(req.body)) return jsonRpcError(res, 400, -32000, 'Bad Request: No valid session ID provided');
  const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: randomUUID,
    onsessioninitialized: (id) => void transports.set(id, transport),
  });
  transport.onclose = () => {
    if (transport.sessionId) transports.delete(transport.sessionId);
  };
  await buildServer().connect(transport);
  await transport.handleRequest(req, res, req.body);
});

async function getOrDelete(req: Request, res: Response): Promise<void> {
  const sessionId = sessionIdOf(req);
  const transport = sessionId ? transports.get(sessionId) : undefined;
  if (!transport) return jsonRpcError(res, sessionId ? 404 : 400, -32001, 'Session not found');
  await transport.handleRequest(req, res);
}
app.get('/mcp', getOrDelete);
app.delete('/mcp', getOrDelete);

answerGcRequests(); // only with --expose-gc and an IPC channel (the bench's "after forced GC" row)
const port = Number.parseInt(process.env.BASELINE_PORT ?? '0', 10);
const http: Server = app.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (http.address() as AddressInfo).port, pid: process.pid })}\n`);
});

let stopping = false;
function stop(): void {
  if (stopping) process.exit(130);
  stopping = true;
  const force = setTimeout(() => process.exit(1), 3000);
  force.unref();
  void Promise.allSettled([...transports.values()].map((transport) => transport.close())).then(() => {
    http.closeAllConnections();
    http.close(() => process.exit(0));
  });
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
