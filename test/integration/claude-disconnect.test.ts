import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startClaudeHarness, type ClaudeHarness } from '../helpers/claude-harness.js';
import { waitFor } from '../helpers/cli-process.js';
import { isAlive } from '../helpers/claude-env.js';

const CLIENT = fileURLToPath(new URL('../fixtures/v1-call-client.mjs', import.meta.url));

/** A run of `query` through the v1 client in its own process; resolves once the call is on its way. */
async function startCall(harness: ClaudeHarness, query: string) {
  const child = spawn(process.execPath, [CLIENT, harness.server.mcpUrl, 'claude_ask', JSON.stringify({ query })], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(() => stdout.includes('calling'), 'the call to start', 15_000);
  return { child, output: () => stdout, exited };
}

describe('a vanished 2025-era client stops its Claude run', () => {
  let harness: ClaudeHarness;
  beforeAll(async () => {
    harness = await startClaudeHarness({ config: { streamReconnectGraceMs: 500, runInterruptGraceMs: 1000 } });
  });
  afterAll(() => harness.stop());

  it('a client killed mid-run: the run is interrupted and its claude process ends', async () => {
    const { mock, server, events } = harness;
    mock.on({ prompt: 'killed-client', replies: [{ kind: 'text', text: 'x'.repeat(400), chunks: 200, chunkDelayMs: 100 }] });
    const call = await startCall(harness, 'killed-client');
    await waitFor(() => mock.requestsFor('killed-client').length > 0, 'the run to reach the API', 15_000);
    const [run] = server.container.claude.executor.live();
    expect(run?.pid).toBeDefined();
    call.child.kill('SIGKILL');
    await call.exited;
    // Not at once: the client may still resume the stream within STREAM_RECONNECT_GRACE_MS.
    expect(server.container.claude.executor.live()).toHaveLength(1);
    await waitFor(() => server.container.claude.executor.live().length === 0, 'the run to stop', 10_000);
    expect(isAlive(run!.pid!)).toBe(false);
    await waitFor(
      () => events.some((e) => e.type === 'tool.error' && (e.data as { category: string }).category === 'aborted'),
      'the aborted event',
      5000,
    );
    // The stream stopped long before the 20 s the answer would have taken.
    expect(mock.openStreams()).toBe(0);
  });

  it('a client that stays runs to the end, and background tasks outlive the client that started them', async () => {
    const { mock, server } = harness;
    mock.on({ prompt: 'patient-client', replies: [{ kind: 'text', text: 'done waiting', chunks: 5, chunkDelayMs: 300 }] });
    const call = await startCall(harness, 'patient-client');
    await call.exited;
    expect(call.output()).toContain('done waiting');

    mock.on({ prompt: 'detached-task', replies: [{ kind: 'text', text: 'finished alone', chunks: 4, chunkDelayMs: 400 }] });
    const child = spawn(
      process.execPath,
      [CLIENT, server.mcpUrl, 'claude_ask', JSON.stringify({ query: 'detached-task', backgroundTask: true })],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitFor(() => mock.requestsFor('detached-task').length > 0, 'the task to reach the API', 15_000);
    await waitFor(
      async () => {
        const tasks = await server.container.claude.tasks.list('local');
        return tasks.some((task) => task.state === 'completed' && task.summary?.includes('finished alone'));
      },
      'the task to complete',
      20_000,
    );
  });
});
