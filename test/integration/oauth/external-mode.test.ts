/**
 * AUTH_MODE=external against a local fake authorization server (metadata, JWKS, introspection): checklist M.60-62.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { mcpInitialize } from '../../helpers/oauth-flow.js';
import { startTestServer, type TestServer } from '../../helpers/test-server.js';

describe('external authorization server mode', () => {
  let fakeAs: Server;
  let issuer: string;
  let signingKey: CryptoKey;
  let server: TestServer;
  let introspections = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    signingKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    fakeAs = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/oauth-authorization-server') {
        res.end(
          JSON.stringify({
            issuer,
            jwks_uri: `${issuer}/jwks`,
            token_endpoint: `${issuer}/token`,
            authorization_endpoint: `${issuer}/authorize`,
          }),
        );
      } else if (req.url === '/jwks') {
        res.end(JSON.stringify({ keys: [jwk] }));
      } else if (req.url === '/introspect' && req.method === 'POST') {
        introspections += 1;
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          const token = new URLSearchParams(body).get('token');
          const ok = req.headers.authorization === `Basic ${Buffer.from('rs:rs-secret').toString('base64')}` && token === 'opaque-good';
          res.end(
            JSON.stringify(
              ok
                ? {
                    active: true,
                    aud: server.mcpUrl,
                    iss: issuer,
                    scope: 'mcp:tools',
                    client_id: 'opaque-client',
                    exp: Math.floor(Date.now() / 1000) + 600,
                  }
                : { active: false },
            ),
          );
        });
      } else {
        res.statusCode = 404;
        res.end('{}');
      }
    });
    await new Promise<void>((resolve) => fakeAs.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(fakeAs.address() as AddressInfo).port}`;
    server = await startTestServer({
      authMode: 'external',
      authExternalIssuer: issuer,
      authExternalIntrospectionUrl: `${issuer}/introspect`,
      authExternalClientId: 'rs',
      authExternalClientSecret: 'rs-secret',
    });
  });
  afterAll(async () => {
    await server.stop();
    await new Promise((resolve) => fakeAs.close(resolve));
  });

  const token = (
    claims: Record<string, unknown> = {},
    options: { key?: CryptoKey; kid?: string; exp?: string | number; iat?: number } = {},
  ) =>
    new SignJWT({ scope: 'mcp:tools', client_id: 'ext-client', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'k1', typ: 'at+jwt' })
      .setIssuer((claims.iss as string) ?? issuer)
      .setSubject('user-1')
      .setAudience((claims.aud as string | string[]) ?? server.mcpUrl)
      .setIssuedAt(options.iat)
      .setExpirationTime(options.exp ?? '10m')
      .sign(options.key ?? signingKey);
  const status = async (bearer: string) => {
    const response = await mcpInitialize(server, { authorization: `Bearer ${bearer}` });
    await response.text();
    return response.status;
  };

  it('M60: PRM names the external issuer; no look-alike AS metadata on this origin', async () => {
    const prm = (await (await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp`)).json()) as Record<string, unknown>;
    expect(prm).toMatchObject({ resource: server.mcpUrl, authorization_servers: [issuer] });
    expect((await fetch(`${server.url}/.well-known/oauth-authorization-server`)).status).toBe(404);
    expect((await fetch(`${server.url}/token`, { method: 'POST' })).status).toBe(404);
    const unauthenticated = await mcpInitialize(server);
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('www-authenticate')).toContain(
      `resource_metadata="${server.url}/.well-known/oauth-protected-resource/mcp"`,
    );
  });

  it('M62: a valid token and aud [other, R] are accepted', async () => {
    expect(await status(await token())).toBe(200);
    expect(await status(await token({ aud: ['https://other.example', server.mcpUrl] }))).toBe(200);
  });

  it('M62: unknown key, alg none, wrong audience, expired, wrong issuer -> 401', async () => {
    const stranger = (await generateKeyPair('RS256')).privateKey;
    expect(await status(await token({}, { key: stranger }))).toBe(401);
    expect(await status(await token({}, { key: stranger, kid: 'unknown' }))).toBe(401);
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${Buffer.from(
      JSON.stringify({ iss: issuer, aud: server.mcpUrl, scope: 'mcp:tools', exp: Math.floor(Date.now() / 1000) + 600 }),
    ).toString('base64url')}.`;
    expect(await status(none)).toBe(401);
    expect(await status(await token({ aud: 'https://other.example' }))).toBe(401);
    expect(await status(await token({ aud: 'ext-client' }))).toBe(401); // an ID token is for the client, not R
    expect(await status(await token({}, { exp: Math.floor(Date.now() / 1000) - 120 }))).toBe(401);
    expect(await status(await token({ iss: 'https://evil.example' }))).toBe(401);
  });

  it('refuses a token issued in the future, or claiming a lifetime beyond AUTH_EXTERNAL_MAX_TOKEN_LIFETIME_SECONDS', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await status(await token({}, { iat: now + 3600, exp: now + 7200 }))).toBe(401);
    expect(await status(await token({}, { exp: '3y' }))).toBe(401);
    // A day is the default limit: just under it passes, and a small clock difference is tolerated.
    expect(await status(await token({}, { iat: now + 10, exp: now + 23 * 3600 }))).toBe(200);
  });

  it('M61: opaque tokens are introspected (and cached); inactive ones are refused', async () => {
    expect(await status('opaque-good')).toBe(200);
    const after = introspections;
    expect(await status('opaque-good')).toBe(200);
    expect(introspections).toBe(after);
    expect(await status('opaque-bad')).toBe(401);
  });
});

describe('external authorization server out of reach', () => {
  it('answers 503 with Retry-After, not 401: the token was not judged, so the client keeps it and retries', async () => {
    // An issuer on a port nothing listens on: metadata and keys cannot be fetched.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((resolve) => probe.close(resolve));
    const server = await startTestServer({ authMode: 'external', authExternalIssuer: issuer });
    try {
      const { privateKey } = await generateKeyPair('RS256');
      const jwt = await new SignJWT({ scope: 'mcp:tools' })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(issuer)
        .setAudience(server.mcpUrl)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey);
      const response = await mcpInitialize(server, { authorization: `Bearer ${jwt}` });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(JSON.stringify(await response.json())).not.toMatch(/ECONNREFUSED|fetch failed/);
    } finally {
      await server.stop();
    }
  });
});
