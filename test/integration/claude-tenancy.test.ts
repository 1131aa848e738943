import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startMockAnthropicApi, type MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import { createClaudeSandbox, type ClaudeSandbox } from '../helpers/claude-env.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { structuredOf } from '../helpers/claude-harness.js';

type Structured = Record<string, unknown> & {
  sessionId?: string;
  workingDirectory?: string;
  taskId?: string;
  error?: { category: string };
};

/** Two API-key clients over real HTTP with authentication on: each sees only its own sessions, tasks and folder. */
describe('Claude tools with authentication: tenancy between clients', () => {
  let mock: MockAnthropicApi;
  let sandbox: ClaudeSandbox;
  let server: TestServer;
  let alice: Client;
  let bob: Client;

  const connect = async (key: string) => {
    const client = new Client({ name: key, version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(server.mcpUrl), { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
    );
    return client;
  };
  const call = async (client: Client, name: string, args: Record<string, unknown>) => {
    const result = await client.callTool({ name, arguments: args }, { timeout: 60_000 });
    return { isError: result.isError, s: structuredOf(result) as Structured };
  };

  beforeAll(async () => {
    mock = await startMockAnthropicApi();
    sandbox = createClaudeSandbox(mock.url);
    server = await startTestServer(
      {
        authMode: 'oauth',
        authInitialAdmin: false,
        apiKeys: ['key-alice-0123456789:client-alice', 'key-bob-0123456789:client-bob'],
        workspaceRoots: [sandbox.workspace],
        perClientWorkspaces: true,
      },
      { claudeEnvironment: sandbox.env },
    );
    alice = await connect('key-alice-0123456789');
    bob = await connect('key-bob-0123456789');
  });
  afterAll(async () => {
    await alice.close();
    await bob.close();
    await server.stop();
    await mock.close();
    sandbox.remove();
  });

  it('runs each client in its own folder and keeps sessions and tasks private', async () => {
    mock.on({ prompt: 'alice-secret-work', replies: [{ kind: 'text', text: 'alice answer' }] });
    mock.on({ prompt: 'alice-background', replies: [{ kind: 'text', text: 'alice bg' }] });
    const mine = await call(alice, 'claude_ask', { query: 'alice-secret-work' });
    expect(mine.isError).toBeFalsy();
    expect(mine.s.workingDirectory).toBe(path.join(sandbox.workspace, 'client-alice'));
    const task = await call(alice, 'claude_ask', { query: 'alice-background', backgroundTask: true });

    for (const [name, args] of [
      ['claude_resume', { sessionId: mine.s.sessionId, query: 'bob steals' }],
      ['claude_resume', { sessionId: mine.s.sessionId, query: 'bob forks', fork: true }],
      ['claude_ask', { sessionId: mine.s.sessionId, query: 'bob steals' }],
      ['claude_abort', { sessionId: mine.s.sessionId }],
      ['claude_checkpoint', { action: 'list', sessionId: mine.s.sessionId }],
    ] as const) {
      const denied = await call(bob, name, args);
      expect(denied.isError).toBe(true);
      expect(denied.s.error?.category).toBe('session_not_found');
    }
    const logs = await call(bob, 'claude_background_tasks', { action: 'logs', taskId: task.s.taskId });
    expect(logs.s.error?.category).toBe('not_found');
    expect((await call(bob, 'claude_background_tasks', { action: 'list' })).s.tasks).toEqual([]);
    // Bob cannot point his run at Alice's folder either.
    const escape = await call(bob, 'claude_ask', { query: 'peek', workingDirectory: path.join(sandbox.workspace, 'client-alice') });
    expect(escape.s.error?.category).toBe('workspace_denied');
    expect(mock.requestsFor('bob steals')).toHaveLength(0);
    expect(mock.requestsFor('bob forks')).toHaveLength(0);

    const own = await call(alice, 'claude_background_tasks', { action: 'list' });
    expect((own.s.tasks as Array<{ taskId: string }>).map((t) => t.taskId)).toContain(task.s.taskId);
  });
});
