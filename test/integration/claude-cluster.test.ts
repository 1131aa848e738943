import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { messageText, startMockAnthropicApi, type MockAnthropicApi, type RecordedRequest } from '../fixtures/mock-anthropic-api.js';
import { structuredOf } from '../helpers/claude-harness.js';
import { createClaudeSandbox, type ClaudeSandbox } from '../helpers/claude-env.js';
import { deleteRedisKeys, REDIS_URL, redisSkipReason } from '../helpers/redis.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const PREFIX = `ccm-claude-cluster-${process.pid}-${Date.now()}:`;
const skip = await redisSkipReason('Claude runs across replicas');
const maybe = skip ? describe.skip : describe;

type Result = Record<string, unknown> & {
  sessionId?: string;
  result?: string;
  forkedFrom?: string;
  checkpoint?: { checkpointId: string };
  added?: string[];
  changed?: string[];
  removed?: string[];
  written?: string[];
  fork?: { sessionId: string; result: string };
  error?: { category: string; message?: string };
};

/** The user and assistant texts of a Messages API request, in order. */
const conversation = (request: RecordedRequest) => request.body.messages.map((message) => `${message.role}: ${messageText(message)}`);
const lastRequestWith = (mock: MockAnthropicApi, text: string) =>
  mock.requests.findLast((request) => conversation(request).some((line) => line.includes(text)));

/** Whether Claude Code wrote `sessionId`'s transcript under `home` (its local copy). */
function localTranscript(home: string, sessionId: string): boolean {
  const projects = path.join(home, '.claude', 'projects');
  if (!existsSync(projects)) return false;
  return readdirSync(projects).some((project) => existsSync(path.join(projects, project, `${sessionId}.jsonl`)));
}

async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Two replicas (real servers, in process) on one Redis, each with its own HOME (Claude Code's local transcripts) and
 * DATA_DIR, sharing one workspace root as a shared volume would: a conversation, its checkpoints and its runs are
 * reachable from either. The processes behind haproxy are test/cluster.
 */
maybe('Claude conversations and runs across replicas (Redis)', () => {
  let mock: MockAnthropicApi;
  let boxA: ClaudeSandbox;
  let boxB: ClaudeSandbox;
  let a: TestServer;
  let b: TestServer;
  let viaA: Client;
  let viaB: Client;
  let project: string;

  const call = async (via: Client, name: string, args: Record<string, unknown>) => {
    const result = await via.callTool({ name, arguments: args }, { timeout: 60_000 });
    return { isError: result.isError === true, s: structuredOf(result) as Result };
  };

  beforeAll(async () => {
    mock = await startMockAnthropicApi();
    boxA = createClaudeSandbox(mock.url);
    boxB = createClaudeSandbox(mock.url);
    // The shared volume: both replicas' WORKSPACE_ROOTS.
    project = path.join(boxA.workspace, 'project');
    mkdirSync(project, { recursive: true });
    const common = {
      storage: 'redis' as const,
      redisUrl: REDIS_URL,
      redisKeyPrefix: PREFIX,
      workspaceRoots: [boxA.workspace],
      clusterMaxConcurrentRuns: 1,
    };
    a = await startTestServer(common, { claudeEnvironment: boxA.env });
    b = await startTestServer(common, { claudeEnvironment: boxB.env });
    viaA = new Client({ name: 'replica-a', version: '1' });
    await viaA.connect(new StreamableHTTPClientTransport(new URL(a.mcpUrl)));
    viaB = new Client({ name: 'replica-b', version: '1' });
    await viaB.connect(new StreamableHTTPClientTransport(new URL(b.mcpUrl)));
  }, 60_000);
  afterAll(async () => {
    await viaA?.close();
    await viaB?.close();
    await a?.stop();
    await b?.stop();
    await mock?.close();
    boxA?.remove();
    boxB?.remove();
    await deleteRedisKeys(PREFIX);
  });

  it('resumes and forks on one replica a conversation another replica ran: the model sees the earlier messages', async () => {
    mock.on({ prompt: 'cc-first', replies: [{ kind: 'text', text: 'the parrot is called Polly' }] });
    mock.on({ prompt: 'cc-second', replies: [{ kind: 'text', text: 'resumed elsewhere' }] });
    mock.on({ prompt: 'cc-fork', replies: [{ kind: 'text', text: 'forked elsewhere' }] });
    const first = await call(viaA, 'claude_ask', { query: 'cc-first: name the parrot', workingDirectory: 'project' });
    expect(first.isError).toBe(false);
    const sessionId = first.s.sessionId!;
    expect(localTranscript(boxA.home, sessionId)).toBe(true);
    // Replica B never ran it: nothing of it under B's HOME.
    expect(localTranscript(boxB.home, sessionId)).toBe(false);

    const resumed = await call(viaB, 'claude_resume', { sessionId, query: 'cc-second: what was its name?' });
    expect(resumed.isError).toBe(false);
    expect(resumed.s).toMatchObject({ sessionId, result: 'resumed elsewhere' });
    const seen = conversation(lastRequestWith(mock, 'cc-second')!);
    expect(seen[0]).toContain('cc-first: name the parrot');
    expect(seen.some((line) => line.startsWith('assistant:') && line.includes('the parrot is called Polly'))).toBe(true);
    expect(seen.findIndex((line) => line.includes('cc-second'))).toBeGreaterThan(seen.findIndex((line) => line.includes('Polly')));

    // Back on A, the turn B added is part of the conversation too.
    const forked = await call(viaA, 'claude_resume', { sessionId, query: 'cc-fork: and now?', fork: true });
    expect(forked.isError).toBe(false);
    expect(forked.s.sessionId).not.toBe(sessionId);
    expect(forked.s.forkedFrom).toBe(sessionId);
    const forkSeen = conversation(lastRequestWith(mock, 'cc-fork')!);
    expect(forkSeen.some((line) => line.includes('resumed elsewhere'))).toBe(true);
    expect(forkSeen.some((line) => line.includes('Polly'))).toBe(true);
  }, 120_000);

  it('checkpoints made on one replica compare and restore on the other (shared workspace), forking the conversation there', async () => {
    mock.on({
      prompt: 'cp-one',
      replies: [
        { kind: 'tool_use', name: 'Write', input: { file_path: path.join(project, 'notes.txt'), content: 'first\n' } },
        { kind: 'text', text: 'wrote' },
      ],
    });
    mock.on({ prompt: 'cp-after', replies: [{ kind: 'text', text: 'continuing from the checkpoint' }] });
    const run = await call(viaA, 'claude_ask', { query: 'cp-one', workingDirectory: 'project', allowedTools: ['Write'] });
    expect(run.isError).toBe(false);
    const sessionId = run.s.sessionId!;
    const created = await call(viaA, 'claude_checkpoint', { action: 'create', sessionId, label: 'before edits' });
    expect(created.isError).toBe(false);
    const checkpointId = created.s.checkpoint!.checkpointId;

    writeFileSync(path.join(project, 'notes.txt'), 'changed\n');
    writeFileSync(path.join(project, 'extra.txt'), 'extra\n');
    const compared = await call(viaB, 'claude_checkpoint', { action: 'compare', sessionId, checkpointId });
    expect(compared.isError).toBe(false);
    expect(compared.s).toMatchObject({ changed: ['notes.txt'], added: ['extra.txt'] });

    const restored = await call(viaB, 'claude_checkpoint', { action: 'restore', sessionId, checkpointId, query: 'cp-after' });
    expect(restored.isError).toBe(false);
    expect(readFileSync(path.join(project, 'notes.txt'), 'utf8')).toBe('first\n');
    expect(existsSync(path.join(project, 'extra.txt'))).toBe(false);
    expect(restored.s.fork?.result).toBe('continuing from the checkpoint');
    // The fork on B continued the conversation A had, at the checkpoint.
    expect(conversation(lastRequestWith(mock, 'cp-after')!).some((line) => line.includes('cp-one'))).toBe(true);
  }, 120_000);

  it('claude_abort through one replica stops a run on the other; CLUSTER_MAX_CONCURRENT_RUNS holds across them meanwhile', async () => {
    mock.on({ prompt: 'ab-start', replies: [{ kind: 'text', text: 'ready' }] });
    mock.on({ prompt: 'ab-hang', replies: [{ kind: 'hang' }] });
    mock.on({ prompt: 'ab-other', replies: [{ kind: 'text', text: 'should not run' }] });
    const sessionId = (await call(viaA, 'claude_ask', { query: 'ab-start', workingDirectory: 'project' })).s.sessionId!;
    const before = mock.requests.length;
    const hanging = call(viaA, 'claude_resume', { sessionId, query: 'ab-hang' });
    await until('the run on A to reach the API', () =>
      mock.requests.slice(before).some((request) => conversation(request).some((line) => line.includes('ab-hang'))),
    );

    // The one cluster-wide slot is A's: a run asked of B is refused, retryably.
    const refused = await call(viaB, 'claude_ask', { query: 'ab-other', workingDirectory: 'project' });
    expect(refused.isError).toBe(true);
    expect(refused.s.error).toMatchObject({ category: 'busy' });
    expect(refused.s.error?.message).toContain('CLUSTER_MAX_CONCURRENT_RUNS');
    expect(lastRequestWith(mock, 'ab-other')).toBeUndefined();

    const aborted = await call(viaB, 'claude_abort', { sessionId });
    expect(aborted.isError).toBe(false);
    const ended = await hanging;
    expect(ended.isError).toBe(true);
    expect(ended.s.error).toMatchObject({ category: 'aborted' });

    // Its slot is free again, for either replica.
    const after = await call(viaB, 'claude_ask', { query: 'ab-other', workingDirectory: 'project' });
    expect(after.isError).toBe(false);
    // Nothing left running anywhere to abort.
    expect((await call(viaB, 'claude_abort', { sessionId })).s.error).toMatchObject({ category: 'session_not_found' });
  }, 120_000);

  it('a background task started on one replica is listed, read and stopped through the other', async () => {
    mock.on({ prompt: 'bg-hang', replies: [{ kind: 'hang' }] });
    const started = await call(viaA, 'claude_ask', { query: 'bg-hang', workingDirectory: 'project', backgroundTask: true });
    expect(started.isError).toBe(false);
    const taskId = started.s.taskId as string;
    await until("the task's run to reach the API", () => lastRequestWith(mock, 'bg-hang') !== undefined);
    const listed = await call(viaB, 'claude_background_tasks', { action: 'list' });
    expect((listed.s.tasks as Array<{ taskId: string; status: string }>).find((task) => task.taskId === taskId)).toMatchObject({
      status: 'running',
    });

    const logs = await call(viaB, 'claude_background_tasks', { action: 'logs', taskId });
    expect(logs.isError).toBe(false);
    expect(logs.s.task).toMatchObject({ taskId, status: 'running' });

    const stopped = await call(viaB, 'claude_abort', { taskId });
    expect(stopped.isError).toBe(false);
    // The replica running it stops its run and records the end.
    await until('the task to end on A', async () => {
      const { s } = await call(viaB, 'claude_background_tasks', { action: 'list' });
      return (s.tasks as Array<{ taskId: string; status: string }>).find((task) => task.taskId === taskId)?.status === 'aborted';
    });
    // And the slot it held is free: a new run goes through.
    mock.on({ prompt: 'bg-after', replies: [{ kind: 'text', text: 'free again' }] });
    await until(
      'the slot to be released',
      async () => !(await call(viaB, 'claude_ask', { query: 'bg-after', workingDirectory: 'project' })).isError,
    );
  }, 120_000);
});
