/**
 * Two replicas of the real server (processes) on one Redis, behind haproxy round-robin without affinity: what a
 * client does through the one URL works whichever replica each request lands on. Clients are the MCP SDKs with their
 * default options (v1 `@modelcontextprotocol/sdk`, v2 `@modelcontextprotocol/client`, which opens a 2025-era session
 * by default). See docs/architecture.md ("Several replicas").
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema as V1ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { CLUSTER_USER, HAPROXY, startCluster, type TestCluster } from '../helpers/cluster.js';
import { TestBrowser } from '../helpers/oauth-browser.js';
import { redisSkipReason } from '../helpers/redis.js';

const IN_CI = process.env.CI === 'true';
const skip = (await redisSkipReason('the cluster suite')) ?? (!HAPROXY && !IN_CI ? 'haproxy not installed: the cluster suite skipped (CI=true fails instead)' : undefined);
if (skip && !IN_CI) console.warn(skip);
const maybe = skip ? describe.skip : describe;

type Tokens = { access_token: string; refresh_token?: string };

/** The OAuthClientProvider both SDK lines accept, in memory; the scripted browser plays the person. */
class Provider {
  client?: Record<string, unknown>;
  saved?: Tokens;
  verifier = '';
  discovery?: unknown;
  callback?: Promise<URL>;
  constructor(readonly redirectUrl = 'http://127.0.0.1:9/callback') {}
  get clientMetadata() {
    return { client_name: 'cluster client', redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation() {
    return this.client as never;
  }
  saveClientInformation(info: Record<string, unknown>) {
    this.client = info;
  }
  tokens() {
    return this.saved as never;
  }
  saveTokens(tokens: Tokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.callback = new TestBrowser(CLUSTER_USER).authorize(url.toString());
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state: unknown) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery as never;
  }
}

maybe('several replicas behind a load balancer without affinity', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-cluster-'));
    const mcpConfig = path.join(dir, 'mcp_config.json');
    writeFileSync(mcpConfig, JSON.stringify({ mcpServers: { fx: { command: process.execPath, args: [path.resolve('test/fixtures/gateway-upstream.mjs')] } } }));
    cluster = await startCluster({ replicas: 2, env: { MCP_CONFIG_PATH: mcpConfig, LOG_LEVEL: 'http' } });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Signs in with the v1 SDK client's own auth() flow through the load balancer; returns the provider with tokens. */
  async function signIn(): Promise<Provider> {
    const provider = new Provider();
    const transport = new V1StreamableHTTPClientTransport(new URL(cluster.mcpUrl), { authProvider: provider as never });
    const client = new V1Client({ name: 'cluster-sign-in', version: '1' });
    const refused = await client.connect(transport).then(
      () => undefined,
      (error: unknown) => error,
    );
    if (!provider.callback) throw new Error(`the client never reached the authorization page: ${String(refused)}`);
    const callback = await provider.callback;
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
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: provider.saved!.refresh_token!, client_id: String(provider.client!.client_id) }),
    });
    expect(refreshed.status).toBe(200);
  });
});
