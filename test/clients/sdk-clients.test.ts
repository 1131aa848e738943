/**
 * The MCP SDK clients as hosts run them — v1 (`@modelcontextprotocol/sdk`, what Inspector, mcp-remote and most IDEs
 * embed) and v2 (`@modelcontextprotocol/client`) — with their own `auth()` flow and default options: the 401 challenge,
 * discovery, DCR, PKCE, the sign-in and consent pages (a person in headless Chromium for v1, the scripted browser for
 * v2), tokens, then tools. Each lists the tools, calls one, reads an error, and refreshes concurrently; v1 also runs
 * the whole flow against `/servers/alpha/mcp`.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { MemoryOAuthProvider } from '../helpers/memory-oauth-provider.js';
import { TestBrowser } from '../helpers/oauth-browser.js';
import { TEST_USER } from '../helpers/oauth-server.js';
import {
  DEFAULT_TOOLS,
  PersonInChromium,
  startCallbackCatcher,
  startMatrixServer,
  type CallbackCatcher,
  type MatrixServer,
} from './matrix.js';

interface Connection {
  client: {
    listTools(): Promise<{ tools: Array<{ name: string }> }>;
    callTool(request: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
    close(): Promise<void>;
  };
  connect(): Promise<void>;
  finish(callback: URL): Promise<void>;
}

const FLAVOURS: Array<['v1' | 'v2', string]> = [
  ['v1', 'a person in Chromium'],
  ['v2', 'the scripted browser'],
];

describe.each(FLAVOURS)('MCP SDK %s client, signed in by %s', (flavour) => {
  let matrix: MatrixServer;
  let catcher: CallbackCatcher;
  const person = new PersonInChromium();

  beforeAll(async () => {
    matrix = await startMatrixServer();
    catcher = await startCallbackCatcher();
    if (flavour === 'v1') await person.start();
  }, 60_000);
  afterAll(async () => {
    await person.stop();
    await catcher?.close();
    await matrix?.stop();
  });

  const approve = (shots: string) => async (url: URL) => {
    if (flavour === 'v1') return person.approve(url.toString(), shots);
    // The scripted browser stops at the redirect; the client's callback server receives it as a browser would send it.
    const callback = await new TestBrowser(TEST_USER).authorize(url.toString());
    await fetch(callback);
    return undefined;
  };

  function connection(provider: MemoryOAuthProvider<unknown>, url: string): Connection {
    if (flavour === 'v1') {
      const transport = new V1StreamableHTTPClientTransport(new URL(url), { authProvider: provider as never });
      const client = new V1Client({ name: 'v1-matrix', version: '1.0.0' });
      return {
        client: client as never,
        connect: () => client.connect(transport),
        finish: (callback) => transport.finishAuth(callback.searchParams.get('code')!),
      };
    }
    const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider as never });
    const client = new Client({ name: 'v2-matrix', version: '1.0.0' });
    return {
      client: client as never,
      connect: () => client.connect(transport),
      finish: (callback) => transport.finishAuth(callback.searchParams),
    };
  }

  /** The whole sign-in as the client runs it; returns the provider holding the tokens. */
  async function signIn(url: string, shots: string): Promise<MemoryOAuthProvider<unknown>> {
    const provider = new MemoryOAuthProvider<unknown>({
      redirectUrl: catcher.url,
      clientName: 'SDK matrix client',
      onAuthorize: approve(shots),
    });
    const first = connection(provider, url);
    await expect(first.connect()).rejects.toThrow();
    await provider.pending;
    await first.finish(await catcher.next());
    return provider;
  }

  async function connected(provider: MemoryOAuthProvider<unknown>, url: string): Promise<Connection> {
    const next = connection(provider, url);
    await next.connect();
    return next;
  }

  it('signs in with its defaults, lists every default tool, calls one and reads an error', async () => {
    const provider = await signIn(matrix.server.mcpUrl, `${flavour}-mcp`);
    const { client } = await connected(provider, matrix.server.mcpUrl);
    try {
      const names = (await client.listTools()).tools.map((tool) => tool.name);
      expect(names).toEqual(expect.arrayContaining(DEFAULT_TOOLS));
      const echoed = (await client.callTool({ name: 'alpha__echo', arguments: { text: `${flavour} says hi` } })) as {
        content: Array<{ text: string }>;
      };
      expect(echoed.content[0]!.text).toContain(`${flavour} says hi`);
      const failed = (await client.callTool({ name: 'claude_ask', arguments: { query: '', workingDirectory: '/' } })) as {
        isError: boolean;
        content: Array<{ text: string }>;
      };
      expect(failed.isError).toBe(true);
      expect(failed.content[0]!.text).toMatch(/^invalid_input: /);
    } finally {
      await client.close();
    }
  });

  it('stays signed in when several of its connections refresh with one refresh token at once', async () => {
    const provider = await signIn(matrix.server.mcpUrl, `${flavour}-refresh`);
    const before = provider.saved!.refresh_token;
    for (const parallel of [2, 3, 5]) {
      // Every connection finds the access token refused and refreshes with the same refresh token.
      provider.saved = { ...provider.saved!, access_token: 'refused.by.the.server' };
      const opened = await Promise.all(Array.from({ length: parallel }, () => connected(provider, matrix.server.mcpUrl)));
      for (const { client } of opened) {
        expect(((await client.callTool({ name: 'server_status', arguments: {} })) as { isError?: boolean }).isError).toBeFalsy();
        await client.close();
      }
    }
    expect(provider.saved!.refresh_token).not.toBe(before);
    // Nobody was sent back to the sign-in page, and the tokens kept last still work.
    expect(provider.authorizations).toHaveLength(1);
    const { client } = await connected(provider, matrix.server.mcpUrl);
    expect(((await client.callTool({ name: 'server_status', arguments: {} })) as { isError?: boolean }).isError).toBeFalsy();
    await client.close();
  });

  it('runs the whole flow against /servers/alpha/mcp, a protected resource of its own', async () => {
    const url = `${matrix.server.url}/servers/alpha/mcp`;
    const provider = await signIn(url, `${flavour}-server`);
    expect(provider.authorizations[0]!.searchParams.get('resource')).toBe(url);
    const { client } = await connected(provider, url);
    try {
      expect((await client.listTools()).tools.map((tool) => tool.name)).toContain('echo');
      const echoed = (await client.callTool({ name: 'echo', arguments: { text: 'own endpoint' } })) as { content: Array<{ text: string }> };
      expect(echoed.content[0]!.text).toContain('own endpoint');
    } finally {
      await client.close();
    }
    if (flavour === 'v1') {
      // What the person saw, read off the pages in Chromium.
      const pages = await person.approve(
        (
          await (async () => {
            const again = new MemoryOAuthProvider<unknown>({
              redirectUrl: catcher.url,
              clientName: 'SDK matrix client',
              onAuthorize: async () => undefined,
            });
            await expect(connection(again, matrix.server.mcpUrl).connect()).rejects.toThrow();
            return again.authorizations[0]!;
          })()
        ).toString(),
        'pages',
      );
      await catcher.next();
      const host = new URL(matrix.server.url).host;
      expect(pages.signIn).toContain(`Sign in to ${host}`);
      expect(pages.consent).toContain(`Authorize access to ${host}`);
      expect(pages.consent).toContain('Run Claude Code on your behalf in your workspace');
      expect(pages.consent).toContain('claude:ask');
    }
  });
});
