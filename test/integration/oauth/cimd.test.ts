/** Client ID Metadata Documents (checklist D.23-25) against a local document host. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TestBrowser } from '../../helpers/oauth-browser.js';
import { authorizeUrl, mcpInitialize, pkce, tokenRequest, type TestClient } from '../../helpers/oauth-flow.js';
import { startOAuthServer, TEST_USER } from '../../helpers/oauth-server.js';
import type { TestServer } from '../../helpers/test-server.js';

describe('Client ID Metadata Documents', () => {
  let host: Server;
  let base: string;
  let server: TestServer;
  let fetches = 0;
  let failNext = false;
  const documents: Record<string, () => { status?: number; headers?: Record<string, string>; body: string }> = {};

  beforeAll(async () => {
    host = createServer((req, res) => {
      fetches += 1;
      const make = documents[req.url ?? ''];
      if (!make || failNext) {
        res.statusCode = failNext ? 503 : 404;
        res.end();
        return;
      }
      const { status = 200, headers = {}, body } = make();
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    });
    await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(host.address() as AddressInfo).port}`;
    const doc =
      (path: string, extra: Record<string, unknown> = {}) =>
      () => ({
        headers: { 'cache-control': 'max-age=60' },
        body: JSON.stringify({
          client_id: `${base}${path}`,
          client_name: 'Claude Code',
          redirect_uris: ['http://localhost/callback'],
          token_endpoint_auth_method: 'none',
          ...extra,
        }),
      });
    documents['/good'] = doc('/good');
    documents['/chatgpt'] = doc('/chatgpt', {
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
      jwks_uri: `${base}/jwks`,
    });
    documents['/mismatch'] = doc('/other');
    documents['/no-redirects'] = doc('/no-redirects', { redirect_uris: undefined });
    documents['/secret'] = doc('/secret', { client_secret: 'x' });
    documents['/secret-method'] = doc('/secret-method', { token_endpoint_auth_method: 'client_secret_basic' });
    documents['/short'] = () => ({ headers: { 'cache-control': 'max-age=0' }, body: doc('/short')().body });
    documents['/not-json'] = () => ({ body: '<html>hi</html>' });
    documents['/redirect'] = () => ({ status: 302, headers: { location: `${base}/good` }, body: '' });
    server = await startOAuthServer({ oauthCimdAllowPrivate: true });
  });
  afterAll(async () => {
    await server.stop();
    await new Promise((resolve) => host.close(resolve));
  });

  const client = (path: string): TestClient => ({ clientId: `${base}${path}`, redirectUri: 'http://localhost:45678/callback' });

  it('D23: advertised in the AS metadata together with "none"', async () => {
    const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata.client_id_metadata_document_supported).toBe(true);
    expect(metadata.token_endpoint_auth_methods_supported).toContain('none');
  });

  it('D23/D25: a document client (and a ChatGPT-style private_key_jwt one, negotiated to none) completes the flow; any port on a portless loopback redirect', async () => {
    for (const path of ['/good', '/chatgpt']) {
      const { verifier, challenge } = pkce();
      const callback = await new TestBrowser(TEST_USER).authorize(authorizeUrl(server, client(path), { code_challenge: challenge }));
      const code = callback.searchParams.get('code');
      expect(code).toBeTruthy();
      const tokens = await tokenRequest(server, {
        grant_type: 'authorization_code',
        code: code!,
        code_verifier: verifier,
        client_id: `${base}${path}`,
      });
      expect(tokens.status).toBe(200);
      expect((await mcpInitialize(server, { authorization: `Bearer ${tokens.body.access_token as string}` })).status).toBe(200);
    }
  });

  it('D24: bad documents and URLs are a direct 400, never a redirect or a 500', async () => {
    for (const path of ['/mismatch', '/no-redirects', '/secret', '/secret-method', '/not-json', '/redirect', '/missing']) {
      const response = await fetch(authorizeUrl(server, client(path)), { redirect: 'manual' });
      expect([path, response.status]).toEqual([path, 400]);
      expect(response.headers.get('location')).toBeNull();
    }
    for (const id of [`${base}/`, `${base}/good#frag`, `http://user:pw@127.0.0.1/good`, `${base}/a/../good`]) {
      const response = await fetch(authorizeUrl(server, { clientId: id, redirectUri: 'http://localhost:1/callback' }), {
        redirect: 'manual',
      });
      expect([id, response.status]).toEqual([id, 400]);
    }
    const wrongRedirect = await fetch(authorizeUrl(server, { ...client('/good'), redirectUri: 'http://localhost:1/elsewhere' }), {
      redirect: 'manual',
    });
    expect(wrongRedirect.status).toBe(400);
  });

  it('D24: documents are cached per Cache-Control and a stale copy covers a failed refetch', async () => {
    const before = fetches;
    await fetch(authorizeUrl(server, client('/good')), { redirect: 'manual' });
    expect(fetches).toBe(before); // cached (max-age=60)
    expect((await fetch(authorizeUrl(server, client('/short')), { redirect: 'manual' })).status).toBe(200);
    failNext = true;
    try {
      const refetches = fetches;
      expect((await fetch(authorizeUrl(server, client('/short')), { redirect: 'manual' })).status).toBe(200);
      expect(fetches).toBe(refetches + 1); // it did try, failed, and used the stale copy
    } finally {
      failNext = false;
    }
  });

  it('D24: without the private-address allowance, fetches to loopback are refused (SSRF)', async () => {
    const strict = await startOAuthServer();
    try {
      const response = await fetch(
        authorizeUrl(strict, { clientId: `https://localhost:${new URL(base).port}/good`, redirectUri: 'http://localhost:1/callback' }),
        { redirect: 'manual' },
      );
      expect(response.status).toBe(400);
      expect(await response.text()).toContain('private address');
    } finally {
      await strict.stop();
    }
  });
});
