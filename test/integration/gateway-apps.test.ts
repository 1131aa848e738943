import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport, type Tool } from '@modelcontextprotocol/client';
import { EXTENSION_ID, getUiCapability, RESOURCE_MIME_TYPE, RESOURCE_URI_META_KEY } from '@modelcontextprotocol/ext-apps/server';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

// MCP Apps through the gateway, with two of the ext-apps example servers as real stdio upstreams and the fixture's own
// app (whose resource carries its CSP in `_meta`): a host reads the resource a tool's `_meta.ui.resourceUri` names.

const example = (name: string) => ({
  command: process.execPath,
  args: [path.resolve(`node_modules/@modelcontextprotocol/${name}/dist/index.js`), '--stdio'],
});
const fixture = path.resolve('test/fixtures/gateway-upstream.mjs');
const CSP = { connectDomains: ['https://api.example.com'], resourceDomains: ['https://cdn.example.com'] };
/** What a host that renders apps declares (ext-apps `McpUiClientCapabilities`). */
const APPS_HOST = { extensions: { [EXTENSION_ID]: { mimeTypes: [RESOURCE_MIME_TYPE] } } };

/** The app resource a tool names, read as a host reads it (both `_meta` forms must agree). */
function appUri(tool: Tool | undefined): string {
  const meta = tool?._meta as { ui?: { resourceUri?: string }; [RESOURCE_URI_META_KEY]?: string } | undefined;
  expect(meta?.ui?.resourceUri).toMatch(/^ui:\/\//);
  expect(meta?.[RESOURCE_URI_META_KEY]).toBe(meta?.ui?.resourceUri);
  return meta!.ui!.resourceUri!;
}

describe('gateway: MCP Apps on /mcp and /servers/{name}/mcp', () => {
  let server: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwapps-'));
    writeFileSync(
      path.join(dir, 'mcp_config.json'),
      JSON.stringify({
        mcpServers: {
          basic: example('server-basic-vanillajs'),
          budget: example('server-budget-allocator'),
          fx: { command: process.execPath, args: [fixture] },
          fxs: { command: process.execPath, args: [fixture], isolation: 'session' },
        },
      }),
    );
    server = await startTestServer({ mcpConfigPath: path.join(dir, 'mcp_config.json') });
    await waitFor(() => server.container.gateway.registry.list().every((s) => s.status === 'running'), 60_000);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect(url: string): Promise<Client> {
    const client = new Client({ name: 'gateway-apps-test', version: '1.0.0' }, { capabilities: APPS_HOST });
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    return client;
  }

  it('names every app by a ui:// URI the aggregated endpoint serves, and reads its HTML', async () => {
    const client = await connect(server.mcpUrl);
    try {
      const { tools } = await client.listTools();
      const expected = {
        'basic__get-time': 'ui://basic/get-time/mcp-app.html',
        'budget__get-budget-data': 'ui://budget/budget-allocator/mcp-app.html',
        fx__show_card: 'ui://fx/card/view.html',
      };
      for (const [name, uri] of Object.entries(expected)) {
        expect(appUri(tools.find((tool) => tool.name === name))).toBe(uri);
        const read = await client.readResource({ uri });
        expect(read.contents).toHaveLength(1);
        expect(read.contents[0]).toMatchObject({ uri, mimeType: RESOURCE_MIME_TYPE, text: expect.stringMatching(/^<!doctype html>/i) });
      }
      const listed = (await client.listResources()).resources.map((resource) => resource.uri);
      expect(listed).toEqual(expect.arrayContaining(Object.values(expected)));
      // The app's tools still work through the same endpoint.
      const time = await client.callTool({ name: 'basic__get-time', arguments: {} });
      expect(time.structuredContent).toEqual({ time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    } finally {
      await client.close();
    }
  });

  it('serves each upstream on /servers/{name}/mcp with its own ui:// URIs', async () => {
    for (const [name, tool, uri] of [
      ['basic', 'get-time', 'ui://get-time/mcp-app.html'],
      ['budget', 'get-budget-data', 'ui://budget-allocator/mcp-app.html'],
      ['fx', 'show_card', 'ui://card/view.html'],
    ] as const) {
      const client = await connect(`${server.url}/servers/${name}/mcp`);
      try {
        expect(appUri((await client.listTools()).tools.find((candidate) => candidate.name === tool))).toBe(uri);
        expect((await client.readResource({ uri })).contents[0]).toMatchObject({
          uri,
          mimeType: RESOURCE_MIME_TYPE,
          text: expect.stringMatching(/^<!doctype html>/i),
        });
      } finally {
        await client.close();
      }
    }
  });

  it('keeps _meta of resources, resource contents and templates on both endpoints', async () => {
    for (const [url, card, item] of [
      [server.mcpUrl, 'ui://fx/card/view.html', 'fx+fixture://items/{id}'],
      [`${server.url}/servers/fx/mcp`, 'ui://card/view.html', 'fixture://items/{id}'],
    ] as const) {
      const client = await connect(url);
      try {
        const { resources } = await client.listResources();
        expect(resources.find((resource) => resource.uri === card)).toMatchObject({
          mimeType: RESOURCE_MIME_TYPE,
          description: 'The card app',
          _meta: { ui: { csp: CSP } },
        });
        const read = await client.readResource({ uri: card });
        expect(read._meta).toMatchObject({ 'com.example/read': 'result-level' });
        expect(read.contents[0]).toMatchObject({ uri: card, _meta: { ui: { csp: CSP, prefersBorder: true } } });

        const { resourceTemplates } = await client.listResourceTemplates();
        expect(resourceTemplates.find((template) => template.uriTemplate === item)).toMatchObject({
          mimeType: 'application/json',
          _meta: { 'com.example/kind': 'item' },
        });
        const itemUri = item.replace('{id}', '7');
        expect((await client.readResource({ uri: itemUri })).contents[0]).toMatchObject({
          uri: itemUri,
          _meta: { 'com.example/item': '7' },
        });
      } finally {
        await client.close();
      }
    }
  });

  it("declares Apps support to shared upstreams, a session upstream gets its own client's extensions, and upstream extensions are advertised", async () => {
    const client = new Client(
      { name: 'gateway-apps-extensions', version: '1.0.0' },
      {
        capabilities: {
          extensions: { ...APPS_HOST.extensions, 'com.example/client': { level: 2 } },
          experimental: { 'client-feature': { on: true } },
        },
      },
    );
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    try {
      const declared = async (tool: string) =>
        JSON.parse(((await client.callTool({ name: tool, arguments: {} })).content as { text: string }[])[0]!.text) as Record<
          string,
          unknown
        >;
      // One shared process serves every client: it is told the gateway relays apps.
      expect(getUiCapability(await declared('fx__client_capabilities'))).toEqual({ mimeTypes: [RESOURCE_MIME_TYPE] });
      // A per-session upstream is told what this client declared.
      const own = await declared('fxs__client_capabilities');
      expect(own.extensions).toEqual({ [EXTENSION_ID]: { mimeTypes: [RESOURCE_MIME_TYPE] }, 'com.example/client': { level: 2 } });
      expect(own.experimental).toEqual({ 'client-feature': { on: true } });

      expect(client.getServerCapabilities()).toMatchObject({
        extensions: { 'com.example/fixture': { version: 1 } },
        experimental: { 'fixture-feature': { enabled: true } },
      });
    } finally {
      await client.close();
    }
    const single = await connect(`${server.url}/servers/basic/mcp`);
    try {
      expect(single.getServerCapabilities()?.extensions).toBeUndefined();
    } finally {
      await single.close();
    }
  });

  it('gives a v1 client the same apps', async () => {
    const client = new V1Client({ name: 'gateway-apps-v1', version: '1.0.0' }, { capabilities: APPS_HOST as never });
    await client.connect(new V1StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    try {
      const tool = (await client.listTools()).tools.find((candidate) => candidate.name === 'budget__get-budget-data');
      const uri = appUri(tool as Tool);
      expect((await client.readResource({ uri })).contents[0]).toMatchObject({ uri, mimeType: RESOURCE_MIME_TYPE });
      // The v1 client checks structuredContent against the output schema: the relayed result passes.
      const data = await client.callTool({ name: 'budget__get-budget-data', arguments: {} });
      expect(data.isError).toBeFalsy();
      expect(data.structuredContent).toMatchObject({ config: { currency: 'USD' } });
    } finally {
      await client.close();
    }
  });
});
