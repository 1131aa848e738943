import { describe, expect, it } from '@jest/globals';
import { createAccessTokens } from '../../../server/auth/access-tokens.js';
import { createGrantStore } from '../../../server/auth/grants.js';
import { normaliseResource } from '../../../server/auth/resource.js';
import { redirectUriMatches, validateRedirectUri } from '../../../server/auth/redirect-uri.js';
import { createSigningKeys } from '../../../server/auth/signing-keys.js';
import { createMemoryStorage } from '../../../server/storage/memory/memory-storage.js';

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
