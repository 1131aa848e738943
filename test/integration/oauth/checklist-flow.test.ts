/**
 * The black-box checklist (shared/reference/mcp-auth-checklist.md), sections E-H and K: authorization endpoint,
 * login and consent, the token endpoint's grants, revocation and introspection. Raw fetch plus a scripted browser.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TestBrowser, parseForm } from '../../helpers/oauth-browser.js';
import {
  authorizeUrl,
  clientFields,
  mcpInitialize,
  obtainCode,
  obtainTokens,
  pkce,
  registerClient,
  tokenRequest,
  type TestClient,
} from '../../helpers/oauth-flow.js';
import { startOAuthServer, TEST_USER } from '../../helpers/oauth-server.js';
import type { TestServer } from '../../helpers/test-server.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are probed field by field
type Json = Record<string, any>;

let server: TestServer;
let client: TestClient;
beforeAll(async () => {
  server = await startOAuthServer();
  client = await registerClient(server);
});
afterAll(async () => {
  await server.stop();
});

/** GET /authorize without following redirects. */
const authorize = (url: string) => fetch(url, { redirect: 'manual' });
const errorOf = (response: Response) => new URL(response.headers.get('location')!).searchParams;
const call = (token: string) => mcpInitialize(server, { authorization: `Bearer ${token}` });

describe('E. authorization endpoint', () => {
  it('E26: login + consent -> 303 to the callback with code, state echoed once, iss', async () => {
    const { callback } = await obtainCode(server, client, { state: 'st=a&b' });
    expect(callback.searchParams.getAll('state')).toEqual(['st=a&b']);
    expect(callback.searchParams.get('iss')).toBe(server.url);
    expect(callback.searchParams.get('code')!.length).toBeGreaterThanOrEqual(43);
  });

  it.each([
    ['no code_challenge', { code_challenge: undefined }],
    ['method plain', { code_challenge_method: 'plain' }],
    ['no method', { code_challenge_method: undefined }],
    ['malformed challenge', { code_challenge: 'short' }],
    ['duplicated parameter', {}],
  ])('E27/E30: %s -> error redirect invalid_request with state and iss', async (name, params) => {
    let url = authorizeUrl(server, client, params as Record<string, string | undefined>);
    if (name === 'duplicated parameter') url += '&scope=mcp:tools&scope=claude:ask';
    const response = await authorize(url);
    expect(response.status).toBe(302);
    const query = errorOf(response);
    expect(query.get('error')).toBe('invalid_request');
    expect(query.get('state')).toBe('xyz');
    expect(query.get('iss')).toBe(server.url);
  });

  it.each([
    ['trailing slash', 'http://127.0.0.1:9/callback/'],
    ['path case', 'http://127.0.0.1:9/Callback'],
    ['extra query', 'http://127.0.0.1:9/callback?x=1'],
    ['other host', 'http://localhost:9/callback'],
    ['other path', 'http://127.0.0.1:9/other'],
    ['https lookalike', 'https://127.0.0.1:9/callback'],
  ])('E28: redirect_uri with %s -> direct 400, no redirect', async (_name, redirectUri) => {
    const response = await authorize(authorizeUrl(server, client, { redirect_uri: redirectUri }));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('E28: a loopback registration accepts any port; an omitted redirect_uri works with one registered', async () => {
    for (const redirectUri of ['http://127.0.0.1:61234/callback', undefined]) {
      const response = await authorize(authorizeUrl(server, client, { redirect_uri: redirectUri }));
      expect(response.status).toBe(200); // the login page
      expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    }
  });

  it('E29: an unknown client_id -> direct 400', async () => {
    const response = await authorize(authorizeUrl(server, { ...client, clientId: 'nope' }));
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it.each([
    [{ response_type: 'token' }, 'unsupported_response_type'],
    [{ scope: 'mcp:tools bogus:scope' }, 'invalid_scope'],
    [{ resource: 'https://other.example/api' }, 'invalid_target'],
    [{ resource: '/mcp' }, 'invalid_target'],
  ])('E30/E31: %j -> error redirect %s', async (params, error) => {
    const response = await authorize(authorizeUrl(server, client, params));
    expect(response.status).toBe(302);
    expect(errorOf(response).get('error')).toBe(error);
  });

  it('E31: R/ and an upper-case host are normalised to R; an absent resource defaults to R', async () => {
    const upper = server.mcpUrl.replace('127.0.0.1', '127.0.0.1').replace('http://', 'HTTP://');
    for (const resource of [`${server.mcpUrl}/`, upper, undefined]) {
      const tokens = await obtainTokens(server, client, { resource });
      const payload = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString());
      expect(payload.aud).toBe(server.mcpUrl);
    }
  });

  it('E32: no scope -> the default set; offline_access and unknown parameters are accepted', async () => {
    const defaults = await obtainTokens(server, client, { scope: undefined });
    expect(defaults.scope.split(' ')).toContain('mcp:tools');
    const offline = await obtainTokens(server, client, { scope: 'mcp:tools offline_access', prompt: 'consent' });
    expect(offline.refresh_token).toBeDefined();
  });
});

describe('F. login and consent', () => {
  it('F34: the consent page names the client as unverified, the redirect host, the scopes and the resource', async () => {
    const browser = new TestBrowser(TEST_USER);
    const login = await browser.get(authorizeUrl(server, client, { scope: 'mcp:tools claude:plan' }));
    const form = parseForm(await login.text());
    const consent = await browser.post(new URL(form.action, server.url).toString(), { ...form.hidden, ...TEST_USER });
    expect(consent.status).toBe(200);
    const page = await consent.text();
    expect(page).toContain('test client');
    expect(page).toContain('not verified');
    expect(page).toContain('127.0.0.1:9');
    expect(page).toContain('claude:plan');
    expect(page).toContain(server.mcpUrl);
    expect(consent.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(consent.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('F35: a consent POST with a missing or wrong CSRF token, or from another browser -> 403 and no code', async () => {
    const browser = new TestBrowser(TEST_USER);
    const login = await browser.get(authorizeUrl(server, client));
    const form = parseForm(await login.text());
    const consentPage = await browser.post(new URL(form.action, server.url).toString(), { ...form.hidden, ...TEST_USER });
    const consent = parseForm(await consentPage.text());
    const action = new URL(consent.action, server.url).toString();
    expect((await browser.post(action, { interaction: consent.hidden.interaction!, decision: 'allow' })).status).toBe(403);
    expect((await browser.post(action, { interaction: consent.hidden.interaction!, csrf: 'wrong', decision: 'allow' })).status).toBe(403);
    const otherBrowser = await fetch(action, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...consent.hidden, decision: 'allow' }),
    });
    expect(otherBrowser.status).toBe(403);
    const ok = await browser.post(action, { ...consent.hidden, decision: 'allow' });
    expect(ok.status).toBe(303);
  });

  it('F35: a wrong password shows the login page again; cookies are HttpOnly and SameSite', async () => {
    const browser = new TestBrowser({ username: TEST_USER.username, password: 'wrong password' });
    const login = await browser.get(authorizeUrl(server, client));
    expect(login.headers.getSetCookie().join(';')).toMatch(/HttpOnly; SameSite=Lax/);
    const form = parseForm(await login.text());
    const retry = await browser.post(new URL(form.action, server.url).toString(), {
      ...form.hidden,
      username: TEST_USER.username,
      password: 'nope',
    });
    expect(retry.status).toBe(401);
    expect(await retry.text()).toContain('Wrong username or password');
  });

  it('ten wrong passwords for a user lock its sign-in for the window, even with the right password', async () => {
    const victim = { username: 'victim', password: 'the right password' };
    await server.auth!.users.add(victim.username, victim.password);
    const browser = new TestBrowser(victim);
    const page = await browser.get(authorizeUrl(server, client));
    let form = parseForm(await page.text());
    const action = new URL(form.action, server.url).toString();
    for (let attempt = 0; attempt < 10; attempt++) {
      const wrong = await browser.post(action, { ...form.hidden, username: victim.username, password: `guess ${attempt}` });
      expect(wrong.status).toBe(401);
      form = parseForm(await wrong.text());
    }
    const locked = await browser.post(action, { ...form.hidden, ...victim });
    expect(locked.status).toBe(429);
    expect(await locked.text()).toContain('Too many failed sign-ins');
  });

  it('E30: Deny -> access_denied redirect with state and iss', async () => {
    const callback = await new TestBrowser(TEST_USER).authorize(authorizeUrl(server, client), 'deny');
    expect(callback.searchParams.get('error')).toBe('access_denied');
    expect(callback.searchParams.get('state')).toBe('xyz');
    expect(callback.searchParams.get('iss')).toBe(server.url);
  });
});

describe('G. token endpoint: authorization_code', () => {
  const redeem = (code: string, verifier: string | undefined, extra: Record<string, string> = {}, as: TestClient = client) =>
    tokenRequest(server, {
      grant_type: 'authorization_code',
      code,
      ...(verifier ? { code_verifier: verifier } : {}),
      ...clientFields(as),
      ...extra,
    });

  it('G38: wrong verifier -> invalid_grant; missing verifier -> invalid_request', async () => {
    const a = await obtainCode(server, client);
    expect((await redeem(a.code, pkce().verifier)).body.error).toBe('invalid_grant');
    const b = await obtainCode(server, client);
    const missing = await redeem(b.code, undefined);
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_request');
  });

  it('G39: a replayed code -> invalid_grant and the first tokens are revoked', async () => {
    const { code, verifier } = await obtainCode(server, client);
    const first = await redeem(code, verifier);
    expect(first.status).toBe(200);
    expect((await call(first.body.access_token as string)).status).toBe(200);
    const second = await redeem(code, verifier);
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('invalid_grant');
    expect((await call(first.body.access_token as string)).status).toBe(401);
    const refresh = await tokenRequest(server, {
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token as string,
      ...clientFields(client),
    });
    expect(refresh.body.error).toBe('invalid_grant');
  });

  it('G40: a code of client A redeemed by client B, and an unknown code -> invalid_grant', async () => {
    const other = await registerClient(server);
    const { code, verifier } = await obtainCode(server, client);
    expect((await redeem(code, verifier, {}, other)).body.error).toBe('invalid_grant');
    expect((await redeem('unknown-code', verifier)).body.error).toBe('invalid_grant');
  });

  it('G41/G42: a different redirect_uri -> invalid_grant; a foreign resource -> invalid_target; audience is R', async () => {
    const a = await obtainCode(server, client);
    expect((await redeem(a.code, a.verifier, { redirect_uri: 'http://127.0.0.1:9/other' })).body.error).toBe('invalid_grant');
    const b = await obtainCode(server, client);
    expect((await redeem(b.code, b.verifier, { resource: 'https://other.example/api' })).body.error).toBe('invalid_target');
    const c = await obtainCode(server, client);
    const ok = await redeem(c.code, c.verifier, { resource: server.mcpUrl });
    expect(ok.status).toBe(200);
  });
});

describe('H. token endpoint: refresh_token', () => {
  const refresh = (token: string, extra: Record<string, string> = {}, as: TestClient = client) =>
    tokenRequest(server, { grant_type: 'refresh_token', refresh_token: token, ...clientFields(as), ...extra });

  it('H43/H44: rotation; reusing RT1 after the reuse grace revokes RT2 and its access tokens', async () => {
    // Within REFRESH_REUSE_GRACE_SECONDS the same client may present RT1 again (refresh-rotation.test.ts covers that);
    // the checklist's answer holds from the end of the window, so this server has a 1 s window and the test waits it out.
    const brief = await startOAuthServer({ refreshReuseGraceSeconds: 1 });
    try {
      const briefClient = await registerClient(brief);
      const refreshAt = (token: string) =>
        tokenRequest(brief, { grant_type: 'refresh_token', refresh_token: token, ...clientFields(briefClient) });
      const callAt = (token: string) => mcpInitialize(brief, { authorization: `Bearer ${token}` });
      const tokens = await obtainTokens(brief, briefClient);
      const rotated = await refreshAt(tokens.refresh_token!);
      expect(rotated.status).toBe(200);
      const rt2 = rotated.body.refresh_token as string;
      expect(rt2).not.toBe(tokens.refresh_token);
      expect((await callAt(rotated.body.access_token as string)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await refreshAt(tokens.refresh_token!)).body.error).toBe('invalid_grant');
      expect((await callAt(rotated.body.access_token as string)).status).toBe(401);
      expect((await refreshAt(rt2)).body.error).toBe('invalid_grant');
    } finally {
      await brief.stop();
    }
  });

  it('H45: another client -> invalid_grant; broader scope -> invalid_scope; narrower is fine; foreign resource -> invalid_target', async () => {
    const tokens = await obtainTokens(server, client, { scope: 'mcp:tools claude:ask' });
    const other = await registerClient(server);
    expect((await refresh(tokens.refresh_token!, {}, other)).body.error).toBe('invalid_grant');
    expect((await refresh(tokens.refresh_token!, { scope: 'mcp:tools claude:admin' })).body.error).toBe('invalid_scope');
    expect((await refresh(tokens.refresh_token!, { resource: 'https://other.example/api' })).body.error).toBe('invalid_target');
    const narrower = await refresh(tokens.refresh_token!, { scope: 'mcp:tools' });
    expect(narrower.status).toBe(200);
    expect(narrower.body.scope).toBe('mcp:tools');
    const payload = JSON.parse(Buffer.from((narrower.body.access_token as string).split('.')[1]!, 'base64url').toString());
    expect(payload.aud).toBe(server.mcpUrl);
  });
});

describe('K. revocation and introspection', () => {
  const revoke = (fields: Record<string, string>) =>
    fetch(`${server.url}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });

  it('K54: revoking a refresh token kills the family: refresh -> invalid_grant, access token -> 401', async () => {
    const tokens = await obtainTokens(server, client);
    const response = await revoke({ token: tokens.refresh_token!, token_type_hint: 'refresh_token', ...clientFields(client) });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(
      (await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token!, ...clientFields(client) })).body
        .error,
    ).toBe('invalid_grant');
    expect((await call(tokens.access_token)).status).toBe(401);
  });

  it('K54: revoking an access token works at once; unknown tokens are 200; another client cannot revoke', async () => {
    const tokens = await obtainTokens(server, client);
    const other = await registerClient(server);
    expect((await revoke({ token: tokens.access_token, ...clientFields(other) })).status).toBe(401);
    expect((await call(tokens.access_token)).status).toBe(200);
    expect((await revoke({ token: tokens.access_token, token_type_hint: 'access_token', ...clientFields(client) })).status).toBe(200);
    expect((await call(tokens.access_token)).status).toBe(401);
    expect((await revoke({ token: 'unknown', ...clientFields(client) })).status).toBe(200);
  });

  it('K55: introspection needs confidential credentials and reports aud = R', async () => {
    const tokens = await obtainTokens(server, client);
    const rs = await registerClient(server, 'client_secret_post');
    const introspect = (fields: Record<string, string>) =>
      fetch(`${server.url}/introspect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(fields),
      });
    expect((await introspect({ token: tokens.access_token, ...clientFields(client) })).status).toBe(401);
    const active = (await (await introspect({ token: tokens.access_token, ...clientFields(rs) })).json()) as Json;
    expect(active).toMatchObject({
      active: true,
      aud: server.mcpUrl,
      client_id: client.clientId,
      sub: TEST_USER.username,
      iss: server.url,
    });
    expect((await (await introspect({ token: 'garbage', ...clientFields(rs) })).json()) as Json).toEqual({ active: false });
  });
});

describe('F35 over HTTPS: __Host- cookies with Secure', () => {
  it('sets __Host- prefixed, Secure, HttpOnly, SameSite=Lax cookies when the issuer is https', async () => {
    const tls = await startOAuthServer({ baseUrl: 'https://localhost' });
    try {
      const port = tls.port;
      const tlsClient = await (async () => {
        const response = await fetch(`http://127.0.0.1:${port}/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' }),
        });
        return ((await response.json()) as Json).client_id as string;
      })();
      const url = new URL(`http://127.0.0.1:${port}/authorize`);
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: tlsClient,
        redirect_uri: 'https://app.example/cb',
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
        resource: 'https://localhost/mcp',
      }).toString();
      const page = await fetch(url, { redirect: 'manual' });
      expect(page.status).toBe(200);
      const cookie = page.headers.getSetCookie().join('\n');
      expect(cookie).toMatch(/^__Host-ccm_interaction=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/m);
    } finally {
      await tls.stop();
    }
  });
});
