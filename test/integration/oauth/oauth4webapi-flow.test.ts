import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import * as oauth from 'oauth4webapi';
import { TestBrowser } from '../../helpers/oauth-browser.js';
import { startOAuthServer, TEST_USER } from '../../helpers/oauth-server.js';
import type { TestServer } from '../../helpers/test-server.js';

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const CALLBACK = 'http://127.0.0.1/callback';

async function callServerStatus(mcpUrl: string, accessToken: string): Promise<Record<string, unknown> | undefined> {
  const client = new Client({ name: 'oauth-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { authorization: `Bearer ${accessToken}` } } }),
  );
  try {
    const result = await client.callTool({ name: 'server_status', arguments: {} });
    return result.structuredContent as Record<string, unknown> | undefined;
  } finally {
    await client.close();
  }
}

describe('oauth4webapi drives the whole authorization code flow', () => {
  let server: TestServer;
  let as: oauth.AuthorizationServer;

  beforeAll(async () => {
    server = await startOAuthServer();
    const issuer = new URL(server.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  });
  afterAll(async () => {
    await server.stop();
  });

  it('discovers the server from the MCP URL (RFC 9728 then RFC 8414)', async () => {
    const unauthenticated = await fetch(server.mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(unauthenticated.status).toBe(401);
    const challenge = unauthenticated.headers.get('www-authenticate')!;
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)![1]!;
    expect(metadataUrl).toBe(`${server.url}/.well-known/oauth-protected-resource/mcp`);
    const prm = (await (await fetch(metadataUrl)).json()) as { resource: string; authorization_servers: string[] };
    expect(prm.resource).toBe(server.mcpUrl);
    expect(prm.authorization_servers).toEqual([as.issuer]);
    expect(as.code_challenge_methods_supported).toContain('S256');
  });

  it.each(['none', 'client_secret_post', 'client_secret_basic'] as const)(
    'registers (%s), logs in, consents, gets tokens, calls a tool, rotates the refresh token',
    async (method) => {
      const registered = await oauth.processDynamicClientRegistrationResponse(
        await oauth.dynamicClientRegistrationRequest(
          as,
          {
            redirect_uris: [CALLBACK],
            token_endpoint_auth_method: method,
            grant_types: ['authorization_code', 'refresh_token'],
            client_name: `oauth4webapi ${method}`,
          },
          insecure,
        ),
      );
      const client: oauth.Client = { client_id: registered.client_id, token_endpoint_auth_method: method };
      const clientAuth =
        method === 'none'
          ? oauth.None()
          : method === 'client_secret_post'
            ? oauth.ClientSecretPost(registered.client_secret as string)
            : oauth.ClientSecretBasic(registered.client_secret as string);
      if (method === 'none') expect(registered.client_secret).toBeUndefined();
      else expect(registered.client_secret_expires_at).toBe(0);

      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const redirectUri = 'http://127.0.0.1:54321/callback'; // any port on a loopback registration
      const authorizeUrl = new URL(as.authorization_endpoint!);
      authorizeUrl.search = new URLSearchParams({
        response_type: 'code',
        client_id: client.client_id,
        redirect_uri: redirectUri,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        scope: 'mcp:tools claude:ask',
        resource: server.mcpUrl,
      }).toString();

      const callback = await new TestBrowser(TEST_USER).authorize(authorizeUrl.toString());
      expect(callback.origin + callback.pathname).toBe(redirectUri);
      const params = oauth.validateAuthResponse(as, client, callback, state); // checks iss too (RFC 9207)

      const tokenResponse = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, verifier, {
        additionalParameters: { resource: server.mcpUrl },
        ...insecure,
      });
      expect(tokenResponse.headers.get('cache-control')).toBe('no-store');
      const tokens = await oauth.processAuthorizationCodeResponse(as, client, tokenResponse);
      expect(tokens.token_type).toBe('bearer');
      expect(tokens.expires_in).toBeLessThanOrEqual(3600);
      expect(tokens.scope).toBe('mcp:tools claude:ask');
      expect(tokens.refresh_token).toBeDefined();

      const [header, payload] = tokens.access_token
        .split('.')
        .slice(0, 2)
        .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
      expect(header).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
      expect(payload).toMatchObject({ iss: as.issuer, aud: server.mcpUrl, client_id: client.client_id, sub: TEST_USER.username });

      const status = await callServerStatus(server.mcpUrl, tokens.access_token);
      expect(status).toBeDefined();

      const refreshed = await oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, insecure),
      );
      expect(refreshed.refresh_token).toBeDefined();
      expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
      expect(await callServerStatus(server.mcpUrl, refreshed.access_token)).toBeDefined();

      // Presented again within REFRESH_REUSE_GRACE_SECONDS (a client's own concurrent refreshes), the old token yields
      // another working pair of the same grant, which the library accepts like any refresh response.
      const again = await oauth.processRefreshTokenResponse(
        as,
        client,
        await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, insecure),
      );
      expect(again.refresh_token).toBeDefined();
      expect(new Set([tokens.refresh_token, refreshed.refresh_token, again.refresh_token]).size).toBe(3);
      expect(await callServerStatus(server.mcpUrl, again.access_token)).toBeDefined();
      expect(await callServerStatus(server.mcpUrl, refreshed.access_token)).toBeDefined();
    },
  );

  it('remembers consent: a second authorization by the same browser goes straight back with a code', async () => {
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(as, { redirect_uris: [CALLBACK], token_endpoint_auth_method: 'none' }, insecure),
    );
    const browser = new TestBrowser(TEST_USER);
    const url = async () => {
      const u = new URL(as.authorization_endpoint!);
      u.search = new URLSearchParams({
        response_type: 'code',
        client_id: registered.client_id,
        redirect_uri: CALLBACK,
        code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
        code_challenge_method: 'S256',
        state: 's',
      }).toString();
      return u.toString();
    };
    expect((await browser.authorize(await url())).searchParams.get('code')).toBeTruthy();
    const second = await browser.get(await url());
    expect(second.status).toBe(302);
    expect(new URL(second.headers.get('location')!).searchParams.get('code')).toBeTruthy();
  });

  it('client_credentials gives a machine client a token without a refresh token', async () => {
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_basic' },
        insecure,
      ),
    );
    const client: oauth.Client = { client_id: registered.client_id };
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(registered.client_secret as string),
      { scope: 'mcp:tools' },
      insecure,
    );
    const tokens = await oauth.processClientCredentialsResponse(as, client, response);
    expect(tokens.refresh_token).toBeUndefined();
    expect(await callServerStatus(server.mcpUrl, tokens.access_token)).toBeDefined();
  });
});
