import { mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, InMemoryTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import type { ClaudeSandbox } from '../helpers/claude-env.js';
import { startClaudeHarness, type ClaudeHarness, type RunStructured, type ToolResult, structuredOf } from '../helpers/claude-harness.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

type Structured = RunStructured;

describe('Claude tool errors, input validation, ceilings and ownership (real binary, mock API, real HTTP)', () => {
  let harness: ClaudeHarness;
  let mock: MockAnthropicApi;
  let sandbox: ClaudeSandbox;
  let server: TestServer;
  let client: Client;

  const call = async (name: string, args: Record<string, unknown>, options: Parameters<Client['callTool']>[1] = {}) => {
    const result = (await client.callTool({ name, arguments: args }, { timeout: 60_000, ...options })) as ToolResult;
    return { ...result, s: structuredOf(result) as Structured };
  };

  beforeAll(async () => {
    harness = await startClaudeHarness({
      config: { maxConcurrentRuns: 4, runInterruptGraceMs: 1000, maxPromptLength: 5000 },
      // A server secret in the process environment: it must never reach the child.
      extraEnvironment: { MCP_API_KEYS: 'server-secret-key', WEBHOOK_SECRET: 'whsec-secret' },
    });
    ({ mock, sandbox, server, client } = harness);
  });
  afterAll(() => harness.stop());

  it('every error result reads the same in the v1 and v2 clients: text "category: message", details in _meta', async () => {
    // The v1 client validates structuredContent against the tool's outputSchema even for error results.
    const v1 = new V1Client({ name: 'v1-errors', version: '1' });
    await v1.connect(new V1StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    try {
      await v1.listTools();
      const cases: Array<[string, Record<string, unknown>, string]> = [
        ['claude_ask', { query: '' }, 'invalid_input: query: must not be empty'],
        ['claude_ask', { query: 'x', workingDirectory: '/' }, 'workspace_denied: '],
        ['claude_resume', { sessionId: '00000000-0000-4000-8000-000000000000', query: 'x' }, 'session_not_found: '],
        ['claude_background_tasks', { action: 'logs', taskId: '00000000-0000-4000-8000-000000000000' }, 'not_found: '],
        ['claude_checkpoint', { action: 'list' }, 'invalid_input: '],
      ];
      for (const [name, args, text] of cases) {
        for (const connection of [v1, client]) {
          const result = (await connection.callTool({ name, arguments: args })) as ToolResult;
          expect(result.isError).toBe(true);
          expect(result.structuredContent).toBeUndefined();
          expect(result.content?.[0]?.text).toContain(text);
          expect((result._meta?.['claude-code-mcp/error'] as Structured).error?.category).toBe(text.split(':')[0]);
        }
      }
    } finally {
      await v1.close();
    }
  });

  describe('input validation and ceilings', () => {
    it.each([
      ['an empty query', { query: '' }, 'query: must not be empty'],
      ['a blank query', { query: '   ' }, 'query: must not be empty'],
      ['a query over MAX_PROMPT_LENGTH', { query: 'x'.repeat(5001) }, 'MAX_PROMPT_LENGTH'],
      ['a number as query', { query: 42 }, 'query: expected a string'],
      ['an unknown priority', { query: 'ok', priority: 'urgent' }, 'priority'],
      ['an unknown thinkingLevel', { query: 'ok', thinkingLevel: 'deep' }, 'thinkingLevel'],
      ['maxTurns 0', { query: 'ok', maxTurns: 0 }, 'maxTurns'],
      ['a missing query', {}, 'query'],
    ])('rejects %s as invalid_input', async (_label, args, text) => {
      const { isError, s } = await call('claude_ask', args as Record<string, unknown>);
      expect(isError).toBe(true);
      expect(s.error?.category).toBe('invalid_input');
      expect(s.error?.message).toContain(text);
    });

    it('refuses working directories outside the workspace roots, including through symlinks', async () => {
      const outside = await call('claude_ask', { query: 'escape', workingDirectory: '/etc' });
      expect(outside.s.error?.category).toBe('workspace_denied');
      const dotdot = await call('claude_ask', { query: 'escape', workingDirectory: '../..' });
      expect(dotdot.s.error?.category).toBe('workspace_denied');
      symlinkSync(sandbox.home, path.join(sandbox.workspace, 'link-out'));
      const link = await call('claude_ask', { query: 'escape', workingDirectory: 'link-out' });
      expect(link.s.error?.category).toBe('workspace_denied');
      mkdirSync(path.join(sandbox.workspace, 'sub'), { recursive: true });
      mock.on({ prompt: 'inside-sub', replies: [{ kind: 'text', text: 'in sub' }] });
      const inside = await call('claude_ask', { query: 'inside-sub', workingDirectory: 'sub' });
      expect(inside.s.workingDirectory).toBe(path.join(sandbox.workspace, 'sub'));
    });

    it('refuses hooks when the operator disallows Bash, even with the sandbox off', async () => {
      const strict = await startTestServer(
        { workspaceRoots: [sandbox.workspace], disallowedTools: ['Bash'], claudeSandbox: 'off' },
        { claudeEnvironment: sandbox.env },
      );
      const strictClient = new Client({ name: 'strict', version: '1' });
      await strictClient.connect(new StreamableHTTPClientTransport(new URL(strict.mcpUrl)));
      try {
        const result = await strictClient.callTool({ name: 'claude_ask', arguments: { query: 'x', hooks: { preToolUse: ['true'] } } });
        expect((structuredOf(result) as Structured).error?.category).toBe('permission_denied');
        expect(JSON.stringify(result.content)).toContain('disallows Bash');
      } finally {
        await strictClient.close();
        await strict.stop();
      }
    });

    it('refuses a permission mode above the operator ceiling', async () => {
      const { s } = await call('claude_ask', { query: 'bypass', permissionMode: 'bypassPermissions' });
      expect(s.error?.category).toBe('permission_denied');
    });

    it('answers session_not_found for unknown sessions', async () => {
      const { s } = await call('claude_resume', { sessionId: '00000000-0000-4000-8000-000000000000', query: 'hi' });
      expect(s.error?.category).toBe('session_not_found');
    });
  });

  describe('errors from the API and limits become categorised tool errors', () => {
    it.each([
      [401, 'auth_failed'],
      [429, 'rate_limited'],
      [529, 'overloaded'],
      [500, 'internal'],
    ] as Array<[401 | 429 | 529 | 500, string]>)('HTTP %i -> %s', async (status, category) => {
      mock.on({ prompt: `api-error-${status}`, replies: [{ kind: 'error', status }] });
      const { isError, s } = await call('claude_ask', { query: `api-error-${status}` });
      expect(isError).toBe(true);
      expect(s.error?.category).toBe(category);
    });

    it('max_turns', async () => {
      mock.on({
        prompt: 'turns-out',
        replies: [{ kind: 'tool_use', name: 'Read', input: { file_path: path.join(sandbox.workspace, 'allowed.txt') } }],
      });
      const { s } = await call('claude_ask', { query: 'turns-out', maxTurns: 1 });
      expect(s.error?.category).toBe('max_turns');
      expect(s.sessionId).toBeDefined();
    });

    it('budget_exceeded', async () => {
      mock.on({ prompt: 'too-expensive', replies: [{ kind: 'text', text: 'pricey', inputTokens: 2_000_000, outputTokens: 100_000 }] });
      const { s } = await call('claude_ask', { query: 'too-expensive', maxBudgetUsd: 0.01 });
      expect(s.error?.category).toBe('budget_exceeded');
    });
  });

  it('another caller cannot resume, fork or abort the session (session_not_found, no hint)', async () => {
    mock.on({ prompt: 'owned-by-local', replies: [{ kind: 'text', text: 'mine' }] });
    const mine = await call('claude_ask', { query: 'owned-by-local' });
    const other = new Client({ name: 'other', version: '1' });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const otherServer = server.container.factory({
      caller: { principalId: 'client-b', scopes: ['*'], method: 'api-key' },
      era: 'legacy',
      mode: 'stdio',
    });
    await otherServer.connect(serverSide);
    await other.connect(clientSide);
    try {
      for (const [name, args] of [
        ['claude_resume', { sessionId: mine.s.sessionId, query: 'steal' }],
        ['claude_resume', { sessionId: mine.s.sessionId, query: 'steal', fork: true }],
        ['claude_ask', { sessionId: mine.s.sessionId, query: 'steal' }],
        ['claude_abort', { sessionId: mine.s.sessionId }],
      ] as const) {
        const result = (await other.callTool({ name, arguments: args })) as ToolResult;
        expect(result.isError).toBe(true);
        expect((structuredOf(result) as Structured).error).toEqual({
          category: 'session_not_found',
          message: expect.not.stringContaining('client'),
        });
      }
      expect(mock.requestsFor('steal')).toHaveLength(0);
    } finally {
      await other.close();
      await otherServer.close();
    }
  });
});
