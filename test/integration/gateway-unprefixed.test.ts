import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { waitFor } from '../helpers/http.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

/**
 * `prefix: false`: the aggregated `/mcp` serves an upstream's tools, prompts and resources under their own names and
 * URIs, next to prefixed upstreams; the access rules still read them as `{server}__{name}`
 * (test/fixtures/gateway-upstream.mjs twice: `flat` unprefixed, `alpha` prefixed).
 */
const fixture = path.resolve('test/fixtures/gateway-upstream.mjs');
const KEYS = { ops: 'key-ops-0123456789abcdef', flat: 'key-flat-0123456789abcd', alpha: 'key-alpha-0123456789abcd' };
type Text = { content?: Array<{ text?: string }> };

describe('gateway: an upstream served unprefixed on /mcp (prefix: false)', () => {
  let server: TestServer;
  let dir: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwflat-'));
    const entry = { command: process.execPath, args: [fixture] };
    writeFileSync(path.join(dir, 'mcp_config.json'), JSON.stringify({ mcpServers: { flat: { ...entry, prefix: false }, alpha: entry } }));
    writeFileSync(
      path.join(dir, 'keys.json'),
      JSON.stringify({
        [KEYS.ops]: { client_id: 'ops', scopes: ['mcp:tools', 'claude:admin', 'gateway:*'] },
        [KEYS.flat]: { client_id: 'flat-user', scopes: ['mcp:tools', 'gateway:flat'] },
        [KEYS.alpha]: { client_id: 'alpha-user', scopes: ['mcp:tools', 'gateway:alpha'] },
      }),
    );
    server = await startTestServer({
      authMode: 'oauth',
      authInitialAdmin: false,
      mcpConfigPath: path.join(dir, 'mcp_config.json'),
      apiKeysPath: path.join(dir, 'keys.json'),
    });
    await waitFor(() => server.container.gateway.registry.list().every((s) => s.status === 'running'), 30_000);
  }, 60_000);
  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect(key: string): Promise<Client> {
    const client = new Client({ name: 'gateway-unprefixed-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(server.mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }),
    );
    clients.push(client);
    return client;
  }
  const names = async (client: Client) => (await client.listTools()).tools.map((tool) => tool.name);
  const pidOf = async (client: Client, tool: string) =>
    Number(/\d+/.exec(((await client.callTool({ name: tool, arguments: {} })) as Text).content?.[0]?.text ?? '')?.[0]);

  it("lists the upstream's tools under their own names next to prefixed ones, and calls reach that upstream", async () => {
    const ops = await connect(KEYS.ops);
    const listed = await names(ops);
    expect(listed).toEqual(expect.arrayContaining(['echo', 'whoami', 'alpha__echo', 'alpha__whoami']));
    expect(listed.some((name) => name.startsWith('flat__'))).toBe(false);
    const { registry } = server.container.gateway;
    expect(await pidOf(ops, 'whoami')).toBe(registry.get('flat')!.pid);
    expect(await pidOf(ops, 'alpha__whoami')).toBe(registry.get('alpha')!.pid);
    const tools = (await (await fetch(`${server.url}/listtools/flat`, { headers: { authorization: `Bearer ${KEYS.ops}` } })).json()) as {
      tools: Array<{ name: string; aggregatedName: string }>;
    };
    expect(tools.tools.find((tool) => tool.name === 'echo')?.aggregatedName).toBe('echo');
  });

  it('access rules still name them {server}__{tool}: gateway:flat sees them, gateway:alpha neither sees nor calls them', async () => {
    const flat = await connect(KEYS.flat);
    const alpha = await connect(KEYS.alpha);
    const flatTools = await names(flat);
    expect(flatTools).toEqual(expect.arrayContaining(['echo', 'whoami']));
    expect(flatTools.some((name) => name.startsWith('alpha__'))).toBe(false);
    const alphaTools = await names(alpha);
    expect(alphaTools).toContain('alpha__echo');
    expect(alphaTools).not.toContain('echo');
    await expect(alpha.callTool({ name: 'echo', arguments: { text: 'x' } })).rejects.toThrow();
    // Resources follow the same rule: the unprefixed upstream's are listed to gateway:flat only.
    expect((await flat.listResources()).resources.map((resource) => resource.uri)).toContain('fixture://note');
    expect((await alpha.listResources()).resources.map((resource) => resource.uri)).not.toContain('fixture://note');
  });

  it('resources keep their URIs (templates too) next to the prefixed ones, and are read from that upstream', async () => {
    const ops = await connect(KEYS.ops);
    const uris = (await ops.listResources()).resources.map((resource) => resource.uri);
    expect(uris).toEqual(expect.arrayContaining(['fixture://note', 'alpha+fixture://note']));
    const note = await ops.readResource({ uri: 'fixture://note' });
    expect(note.contents[0]).toMatchObject({ uri: 'fixture://note' });
    const templates = (await ops.listResourceTemplates()).resourceTemplates.map((template) => template.uriTemplate);
    expect(templates).toEqual(expect.arrayContaining(['fixture://items/{id}', 'alpha+fixture://items/{id}']));
    const item = await ops.readResource({ uri: 'fixture://items/7' });
    expect(item.contents[0]).toMatchObject({ uri: 'fixture://items/7' });
    // A subscription finds the unprefixed upstream by the URI it listed, or a template it matches: the request reaches
    // it (this upstream offers no subscriptions and says so itself), while a URI no upstream has is unknown here.
    await expect(ops.subscribeResource({ uri: 'fixture://note' })).rejects.toThrow(/Method not found/);
    await expect(ops.subscribeResource({ uri: 'fixture://items/7' })).rejects.toThrow(/Method not found/);
    await expect(ops.subscribeResource({ uri: 'nowhere://x' })).rejects.toThrow(/Unknown resource/);
  });

  it('prompts keep their names', async () => {
    const ops = await connect(KEYS.ops);
    const prompts = (await ops.listPrompts()).prompts.map((prompt) => prompt.name);
    expect(prompts).toEqual(expect.arrayContaining(['greet', 'alpha__greet']));
    const got = await ops.getPrompt({ name: 'greet', arguments: { name: 'Flo' } });
    expect(JSON.stringify(got.messages)).toContain('Flo');
  });
});
