/**
 * Clients, signing keys, grants, refresh tokens and users are durable: they survive a restart on SQLite, and on
 * Redis (where several replicas share them). Redis runs when it answers at REDIS_URL; with CI=true it must.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { Config } from '../../../server/config/schema.js';
import { createStorage } from '../../../server/storage/create-storage.js';
import { authorizeUrl, clientFields, mcpInitialize, obtainTokens, registerClient, tokenRequest } from '../../helpers/oauth-flow.js';
import { startOAuthServer } from '../../helpers/oauth-server.js';
import { startTestServer } from '../../helpers/test-server.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redisUp = await createStorage({ kind: 'redis', url: REDIS_URL, keyPrefix: 'ccm-probe:' }).then(
  async (storage) => {
    await storage.close();
    return true;
  },
  () => false,
);

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const REDIS_PREFIX = `ccm-test:${randomUUID()}:`;
const backends: Array<[string, Partial<Config>, boolean]> = [
  ['sqlite', { storage: 'sqlite' }, true],
  ['redis', { storage: 'redis', redisUrl: REDIS_URL, redisKeyPrefix: REDIS_PREFIX }, redisUp || process.env.CI === 'true'],
];

afterAll(async () => {
  if (!redisUp) return;
  const redis = new Redis(REDIS_URL);
  try {
    const keys = await redis.keys(`${REDIS_PREFIX}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    await redis.quit();
  }
});

describe.each(backends)('OAuth state survives a restart (%s)', (_name, backend, enabled) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ccm-oauth-restart-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  (enabled ? it : it.skip)('access token, refresh token, client and user still work after a restart', async () => {
    const port = await freePort();
    // No reuse grace, so presenting the rotated token again below is a reuse at once, whatever the timing.
    const config = { ...backend, dataDir, port, refreshReuseGraceSeconds: 0 };
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
      const refreshed = await tokenRequest(second, {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        ...clientFields(client),
      });
      expect(refreshed.status).toBe(200);
      // The old refresh token stays spent across the restart (reuse detection is durable too).
      const reused = await tokenRequest(second, {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token!,
        ...clientFields(client),
      });
      expect(reused.body.error).toBe('invalid_grant');
      // The client is still registered, and the user can still sign in.
      expect((await fetch(authorizeUrl(second, client), { redirect: 'manual' })).status).toBe(200);
      expect((await obtainTokens(second, client)).access_token).toBeDefined();
    } finally {
      await second.stop();
    }
  });
});
