import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

// The v1 SDK client (Inspector, mcp-remote, most hosts) checks structuredContent against the tool's outputSchema even
// in an error result; an error it cannot read is one the model never sees. The fixture's `typed` tool has an
// outputSchema ({ total: number }).

const fixture = path.resolve('test/fixtures/gateway-upstream.mjs');
const TIMEOUT_MS = 2_500;

function text(result: object): string {
  return (((result as { content?: unknown }).content as { type: string; text?: string }[] | undefined) ?? [])
    .map((block) => block.text ?? '')
    .join('');
}

describe('gateway error results of a tool with an outputSchema, read by the v1 client', () => {
  let server: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwerr-'));
    writeFileSync(
      path.join(dir, 'mcp_config.json'),
      JSON.stringify({
        mcpServers: {
          fx: { command: process.execPath, args: [fixture], timeoutMs: TIMEOUT_MS, restart: { max: 5, windowMs: 60_000, backoff: 50 } },
        },
      }),
    );
    server = await startTestServer({ mcpConfigPath: path.join(dir, 'mcp_config.json') });
    await waitFor(() => server.container.gateway.registry.get('fx')!.status === 'running', 30_000);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A v1 client that has listed the tools, so it knows (and enforces) their output schemas as hosts do. */
  async function v1(url: string): Promise<V1Client> {
    const client = new V1Client({ name: 'gateway-errors-v1', version: '1.0.0' });
    await client.connect(new V1StreamableHTTPClientTransport(new URL(url)));
    const { tools } = await client.listTools();
    expect(tools.find((tool) => tool.name.endsWith('typed'))?.outputSchema).toMatchObject({ required: ['total'] });
    return client;
  }

  it("relays an upstream's error result whose structuredContent does not match, as text, on both endpoints", async () => {
    for (const [url, name] of [
      [server.mcpUrl, 'fx__typed'],
      [`${server.url}/servers/fx/mcp`, 'typed'],
    ] as const) {
      const client = await v1(url);
      try {
        const result = await client.callTool({ name, arguments: { mode: 'error' } });
        expect(result.isError).toBe(true);
        expect(result.structuredContent).toBeUndefined();
        expect(text(result)).toBe('typed failed: the ledger is locked');
        // Success results are untouched.
        expect((await client.callTool({ name, arguments: { mode: 'ok' } })).structuredContent).toEqual({ total: 42 });
      } finally {
        await client.close();
      }
    }
  });

  it('keeps the structuredContent of an error result that matches the schema', async () => {
    const client = await v1(server.mcpUrl);
    const modern = new Client({ name: 'gateway-errors-v2', version: '1.0.0' });
    await modern.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    try {
      for (const session of [client, modern]) {
        const result = await session.callTool({ name: 'fx__typed', arguments: { mode: 'typed_error' } });
        expect(result).toMatchObject({ isError: true, structuredContent: { total: 0 } });
        expect(text(result)).toBe('typed failed: nothing to add');
      }
    } finally {
      await Promise.all([client.close(), modern.close()]);
    }
  });

  it('answers a call that times out with an error the v1 client reads', async () => {
    const client = await v1(server.mcpUrl);
    try {
      const result = await client.callTool({ name: 'fx__typed', arguments: { mode: 'hang' } });
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toBeUndefined();
      expect(text(result)).toContain(`no answer or progress within ${TIMEOUT_MS} ms`);
    } finally {
      await client.close();
    }
  });

  it('answers a call whose upstream is killed with an error the v1 client reads', async () => {
    const fx = server.container.gateway.registry.get('fx')!;
    const client = await v1(server.mcpUrl);
    try {
      const pid = fx.pid!;
      const call = client.callTool({ name: 'fx__typed', arguments: { mode: 'hang' } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      process.kill(pid, 'SIGKILL');
      const result = await call;
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toBeUndefined();
      expect(text(result)).toMatch(/closed/i);
      await waitFor(() => fx.status === 'running' && fx.pid !== pid, 20_000);
    } finally {
      await client.close();
    }
  });
});
