import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport as V1SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createFixtureProvider, type FixtureProbe } from '../fixtures/fixture-tools.js';
import { initializeBody, jsonHeaders, waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/** The three client flavours every transport test runs with. */
type Flavour = 'v2-legacy' | 'v2-modern' | 'v1';

interface Connected {
  callTool(
    name: string,
    args: Record<string, unknown>,
    options?: { onprogress?: (p: { progress: number }) => void; signal?: AbortSignal },
  ): Promise<{ content?: unknown; structuredContent?: Record<string, unknown>; isError?: boolean }>;
  listTools(): Promise<{ tools: Array<{ name: string; outputSchema?: unknown }> }>;
  close(): Promise<void>;
}

async function connect(flavour: Flavour, url: string): Promise<Connected> {
  if (flavour === 'v1') {
    const client = new V1Client({ name: 'v1-test', version: '1.0.0' });
    await client.connect(new V1StreamableHTTPClientTransport(new URL(url)));
    return {
      callTool: (name, args, options) =>
        client.callTool({ name, arguments: args }, undefined, options) as ReturnType<Connected['callTool']>,
      listTools: () => client.listTools(),
      close: () => client.close(),
    };
  }
  const client = new Client(
    { name: `${flavour}-test`, version: '1.0.0' },
    flavour === 'v2-modern' ? { versionNegotiation: { mode: 'auto' } } : {},
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return {
    callTool: (name, args, options) => client.callTool({ name, arguments: args }, options) as ReturnType<Connected['callTool']>,
    listTools: () => client.listTools(),
    close: () => client.close(),
  };
}

describe('MCP over Streamable HTTP, both protocol eras, v1 and v2 clients', () => {
  let server: TestServer;
  const probe: FixtureProbe = { cancelled: 0, completed: 0 };

  beforeAll(async () => {
    server = await startTestServer({}, { extraProviders: [createFixtureProvider(probe)] });
  });
  afterAll(async () => {
    await server.stop();
  });

  describe.each<Flavour>(['v2-legacy', 'v2-modern', 'v1'])('%s client', (flavour) => {
    it('lists tools and calls server_status with structured output', async () => {
      const sessionsBefore = server.container.sessions.size;
      const client = await connect(flavour, server.mcpUrl);
      try {
        const { tools } = await client.listTools();
        const status = tools.find((tool) => tool.name === 'server_status');
        expect(status?.outputSchema).toBeDefined();
        const result = await client.callTool('server_status', {});
        expect(result.isError).toBeFalsy();
        const structured = result.structuredContent as { version: string; transports: string[]; sessions: { active: number } };
        expect(structured.version).toMatch(/^\d+\.\d+\.\d+/);
        expect(structured.transports).toEqual(['streamable-http', 'sse']);
        // A 2025-era client holds a session; a 2026-07-28 client is served statelessly and creates none.
        const created = flavour === 'v2-modern' ? 0 : 1;
        expect(server.container.sessions.size).toBe(sessionsBefore + created);
        expect(structured.sessions.active).toBe(sessionsBefore + created);
      } finally {
        await client.close();
      }
    });

    it('streams progress notifications while a tool runs', async () => {
      const client = await connect(flavour, server.mcpUrl);
      try {
        const seen: number[] = [];
        const result = await client.callTool('slow_count', { steps: 4, delayMs: 20 }, { onprogress: (p) => seen.push(p.progress) });
        expect(result.isError).toBeFalsy();
        expect(seen).toEqual([1, 2, 3, 4]);
      } finally {
        await client.close();
      }
    });

    it('cancellation stops the running tool and the server keeps serving', async () => {
      const client = await connect(flavour, server.mcpUrl);
      try {
        const before = probe.cancelled;
        const controller = new AbortController();
        const call = client.callTool('slow_count', { steps: 200, delayMs: 50 }, { signal: controller.signal, onprogress: () => undefined });
        setTimeout(() => controller.abort(), 150);
        await expect(call).rejects.toThrow();
        await waitFor(() => probe.cancelled > before, 3000);
        const after = await client.callTool('server_status', {});
        expect(after.isError).toBeFalsy();
      } finally {
        await client.close();
      }
    });
  });

  it('closing a 2025-era client deletes its session (DELETE) and the registry forgets it', async () => {
    const before = server.container.sessions.size;
    const client = new Client({ name: 'closer', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(server.mcpUrl));
    await client.connect(transport);
    expect(server.container.sessions.size).toBe(before + 1);
    await transport.terminateSession();
    await client.close();
    await waitFor(() => server.container.sessions.size === before, 2000);
  });
});

describe('legacy HTTP+SSE (2024-11-05)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ mcpPathPrefix: '/api' });
  });
  afterAll(async () => {
    await server.stop();
  });

  it.each(['/api/sse', '/api/mcp/sse'])('v2 and v1 SSE clients work at %s', async (path) => {
    const v2 = new Client({ name: 'v2-sse', version: '1.0.0' });
    await v2.connect(new SSEClientTransport(new URL(`${server.url}${path}`)));
    const v1 = new V1Client({ name: 'v1-sse', version: '1.0.0' });
    await v1.connect(new V1SSEClientTransport(new URL(`${server.url}${path}`)));
    try {
      expect(server.container.sessions.stats().byTransport.sse).toBe(2);
      const r2 = await v2.callTool({ name: 'server_status', arguments: {} });
      const r1 = await v1.callTool({ name: 'server_status', arguments: {} });
      expect((r2.structuredContent as { sessions: { byTransport: { sse: number } } }).sessions.byTransport.sse).toBe(2);
      expect(r1.isError).toBeFalsy();
    } finally {
      await v2.close();
      await v1.close();
    }
    await waitFor(() => server.container.sessions.size === 0, 2000);
  });

  it('MCP_PATH_PREFIX moves every MCP route', async () => {
    const moved = await fetch(`${server.url}/mcp`, { method: 'POST', headers: jsonHeaders(), body: initializeBody() });
    expect(moved.status).toBe(404);
    const client = new Client({ name: 'prefixed', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/api/mcp`)));
    await client.close();
  });
});
