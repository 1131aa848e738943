/**
 * The black-box checklist (shared/reference/mcp-auth-checklist.md) against a real server: sections A-C (transport,
 * protected resource, metadata), D (registration) and J (resource-server token validation). Raw fetch only.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPair, SignJWT } from 'jose';
import { TestBrowser } from '../../helpers/oauth-browser.js';
import { clientFields, mcpInitialize, obtainCode, obtainTokens, register, registerClient, tokenRequest } from '../../helpers/oauth-flow.js';
import { startOAuthServer } from '../../helpers/oauth-server.js';
import type { TestServer } from '../../helpers/test-server.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are probed field by field
type Json = Record<string, any>;

let server: TestServer;
beforeAll(async () => {
  server = await startOAuthServer();
});
afterAll(async () => {
  await server.stop();
});

describe('A. transport-wide', () => {
  it('A2/A3: token and register errors are JSON with Cache-Control: no-store', async () => {
    const token = await tokenRequest(server, { grant_type: 'authorization_code', code: 'nope', client_id: 'unknown' });
    expect(token.headers.get('content-type')).toMatch(/^application\/json/);
    expect(token.headers.get('cache-control')).toBe('no-store');
    expect(token.body.error).toBe('invalid_client');
    const reg = await register(server, { redirect_uris: ['javascript:alert(1)'] });
    expect(reg.headers.get('content-type')).toMatch(/^application\/json/);
    expect(reg.headers.get('cache-control')).toBe('no-store');
  });

  it.each(['/register', '/token', '/revoke', '/.well-known/oauth-authorization-server'])('A4: CORS preflight on %s', async (path) => {
    const response = await fetch(`${server.url}${path}`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:6274',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization,mcp-protocol-version',
      },
    });
    expect(response.status).toBeLessThan(300);
    expect(response.headers.get('access-control-allow-origin')).toBeTruthy();
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('mcp-protocol-version');
  });

  it('A4: discovery 404s carry CORS headers too', async () => {
    const response = await fetch(`${server.url}/.well-known/oauth-authorization-server/nothing-here`, {
      headers: { origin: 'http://localhost:6274' },
    });
    expect(response.status).toBe(404);
    expect(response.headers.get('access-control-allow-origin')).toBeTruthy();
  });

  it('A4: the 401 on the MCP endpoint exposes WWW-Authenticate to browsers', async () => {
    const response = await mcpInitialize(server, { origin: 'http://localhost:6274' });
    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
  });

  it('A6: 30 registrations and token calls from one address are never rate limited', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 30 }, () =>
        register(server, { redirect_uris: ['https://claude.ai/api/mcp/auth_callback'], token_endpoint_auth_method: 'none' }).then(
          (r) => r.status,
        ),
      ),
    );
    expect(new Set(statuses)).toEqual(new Set([201]));
  });
});

describe('B. protected resource', () => {
  it('B8: no token -> 401 with an absolute resource_metadata and scope, no error code', async () => {
    for (const method of ['POST', 'GET', 'DELETE']) {
      const response = method === 'POST' ? await mcpInitialize(server) : await fetch(server.mcpUrl, { method });
      expect(response.status).toBe(401);
      const challenge = response.headers.get('www-authenticate')!;
      expect(challenge).toContain(`resource_metadata="${server.url}/.well-known/oauth-protected-resource/mcp"`);
      // The scopes of basic use: what a client following MCP's scope selection asks for (docs/oauth.md "Scopes").
      expect(challenge).toContain('scope="mcp:tools claude:ask claude:plan gateway:*"');
      expect(challenge).not.toContain('error=');
    }
  });

  it('B9/B10/B11: PRM at the path-suffixed and root URLs, resource byte-identical to R, no offline_access', async () => {
    const suffixed = (await (await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp`)).json()) as Json;
    const root = (await (await fetch(`${server.url}/.well-known/oauth-protected-resource`)).json()) as Json;
    expect(root).toEqual(suffixed);
    expect(suffixed).toMatchObject({ resource: server.mcpUrl, authorization_servers: [server.url], bearer_methods_supported: ['header'] });
    expect(suffixed.scopes_supported).not.toContain('offline_access');
    // Only basic use: a client falling back to scopes_supported must not ask every user for administrative scopes.
    expect(suffixed.scopes_supported).toEqual(['mcp:tools', 'claude:ask', 'claude:plan', 'gateway:*']);
  });

  it('B12: a token without mcp:tools -> 403 insufficient_scope naming the scope', async () => {
    const client = await registerClient(server);
    const tokens = await obtainTokens(server, client, { scope: 'claude:ask' });
    const response = await mcpInitialize(server, { authorization: `Bearer ${tokens.access_token}` });
    expect(response.status).toBe(403);
    const challenge = response.headers.get('www-authenticate')!;
    expect(challenge).toContain('error="insufficient_scope"');
    // Every scope the request needs, the token's own included, so the new token keeps what the old one had (B.12).
    expect(/scope="([^"]*)"/.exec(challenge)?.[1]?.split(' ').sort()).toEqual(['claude:ask', 'mcp:tools']);
    expect(challenge).toContain('resource_metadata=');
  });

  it('audits refused credentials as auth.denied (but not a first request without any)', async () => {
    const seen: string[] = [];
    const off = server.container.events.on('auth.denied', (event) => void seen.push(event.data.reason));
    try {
      await (await mcpInitialize(server)).text();
      await (await mcpInitialize(server, { authorization: 'Bearer not.a.token' })).text();
      expect(seen).toEqual(['invalid_token']);
    } finally {
      off();
    }
  });

  it('B13: a token in the query string is not accepted; header plus query is invalid_request', async () => {
    const client = await registerClient(server);
    const tokens = await obtainTokens(server, client);
    const inQuery = await mcpInitialize(server, {}, `${server.mcpUrl}?access_token=${tokens.access_token}`);
    expect(inQuery.status).toBe(401);
    const both = await mcpInitialize(
      server,
      { authorization: `Bearer ${tokens.access_token}` },
      `${server.mcpUrl}?access_token=${tokens.access_token}`,
    );
    expect(both.status).toBe(400);
    expect(both.headers.get('www-authenticate')).toContain('error="invalid_request"');
  });

  it('B14: every request of a session is authenticated; another client cannot use the session', async () => {
    const alice = await obtainTokens(server, await registerClient(server));
    const mallory = await obtainTokens(server, await registerClient(server));
    const init = await mcpInitialize(server, { authorization: `Bearer ${alice.access_token}` });
    expect(init.status).toBe(200);
    const sessionId = init.headers.get('mcp-session-id')!;
    await init.text();
    const list = (headers: Record<string, string>) =>
      fetch(server.mcpUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': sessionId,
          'mcp-protocol-version': '2025-11-25',
          ...headers,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
      });
    expect((await list({})).status).toBe(401);
    expect((await list({ authorization: 'Bearer garbage.token.here' })).status).toBe(401);
    expect((await list({ authorization: `Bearer ${mallory.access_token}` })).status).toBe(404);
    const own = await list({ authorization: `Bearer ${alice.access_token}` });
    expect(own.status).toBe(200);
    await own.text();
  });
});

describe('B14 with one client shared by two users (a static or metadata-document client)', () => {
  it("user B's token cannot use user A's session of the same client", async () => {
    const shared = await registerClient(server);
    await server.auth!.users.add('bob', 'bob password 123');
    const alice = await obtainTokens(server, shared);
    const bobCode = await obtainCode(server, shared, {}, new TestBrowser({ username: 'bob', password: 'bob password 123' }));
    const bob = (
      await tokenRequest(server, {
        grant_type: 'authorization_code',
        code: bobCode.code,
        code_verifier: bobCode.verifier,
        ...clientFields(shared),
      })
    ).body;
    const init = await mcpInitialize(server, { authorization: `Bearer ${alice.access_token}` });
    const sessionId = init.headers.get('mcp-session-id')!;
    await init.text();
    const list = (token: string) =>
      fetch(server.mcpUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': sessionId,
          'mcp-protocol-version': '2025-11-25',
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
      });
    expect((await list(bob.access_token as string)).status).toBe(404);
    const own = await list(alice.access_token);
    expect(own.status).toBe(200);
    await own.text();
  });
});

describe('C. authorization server metadata', () => {
  it('C15/C17: RFC 8414 metadata with every required field and the one issuer', async () => {
    const response = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
    expect(response.status).toBe(200);
    const metadata = (await response.json()) as Json;
    expect(metadata).toMatchObject({
      issuer: server.url,
      authorization_endpoint: `${server.url}/authorize`,
      token_endpoint: `${server.url}/token`,
      registration_endpoint: `${server.url}/register`,
      revocation_endpoint: `${server.url}/revoke`,
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
    expect(metadata.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['none', 'client_secret_post', 'client_secret_basic']),
    );
    expect(metadata.revocation_endpoint_auth_methods_supported).toContain('none');
    expect(metadata.scopes_supported).toContain('mcp:tools');
  });

  it('C16: the OpenID discovery paths answer with the same issuer and PKCE methods, never 5xx', async () => {
    for (const path of [
      '/.well-known/openid-configuration',
      '/.well-known/openid-configuration/mcp',
      '/mcp/.well-known/openid-configuration',
    ]) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBeLessThan(500);
      if (response.status === 200) {
        const metadata = (await response.json()) as Json;
        expect(metadata.issuer).toBe(server.url);
        expect(metadata.code_challenge_methods_supported).toContain('S256');
      } else {
        expect(response.headers.get('content-type')).toMatch(/json/);
      }
    }
  });

  it('serves the JWKS with public keys only', async () => {
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as Json;
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(key.d).toBeUndefined();
    }
  });
});

describe('D. dynamic client registration', () => {
  it('D19: Claude-style public registration -> 201 with stored metadata, no secret, unknown fields ignored', async () => {
    const { status, body } = await register(server, {
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      client_name: 'Claude',
      application_type: 'web',
      software_id: 'x',
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
    });
    expect(typeof body.client_id).toBe('string');
    expect(typeof body.client_id_issued_at).toBe('number');
    expect(body.client_secret).toBeUndefined();
  });

  it('D20: client_secret_post and the RFC default get a secret that never expires', async () => {
    for (const extra of [{ token_endpoint_auth_method: 'client_secret_post' }, {}]) {
      const { status, body } = await register(server, { redirect_uris: ['https://claude.ai/api/mcp/auth_callback'], ...extra });
      expect(status).toBe(201);
      expect(typeof body.client_secret).toBe('string');
      expect(body.client_secret_expires_at).toBe(0);
      expect(['client_secret_post', 'client_secret_basic']).toContain(body.token_endpoint_auth_method);
    }
  });

  it.each(['https://app.example.com/cb', 'http://localhost/cb', 'http://127.0.0.1:8080/cb', 'http://[::1]/cb'])(
    'D21: accepts %s',
    async (uri) => {
      expect((await register(server, { redirect_uris: [uri], token_endpoint_auth_method: 'none' })).status).toBe(201);
    },
  );

  it.each([
    [['http://evil.example/cb']],
    [['https://app.example.com/cb#frag']],
    [['javascript:alert(1)']],
    [['data:text/html,hi']],
    [['/relative/cb']],
    [[]],
  ])('D21: rejects %j with invalid_redirect_uri', async (uris) => {
    const { status, body } = await register(server, { redirect_uris: uris, token_endpoint_auth_method: 'none' });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_redirect_uri');
  });

  it.each([
    { grant_types: ['password'] },
    { grant_types: ['implicit'] },
    { response_types: ['token'] },
    { token_endpoint_auth_method: 'private_key_jwt' },
  ])('D22: unsupported metadata %j -> invalid_client_metadata', async (extra) => {
    const { status, body } = await register(server, { redirect_uris: ['https://app.example.com/cb'], ...extra });
    expect(status).toBe(400);
    expect(body.error).toBe('invalid_client_metadata');
  });

  it('a body that is not JSON is invalid_client_metadata, as JSON', async () => {
    const response = await fetch(`${server.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{nope',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as Json).error).toBe('invalid_client_metadata');
  });
});

describe('J. resource-server token validation', () => {
  const call = (token: string) => mcpInitialize(server, { authorization: `Bearer ${token}` });

  it('J50: malformed, unknown and expired tokens -> 401 invalid_token, never 500', async () => {
    for (const token of ['not-a-jwt', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.']) {
      const response = await call(token);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  });

  it('J51: audience and issuer are checked; R/ is accepted', async () => {
    const auth = server.auth!;
    const grant = await auth.grants.create({
      clientId: 'c',
      subject: 'u',
      scopes: ['mcp:tools'],
      resource: server.mcpUrl,
      kind: 'authorization_code',
    });
    expect((await call(await auth.tokens.issue(grant))).status).toBe(200);
    const slash = await auth.grants.create({ ...grant, id: undefined, resource: `${server.mcpUrl}/` });
    expect((await call(await auth.tokens.issue(slash))).status).toBe(200);
    const other = await auth.grants.create({ ...grant, id: undefined, resource: 'https://other.example/api' });
    expect((await call(await auth.tokens.issue(other))).status).toBe(401);

    const { privateKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT({ client_id: 'c', scope: 'mcp:tools', gid: grant.id })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: (await auth.keys.jwks()).keys[0]!.kid! })
      .setIssuer('https://evil.example')
      .setSubject('u')
      .setAudience(server.mcpUrl)
      .setIssuedAt()
      .setExpirationTime('1h')
      .setJti('x')
      .sign(privateKey);
    expect((await call(foreign)).status).toBe(401);
  });

  it('J52: a revoked grant fails on the very next request', async () => {
    const auth = server.auth!;
    const grant = await auth.grants.create({
      clientId: 'c',
      subject: 'u',
      scopes: ['mcp:tools'],
      resource: server.mcpUrl,
      kind: 'authorization_code',
    });
    const token = await auth.tokens.issue(grant);
    expect((await call(token)).status).toBe(200);
    await auth.grants.revoke(grant.id);
    expect((await call(token)).status).toBe(401);
  });

  it('API keys from MCP_API_KEYS authenticate as their client', async () => {
    const keyed = await startOAuthServer({ apiKeys: ['sk-test-123:ci-bot'] });
    try {
      expect((await mcpInitialize(keyed, { authorization: 'Bearer sk-test-123' })).status).toBe(200);
      expect((await mcpInitialize(keyed, { authorization: 'Bearer sk-test-124' })).status).toBe(401);
    } finally {
      await keyed.stop();
    }
  });
});

describe('I. client authentication at the token endpoint', () => {
  it('I47/I48: credentials in header and body -> invalid_request; a wrong secret -> 401 invalid_client with Basic challenge', async () => {
    const client = await registerClient(server, 'client_secret_post');
    const basic = `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}`;
    const both = await tokenRequest(
      server,
      { grant_type: 'refresh_token', refresh_token: 'x', ...clientFields(client) },
      { authorization: basic },
    );
    expect(both.status).toBe(400);
    expect(both.body.error).toBe('invalid_request');
    const wrong = await tokenRequest(
      server,
      { grant_type: 'refresh_token', refresh_token: 'x' },
      { authorization: `Basic ${Buffer.from(`${client.clientId}:nope`).toString('base64')}` },
    );
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('invalid_client');
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/);
    const basicOk = await tokenRequest(server, { grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: basic });
    expect(basicOk.body.error).toBe('invalid_grant'); // authenticated; the token is just unknown
  });

  it('I48: unknown grant -> unsupported_grant_type; unregistered grant -> unauthorized_client', async () => {
    const client = await registerClient(server);
    expect((await tokenRequest(server, { grant_type: 'password', ...clientFields(client) })).body.error).toBe('unsupported_grant_type');
    expect((await tokenRequest(server, { grant_type: 'client_credentials', ...clientFields(client) })).body.error).toBe(
      'unauthorized_client',
    );
  });

  it('I49: GET /token -> 405 JSON; a JSON body -> invalid_request', async () => {
    const get = await fetch(`${server.url}/token?grant_type=authorization_code&code=x`);
    expect(get.status).toBe(405);
    expect(((await get.json()) as Json).error).toBe('invalid_request');
    const json = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"grant_type":"authorization_code"}',
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as Json).error).toBe('invalid_request');
  });
});
