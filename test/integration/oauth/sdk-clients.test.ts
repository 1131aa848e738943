/**
 * The MCP SDK clients (v1 — what most hosts run — and v2) complete the whole flow against the built-in server:
 * 401 challenge, RFC 9728 + RFC 8414 discovery, DCR, PKCE, resource, login and consent (scripted browser), token,
 * then a tool call; and a refresh when the access token is gone.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { MemoryOAuthProvider } from '../../helpers/memory-oauth-provider.js';
import { TestBrowser } from '../../helpers/oauth-browser.js';
import { startOAuthServer, TEST_USER } from '../../helpers/oauth-server.js';
import type { TestServer } from '../../helpers/test-server.js';

describe.each(['v1', 'v2'] as const)('MCP SDK %s client with OAuth', (flavour) => {
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-sdk-oauth-'));
    const entry = { command: process.execPath, args: [path.resolve('test/fixtures/gateway-upstream.mjs')] };
    writeFileSync(path.join(dir, 'mcp_config.json'), JSON.stringify({ mcpServers: { alpha: entry, beta: entry } }));
    server = await startOAuthServer({ mcpConfigPath: path.join(dir, 'mcp_config.json') });
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect(provider: MemoryOAuthProvider, url = server.mcpUrl) {
    if (flavour === 'v1') {
      const transport = new V1StreamableHTTPClientTransport(new URL(url), { authProvider: provider as never });
      const client = new V1Client({ name: 'v1-oauth', version: '1.0.0' });
      return {
        transport,
        client,
        connect: () => client.connect(transport),
        finish: (url: URL) => transport.finishAuth(url.searchParams.get('code')!),
      };
    }
    const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider as never });
    const client = new Client({ name: 'v2-oauth', version: '1.0.0' });
    return { transport, client, connect: () => client.connect(transport), finish: (url: URL) => transport.finishAuth(url.searchParams) };
  }

  /** Signs in the way the client does by itself (its scope selection, its discovery) and returns a connected client. */
  async function signIn(url = server.mcpUrl) {
    const provider = new MemoryOAuthProvider({
      redirectUrl: 'http://127.0.0.1:33418/callback',
      clientName: 'SDK test client',
      onAuthorize: (url) => new TestBrowser(TEST_USER).authorize(url.toString()),
    });
    const first = await connect(provider, url);
    await expect(first.connect()).rejects.toThrow();
    await first.finish(await provider.pending!);
    const second = await connect(provider, url);
    await second.connect();
    return { provider, client: second.client };
  }

  it('with its default scope selection can list and call every tool a user gets by default', async () => {
    const { provider, client } = await signIn();
    try {
      // The challenge's scopes (the v2 client adds offline_access).
      expect(provider.authorizations[0]!.searchParams.get('scope')?.replace(/ offline_access$/, '')).toBe(
        'mcp:tools claude:ask claude:plan gateway:*',
      );
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(names).toEqual(
        expect.arrayContaining([
          'server_status',
          'claude_ask',
          'claude_plan',
          'claude_resume',
          'claude_checkpoint',
          'claude_background_tasks',
          'claude_abort',
        ]),
      );
      expect(names).not.toContain('claude_plugin_install');
      await waitForTools(client, ['alpha__echo', 'beta__echo']);
      const echoed = await client.callTool({ name: 'alpha__echo', arguments: { text: 'hi' } });
      expect(JSON.stringify(echoed.content)).toContain('hi');
      // An error result reads as an error, not as a schema mismatch.
      const failed = await client.callTool({ name: 'claude_ask', arguments: { query: '' } });
      expect(failed.isError).toBe(true);
    } finally {
      await client.close();
    }
  });

  it('a tool that needs more gets a step-up: 403 insufficient_scope naming the scopes', async () => {
    const { provider, client } = await signIn();
    try {
      const response = await fetch(server.mcpUrl, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${provider.saved!.access_token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-11-25',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 9,
          method: 'tools/call',
          params: { name: 'claude_plugin_install', arguments: { plugin: 'x' } },
        }),
      });
      expect(response.status).toBe(403);
      const challenge = response.headers.get('www-authenticate')!;
      expect(challenge).toContain('error="insufficient_scope"');
      expect(/scope="([^"]*)"/.exec(challenge)?.[1]?.split(' ')).toEqual(
        expect.arrayContaining(['mcp:tools', 'claude:ask', 'claude:plan', 'claude:admin']),
      );
      await expect(client.callTool({ name: 'claude_plugin_install', arguments: { plugin: 'x' } })).rejects.toThrow();
      if (flavour === 'v2') {
        // The v2 client sends the user back to the authorization server for exactly those scopes.
        expect(provider.authorizations.length).toBeGreaterThan(1);
        expect(provider.authorizations.at(-1)!.searchParams.get('scope')?.split(' ')).toEqual(
          expect.arrayContaining(['mcp:tools', 'claude:ask', 'claude:admin']),
        );
      } else {
        // The v1 client (1.32.2) answers a step-up with a refresh, which cannot widen a grant (OAuth 2.1 §4.3.1),
        // then gives up with "Server returned 403 after trying upscoping" (docs/oauth.md "Scopes").
        expect(provider.authorizations).toHaveLength(1);
      }
    } finally {
      await client.close().catch(() => undefined);
    }
  });

  it('signs in to /servers/{name}/mcp as a resource of its own; the token serves there and nowhere else', async () => {
    const url = `${server.url}/servers/alpha/mcp`;
    const { provider, client } = await signIn(url);
    try {
      expect(provider.authorizations[0]!.searchParams.get('resource')).toBe(url);
      expect(provider.authorizations[0]!.searchParams.get('scope')?.replace(/ offline_access$/, '')).toBe('mcp:tools gateway:alpha');
      const payload = JSON.parse(Buffer.from(provider.saved!.access_token.split('.')[1]!, 'base64url').toString());
      expect(payload.aud).toBe(url);
      await waitForTools(client, ['echo']);
      expect(JSON.stringify((await client.callTool({ name: 'echo', arguments: { text: 'own' } })).content)).toContain('own');
    } finally {
      await client.close();
    }
    for (const elsewhere of [server.mcpUrl, `${server.url}/servers/beta/mcp`]) {
      const response = await fetch(elsewhere, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${provider.saved!.access_token}`,
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
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
    // A token for the whole server (`/mcp`) serves on every upstream's endpoint too.
    const whole = await signIn();
    await whole.client.close();
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${whole.provider.saved!.access_token}`,
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
    // And its own metadata names it, for clients that look it up before connecting.
    const metadata = (await (await fetch(`${server.url}/.well-known/oauth-protected-resource/servers/alpha/mcp`)).json()) as Record<
      string,
      unknown
    >;
    expect(metadata).toMatchObject({
      resource: url,
      authorization_servers: [server.url],
      scopes_supported: ['mcp:tools', 'gateway:alpha'],
    });
    expect((await fetch(`${server.url}/.well-known/oauth-protected-resource/servers/nope/mcp`)).status).toBe(404);
  });

  it('discovers, registers, authorizes with PKCE and resource, and calls a tool', async () => {
    const provider = new MemoryOAuthProvider({
      redirectUrl: 'http://127.0.0.1:33418/callback',
      clientName: 'SDK test client',
      onAuthorize: (url) => new TestBrowser(TEST_USER).authorize(url.toString()),
    });
    const first = await connect(provider);
    await expect(first.connect()).rejects.toThrow();
    expect(provider.client?.client_id).toBeDefined();
    const callback = await provider.pending!;
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

async function waitForTools(client: { listTools(): Promise<{ tools: Array<{ name: string }> }> }, names: string[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const listed = (await client.listTools()).tools.map((tool) => tool.name);
    if (names.every((name) => listed.includes(name))) return;
    if (Date.now() > deadline) throw new Error(`tools ${names.join(', ')} never appeared: ${listed.join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
