/**
 * Refresh-token rotation as connectors exercise it: Claude.ai, Codex and Claude Code send several refreshes with one
 * refresh token at once. Over real HTTP and on every storage adapter, each of 2-5 concurrent refreshes must answer
 * with a working token pair, and whichever refresh token the client keeps must go on working; presenting the rotated
 * token after REFRESH_REUSE_GRACE_SECONDS still revokes the whole family (RFC 9700 §4.14.2).
 * Redis runs when it answers at REDIS_URL; locally an absent Redis skips its block, with CI=true it fails it.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { Config } from '../../../server/config/schema.js';
import { createStorage } from '../../../server/storage/create-storage.js';
import { initializeBody, jsonHeaders } from '../../helpers/http.js';
import { clientFields, mcpInitialize, obtainTokens, registerClient, tokenRequest, type TestClient } from '../../helpers/oauth-flow.js';
import { startOAuthServer } from '../../helpers/oauth-server.js';
import type { TestServer } from '../../helpers/test-server.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const IN_CI = process.env.CI === 'true';
const REDIS_PREFIX = `ccm-test:refresh:${process.pid}:${randomUUID()}:`;
const TRIALS = 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const redisUp = await createStorage({ kind: 'redis', url: REDIS_URL, keyPrefix: REDIS_PREFIX }).then(
  async (storage) => {
    await storage.close();
    return true;
  },
  () => false,
);

const backends: Array<{ name: string; config: Partial<Config>; skip?: string }> = [
  { name: 'memory', config: { storage: 'memory' } },
  { name: 'sqlite', config: { storage: 'sqlite' } },
  {
    name: 'redis',
    config: { storage: 'redis', redisUrl: REDIS_URL, redisKeyPrefix: REDIS_PREFIX },
    skip: redisUp || IN_CI ? undefined : `Redis unreachable at ${REDIS_URL} (set CI=true to fail instead)`,
  },
];

afterAll(async () => {
  if (!redisUp) return;
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const keys = await redis.keys(`${REDIS_PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    await redis.quit();
  }
});

/** The body of a JSON-RPC response sent as JSON or as one server-sent event. */
function rpcResult(response: Response, text: string): { tools?: Array<{ name: string }> } | undefined {
  const json = response.headers.get('content-type')?.includes('text/event-stream')
    ? text
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trim())
        .find((data) => data.length > 0)
    : text;
  return json ? (JSON.parse(json) as { result?: { tools?: Array<{ name: string }> } }).result : undefined;
}

/**
 * What a 2025-era MCP client does with a fresh access token: initialize, tools/list, close the session. Resolves to
 * the listed tool names, or to the HTTP status of the first request that failed.
 */
async function listTools(server: TestServer, accessToken: string): Promise<string[] | number> {
  const headers = jsonHeaders({ authorization: `Bearer ${accessToken}` });
  const init = await fetch(server.mcpUrl, { method: 'POST', headers, body: initializeBody() });
  await init.text();
  if (init.status !== 200) return init.status;
  const session = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id') ?? '', 'mcp-protocol-version': '2025-11-25' };
  try {
    const initialized = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: session,
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    });
    await initialized.text();
    const list = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: session,
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    const text = await list.text();
    if (list.status !== 200) return list.status;
    return (rpcResult(list, text)?.tools ?? []).map((tool) => tool.name);
  } finally {
    await (await fetch(server.mcpUrl, { method: 'DELETE', headers: session })).text();
  }
}

/** A token response body as these tests read it. */
interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
}

describe.each(backends)('refresh-token rotation on $name storage', ({ config, skip }) => {
  if (skip) {
    it.skip(skip, () => {});
    return;
  }
  let server: TestServer;
  let brief: TestServer;
  beforeAll(async () => {
    server = await startOAuthServer(config); // the default grace, as deployed
    brief = await startOAuthServer({ ...config, refreshReuseGraceSeconds: 2 });
  });
  afterAll(async () => {
    await server?.stop();
    await brief?.stop();
  });

  const refresh = (target: TestServer, client: TestClient, refreshToken: string, extra: Record<string, string> = {}) =>
    tokenRequest(target, { grant_type: 'refresh_token', refresh_token: refreshToken, ...clientFields(client), ...extra });

  it.each([2, 3, 4, 5])(
    `%i concurrent refreshes with one token, ${TRIALS} times: every answer works, and so does the token the client kept`,
    async (concurrency) => {
      const client = await registerClient(server);
      const issued = await obtainTokens(server, client);
      let current = issued.refresh_token!;
      for (let trial = 0; trial < TRIALS; trial += 1) {
        // In the order the responses arrive: a client that stores each one keeps the last.
        const arrived: Array<{ status: number; body: Record<string, unknown> }> = [];
        await Promise.all(Array.from({ length: concurrency }, async () => void arrived.push(await refresh(server, client, current))));
        expect(arrived.map((response) => [response.status, response.body.error])).toEqual(Array(concurrency).fill([200, undefined]));
        const answers = arrived.map((response) => response.body as unknown as Tokens);
        expect(new Set(answers.map((answer) => answer.refresh_token)).size).toBe(concurrency);
        expect(answers.every((answer) => answer.scope === issued.scope)).toBe(true);
        for (const answer of answers) expect(await listTools(server, answer.access_token)).toContain('server_status');

        const kept = answers[answers.length - 1]!.refresh_token;
        const next = await refresh(server, client, kept);
        expect([next.status, next.body.error]).toEqual([200, undefined]);
        expect(await listTools(server, next.body.access_token as string)).toContain('server_status');
        // The tokens the client did not keep are members of the family too: any of them would have done.
        for (const other of answers.slice(0, -1)) expect((await refresh(server, client, other.refresh_token)).status).toBe(200);
        current = next.body.refresh_token as string;
      }
    },
    180_000,
  );

  it('within the grace, a re-presented token may narrow the scope but not widen it', async () => {
    const client = await registerClient(server);
    const issued = await obtainTokens(server, client, { scope: 'mcp:tools claude:ask' });
    const rotated = await refresh(server, client, issued.refresh_token!);
    expect(rotated.status).toBe(200);
    const widened = await refresh(server, client, issued.refresh_token!, { scope: 'mcp:tools claude:admin' });
    expect([widened.status, widened.body.error]).toEqual([400, 'invalid_scope']);
    const foreign = await refresh(server, client, issued.refresh_token!, { resource: 'https://other.example/mcp' });
    expect([foreign.status, foreign.body.error]).toEqual([400, 'invalid_target']);
    const narrowed = await refresh(server, client, issued.refresh_token!, { scope: 'mcp:tools' });
    expect([narrowed.status, narrowed.body.scope]).toEqual([200, 'mcp:tools']);
    expect((await refresh(server, client, rotated.body.refresh_token as string)).status).toBe(200);
  });

  it('another client presenting a rotated token within the grace revokes the family', async () => {
    const client = await registerClient(server);
    const mallory = await registerClient(server);
    const issued = await obtainTokens(server, client);
    const rotated = await refresh(server, client, issued.refresh_token!);
    expect(rotated.status).toBe(200);
    expect((await refresh(server, mallory, issued.refresh_token!)).body.error).toBe('invalid_grant');
    expect((await mcpInitialize(server, { authorization: `Bearer ${rotated.body.access_token as string}` })).status).toBe(401);
    expect((await refresh(server, client, rotated.body.refresh_token as string)).body.error).toBe('invalid_grant');
  });

  it('after the grace, presenting the original token revokes the family, every concurrent answer included', async () => {
    const reused: string[] = [];
    const off = brief.container.events.on('auth.refresh_reused', (event) => void reused.push(event.data.grantId));
    try {
      const client = await registerClient(brief);
      const issued = await obtainTokens(brief, client);
      const answers = await Promise.all([refresh(brief, client, issued.refresh_token!), refresh(brief, client, issued.refresh_token!)]);
      expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
      const bodies = answers.map((answer) => answer.body as unknown as Tokens);
      for (const body of bodies) expect(await listTools(brief, body.access_token)).toContain('server_status');

      await sleep(2100);
      const late = await refresh(brief, client, issued.refresh_token!);
      expect([late.status, late.body.error]).toEqual([400, 'invalid_grant']);
      expect(reused).toHaveLength(1);
      expect(reused[0]).not.toBe('');
      for (const body of bodies) {
        expect(await listTools(brief, body.access_token)).toBe(401);
        expect((await refresh(brief, client, body.refresh_token)).body.error).toBe('invalid_grant');
      }
    } finally {
      off();
    }
  });
});
