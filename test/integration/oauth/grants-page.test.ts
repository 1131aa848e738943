/** The user's grants page: list approved applications and revoke them (issue item 11). */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseForm, TestBrowser } from '../../helpers/oauth-browser.js';
import { authorizeUrl, clientFields, mcpInitialize, obtainCode, registerClient, tokenRequest } from '../../helpers/oauth-flow.js';
import { startOAuthServer, TEST_USER } from '../../helpers/oauth-server.js';
import type { TestServer } from '../../helpers/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startOAuthServer();
});
afterAll(async () => {
  await server.stop();
});

describe('grants page', () => {
  it('lists the approved application; Revoke kills its tokens and forgets the consent', async () => {
    const client = await registerClient(server, 'none', { client_name: 'Grant Test App' });
    const browser = new TestBrowser(TEST_USER);
    const { code, verifier } = await obtainCode(server, client, {}, browser);
    const tokens = (
      await tokenRequest(server, { grant_type: 'authorization_code', code, code_verifier: verifier, ...clientFields(client) })
    ).body;
    expect((await mcpInitialize(server, { authorization: `Bearer ${tokens.access_token as string}` })).status).toBe(200);

    const page = await browser.get(`${server.url}/oauth/grants`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const html = await page.text();
    expect(html).toContain('Grant Test App');
    const form = parseForm(html);

    expect((await browser.post(`${server.url}${form.action}`, { ...form.hidden, csrf: 'wrong' })).status).toBe(403);
    expect((await mcpInitialize(server, { authorization: `Bearer ${tokens.access_token as string}` })).status).toBe(200);

    const revoked = await browser.post(`${server.url}${form.action}`, form.hidden);
    expect(revoked.status).toBe(303);
    expect((await mcpInitialize(server, { authorization: `Bearer ${tokens.access_token as string}` })).status).toBe(401);
    const refresh = await tokenRequest(server, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token as string,
      ...clientFields(client),
    });
    expect(refresh.body.error).toBe('invalid_grant');
    expect(await (await browser.get(`${server.url}/oauth/grants`)).text()).not.toContain('Grant Test App');

    // The remembered consent is gone too: the next authorization asks again instead of redirecting at once.
    expect((await browser.get(authorizeUrl(server, client))).status).toBe(200);
  });

  it('asks a new browser to sign in first; the sign-in form needs its CSRF cookie', async () => {
    const browser = new TestBrowser(TEST_USER);
    const login = await browser.get(`${server.url}/oauth/grants`);
    const form = parseForm(await login.text());
    const stranger = await fetch(`${server.url}${form.action}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.hidden, ...TEST_USER }),
    });
    expect(stranger.status).toBe(403);
    const signedIn = await browser.post(`${server.url}${form.action}`, { ...form.hidden, ...TEST_USER });
    expect(signedIn.status).toBe(303);
    expect(await (await browser.get(`${server.url}/oauth/grants`)).text()).toContain(`Signed in as <strong>${TEST_USER.username}`);
  });
});
