import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import { Client, SSEClientTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { BusEvent } from '../../server/events/bus.js';
import { initializeBody, jsonHeaders, waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const bin = (name: string) => path.resolve('node_modules/.bin', name);
const fixture = path.resolve('test/fixtures/gateway-upstream.mjs');

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: 'gateway-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

function text(result: { content?: unknown }): string {
  return ((result.content as { type: string; text?: string }[]) ?? []).map((c) => c.text ?? '').join('');
}

describe('gateway: real stdio upstreams aggregated on /mcp', () => {
  let server: TestServer;
  let dir: string;
  const events: BusEvent[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gw-'));
    const configPath = path.join(dir, 'mcp_config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        mcpServers: {
          everything: { command: bin('mcp-server-everything'), args: ['stdio'], normalizeNames: true },
          memory: { command: bin('mcp-server-memory'), env: { MEMORY_FILE_PATH: path.join(dir, 'memory.jsonl') } },
          fx: {
            command: process.execPath,
            args: [fixture],
            env: { FIXTURE_TAG: '${FIXTURE_TAG_VALUE:-tagged}' },
            restart: { max: 5, windowMs: 60_000, backoff: 50 },
          },
        },
      }),
    );
    server = await startTestServer({ mcpConfigPath: configPath, baseDomain: 'gw.test', allowedHosts: ['fx.gw.test'] }, {});
    server.container.events.onAny((event) => void events.push(event));
    const registry = server.container.gateway.registry;
    await waitFor(() => registry.list().every((s) => s.status === 'running'), 60_000);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every upstream tool as {server}__{tool} next to the built-in tools, and forwards calls', async () => {
    const client = await connect(server.mcpUrl);
    try {
      const { tools } = await client.listTools();
      const names = tools.map((t) => t.name);
      expect(names).toEqual(
        expect.arrayContaining(['server_status', 'everything__echo', 'memory__create_entities', 'memory__read_graph', 'fx__echo']),
      );
      for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
      const echo = tools.find((t) => t.name === 'everything__echo')!;
      expect(echo.inputSchema).toMatchObject({ type: 'object', properties: { message: expect.anything() } });

      expect(text(await client.callTool({ name: 'everything__echo', arguments: { message: 'hi there' } }))).toContain('hi there');
      await client.callTool({
        name: 'memory__create_entities',
        arguments: { entities: [{ name: 'Ada', entityType: 'person', observations: ['wrote the first program'] }] },
      });
      const graph = await client.callTool({ name: 'memory__read_graph', arguments: {} });
      expect(JSON.stringify(graph)).toContain('wrote the first program');
    } finally {
      await client.close();
    }
  });

  it('namespaces prompts and resources and forwards them', async () => {
    const client = await connect(server.mcpUrl);
    try {
      const { prompts } = await client.listPrompts();
      expect(prompts.map((p) => p.name)).toContain('fx__greet');
      const prompt = await client.getPrompt({ name: 'fx__greet', arguments: { name: 'Ada' } });
      expect(JSON.stringify(prompt.messages)).toContain('Hello Ada');
      const { resources } = await client.listResources();
      expect(resources.map((r) => r.uri)).toContain('fx+fixture://note');
      const read = await client.readResource({ uri: 'fx+fixture://note' });
      expect(read.contents[0]).toMatchObject({ uri: 'fx+fixture://note', text: 'a note' });
      const { resourceTemplates } = await client.listResourceTemplates();
      expect(resourceTemplates.some((t) => t.uriTemplate.startsWith('everything+'))).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('starts stdio upstreams with the allow-listed environment plus their own env, and logs stderr per server', async () => {
    const client = await connect(server.mcpUrl);
    try {
      const who = JSON.parse(text(await client.callTool({ name: 'fx__whoami', arguments: {} }))) as {
        pid: number;
        env: Record<string, string | null>;
      };
      expect(who.env.FIXTURE_TAG).toBe('tagged');
      expect(who.env.SECRET_FROM_PARENT).toBeNull();
      expect(who.pid).toBe(server.container.gateway.registry.get('fx')!.pid);
      const logFile = server.container.gateway.registry.get('fx')!.logFile!;
      expect(readFileSync(logFile, 'utf8')).toContain(`fixture: started pid ${who.pid}`);
    } finally {
      await client.close();
    }
  });

  it('relays progress from the upstream to the client', async () => {
    const client = await connect(server.mcpUrl);
    try {
      const progress: number[] = [];
      const result = await client.callTool(
        { name: 'fx__slow', arguments: { ms: 300, steps: 3 } },
        { onprogress: (p) => void progress.push(p.progress) },
      );
      expect(text(result)).toBe('slept 300');
      // All three, the last one too: the SDK client alone drops a notification that arrives just before the result.
      expect(progress).toEqual([1, 2, 3]);
    } finally {
      await client.close();
    }
  });

  it('serves 32 concurrent clients through one shared upstream process with no cross-talk', async () => {
    const pid = server.container.gateway.registry.get('fx')!.pid;
    const clients = await Promise.all(Array.from({ length: 32 }, () => connect(server.mcpUrl)));
    try {
      const results = await Promise.all(
        clients.map(async (client, index) => {
          const answers: string[] = [];
          for (let round = 0; round < 5; round++)
            answers.push(text(await client.callTool({ name: 'fx__echo', arguments: { text: `client-${index}-round-${round}` } })));
          return answers;
        }),
      );
      results.forEach((answers, index) => expect(answers).toEqual([0, 1, 2, 3, 4].map((round) => `client-${index}-round-${round}`)));
      expect(server.container.gateway.registry.get('fx')!.pid).toBe(pid);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  }, 60_000);

  it('fails an in-flight call fast when the upstream is killed (kill -9), drops its tools, and brings them back after the restart', async () => {
    const registry = server.container.gateway.registry;
    const fx = registry.get('fx')!;
    const pid = fx.pid!;
    const client = await connect(server.mcpUrl);
    const changes: string[] = [];
    client.setNotificationHandler('notifications/tools/list_changed', () => void changes.push('tools'));
    try {
      const started = Date.now();
      const call = client.callTool({ name: 'fx__hang', arguments: {} });
      await new Promise((resolve) => setTimeout(resolve, 200));
      process.kill(pid, 'SIGKILL');
      const result = await call;
      expect(result.isError).toBe(true);
      expect(Date.now() - started).toBeLessThan(10_000);
      await waitFor(() => events.some((e) => e.type === 'upstream.down' && (e.data as { server: string }).server === 'fx'), 5000);
      await waitFor(() => fx.status === 'running' && fx.pid !== pid, 20_000);
      expect(events.some((e) => e.type === 'upstream.restarted' && (e.data as { server: string }).server === 'fx')).toBe(true);
      await waitFor(() => changes.length >= 2, 5000);
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('fx__echo');
      expect(text(await client.callTool({ name: 'fx__echo', arguments: { text: 'back' } }))).toBe('back');
    } finally {
      await client.close();
    }
  }, 40_000);

  it('relays a client cancellation to the upstream', async () => {
    const client = await connect(server.mcpUrl);
    try {
      const controller = new AbortController();
      const call = client.callTool({ name: 'fx__slow', arguments: { ms: 20_000, steps: 2 } }, { signal: controller.signal });
      await new Promise((resolve) => setTimeout(resolve, 300));
      controller.abort();
      await expect(call).rejects.toThrow();
      const logFile = server.container.gateway.registry.get('fx')!.logFile!;
      await waitFor(() => readFileSync(logFile, 'utf8').includes('fixture: slow cancelled'), 5000);
    } finally {
      await client.close();
    }
  });

  it('passes a JSON-RPC error the upstream answers through with its code and data, on both endpoints', async () => {
    for (const [url, name] of [
      [server.mcpUrl, 'fx__over_quota'],
      [`${server.url}/servers/fx/mcp`, 'over_quota'],
    ] as const) {
      const client = await connect(url);
      try {
        const failure = await client.callTool({ name, arguments: {} }).then(
          () => undefined,
          (error: unknown) => error as { code?: number; message?: string; data?: { retryAfterSeconds?: number } },
        );
        expect(failure?.code).toBe(-32050);
        expect(failure?.message).toContain('quota exceeded');
        expect(failure?.data).toEqual({ retryAfterSeconds: 60 });
      } finally {
        await client.close();
      }
    }
  });

  it('serves one upstream unprefixed at /servers/{name}/mcp and /servers/{name}/sse', async () => {
    const client = await connect(`${server.url}/servers/fx/mcp`);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['echo', 'whoami', 'slow']));
      expect(names).not.toContain('server_status');
      expect(names).not.toContain('everything__echo');
      expect(text(await client.callTool({ name: 'echo', arguments: { text: 'direct' } }))).toBe('direct');
      expect((await client.listPrompts()).prompts.map((p) => p.name)).toContain('greet');
    } finally {
      await client.close();
    }
    const sseClient = new Client({ name: 'gateway-sse-test', version: '1.0.0' });
    await sseClient.connect(new SSEClientTransport(new URL(`${server.url}/servers/memory/sse`)));
    try {
      const names = (await sseClient.listTools()).tools.map((t) => t.name);
      expect(names).toContain('read_graph');
      expect(JSON.stringify(await sseClient.callTool({ name: 'read_graph', arguments: {} }))).toContain('Ada');
    } finally {
      await sseClient.close();
    }
    const missing = await fetch(`${server.url}/servers/nope/mcp`, { method: 'POST', headers: jsonHeaders(), body: initializeBody() });
    expect(missing.status).toBe(404);
  });

  it('routes {name}.{BASE_DOMAIN}/mcp to that upstream alone', async () => {
    const { port } = new URL(server.url);
    const body = initializeBody();
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/mcp',
          method: 'POST',
          headers: { ...jsonHeaders(), host: 'fx.gw.test', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let data = '';
          res.on('data', (chunk: Buffer) => (data += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: data }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('claude-code-mcp/fx');
  });

  it('answers the operator endpoints', async () => {
    const list = (await (await fetch(`${server.url}/listmcp`)).json()) as {
      servers: { name: string; running: boolean; pid: number | null; command?: string; transport: string; status: string }[];
    };
    expect(list.servers.map((s) => s.name)).toEqual(['everything', 'fx', 'memory']);
    const fx = list.servers.find((s) => s.name === 'fx')!;
    expect(fx).toMatchObject({ running: true, status: 'running', transport: 'stdio', command: process.execPath });
    expect(fx.pid).toBe(server.container.gateway.registry.get('fx')!.pid);

    const tools = (await (await fetch(`${server.url}/listtools/fx`)).json()) as { tools: { name: string; aggregatedName: string }[] };
    expect(tools.tools).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'echo', aggregatedName: 'fx__echo' })]));
    expect((await fetch(`${server.url}/listtools/nope`)).status).toBe(404);

    const health = (await (await fetch(`${server.url}/health/servers`)).json()) as {
      servers: Record<string, { status: string; restartCount: number }>;
      summary: { total: number; running: number };
    };
    expect(health.summary).toMatchObject({ total: 3, running: 3 });
    expect(health.servers.fx).toMatchObject({ status: 'running', consecutiveFails: 0 });

    const resources = (await (await fetch(`${server.url}/health/resources`)).json()) as {
      processes: { name: string; rssMb: number | null }[];
      totals: { rssMb: number };
    };
    expect(resources.processes.map((p) => p.name)).toEqual(['gateway', 'everything', 'fx', 'memory']);
    expect(resources.processes.every((p) => (p.rssMb ?? 0) > 0)).toBe(true);
    expect(resources.totals.rssMb).toBeGreaterThan(0);

    const before = server.container.gateway.registry.get('fx')!.pid;
    const restarted = (await (await fetch(`${server.url}/servers/fx/restart`, { method: 'POST' })).json()) as {
      status: string;
      pid: number;
    };
    expect(restarted.status).toBe('running');
    expect(restarted.pid).not.toBe(before);
    const cleanup = (await (await fetch(`${server.url}/cleanup`, { method: 'POST' })).json()) as {
      closedSessions: number;
      restarted: string[];
    };
    expect(cleanup.restarted).toEqual([]);
  }, 30_000);

  it('relays sampling and elicitation requests of an upstream to the client whose call caused them', async () => {
    const client = new Client({ name: 'gateway-sampling-test', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: {} } });
    client.setRequestHandler('sampling/createMessage', async (request) => {
      const first = request.params.messages[0]!.content as { type: string; text: string };
      return { role: 'assistant', model: 'test-model', content: { type: 'text', text: `echo of ${first.text}` } };
    });
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { name: 'Ada' } }));
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    try {
      expect(text(await client.callTool({ name: 'fx__ask_model', arguments: { question: 'why?' } }))).toBe('model said: echo of why?');
      expect(text(await client.callTool({ name: 'fx__ask_user', arguments: {} }))).toBe('user accept: Ada');
    } finally {
      await client.close();
    }
  });

  it('normalises hyphenated names to snake_case when asked, and calls the upstream with the original name', async () => {
    const client = await connect(server.mcpUrl);
    const single = await connect(`${server.url}/servers/everything/mcp`);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('everything__get_sum');
      expect(names).not.toContain('everything__get-sum');
      expect(text(await client.callTool({ name: 'everything__get_sum', arguments: { a: 2, b: 3 } }))).toContain('5');
      expect((await single.listTools()).tools.map((t) => t.name)).toContain('get_sum');
      expect(text(await single.callTool({ name: 'get_sum', arguments: { a: 20, b: 22 } }))).toContain('42');
    } finally {
      await Promise.all([client.close(), single.close()]);
    }
  });
});
