/**
 * Two replicas of the real server (processes) on one Redis, behind haproxy round-robin without affinity: what a
 * client does through the one URL works whichever replica each request lands on. Clients are the MCP SDKs with their
 * default options (v1 `@modelcontextprotocol/sdk`, v2 `@modelcontextprotocol/client`, which opens a 2025-era session
 * by default). See docs/architecture.md ("Several replicas").
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema as V1ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { messageText, startMockAnthropicApi, type MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import { structuredOf } from '../helpers/claude-harness.js';
import { createClaudeSandbox, type ClaudeSandbox } from '../helpers/claude-env.js';
import { CLUSTER_USER, HAPROXY, startCluster, type TestCluster } from '../helpers/cluster.js';
import { MemoryOAuthProvider } from '../helpers/memory-oauth-provider.js';
import { TestBrowser } from '../helpers/oauth-browser.js';
import { redisSkipReason } from '../helpers/redis.js';

const IN_CI = process.env.CI === 'true';
const skip =
  (await redisSkipReason('the cluster suite')) ??
  (!HAPROXY && !IN_CI ? 'haproxy not installed: the cluster suite skipped (CI=true fails instead)' : undefined);
if (skip && !IN_CI) console.warn(skip);
const maybe = skip ? describe.skip : describe;

maybe('several replicas behind a load balancer without affinity', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-cluster-'));
    const mcpConfig = path.join(dir, 'mcp_config.json');
    writeFileSync(
      mcpConfig,
      JSON.stringify({ mcpServers: { fx: { command: process.execPath, args: [path.resolve('test/fixtures/gateway-upstream.mjs')] } } }),
    );
    cluster = await startCluster({ replicas: 2, env: { MCP_CONFIG_PATH: mcpConfig, LOG_LEVEL: 'http' } });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Signs in with the v1 SDK client's own auth() flow through the load balancer; returns the provider with tokens. */
  async function signIn(): Promise<MemoryOAuthProvider> {
    const provider = new MemoryOAuthProvider({
      redirectUrl: 'http://127.0.0.1:9/callback',
      clientName: 'cluster client',
      onAuthorize: (url) => new TestBrowser(CLUSTER_USER).authorize(url.toString()),
    });
    const transport = new V1StreamableHTTPClientTransport(new URL(cluster.mcpUrl), { authProvider: provider as never });
    const client = new V1Client({ name: 'cluster-sign-in', version: '1' });
    const refused = await client.connect(transport).then(
      () => undefined,
      (error: unknown) => error,
    );
    if (!provider.pending) throw new Error(`the client never reached the authorization page: ${String(refused)}`);
    const callback = await provider.pending;
    await transport.finishAuth(callback.searchParams.get('code')!);
    return provider;
  }

  it('signs a person in with the v1 client while the OAuth steps land on both replicas', async () => {
    const before = cluster.served(/^\/(register|authorize|login|consent|token)$/);
    const provider = await signIn();
    expect(provider.saved?.access_token).toEqual(expect.any(String));
    const after = cluster.served(/^\/(register|authorize|login|consent|token)$/);
    const steps = after.map((count, index) => count - before[index]!);
    // Round-robin over a handful of steps: each replica served some of them.
    expect(steps.every((count) => count > 0)).toBe(true);
  });

  it('serves v1 and v2 clients with default options: a session, its GET stream and an elicitation answered across replicas', async () => {
    const provider = await signIn();
    const headers = { Authorization: `Bearer ${provider.saved!.access_token}` };
    const before = cluster.served('/mcp');

    const v1 = new V1Client({ name: 'cluster-v1', version: '1' }, { capabilities: { elicitation: {} } });
    v1.setRequestHandler(V1ElicitRequestSchema, async () => ({ action: 'accept', content: { name: 'v1 person' } }));
    await v1.connect(new V1StreamableHTTPClientTransport(new URL(cluster.mcpUrl), { requestInit: { headers } }));
    const v2 = new Client({ name: 'cluster-v2', version: '1' }, { capabilities: { elicitation: {} } });
    v2.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { name: 'v2 person' } }));
    await v2.connect(new StreamableHTTPClientTransport(new URL(cluster.mcpUrl), { requestInit: { headers } }));
    try {
      for (let round = 0; round < 3; round += 1) {
        const asked1 = (await v1.callTool({ name: 'fx__ask_user', arguments: {} })) as { content: Array<{ text: string }> };
        expect(asked1.content[0]!.text).toBe('user accept: v1 person');
        const asked2 = await v2.callTool({ name: 'fx__ask_user', arguments: {} });
        expect((asked2.content as Array<{ text: string }>)[0]!.text).toBe('user accept: v2 person');
        expect((await v2.listTools()).tools.map((tool) => tool.name)).toContain('fx__echo');
      }
    } finally {
      await v1.close();
      await v2.close();
    }
    const after = cluster.served('/mcp');
    expect(after.map((count, index) => count - before[index]!).every((count) => count > 2)).toBe(true);
  });

  it('kill -9 of a replica under load: clients whose session it held start a new one and carry on; nothing it acknowledged is lost', async () => {
    // A client registered and signed in before the kill, whichever replica issued what.
    const provider = await signIn();
    const headers = { Authorization: `Bearer ${provider.saved!.access_token}` };
    const connect = async () => {
      const client = new Client({ name: 'cluster-load', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(cluster.mcpUrl), { requestInit: { headers } }));
      return client;
    };
    const CLIENTS = 4;
    const CALLS = 10;
    let killedAt = 0;
    const outcomes = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, index) => {
        let client = await connect();
        let done = 0;
        let restarts = 0;
        const stalls: number[] = [];
        for (let attempt = 0; done < CALLS && attempt < CALLS * 4; attempt += 1) {
          const started = Date.now();
          try {
            const result = await client.callTool({ name: 'fx__echo', arguments: { text: `${index}-${done}` } }, { timeout: 15_000 });
            expect((result.content as Array<{ text: string }>)[0]!.text).toContain(`${index}-${done}`);
            done += 1;
          } catch {
            // The session's replica is gone (404): start a new session, as the transport spec asks of clients.
            stalls.push(Date.now() - started);
            restarts += 1;
            await client.close().catch(() => undefined);
            client = await connect();
          }
          if (index === 0 && done === 3 && !killedAt) {
            killedAt = Date.now();
            await cluster.kill(1);
          }
        }
        await client.close();
        return { done, restarts, stalls };
      }),
    );
    console.log(`cluster kill -9: ${JSON.stringify(outcomes)}`);
    expect(outcomes.every((outcome) => outcome.done === CALLS)).toBe(true);
    // A call forwarded to the dead replica fails within a liveness check (nobody listens on its channel any more). Only
    // a call whose own connection went to that replica can wait for its client's timeout (the client's SDK retries
    // the stream it lost); at most one per client.
    const stalls = outcomes.flatMap((outcome) => outcome.stalls);
    expect(stalls.filter((ms) => ms >= 5_000).length).toBeLessThanOrEqual(CLIENTS);
    expect(stalls.every((ms) => ms < 16_000)).toBe(true);
    // What the dead replica acknowledged is still there: the client it may have registered, the tokens it may have issued.
    const refreshed = await fetch(`${cluster.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: provider.saved!.refresh_token!,
        client_id: String(provider.client!.client_id),
      }),
    });
    expect(refreshed.status).toBe(200);
  });
});

/**
 * Claude Code behind the same load balancer: each replica its own HOME (Claude Code's local files) and DATA_DIR, one
 * workspace root for all (the shared volume DEPLOYMENT.md asks for), the real bundled `claude` against the mock
 * Messages API. A 2025 session's calls run on the replica holding the session, so "a call landing on a replica" is
 * a client whose session that replica holds; the tool-call log line says which replica ran each call.
 */
maybe('Claude conversations, runs and tasks across replicas behind the load balancer', () => {
  const LEASE_MS = 3000;
  let cluster: TestCluster;
  let mock: MockAnthropicApi;
  let box: ClaudeSandbox;
  const clients: Client[] = [];

  beforeAll(async () => {
    mock = await startMockAnthropicApi();
    box = createClaudeSandbox(mock.url);
    mkdirSync(path.join(box.workspace, 'project'), { recursive: true });
    // Everything of the sandbox's environment but HOME: each replica keeps its own.
    const { HOME: _home, ...claudeEnv } = box.env;
    cluster = await startCluster({
      replicas: 2,
      env: {
        ...claudeEnv,
        AUTH_MODE: 'none',
        WORKSPACE_ROOTS: box.workspace,
        CLUSTER_LEASE_MS: String(LEASE_MS),
        CLUSTER_MAX_CONCURRENT_RUNS: '1',
        LOG_LEVEL: 'http',
      },
    });
  }, 120_000);
  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await cluster?.stop();
    await mock?.close();
    box?.remove();
  });

  /** How many calls of `tool` each replica has run so far. */
  const ran = (tool: string) =>
    cluster.replicas.map((replica) => replica.cli.logLines().filter((line) => line.message === 'tool call' && line.tool === tool).length);

  /** Which replica ran the call `act` makes (its tool-call log line shows up right after the answer). */
  async function runsOn(tool: string, act: () => Promise<unknown>): Promise<number> {
    const before = ran(tool);
    await act();
    const deadline = Date.now() + 5000;
    for (;;) {
      const index = ran(tool).findIndex((count, i) => count > before[i]!);
      if (index >= 0) return index;
      if (Date.now() > deadline) throw new Error(`no replica logged ${tool}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** A v2 client (default options) whose session replica `index` holds: new sessions until round-robin puts one there. */
  async function clientOn(index: number): Promise<Client> {
    for (let attempt = 0; attempt < 8; attempt += 1) {
      const client = new Client({ name: `cluster-claude-${index}`, version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(cluster.mcpUrl)));
      const holder = await runsOn('claude_background_tasks', () =>
        client.callTool({ name: 'claude_background_tasks', arguments: { action: 'list' } }),
      );
      if (holder === index) {
        clients.push(client);
        return client;
      }
      await client.close();
      // A client makes the same number of requests each time: one more shifts where the next `initialize` lands.
      await fetch(`${cluster.url}/health`);
    }
    throw new Error(`no session landed on replica ${index} in 8 tries`);
  }

  const call = async (client: Client, name: string, args: Record<string, unknown>) => {
    const result = await client.callTool({ name, arguments: args }, { timeout: 60_000 });
    return {
      isError: result.isError === true,
      s: structuredOf(result) as Record<string, unknown> & { sessionId?: string; taskId?: string; error?: { category: string } },
    };
  };
  const conversationOf = (text: string) =>
    mock.requests
      .findLast((request) => request.body.messages.some((message) => messageText(message).includes(text)))
      ?.body.messages.map(messageText);
  const taskStatus = async (client: Client, taskId: string) =>
    ((await call(client, 'claude_background_tasks', { action: 'list' })).s.tasks as Array<{ taskId: string; status: string }>).find(
      (task) => task.taskId === taskId,
    )?.status;

  it('claude_ask on one replica, claude_resume of it on the other: the Messages API sees the earlier messages', async () => {
    mock.on({ prompt: 'lb-first', replies: [{ kind: 'text', text: 'the lighthouse keeper is Ada' }] });
    mock.on({ prompt: 'lb-second', replies: [{ kind: 'text', text: 'resumed on the other replica' }] });
    const first = await clientOn(0);
    const asked = await call(first, 'claude_ask', { query: 'lb-first: who keeps the lighthouse?', workingDirectory: 'project' });
    expect(asked.isError).toBe(false);
    const sessionId = asked.s.sessionId!;

    // Replica 0 ran it; replica 1 has no copy of it on its disk to resume from.
    const local = (home: string) => {
      const projects = path.join(home, '.claude', 'projects');
      return (
        existsSync(projects) &&
        readdirSync(projects, { recursive: true })
          .map(String)
          .some((file) => file.endsWith(`${sessionId}.jsonl`))
      );
    };
    expect(local(cluster.sandboxes[0]!.home)).toBe(true);
    expect(local(cluster.sandboxes[1]!.home)).toBe(false);

    const second = await clientOn(1);
    const resumed = await call(second, 'claude_resume', { sessionId, query: 'lb-second: and her name again?' });
    expect(resumed.isError).toBe(false);
    expect(resumed.s).toMatchObject({ sessionId, result: 'resumed on the other replica' });
    const seen = conversationOf('lb-second')!;
    expect(seen.findIndex((text) => text.includes('lb-first'))).toBe(0);
    expect(seen.some((text) => text.includes('the lighthouse keeper is Ada'))).toBe(true);
  }, 120_000);

  it('a background task started on one replica is followed and cancelled through the other', async () => {
    mock.on({ prompt: 'lb-task', replies: [{ kind: 'hang' }] });
    const starter = await clientOn(0);
    const other = await clientOn(1);
    const started = await call(starter, 'claude_ask', { query: 'lb-task', workingDirectory: 'project', backgroundTask: true });
    expect(started.isError).toBe(false);
    const taskId = started.s.taskId!;
    await until('the task to reach the Messages API', () => conversationOf('lb-task') !== undefined);
    expect(await taskStatus(other, taskId)).toBe('running');

    const cancelled = await call(other, 'claude_abort', { taskId });
    expect(cancelled.isError).toBe(false);
    await until('the task to end as aborted', async () => (await taskStatus(other, taskId)) === 'aborted');
    expect(await taskStatus(starter, taskId)).toBe('aborted');
    // Its run is gone everywhere: the one cluster-wide slot (CLUSTER_MAX_CONCURRENT_RUNS=1) is free again.
    mock.on({ prompt: 'lb-after-cancel', replies: [{ kind: 'text', text: 'slot free' }] });
    await until(
      'the slot to be free',
      async () => !(await call(other, 'claude_ask', { query: 'lb-after-cancel', workingDirectory: 'project' })).isError,
    );
  }, 120_000);

  it('kill -9 of the replica running a task: the other marks it interrupted within the lease and its run slot comes back', async () => {
    mock.on({ prompt: 'lb-doomed', replies: [{ kind: 'hang' }] });
    const survivor = await clientOn(0);
    const doomed = await clientOn(1);
    const started = await call(doomed, 'claude_ask', { query: 'lb-doomed', workingDirectory: 'project', backgroundTask: true });
    const taskId = started.s.taskId!;
    await until('the task to reach the Messages API', () => conversationOf('lb-doomed') !== undefined);
    mock.on({ prompt: 'lb-meanwhile', replies: [{ kind: 'text', text: 'should wait' }] });
    // Its run holds the one cluster-wide slot.
    expect((await call(survivor, 'claude_ask', { query: 'lb-meanwhile', workingDirectory: 'project' })).s.error).toMatchObject({
      category: 'busy',
    });

    const killedAt = Date.now();
    await cluster.kill(1);
    let markedAfter = 0;
    let freedAfter = 0;
    await Promise.all([
      until('the task to be marked interrupted', async () => (await taskStatus(survivor, taskId)) === 'interrupted', 3 * LEASE_MS).then(
        () => (markedAfter = Date.now() - killedAt),
      ),
      until(
        "the dead replica's run slot to come back",
        async () => {
          const askedAt = Date.now() - killedAt;
          const ok = !(await call(survivor, 'claude_ask', { query: 'lb-meanwhile', workingDirectory: 'project' })).isError;
          if (ok) freedAfter = askedAt;
          return ok;
        },
        3 * LEASE_MS,
      ),
    ]);
    console.log(
      `cluster kill -9 with a running task: interrupted after ${markedAfter} ms, its run slot free after ${freedAfter} ms (lease ${LEASE_MS} ms)`,
    );
    // The task within 1.5 leases (another replica sweeps every half lease); the run's slot within its own lease.
    expect(markedAfter).toBeLessThan(1.5 * LEASE_MS + 1000);
    expect(freedAfter).toBeLessThan(LEASE_MS + 1000);
  }, 120_000);
});

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
