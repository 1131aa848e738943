/**
 * The registrations real connectors make, each through the whole flow: oauth4webapi (a strict, independent OAuth
 * client), Claude.ai's DCR (`client_secret_post`, its callbacks on claude.ai and claude.com), Cursor's DCR (three
 * redirect URIs in one request, one of them `cursor://`), and client metadata documents shaped like Claude Code's and
 * VS Code's (whose `grant_types` also names the device-code grant). With each one's tokens an MCP client lists the
 * tools, calls one and reads an error; then 2, 3 and 5 refreshes with one refresh token run at once, and every access
 * token they return works.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import * as oauth from 'oauth4webapi';
import { TestBrowser } from '../helpers/oauth-browser.js';
import { clientFields, pkce, register, tokenRequest, type TestClient } from '../helpers/oauth-flow.js';
import { TEST_USER } from '../helpers/oauth-server.js';
import { DEFAULT_TOOLS, startMatrixServer, type MatrixServer } from './matrix.js';

type Tokens = { access_token: string; refresh_token: string; scope: string };

describe('connector registrations, each through the whole flow', () => {
  let matrix: MatrixServer;
  let documents: Server;
  let documentBase: string;
  const hosted: Record<string, Record<string, unknown>> = {};

  beforeAll(async () => {
    matrix = await startMatrixServer();
    documents = createServer((req, res) => {
      const document = hosted[req.url ?? ''];
      if (!document) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' }).end(JSON.stringify(document));
    });
    await new Promise<void>((resolve) => documents.listen(0, '127.0.0.1', resolve));
    documentBase = `http://127.0.0.1:${(documents.address() as AddressInfo).port}`;
  }, 60_000);
  afterAll(async () => {
    await new Promise((resolve) => documents?.close(resolve));
    await matrix?.stop();
  });

  /** Authorization code flow for `client` with the scopes a client takes from the challenge; returns the tokens. */
  async function codeFlow(client: TestClient, redirectUri = client.redirectUri): Promise<Tokens> {
    const challenge = (await fetch(matrix.server.mcpUrl, { method: 'POST' })).headers.get('www-authenticate')!;
    const scope = /scope="([^"]*)"/.exec(challenge)![1]!;
    const { verifier, challenge: codeChallenge } = pkce();
    const url = new URL(`${matrix.server.url}/authorize`);
    for (const [key, value] of Object.entries({
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: redirectUri,
      code_challenge: codeChallenge,
      code_challenge_method: 'S256',
      state: 's1',
      scope,
      resource: matrix.server.mcpUrl,
    })) {
      url.searchParams.set(key, value);
    }
    const callback = await new TestBrowser(TEST_USER).authorize(url.toString());
    expect(callback.href.startsWith(`${redirectUri}?`)).toBe(true);
    const code = callback.searchParams.get('code')!;
    const { status, body } = await tokenRequest(matrix.server, {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
      ...clientFields(client),
    });
    expect({ status, body }).toMatchObject({ status: 200 });
    return body as Tokens;
  }

  /** What every client does with its access token: list, call, read an error. */
  async function useTools(accessToken: string): Promise<void> {
    const client = new Client({ name: 'registration-check', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(matrix.server.mcpUrl), {
        requestInit: { headers: { authorization: `Bearer ${accessToken}` } },
      }),
    );
    try {
      expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(DEFAULT_TOOLS));
      const echoed = await client.callTool({ name: 'alpha__echo', arguments: { text: 'registered' } });
      expect(JSON.stringify(echoed.content)).toContain('registered');
      const failed = await client.callTool({ name: 'claude_ask', arguments: { query: 'x', workingDirectory: '/etc' } });
      expect(failed.isError).toBe(true);
      expect(JSON.stringify(failed.content)).toContain('workspace_denied: ');
    } finally {
      await client.close();
    }
  }

  /** 2, 3 and 5 concurrent refreshes with one refresh token: all answered, all access tokens work. */
  async function refreshConcurrently(client: TestClient, tokens: Tokens): Promise<void> {
    let refreshToken = tokens.refresh_token;
    for (const parallel of [2, 3, 5]) {
      const answers = await Promise.all(
        Array.from({ length: parallel }, () =>
          tokenRequest(matrix.server, { grant_type: 'refresh_token', refresh_token: refreshToken, ...clientFields(client) }),
        ),
      );
      expect(answers.map((answer) => answer.status)).toEqual(Array(parallel).fill(200));
      for (const answer of answers) {
        const response = await fetch(matrix.server.mcpUrl, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${answer.body.access_token as string}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
          }),
        });
        expect(response.status).toBe(200);
        await response.body?.cancel();
      }
      // The client keeps whichever answer arrived last.
      refreshToken = answers.at(-1)!.body.refresh_token as string;
    }
  }

  it('oauth4webapi: discovery, DCR, PKCE, resource, tokens, tools, concurrent refreshes', async () => {
    const issuer = new URL(matrix.server.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
    const redirectUri = 'http://127.0.0.1:45511/callback';
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(
        as,
        {
          redirect_uris: [redirectUri],
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          client_name: 'oauth4webapi',
        },
        { [oauth.allowInsecureRequests]: true },
      ),
    );
    const client: TestClient = { clientId: registered.client_id, redirectUri };
    const tokens = await codeFlow(client);
    await useTools(tokens.access_token);
    const auth = oauth.None();
    const refreshed = await Promise.all(
      [1, 2, 3].map(async () =>
        oauth.processRefreshTokenResponse(
          as,
          registered,
          await oauth.refreshTokenGrantRequest(as, registered, auth, tokens.refresh_token, {
            [oauth.allowInsecureRequests]: true,
            additionalParameters: { resource: matrix.server.mcpUrl },
          }),
        ),
      ),
    );
    for (const answer of refreshed) await useTools(answer.access_token);
  });

  it("Claude.ai's DCR: client_secret_post, callbacks on claude.ai and claude.com", async () => {
    const { status, body } = await register(matrix.server, {
      redirect_uris: ['https://claude.ai/api/mcp/auth_callback', 'https://claude.com/api/mcp/auth_callback'],
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      client_name: 'Claude',
    });
    expect(status).toBe(201);
    const client: TestClient = {
      clientId: body.client_id as string,
      secret: body.client_secret as string,
      redirectUri: 'https://claude.com/api/mcp/auth_callback',
    };
    const tokens = await codeFlow(client);
    await useTools(tokens.access_token);
    await refreshConcurrently(client, tokens);
  });

  it("Cursor's DCR: three redirect URIs in one request, signing in through cursor://", async () => {
    const redirects = [
      'cursor://anysphere.cursor-mcp/oauth/callback',
      'https://www.cursor.com/agents/mcp/oauth/callback',
      'http://localhost:8787/callback',
    ];
    const { status, body } = await register(matrix.server, {
      redirect_uris: redirects,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      client_name: 'Cursor',
    });
    expect({ status, redirect_uris: body.redirect_uris }).toEqual({ status: 201, redirect_uris: redirects });
    const client: TestClient = { clientId: body.client_id as string, redirectUri: redirects[0]! };
    const tokens = await codeFlow(client);
    await useTools(tokens.access_token);
    await refreshConcurrently(client, tokens);
  });

  it("a client metadata document shaped like Claude Code's", async () => {
    hosted['/oauth/claude-code-client-metadata'] = {
      client_id: `${documentBase}/oauth/claude-code-client-metadata`,
      client_name: 'Claude Code',
      redirect_uris: ['http://localhost/callback', 'http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
    const client: TestClient = {
      clientId: `${documentBase}/oauth/claude-code-client-metadata`,
      redirectUri: 'http://localhost:51515/callback',
    };
    const tokens = await codeFlow(client);
    await useTools(tokens.access_token);
    await refreshConcurrently(client, tokens);
  });

  it("a client metadata document shaped like VS Code's: device-code grant listed, loopback on 33418 or any port", async () => {
    hosted['/oauth/client-metadata.json'] = {
      client_id: `${documentBase}/oauth/client-metadata.json`,
      client_name: 'Visual Studio Code',
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      redirect_uris: ['http://127.0.0.1:33418/', 'https://vscode.dev/redirect', 'https://insiders.vscode.dev/redirect'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      application_type: 'native',
    };
    const client: TestClient = { clientId: `${documentBase}/oauth/client-metadata.json`, redirectUri: 'http://127.0.0.1:33418/' };
    const tokens = await codeFlow(client);
    await useTools(tokens.access_token);
    // Port 33418 taken: VS Code listens on another port and says so in redirect_uri.
    const elsewhere = await codeFlow(client, 'http://127.0.0.1:54987/');
    await useTools(elsewhere.access_token);
    await refreshConcurrently(client, tokens);
  });
});
