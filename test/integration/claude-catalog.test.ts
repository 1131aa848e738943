import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startMockAnthropicApi, type MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import { createClaudeSandbox, type ClaudeSandbox } from '../helpers/claude-env.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { structuredOf } from '../helpers/claude-harness.js';

const agent = (name: string, description: string, body: string, extra = '') =>
  `---\nname: ${name}\ndescription: ${description}\n${extra}---\n${body}\n`;

/** Subagents from project and user files and from a plugin installed out of a local marketplace directory. */
describe('claude_subagent_list, claude_plugin_list, claude_plugin_install', () => {
  let mock: MockAnthropicApi;
  let sandbox: ClaudeSandbox;
  let server: TestServer;
  let client: Client;
  let market: string;

  const call = async (name: string, args: Record<string, unknown>) => {
    const result = await client.callTool({ name, arguments: args }, { timeout: 60_000 });
    return { isError: result.isError, s: structuredOf(result) as Record<string, unknown> & { error?: { category: string } } };
  };

  beforeAll(async () => {
    mock = await startMockAnthropicApi();
    sandbox = createClaudeSandbox(mock.url);
    mkdirSync(path.join(sandbox.workspace, '.claude', 'agents'), { recursive: true });
    writeFileSync(
      path.join(sandbox.workspace, '.claude', 'agents', 'proj-agent.md'),
      agent('proj-agent', 'Project reviewer', 'You are the PROJECT-AGENT-PROMPT.', 'tools: Read, Grep\nmodel: sonnet\n'),
    );
    mkdirSync(path.join(sandbox.home, '.claude', 'agents'), { recursive: true });
    writeFileSync(path.join(sandbox.home, '.claude', 'agents', 'user-agent.md'), agent('user-agent', 'User helper', 'You help.'));
    market = path.join(sandbox.workspace, 'market');
    mkdirSync(path.join(market, '.claude-plugin'), { recursive: true });
    mkdirSync(path.join(market, 'demo', '.claude-plugin'), { recursive: true });
    mkdirSync(path.join(market, 'demo', 'agents'), { recursive: true });
    writeFileSync(
      path.join(market, '.claude-plugin', 'marketplace.json'),
      JSON.stringify({
        name: 'test-market',
        owner: { name: 'Tester' },
        plugins: [{ name: 'demo', source: './demo', description: 'A demo plugin' }],
      }),
    );
    writeFileSync(
      path.join(market, 'demo', '.claude-plugin', 'plugin.json'),
      JSON.stringify({ name: 'demo', version: '1.0.0', description: 'A demo plugin' }),
    );
    writeFileSync(
      path.join(market, 'demo', 'agents', 'plugin-reviewer.md'),
      agent('plugin-reviewer', 'Reviews from a plugin', 'You review.', 'tools: Read\nmodel: haiku\n'),
    );
    server = await startTestServer({ workspaceRoots: [sandbox.workspace] }, { claudeEnvironment: sandbox.env });
    client = new Client({ name: 'catalog-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
  });
  afterAll(async () => {
    await client.close();
    await server.stop();
    await mock.close();
    sandbox.remove();
  });

  it('lists project and user subagents from their files', async () => {
    const { s } = await call('claude_subagent_list', {});
    expect(s.subagents).toEqual(
      expect.arrayContaining([
        { name: 'proj-agent', source: 'project', description: 'Project reviewer', tools: ['Read', 'Grep'], model: 'sonnet' },
        { name: 'user-agent', source: 'user', description: 'User helper', tools: [] },
      ]),
    );
  });

  it('installs a plugin from a local marketplace directory; its agents then appear', async () => {
    expect((await call('claude_plugin_list', {})).s.plugins).toEqual([]);
    const installed = await call('claude_plugin_install', { plugin: 'demo', scope: 'user', marketplace: market });
    expect(installed.isError).toBeFalsy();
    expect(installed.s).toMatchObject({ pluginId: 'demo@test-market', scope: 'user' });
    const { s: listed } = await call('claude_plugin_list', {});
    expect(listed.plugins).toEqual([{ id: 'demo@test-market', version: '1.0.0', scope: 'user', enabled: true }]);
    const { s } = await call('claude_subagent_list', {});
    expect(s.subagents).toEqual(
      expect.arrayContaining([
        {
          name: 'plugin-reviewer',
          source: 'plugin:demo@test-market',
          description: 'Reviews from a plugin',
          tools: ['Read'],
          model: 'haiku',
        },
      ]),
    );
  });

  it('refuses a marketplace directory outside the workspace roots and bad plugin names', async () => {
    const outside = await call('claude_plugin_install', { plugin: 'demo', scope: 'user', marketplace: sandbox.home });
    expect(outside.s.error?.category).toBe('workspace_denied');
    const bad = await call('claude_plugin_install', { plugin: 'demo; rm -rf /', scope: 'user' });
    expect(bad.s.error?.category).toBe('invalid_input');
  });

  it('claude_ask with subagent runs as that agent (its prompt reaches the API)', async () => {
    mock.on({ prompt: 'as-subagent', replies: [{ kind: 'text', text: 'reviewed' }] });
    const { s } = await call('claude_ask', { query: 'as-subagent', subagent: 'proj-agent' });
    expect(s.result).toBe('reviewed');
    expect(JSON.stringify(mock.requestsFor('as-subagent')[0]!.body.system)).toContain('PROJECT-AGENT-PROMPT');
  });
});
