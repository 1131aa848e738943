/** Clients, signing keys, grants, refresh tokens and users are durable: they survive a restart on SQLite. */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { authorizeUrl, clientFields, mcpInitialize, obtainTokens, registerClient, tokenRequest } from '../../helpers/oauth-flow.js';
import { startOAuthServer } from '../../helpers/oauth-server.js';
import { startTestServer } from '../../helpers/test-server.js';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

describe('OAuth state survives a restart (SQLite)', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ccm-oauth-restart-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('access token, refresh token, client and user still work after a restart', async () => {
    const port = await freePort();
    const config = { storage: 'sqlite' as const, dataDir, port };
    const first = await startOAuthServer(config);
    const client = await registerClient(first);
    const tokens = await obtainTokens(first, client);
    const jwks = await (await fetch(`${first.url}/.well-known/jwks.json`)).text();
    await first.stop();
    // Let fetch's connection pool notice that the first server closed its keep-alive sockets.
    await new Promise((resolve) => setTimeout(resolve, 200));

    const second = await startTestServer({ ...config, authMode: 'oauth', authInitialAdmin: false });
    try {
      expect(await (await fetch(`${second.url}/.well-known/jwks.json`)).text()).toBe(jwks);
      expect((await mcpInitialize(second, { authorization: `Bearer ${tokens.access_token}` })).status).toBe(200);
      const refreshed = await tokenRequest(second, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, ...clientFields(client) });
      expect(refreshed.status).toBe(200);
      // The client is still registered, and the user can still sign in.
      expect((await obtainTokens(second, client)).access_token).toBeDefined();
      expect((await fetch(authorizeUrl(second, client), { redirect: 'manual' })).status).toBe(200);
    } finally {
      await second.stop();
    }
  });
});
