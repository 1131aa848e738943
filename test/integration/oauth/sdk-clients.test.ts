/**
 * The MCP SDK clients (v1 — what most hosts run — and v2) complete the whole flow against the built-in server:
 * 401 challenge, RFC 9728 + RFC 8414 discovery, DCR, PKCE, resource, login and consent (scripted browser), token,
 * then a tool call; and a refresh when the access token is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TestBrowser } from '../../helpers/oauth-browser.js';
import { startOAuthServer, TEST_USER } from '../../helpers/oauth-server.js';
import type { TestServer } from '../../helpers/test-server.js';

/** An in-memory OAuthClientProvider (the shape both SDK generations accept) whose "browser" is scripted. */
class MemoryProvider {
  client?: Record<string, unknown>;
  saved?: { access_token: string; refresh_token?: string };
  verifier = '';
  callback?: Promise<URL>;
  readonly redirectUrl = 'http://127.0.0.1:33418/callback';

  constructor(private readonly browser: TestBrowser) {}

  get clientMetadata() {
    return {
      client_name: 'SDK test client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.client as never;
  }
  saveClientInformation(info: Record<string, unknown>) {
    this.client = info;
  }
  tokens() {
    return this.saved as never;
  }
  saveTokens(tokens: { access_token: string; refresh_token?: string }) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.callback = this.browser.authorize(url.toString());
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  discovery?: unknown;
  saveDiscoveryState(state: unknown) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery as never;
  }
}

describe.each(['v1', 'v2'] as const)('MCP SDK %s client with OAuth', (flavour) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startOAuthServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  async function connect(provider: MemoryProvider) {
    if (flavour === 'v1') {
      const transport = new V1StreamableHTTPClientTransport(new URL(server.mcpUrl), { authProvider: provider as never });
      const client = new V1Client({ name: 'v1-oauth', version: '1.0.0' });
      return { transport, client, connect: () => client.connect(transport), finish: (url: URL) => transport.finishAuth(url.searchParams.get('code')!) };
    }
    const transport = new StreamableHTTPClientTransport(new URL(server.mcpUrl), { authProvider: provider as never });
    const client = new Client({ name: 'v2-oauth', version: '1.0.0' });
    return { transport, client, connect: () => client.connect(transport), finish: (url: URL) => transport.finishAuth(url.searchParams) };
  }

  it('discovers, registers, authorizes with PKCE and resource, and calls a tool', async () => {
    const provider = new MemoryProvider(new TestBrowser(TEST_USER));
    const first = await connect(provider);
    await expect(first.connect()).rejects.toThrow();
    expect(provider.client?.client_id).toBeDefined();
    const callback = await provider.callback!;
    expect(callback.searchParams.get('iss')).toBe(server.url);
    await first.finish(callback);
    expect(provider.saved?.access_token).toBeDefined();
    const payload = JSON.parse(Buffer.from(provider.saved!.access_token.split('.')[1]!, 'base64url').toString());
    expect(payload.aud).toBe(server.mcpUrl);

    const second = await connect(provider);
    await second.connect();
    try {
      const result = await second.client.callTool({ name: 'server_status', arguments: {} });
      expect(result.isError).toBeFalsy();
    } finally {
      await second.client.close();
    }

    // An access token the server no longer accepts: the client refreshes with its (rotating) refresh token.
    const oldRefresh = provider.saved!.refresh_token;
    provider.saved = { ...provider.saved!, access_token: 'expired.or.revoked' };
    const third = await connect(provider);
    await third.connect();
    try {
      expect((await third.client.callTool({ name: 'server_status', arguments: {} })).isError).toBeFalsy();
      expect(provider.saved.refresh_token).not.toBe(oldRefresh);
    } finally {
      await third.client.close();
    }
  });
});
