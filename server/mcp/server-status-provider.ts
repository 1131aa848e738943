import { z } from 'zod';
import type { SessionStats } from './session-registry.js';
import { defineTool } from './define-tool.js';
import type { ToolProvider } from './tool-provider.js';

/** What `server_status` reports, read fresh on every call. */
export interface ServerStatusSource {
  version: string;
  /** Epoch ms when the process started serving. */
  startedAt: number;
  /** Transports this process serves (`streamable-http`, `sse`, `stdio`). */
  transports: readonly string[];
  /** Storage adapter in use. */
  storage: string;
  sessions(): SessionStats;
}

const sessionStatsSchema = z.object({
  active: z.number().int(),
  limit: z.number().int(),
  oldest: z.string().nullable(),
  newest: z.string().nullable(),
  averageAgeSeconds: z.number(),
  byTransport: z.record(z.string(), z.number().int()),
});

const outputSchema = z.object({
  version: z.string(),
  startedAt: z.string(),
  uptimeSeconds: z.number(),
  transports: z.array(z.string()),
  storage: z.string(),
  sessions: sessionStatsSchema,
  process: z.object({ pid: z.number().int(), node: z.string(), rssBytes: z.number().int(), heapUsedBytes: z.number().int() }),
  caller: z.object({ clientId: z.string(), scopes: z.array(z.string()) }),
});

let memorySample: { at: number; value: NodeJS.MemoryUsage } | undefined;

/**
 * `process.memoryUsage()` walks the heap spaces, a cost not worth paying on every call (docs/benchmarks.md); once a
 * second is fresh enough for a status report.
 */
function memoryUsage(): NodeJS.MemoryUsage {
  const now = Date.now();
  if (!memorySample || now - memorySample.at > 1000) memorySample = { at: now, value: process.memoryUsage() };
  return memorySample.value;
}

/** The status shape, as returned in `structuredContent`. */
export type ServerStatus = z.infer<typeof outputSchema>;

/**
 * `server_status`: the operator's first question ("is it up, which version, how loaded?") answered over MCP itself,
 * so it works from any client without HTTP access to `/health`.
 */
export function createServerStatusProvider(source: ServerStatusSource): ToolProvider {
  const tool = defineTool(
    'server_status',
    {
      title: 'Server status',
      description:
        'Version, uptime, transports, storage and live session figures of this claude-code-mcp server, plus the identity you are calling as.',
      input: z.object({}),
      output: outputSchema,
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async (_args, { caller }) => {
      const memory = memoryUsage();
      const status: ServerStatus = {
        version: source.version,
        startedAt: new Date(source.startedAt).toISOString(),
        uptimeSeconds: Math.round((Date.now() - source.startedAt) / 100) / 10,
        transports: [...source.transports],
        storage: source.storage,
        sessions: source.sessions(),
        process: { pid: process.pid, node: process.version, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
        caller: { clientId: caller.principalId, scopes: [...caller.scopes] },
      };
      const s = status.sessions;
      const text =
        `claude-code-mcp ${status.version}, up ${status.uptimeSeconds}s, transports ${status.transports.join(', ')}, ` +
        `storage ${status.storage}; sessions ${s.active}/${s.limit}`;
      return { content: [{ type: 'text', text }], structuredContent: status };
    },
  );
  const tools = [tool];
  return { name: 'server-status', tools: () => tools };
}
