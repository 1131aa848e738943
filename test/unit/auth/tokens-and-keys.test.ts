import { describe, expect, it } from '@jest/globals';
import { createAccessTokens } from '../../../server/auth/access-tokens.js';
import { createApiKeyStore } from '../../../server/auth/api-keys.js';
import { createGrantStore } from '../../../server/auth/grants.js';
import { normaliseResource } from '../../../server/auth/resource.js';
import { redirectUriMatches, validateRedirectUri } from '../../../server/auth/redirect-uri.js';
import { createRevocations } from '../../../server/auth/revocations.js';
import { createSigningKeys, type SigningKeys } from '../../../server/auth/signing-keys.js';
import { createMemoryStorage } from '../../../server/storage/memory/memory-storage.js';
import type { KeyValueStore } from '../../../server/storage/types.js';

const R = 'https://mcp.example.com/mcp';

async function setup(now: { t: number }) {
  const store = createMemoryStorage();
  const keys = createSigningKeys({ store, rotateAfterSeconds: 3600, overlapSeconds: 3900, now: () => now.t });
  const grants = createGrantStore({ store, refreshTokenTtlSeconds: 86_400, now: () => now.t });
  const tokens = createAccessTokens({
    keys,
    store,
    issuer: 'https://mcp.example.com',
    ttlSeconds: 600,
    grantAlive: async (id) => (await grants.get(id)) !== undefined,
    now: () => now.t,
  });
  const grant = await grants.create({ clientId: 'c', subject: 'u', scopes: ['mcp:tools'], resource: R, kind: 'authorization_code' });
  return { keys, grants, tokens, grant };
}

describe('access tokens and signing keys', () => {
  it('expire: a token is refused once exp (plus 5 s skew) has passed', async () => {
    const now = { t: Date.now() };
    const { tokens, grant } = await setup(now);
    const token = await tokens.issue(grant);
    await expect(tokens.verify(token, R)).resolves.toMatchObject({ sub: 'u', aud: R });
    now.t += 601_000 + 5_000;
    await expect(tokens.verify(token, R)).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('rotation: the JWKS serves the new and the previous key, so tokens of both verify', async () => {
    const now = { t: Date.now() };
    const { keys, tokens, grant } = await setup(now);
    await keys.active(); // the first key is created now
    now.t += 3600_000 - 1000; // just before the first key is due for rotation
    const before = await tokens.issue(grant);
    now.t += 2000; // now it is due
    const after = await tokens.issue(grant);
    const kid = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()).kid as string;
    expect(kid(after)).not.toBe(kid(before));
    const published = (await keys.jwks()).keys.map((key) => key.kid);
    expect(published).toEqual(expect.arrayContaining([kid(before), kid(after)]));
    await expect(tokens.verify(before, R)).resolves.toBeDefined();
    await expect(tokens.verify(after, R)).resolves.toBeDefined();
  });

  it('refresh families: rotation is single use and reuse revokes the family', async () => {
    const now = { t: Date.now() };
    const { grants, grant } = await setup(now);
    const rt1 = await grants.issueRefreshToken(grant);
    const { refreshToken: rt2 } = await grants.rotate(rt1, 'c');
    const reasons: string[] = [];
    await expect(grants.rotate(rt1, 'c', (reason) => reasons.push(reason))).rejects.toMatchObject({ code: 'invalid_grant' });
    expect(reasons).toEqual(['reused']);
    await expect(grants.rotate(rt2, 'c')).rejects.toMatchObject({ code: 'invalid_grant' });
    expect(await grants.get(grant.id)).toBeUndefined();
  });
});

/**
 * One server process over shared storage: its own signing-key view (counting signature verifications), grants,
 * access tokens and API keys, all on one revocation generation, as createAuthServer wires them.
 */
function replica(store: KeyValueStore, now: { t: number }, options: { cacheSize?: number; checkIntervalMs?: number } = {}) {
  const clock = () => now.t;
  const base = createSigningKeys({ store, rotateAfterSeconds: 3600, overlapSeconds: 3900, now: clock });
  const verifications = { count: 0 };
  const keys: SigningKeys = {
    ...base,
    publicKey(kid) {
      verifications.count += 1; // asked once per signature check
      return base.publicKey(kid);
    },
  };
  const revocations = createRevocations({ store, checkIntervalMs: options.checkIntervalMs, now: clock });
  const grants = createGrantStore({ store, refreshTokenTtlSeconds: 86_400, revocations, now: clock });
  const tokens = createAccessTokens({
    keys,
    store,
    issuer: 'https://mcp.example.com',
    ttlSeconds: 600,
    grantAlive: async (id) => (await grants.get(id)) !== undefined,
    revocations,
    cacheSize: options.cacheSize,
    now: clock,
  });
  const apiKeys = createApiKeyStore(store, [], clock, revocations);
  return { keys, grants, tokens, apiKeys, verifications };
}

const grantFor = (subject: string) => ({ clientId: 'c', subject, scopes: ['mcp:tools'], resource: R, kind: 'authorization_code' as const });

describe('verified access tokens are remembered, and revocation still applies to the next request', () => {
  it('checks a signature once per token; revoking its grant fails the next verification', async () => {
    const now = { t: Date.now() };
    const { grants, tokens, verifications } = replica(createMemoryStorage(), now);
    const grant = await grants.create(grantFor('u'));
    const token = await tokens.issue(grant);
    for (let i = 0; i < 3; i += 1) await expect(tokens.verify(token, R)).resolves.toMatchObject({ gid: grant.id });
    expect(verifications.count).toBe(1);
    await grants.revoke(grant.id);
    await expect(tokens.verify(token, R)).rejects.toMatchObject({ code: 'invalid_token', message: 'The access token was revoked' });
    expect(await tokens.inspect(token)).toBeUndefined();
  });

  it('a cached token is refused from the same instant an uncached one would be (exp plus 5 s skew)', async () => {
    const now = { t: Date.now() };
    const { grants, tokens, verifications } = replica(createMemoryStorage(), now);
    const token = await tokens.issue(await grants.create(grantFor('u')));
    const { exp } = await tokens.verify(token, R);
    now.t = (exp + 5) * 1000 - 1;
    await expect(tokens.verify(token, R)).resolves.toBeDefined();
    expect(verifications.count).toBe(1);
    now.t = (exp + 5) * 1000;
    await expect(tokens.verify(token, R)).rejects.toMatchObject({
      code: 'invalid_token',
      message: 'The access token is invalid or expired',
    });
  });

  it('audience is checked on every use, cached or not', async () => {
    const now = { t: Date.now() };
    const { grants, tokens } = replica(createMemoryStorage(), now);
    const token = await tokens.issue(await grants.create(grantFor('u')));
    await expect(tokens.verify(token, R)).resolves.toBeDefined();
    await expect(tokens.verify(token, 'https://other.example/mcp')).rejects.toMatchObject({ code: 'invalid_token' });
  });

  it('holds at most cacheSize tokens: the least recently used one is verified again', async () => {
    const now = { t: Date.now() };
    const { grants, tokens, verifications } = replica(createMemoryStorage(), now, { cacheSize: 2 });
    const grant = await grants.create(grantFor('u'));
    const [first, second, third] = [await tokens.issue(grant), await tokens.issue(grant), await tokens.issue(grant)];
    for (const token of [first!, second!, third!]) await tokens.verify(token, R);
    expect(verifications.count).toBe(3);
    await tokens.verify(third!, R);
    await tokens.verify(second!, R);
    expect(verifications.count).toBe(3);
    await tokens.verify(first!, R); // evicted when the third arrived
    expect(verifications.count).toBe(4);
  });

  it('revocations made by another process sharing the storage fail the next verification here', async () => {
    const store = createMemoryStorage();
    const now = { t: Date.now() };
    const here = replica(store, now);
    const there = replica(store, now);
    const grant = await here.grants.create(grantFor('u'));
    const [byGrant, byJti] = [await here.tokens.issue(grant), await here.tokens.issue(await here.grants.create(grantFor('v')))];
    const { key } = await here.apiKeys.create('ci-bot', ['mcp:tools']);
    for (const token of [byGrant, byJti]) await here.tokens.verify(token!, R);
    await here.apiKeys.find(key);
    await expect(here.apiKeys.find(key)).resolves.toMatchObject({ clientId: 'ci-bot' });

    await there.grants.revoke(grant.id);
    await expect(here.tokens.verify(byGrant!, R)).rejects.toMatchObject({ code: 'invalid_token' });
    await here.tokens.verify(byJti!, R); // still live: only the generation moved
    await there.tokens.revoke((await there.tokens.inspect(byJti!))!);
    await expect(here.tokens.verify(byJti!, R)).rejects.toMatchObject({ code: 'invalid_token' });
    const [record] = await there.apiKeys.list();
    await there.apiKeys.revoke(record!.id);
    await expect(here.apiKeys.find(key)).resolves.toBeUndefined();
  });

  it("with a check interval, other processes' revocations arrive within it and this process's own at once", async () => {
    const store = createMemoryStorage();
    const now = { t: Date.now() };
    const here = replica(store, now, { checkIntervalMs: 1000 });
    const there = replica(store, now);
    const [shared, own] = [await here.grants.create(grantFor('u')), await here.grants.create(grantFor('v'))];
    const [sharedToken, ownToken] = [await here.tokens.issue(shared), await here.tokens.issue(own)];
    await here.tokens.verify(sharedToken, R);
    await here.tokens.verify(ownToken, R);

    await there.grants.revoke(shared.id);
    now.t += 999; // the documented delay: this process has not looked again yet
    await expect(here.tokens.verify(sharedToken, R)).resolves.toBeDefined();
    now.t += 1;
    await expect(here.tokens.verify(sharedToken, R)).rejects.toMatchObject({ code: 'invalid_token' });

    await here.grants.revoke(own.id);
    await expect(here.tokens.verify(ownToken, R)).rejects.toMatchObject({ code: 'invalid_token' });
  });
});

describe('resource and redirect URI rules', () => {
  it('normalises R/ and scheme/host case to R; refuses others', () => {
    expect(normaliseResource(undefined, R)).toBe(R);
    expect(normaliseResource(`${R}/`, R)).toBe(R);
    expect(normaliseResource('HTTPS://MCP.EXAMPLE.COM/mcp', R)).toBe(R);
    for (const bad of ['https://other.example/mcp', '/mcp', `${R}#x`, 'https://mcp.example.com/MCP']) {
      expect(() => normaliseResource(bad, R)).toThrow();
    }
  });

  it('matches redirect URIs exactly, with any port for loopback only', () => {
    expect(redirectUriMatches('http://127.0.0.1/cb', 'http://127.0.0.1:5000/cb')).toBe(true);
    expect(redirectUriMatches('http://localhost:3000/cb', 'http://localhost:4000/cb')).toBe(true);
    expect(redirectUriMatches('http://localhost/cb', 'http://127.0.0.1/cb')).toBe(false);
    expect(redirectUriMatches('https://app.example/cb', 'https://app.example:8443/cb')).toBe(false);
    expect(redirectUriMatches('http://127.0.0.1/cb', 'http://127.0.0.1:5000/cb/')).toBe(false);
    expect(() => validateRedirectUri('cursor://anysphere.cursor-retrieval/oauth/callback')).not.toThrow();
    expect(() => validateRedirectUri('cursor://x/cb', false)).toThrow();
    expect(() => validateRedirectUri('vbscript:x')).toThrow();
  });
});
