/**
 * Access tokens are verified once per process and remembered: on real servers, a remembered token still stops
 * working the moment it expires, and a revocation made by another process sharing the storage (the operator CLI)
 * fails it on the very next request (checklist J.50, J.52).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { mcpInitialize } from '../../helpers/oauth-flow.js';
import { startOAuthServer } from '../../helpers/oauth-server.js';
import type { TestServer } from '../../helpers/test-server.js';
import { createSandbox, killStarted, runCli, spawnCli, waitFor, type Sandbox } from '../../helpers/cli-process.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function initialize(mcpUrl: string, token: string): Promise<number> {
  return fetch(mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'k', version: '1' } },
    }),
  }).then(async (response) => {
    await response.arrayBuffer();
    return response.status;
  });
}

describe('remembered access tokens on an in-process server', () => {
  let server: TestServer;
  let slowChecks: TestServer;
  beforeAll(async () => {
    server = await startOAuthServer();
    slowChecks = await startOAuthServer({ authRevocationCheckMs: 60_000 });
  });
  afterAll(async () => {
    await server.stop();
    await slowChecks.stop();
  });

  it('with AUTH_REVOCATION_CHECK_MS, a revocation made through this process still applies on the next request', async () => {
    const registered = await fetch(`${slowChecks.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'ci',
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_post',
        scope: 'mcp:tools',
      }),
    });
    const client = (await registered.json()) as { client_id: string; client_secret: string };
    const credentials = { client_id: client.client_id, client_secret: client.client_secret };
    const form = (fields: Record<string, string>) => ({
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });
    const issue = async () =>
      (
        (await (
          await fetch(`${slowChecks.url}/token`, form({ grant_type: 'client_credentials', scope: 'mcp:tools', ...credentials }))
        ).json()) as { access_token: string }
      ).access_token;
    const [first, second] = [await issue(), await issue()];
    expect(await initialize(slowChecks.mcpUrl, first)).toBe(200);
    expect(await initialize(slowChecks.mcpUrl, second)).toBe(200);
    expect((await fetch(`${slowChecks.url}/revoke`, form({ token: first, token_type_hint: 'access_token', ...credentials }))).status).toBe(
      200,
    );
    expect(await initialize(slowChecks.mcpUrl, first)).toBe(401);
    expect(await initialize(slowChecks.mcpUrl, second)).toBe(200);
  });

  it('a token that expires while remembered is refused from its expiry (plus the 5 s skew) on', async () => {
    const auth = server.auth!;
    const grant = await auth.grants.create({
      clientId: 'c',
      subject: 'u',
      scopes: ['mcp:tools'],
      resource: server.mcpUrl,
      kind: 'authorization_code',
    });
    const { kid, privateKey } = await auth.keys.active();
    // Already past exp, inside the skew for 2 to 3 more seconds: long enough to be verified and then remembered.
    const exp = Math.floor(Date.now() / 1000) - 3;
    const token = await new SignJWT({ client_id: 'c', scope: 'mcp:tools', gid: grant.id })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
      .setIssuer(auth.urls.issuer)
      .setSubject('u')
      .setAudience(server.mcpUrl)
      .setIssuedAt(exp - 60)
      .setExpirationTime(exp)
      .setJti('expiring')
      .sign(privateKey);
    expect((await mcpInitialize(server, { authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await mcpInitialize(server, { authorization: `Bearer ${token}` })).status).toBe(200);
    await sleep((exp + 5) * 1000 - Date.now() + 50);
    const refused = await mcpInitialize(server, { authorization: `Bearer ${token}` });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });
});

/** A `serve` process on SQLite in `sandbox`, a client_credentials client of it, and a fresh access token. */
async function servingProcess(sandbox: Sandbox, extraEnv: Record<string, string> = {}) {
  const env = sandbox.env({ STORAGE: 'sqlite', AUTH_MODE: 'oauth', AUTH_INITIAL_ADMIN: 'false', ...extraEnv });
  const served = spawnCli(['serve'], { env, cwd: sandbox.cwd });
  const listening = await waitFor(() => served.logLines().find((line) => line.message === 'listening'), 'listening');
  const url = `http://127.0.0.1:${Number(listening.port)}`;
  const registered = await fetch(`${url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'ci',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'mcp:tools',
    }),
  });
  const client = (await registered.json()) as { client_id: string; client_secret: string };
  const issued = await fetch(`${url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: client.client_id,
      client_secret: client.client_secret,
      scope: 'mcp:tools',
    }),
  });
  const { access_token: token } = (await issued.json()) as { access_token: string };
  const revokeClient = () => runCli(['clients', 'revoke', client.client_id], { env, cwd: sandbox.cwd });
  return { mcpUrl: `${url}/mcp`, token, revokeClient };
}

describe('revocation by another process sharing the storage', () => {
  let sandbox: Sandbox;
  afterEach(async () => {
    await killStarted();
    sandbox.remove();
  });

  it('`clients revoke` run beside a serving process fails its remembered token on the next request', async () => {
    sandbox = createSandbox();
    const { mcpUrl, token, revokeClient } = await servingProcess(sandbox);
    expect(await initialize(mcpUrl, token)).toBe(200);
    expect(await initialize(mcpUrl, token)).toBe(200);
    expect((await revokeClient()).stdout).toContain('revoked 1 grant(s)');
    expect(await initialize(mcpUrl, token)).toBe(401);
  });

  it("with AUTH_REVOCATION_CHECK_MS, another process's revocation is refused within that bound", async () => {
    sandbox = createSandbox();
    const { mcpUrl, token, revokeClient } = await servingProcess(sandbox, { AUTH_REVOCATION_CHECK_MS: '1500' });
    expect(await initialize(mcpUrl, token)).toBe(200);
    expect((await revokeClient()).stdout).toContain('revoked 1 grant(s)');
    const revokedAt = Date.now();
    await waitFor(async () => (await initialize(mcpUrl, token)) === 401, 'the revoked token refused', 10_000);
    // The bound, plus the time one refused request takes on a loaded machine.
    expect(Date.now() - revokedAt).toBeLessThan(1500 + 1000);
  });
});
