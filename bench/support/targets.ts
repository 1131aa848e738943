import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport as V1SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StdioClientTransport as V1StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { mapLimit, type Connection, type OpenedConnections, type Target } from './load.js';
import { trackPid } from './processes.js';

const TOOL = { name: 'server_status', arguments: {} };
const CLIENT_INFO = { name: 'bench-transport', version: '1.0.0' };
/** Clients connect a few at a time, as a fleet of hosts would, not 64 handshakes in one burst. */
const CONNECT_PARALLEL = 8;

/** Options shared by the target factories. */
export interface TargetOptions {
  id: string;
  label: string;
  /** Per-call timeout (ms); a slower call fails. */
  callTimeoutMs: number;
}

/** v1's `callTool` is typed as a union with the pre-2024 `{ toolResult }` shape, hence `unknown` here. */
function checked(result: unknown): void {
  const { isError, structuredContent } = result as { isError?: boolean; structuredContent?: unknown };
  if (isError) throw new Error('server_status returned isError');
  if (structuredContent === undefined) throw new Error('server_status returned no structuredContent');
}

/**
 * 2025-11-25 sessionful Streamable HTTP with the v1 Client, one client (= one session, with the GET stream v1
 * opens after `initialized`) per worker. Used for ours and the baseline, so client cost is identical.
 */
export function v1StreamableTarget(options: TargetOptions & { mcpUrl: string; serverPid: number; bearer?: string }): Target {
  return {
    id: options.id,
    label: options.label,
    async open(concurrency) {
      const clients = await mapLimit(Array.from({ length: concurrency }), CONNECT_PARALLEL, async () => {
        const client = new V1Client(CLIENT_INFO);
        const transport = new V1StreamableHTTPClientTransport(
          new URL(options.mcpUrl),
          options.bearer ? { requestInit: { headers: { Authorization: `Bearer ${options.bearer}` } } } : undefined,
        );
        await client.connect(transport);
        return { client, transport };
      });
      const connections: Connection[] = clients.map(({ client }) => ({
        async call() {
          checked(await client.callTool(TOOL, undefined, { timeout: options.callTimeoutMs }));
        },
      }));
      return {
        connections,
        serverPid: options.serverPid,
        async close() {
          await mapLimit(clients, CONNECT_PARALLEL, async ({ client, transport }) => {
            await transport.terminateSession().catch(() => undefined);
            await client.close();
          });
        },
      };
    },
  };
}

/** 2026-07-28 stateless Streamable HTTP with the v2 Client (`versionNegotiation: auto`), one client per worker. */
export function v2ModernTarget(options: TargetOptions & { mcpUrl: string; serverPid: number }): Target {
  return {
    id: options.id,
    label: options.label,
    async open(concurrency) {
      const clients = await mapLimit(Array.from({ length: concurrency }), CONNECT_PARALLEL, async () => {
        const client = new Client(CLIENT_INFO, { versionNegotiation: { mode: 'auto' } });
        await client.connect(new StreamableHTTPClientTransport(new URL(options.mcpUrl)));
        return client;
      });
      return {
        connections: clients.map((client) => ({
          async call() {
            checked(await client.callTool(TOOL, { timeout: options.callTimeoutMs }));
          },
        })),
        serverPid: options.serverPid,
        async close() {
          await Promise.all(clients.map((client) => client.close()));
        },
      };
    },
  };
}

/** Legacy HTTP+SSE (2024-11-05) with the v1 Client, one SSE stream (= one session) per worker. */
export function v1SseTarget(options: TargetOptions & { sseUrl: string; serverPid: number }): Target {
  return {
    id: options.id,
    label: options.label,
    async open(concurrency) {
      const clients = await mapLimit(Array.from({ length: concurrency }), CONNECT_PARALLEL, async () => {
        const client = new V1Client(CLIENT_INFO);
        await client.connect(new V1SSEClientTransport(new URL(options.sseUrl)));
        return client;
      });
      return {
        connections: clients.map((client) => ({
          async call() {
            checked(await client.callTool(TOOL, undefined, { timeout: options.callTimeoutMs }));
          },
        })),
        serverPid: options.serverPid,
        async close() {
          await Promise.all(clients.map((client) => client.close()));
        },
      };
    },
  };
}

/**
 * stdio with the v1 Client: one child process per cell (`node build/server/main.js stdio`), all workers sharing
 * its one connection, so concurrency is the number of requests in flight on it.
 */
export function v1StdioTarget(
  options: TargetOptions & { command: string; args: string[]; cwd: string; env: Record<string, string> },
): Target {
  return {
    id: options.id,
    label: options.label,
    async open(concurrency): Promise<OpenedConnections> {
      const transport = new V1StdioClientTransport({
        command: options.command,
        args: options.args,
        cwd: options.cwd,
        env: options.env,
        stderr: 'pipe',
      });
      let stderrTail = '';
      transport.stderr?.on('data', (chunk: Buffer) => {
        stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4096);
      });
      const client = new V1Client(CLIENT_INFO);
      try {
        await client.connect(transport);
      } catch (error) {
        await transport.close();
        throw new Error(`stdio server did not start: ${(error as Error).message}\n${stderrTail}`);
      }
      const pid = transport.pid;
      if (pid === null) throw new Error('stdio transport has no child pid');
      // Were the bench interrupted, its stdin would close and the server exit; tracking also stops it by PID.
      const untrack = trackPid(pid);
      const connection: Connection = {
        async call() {
          checked(await client.callTool(TOOL, undefined, { timeout: options.callTimeoutMs }));
        },
      };
      return {
        connections: Array.from({ length: concurrency }, () => connection),
        serverPid: pid,
        async close() {
          // v1's close is staged: stdin end, SIGTERM after 2 s, SIGKILL after 2 more.
          await client.close();
          untrack();
        },
      };
    },
  };
}
