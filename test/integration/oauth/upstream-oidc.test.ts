/**
 * Sign-in through an upstream OpenID Connect provider (checklist L.56-59) against a local fake provider: discovery,
 * authorize (auto-approving), token with an RS256 ID token, PKCE and nonce checked on both sides.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { parseForm, TestBrowser } from '../../helpers/oauth-browser.js';
import { authorizeUrl, mcpInitialize, pkce, registerClient, tokenRequest, type TestClient } from '../../helpers/oauth-flow.js';
import { startOAuthServer } from '../../helpers/oauth-server.js';
import type { TestServer } from '../../helpers/test-server.js';

interface PendingCode {
  nonce: string;
  challenge: string;
  redirectUri: string;
}

describe('upstream OpenID Connect sign-in', () => {
  let idp: Server;
  let issuer: string;
  let key: CryptoKey;
  let server: TestServer;
  let client: TestClient;
  let nextUser = { email: 'alice@example.com', deny: false };
  let upstreamRevoked = false;
  let upstreamRefreshes = 0;
  const codes = new Map<string, PendingCode>();

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp', alg: 'RS256', use: 'sig' };
    idp = createServer((req, res) => {
      const url = new URL(req.url ?? '/', issuer);
      if (url.pathname === '/.well-known/openid-configuration') {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            issuer,
            authorization_endpoint: `${issuer}/authorize`,
            token_endpoint: `${issuer}/token`,
            jwks_uri: `${issuer}/jwks`,
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
            id_token_signing_alg_values_supported: ['RS256'],
          }),
        );
      } else if (url.pathname === '/jwks') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      } else if (url.pathname === '/authorize') {
        const redirect = new URL(url.searchParams.get('redirect_uri')!);
        redirect.searchParams.set('state', url.searchParams.get('state')!);
        if (nextUser.deny) redirect.searchParams.set('error', 'access_denied');
        else {
          const code = `idp-code-${codes.size}`;
          codes.set(code, {
            nonce: url.searchParams.get('nonce')!,
            challenge: url.searchParams.get('code_challenge')!,
            redirectUri: redirect.origin + redirect.pathname,
          });
          redirect.searchParams.set('code', code);
        }
        res.writeHead(302, { location: redirect.toString() });
        res.end();
      } else if (url.pathname === '/token' && req.method === 'POST') {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', async () => {
          const form = new URLSearchParams(body);
          if (form.get('grant_type') === 'refresh_token') {
            res.setHeader('content-type', 'application/json');
            upstreamRefreshes += 1;
            if (upstreamRevoked || !form.get('refresh_token')?.startsWith('upstream-rt')) {
              res.statusCode = 400;
              res.end(JSON.stringify({ error: 'invalid_grant' }));
            } else {
              res.end(
                JSON.stringify({
                  access_token: 'upstream-access-token-2',
                  token_type: 'Bearer',
                  expires_in: 300,
                  refresh_token: `upstream-rt-${upstreamRefreshes}`,
                }),
              );
            }
            return;
          }
          const pending = codes.get(form.get('code') ?? '');
          codes.delete(form.get('code') ?? '');
          res.setHeader('content-type', 'application/json');
          const verifierOk =
            pending &&
            createHash('sha256')
              .update(form.get('code_verifier') ?? '')
              .digest('base64url') === pending.challenge;
          if (!pending || !verifierOk || form.get('client_secret') !== 'idp-secret' || form.get('redirect_uri') !== pending.redirectUri) {
            res.statusCode = 400;
            res.end(JSON.stringify({ error: 'invalid_grant' }));
            return;
          }
          const idToken = await new SignJWT({ nonce: pending.nonce, email: nextUser.email, email_verified: true })
            .setProtectedHeader({ alg: 'RS256', kid: 'idp' })
            .setIssuer(issuer)
            .setSubject(`sub-${nextUser.email}`)
            .setAudience('mcp-server')
            .setIssuedAt()
            .setExpirationTime('5m')
            .sign(key);
          res.end(
            JSON.stringify({
              access_token: 'upstream-access-token',
              token_type: 'Bearer',
              expires_in: 300,
              refresh_token: 'upstream-rt-0',
              id_token: idToken,
            }),
          );
        });
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    server = await startOAuthServer({
      oidcIssuer: issuer,
      oidcClientId: 'mcp-server',
      oidcClientSecret: 'idp-secret',
      oidcAllowedUsers: ['@example.com'],
      oidcProviderName: 'Example SSO',
    });
    client = await registerClient(server);
  });
  afterAll(async () => {
    await server.stop();
    await new Promise((resolve) => idp.close(resolve));
  });

  /** Runs the browser side up to the provider's redirect back to our callback; returns that callback URL. */
  async function toCallback(browser: TestBrowser, params: Record<string, string> = {}): Promise<string> {
    const page = await browser.get(authorizeUrl(server, client, params));
    expect(page.status).toBe(200);
    expect(page.headers.getSetCookie().join(';')).not.toContain('ccm_upstream'); // no upstream state before consent
    const html = await page.text();
    expect(html).toContain('Approve and continue with Example SSO');
    expect(html).toContain('not verified');
    const form = parseForm(html);
    const consent = await browser.post(new URL(form.action, server.url).toString(), { ...form.hidden, decision: 'allow', remember: '1' });
    expect(consent.status).toBe(303);
    const upstream = new URL(consent.headers.get('location')!);
    expect(upstream.origin).toBe(issuer);
    expect(upstream.searchParams.get('redirect_uri')).toBe(`${server.url}/oauth/upstream/callback`); // our own callback
    expect(upstream.searchParams.get('code_challenge_method')).toBe('S256');
    expect(upstream.searchParams.get('state')).not.toBe('xyz'); // never the client's state
    const back = await fetch(upstream, { redirect: 'manual' });
    return back.headers.get('location')!;
  }

  /** Alice signs in through the provider and the client redeems the code: our tokens for a provider-linked grant. */
  async function signInThroughProvider(): Promise<Record<string, unknown>> {
    nextUser = { email: 'alice@example.com', deny: false };
    const browser = new TestBrowser({ username: '', password: '' });
    const { verifier, challenge } = pkce();
    const done = await browser.get(await toCallback(browser, { code_challenge: challenge }));
    const code = new URL(done.headers.get('location')!).searchParams.get('code')!;
    return (await tokenRequest(server, { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: client.clientId }))
      .body;
  }

  it('L56-59: consent first, then the provider; the client gets our own code, state and iss; the upstream token is useless here', async () => {
    nextUser = { email: 'alice@example.com', deny: false };
    const browser = new TestBrowser({ username: '', password: '' });
    const { verifier, challenge } = pkce();
    const callback = await toCallback(browser, { code_challenge: challenge });
    const done = await browser.get(callback);
    expect(done.status).toBe(303);
    const result = new URL(done.headers.get('location')!);
    expect(result.origin + result.pathname).toBe('http://127.0.0.1:9/callback');
    expect(result.searchParams.get('state')).toBe('xyz');
    expect(result.searchParams.get('iss')).toBe(server.url);
    const tokens = await tokenRequest(server, {
      grant_type: 'authorization_code',
      code: result.searchParams.get('code')!,
      code_verifier: verifier,
      client_id: client.clientId,
    });
    expect(tokens.status).toBe(200);
    expect(JSON.stringify(tokens.body)).not.toContain('upstream-access-token');
    const payload = JSON.parse(Buffer.from((tokens.body.access_token as string).split('.')[1]!, 'base64url').toString());
    expect(payload.sub).toBe('alice@example.com');
    expect((await mcpInitialize(server, { authorization: `Bearer ${tokens.body.access_token as string}` })).status).toBe(200);
    expect((await mcpInitialize(server, { authorization: 'Bearer upstream-access-token' })).status).toBe(401);

    // L57: the same callback again (replay) is refused, and so are a forged state and none at all.
    expect((await browser.get(callback)).status).toBe(400);
    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged');
    expect((await browser.get(forged.toString())).status).toBe(400);
    forged.searchParams.delete('state');
    expect((await browser.get(forged.toString())).status).toBe(400);
  });

  it('L58: our refresh refreshes the provider grant first; once the provider revokes it, our refresh fails and the family dies', async () => {
    upstreamRevoked = false;
    const tokens = await signInThroughProvider();
    const before = upstreamRefreshes;
    const refreshed = await tokenRequest(server, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token as string,
      client_id: client.clientId,
    });
    expect(refreshed.status).toBe(200);
    expect(upstreamRefreshes).toBe(before + 1);
    expect(JSON.stringify(refreshed.body)).not.toContain('upstream');

    upstreamRevoked = true;
    const refused = await tokenRequest(server, {
      grant_type: 'refresh_token',
      refresh_token: refreshed.body.refresh_token as string,
      client_id: client.clientId,
    });
    expect(refused.body.error).toBe('invalid_grant');
    expect((await mcpInitialize(server, { authorization: `Bearer ${refreshed.body.access_token as string}` })).status).toBe(401);
    upstreamRevoked = false;
  });

  it('L58: a sign-in the provider revokes ends our tokens at the next confirmation, without any refresh', async () => {
    upstreamRevoked = false;
    const tokens = await signInThroughProvider();
    const bearer = { authorization: `Bearer ${tokens.access_token as string}` };
    // Confirmed within OIDC_RECHECK_MS (the server runs this on a timer): still accepted there, nothing revoked.
    expect(await server.auth!.recheckUpstream(0)).toBe(0);
    expect((await mcpInitialize(server, bearer)).status).toBe(200);

    upstreamRevoked = true;
    expect(await server.auth!.recheckUpstream(0)).toBeGreaterThanOrEqual(1);
    expect((await mcpInitialize(server, bearer)).status).toBe(401);
    const refused = await tokenRequest(server, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token as string,
      client_id: client.clientId,
    });
    expect(refused.body.error).toBe('invalid_grant');
    upstreamRevoked = false;
  });

  it('L57: a callback from another browser (no upstream cookie) is refused', async () => {
    nextUser = { email: 'alice@example.com', deny: false };
    const callback = await toCallback(new TestBrowser({ username: '', password: '' }));
    expect((await fetch(callback, { redirect: 'manual' })).status).toBe(400);
  });

  it('L57: the provider says access_denied -> the client gets access_denied with its own state and our iss', async () => {
    nextUser = { email: 'alice@example.com', deny: true };
    const browser = new TestBrowser({ username: '', password: '' });
    const done = await browser.get(await toCallback(browser));
    const result = new URL(done.headers.get('location')!);
    expect(result.searchParams.get('error')).toBe('access_denied');
    expect(result.searchParams.get('state')).toBe('xyz');
    expect(result.searchParams.get('iss')).toBe(server.url);
  });

  it('users outside OIDC_ALLOWED_USERS are denied', async () => {
    nextUser = { email: 'mallory@evil.example', deny: false };
    const browser = new TestBrowser({ username: '', password: '' });
    const done = await browser.get(await toCallback(browser));
    expect(new URL(done.headers.get('location')!).searchParams.get('error')).toBe('access_denied');
  });
});
