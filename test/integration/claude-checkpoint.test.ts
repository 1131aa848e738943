import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import type { BusEvent } from '../../server/events/bus.js';
import { messageText, type MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import { startClaudeHarness, type ClaudeHarness, structuredOf } from '../helpers/claude-harness.js';
import type { TestServer } from '../helpers/test-server.js';

type Result = Record<string, unknown> & {
  sessionId?: string;
  checkpoint?: { checkpointId: string; files: number };
  checkpoints?: Array<{ checkpointId: string }>;
  added?: string[];
  changed?: string[];
  removed?: string[];
  written?: string[];
  diff?: string;
  fork?: { sessionId: string; result: string };
  error?: { category: string };
};

/** claude_checkpoint: create, modify (by Claude and by hand), compare, restore (with a conversation fork), delete. */
describe('claude_checkpoint', () => {
  let harness: ClaudeHarness;
  let mock: MockAnthropicApi;
  let server: TestServer;
  let client: Client;
  let cwd: string;
  let events: BusEvent[];
  const file = (name: string) => path.join(cwd, name);
  const call = async (name: string, args: Record<string, unknown>, via: Client = client) => {
    const result = await via.callTool({ name, arguments: args }, { timeout: 60_000 });
    return { isError: result.isError, s: structuredOf(result) as Result };
  };

  beforeAll(async () => {
    harness = await startClaudeHarness({
      clientName: 'cp-test',
      prepare: (box) => {
        cwd = path.join(box.workspace, 'project');
        mkdirSync(path.join(cwd, '.git'), { recursive: true });
      },
    });
    ({ mock, server, client, events } = harness);
  });
  afterAll(() => harness.stop());

  it('snapshots, compares, restores exactly (later files removed, .git untouched), forks the conversation and deletes', async () => {
    const write = (name: string, content: string) => ({
      kind: 'tool_use' as const,
      name: 'Write',
      input: { file_path: file(name), content },
    });
    mock.on({ prompt: 'cp-start', replies: [write('a.txt', 'one\n'), { kind: 'text', text: 'started' }] });
    mock.on({ prompt: 'cp-modify', replies: [write('a.txt', 'two\n'), write('sub/b.txt', 'new\n'), { kind: 'text', text: 'modified' }] });
    mock.on({ prompt: 'cp-after-restore', replies: [{ kind: 'text', text: 'continuing from the checkpoint' }] });
    writeFileSync(file('c.txt'), 'keep me\n');
    writeFileSync(file('.git/HEAD'), 'ref: refs/heads/main\n');

    const start = await call('claude_ask', { query: 'cp-start', workingDirectory: 'project', allowedTools: ['Write'] });
    const sessionId = start.s.sessionId!;
    expect(readFileSync(file('a.txt'), 'utf8')).toBe('one\n');

    const created = await call('claude_checkpoint', { action: 'create', sessionId, label: 'first' });
    expect(created.isError).toBeFalsy();
    expect(created.s.checkpoint!.files).toBe(2); // a.txt, c.txt — never .git
    const first = created.s.checkpoint!.checkpointId;
    expect(events.some((e) => e.type === 'checkpoint.created')).toBe(true);

    const modified = await call('claude_ask', { sessionId, query: 'cp-modify', allowedTools: ['Write'] });
    expect(modified.s.sessionId).toBe(sessionId);
    expect(readFileSync(file('sub/b.txt'), 'utf8')).toBe('new\n');
    rmSync(file('c.txt'));
    writeFileSync(file('.git/HEAD'), 'ref: refs/heads/feature\n');

    const compared = await call('claude_checkpoint', { action: 'compare', sessionId, checkpointId: first });
    expect(compared.s).toMatchObject({ added: ['sub/b.txt'], changed: ['a.txt'], removed: ['c.txt'] });
    expect(compared.s.diff).toContain('-one');
    expect(compared.s.diff).toContain('+two');

    const second = (await call('claude_checkpoint', { action: 'create', sessionId, label: 'second' })).s.checkpoint!.checkpointId;
    const between = await call('claude_checkpoint', { action: 'compare', sessionId, checkpointId: first, compareWith: second });
    expect(between.s).toMatchObject({ added: ['sub/b.txt'], changed: ['a.txt'], removed: ['c.txt'] });

    const restored = await call('claude_checkpoint', { action: 'restore', sessionId, checkpointId: first, query: 'cp-after-restore' });
    expect(restored.isError).toBeFalsy();
    expect(readFileSync(file('a.txt'), 'utf8')).toBe('one\n');
    expect(readFileSync(file('c.txt'), 'utf8')).toBe('keep me\n');
    expect(existsSync(file('sub/b.txt'))).toBe(false);
    expect(existsSync(file('sub'))).toBe(false);
    expect(readFileSync(file('.git/HEAD'), 'utf8')).toBe('ref: refs/heads/feature\n');
    expect(restored.s.fork!.result).toBe('continuing from the checkpoint');
    expect(restored.s.fork!.sessionId).not.toBe(sessionId);
    const history = mock.requestsFor('cp-after-restore')[0]!.body.messages.map(messageText).join('\n');
    expect(history).toContain('cp-start');
    expect(history).not.toContain('cp-modify');
    expect(events.some((e) => e.type === 'checkpoint.restored')).toBe(true);

    expect((await call('claude_checkpoint', { action: 'list', sessionId })).s.checkpoints).toHaveLength(2);
    await call('claude_checkpoint', { action: 'delete', sessionId, checkpointId: second });
    expect((await call('claude_checkpoint', { action: 'list', sessionId })).s.checkpoints!.map((c) => c.checkpointId)).toEqual([first]);

    // Another caller gets session_not_found for everything about this session.
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    const otherServer = server.container.factory({
      caller: { principalId: 'client-b', scopes: ['*'], method: 'api-key' },
      era: 'legacy',
      mode: 'stdio',
    });
    await otherServer.connect(serverSide);
    const other = new Client({ name: 'other', version: '1' });
    await other.connect(clientSide);
    try {
      for (const action of ['list', 'restore', 'compare', 'delete', 'create']) {
        const denied = await call('claude_checkpoint', { action, sessionId, checkpointId: first }, other);
        expect(denied.s.error?.category).toBe('session_not_found');
      }
    } finally {
      await other.close();
      await otherServer.close();
    }
  });
});
