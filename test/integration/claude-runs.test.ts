import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { Config } from '../../server/config/schema.js';
import { startMockAnthropicApi, type MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import { createClaudeSandbox, isAlive, type ClaudeSandbox } from '../helpers/claude-env.js';
import { waitFor } from '../helpers/http.js';
import { startTestServer } from '../helpers/test-server.js';
import { structuredOf } from '../helpers/claude-harness.js';

interface Structured {
  result?: string;
  sessionId?: string;
  error?: { category: string; message: string };
}

/** Run scheduling, limits and process hygiene: queue priority and bounds, timeouts, shutdown, a missing CLI. */
describe('Claude runs: queue, timeout, shutdown and CLI resolution', () => {
  let mock: MockAnthropicApi;
  let sandbox: ClaudeSandbox;

  const startServer = async (overrides: Partial<Config>) => {
    const server = await startTestServer(
      { workspaceRoots: [sandbox.workspace], runInterruptGraceMs: 1000, ...overrides },
      { claudeEnvironment: sandbox.env },
    );
    const client = new Client({ name: 'runs-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
    const call = async (args: Record<string, unknown>, name = 'claude_ask') => {
      const result = await client.callTool({ name, arguments: args }, { timeout: 60_000 });
      return { isError: result.isError, s: structuredOf(result) as Structured };
    };
    return { server, client, call };
  };

  beforeAll(async () => {
    mock = await startMockAnthropicApi();
    sandbox = createClaudeSandbox(mock.url);
    mock.on({ prompt: 'occupy', replies: [{ kind: 'hang' }] });
  });
  afterAll(async () => {
    await mock.close();
    sandbox.remove();
  });

  it('runs at most MAX_CONCURRENT_RUNS at once, starts high priority first, and answers busy when the queue is full', async () => {
    const { server, client, call } = await startServer({ maxConcurrentRuns: 1, maxQueuedRuns: 2 });
    try {
      mock.on({ prompt: 'prio-low', replies: [{ kind: 'text', text: 'low done' }] });
      mock.on({ prompt: 'prio-high', replies: [{ kind: 'text', text: 'high done' }] });
      const executor = server.container.claude.executor;
      const occupying = call({ query: 'occupy' });
      await waitFor(() => mock.requestsFor('occupy').length === 1, 15_000);
      const low = call({ query: 'prio-low', priority: 'low' });
      await waitFor(() => executor.stats().queued === 1, 5000);
      const high = call({ query: 'prio-high', priority: 'high' });
      await waitFor(() => executor.stats().queued === 2, 5000);
      expect(executor.stats()).toEqual({ running: 1, queued: 2 });

      const refused = await call({ query: 'one too many' });
      expect(refused.s.error?.category).toBe('busy');

      const [occupier] = executor.live().filter((r) => r.status === 'running');
      const aborted = await call({ runId: occupier!.id }, 'claude_abort');
      expect(aborted.isError).toBeFalsy();
      expect((await occupying).s.error?.category).toBe('aborted');
      const [lowResult, highResult] = await Promise.all([low, high]);
      expect(lowResult.s.result).toBe('low done');
      expect(highResult.s.result).toBe('high done');
      // High was queued after low but reached the API first.
      expect(mock.requestsFor('prio-high')[0]!.receivedAt).toBeLessThan(mock.requestsFor('prio-low')[0]!.receivedAt);
    } finally {
      await client.close();
      await server.stop();
    }
  });

  it('interrupts a run that exceeds RUN_TIMEOUT_MS and answers timeout', async () => {
    const { server, client, call } = await startServer({ runTimeoutMs: 1500 });
    try {
      const started = Date.now();
      const { isError, s } = await call({ query: 'occupy' });
      expect(isError).toBe(true);
      expect(s.error?.category).toBe('timeout');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(server.container.claude.executor.live()).toEqual([]);
    } finally {
      await client.close();
      await server.stop();
    }
  });

  it('on shutdown interrupts every run and leaves no claude process behind', async () => {
    const { server, client, call } = await startServer({ maxConcurrentRuns: 2 });
    const pending = [call({ query: 'occupy' }).catch(() => undefined), call({ query: 'occupy' }).catch(() => undefined)];
    try {
      await waitFor(() => server.container.claude.executor.live().filter((r) => r.pid && r.status === 'running').length === 2, 15_000);
      const pids = server.container.claude.executor.live().map((r) => r.pid!);
      await server.stop();
      for (const pid of pids) expect(isAlive(pid)).toBe(false);
      expect(server.container.claude.executor.live()).toEqual([]);
    } finally {
      await server.stop();
      // The server went away mid-call; closing the client settles the two pending calls.
      await client.close().catch(() => undefined);
      await Promise.race([Promise.all(pending), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    }
  });

  it('answers cli_not_found for every call when CLAUDE_CLI_PATH is unusable', async () => {
    const notExecutable = path.join(sandbox.root, 'claude-not-executable');
    writeFileSync(notExecutable, '#!/bin/sh\necho 1.0\n');
    chmodSync(notExecutable, 0o644);
    for (const claudeCliPath of [path.join(sandbox.root, 'missing-claude'), notExecutable]) {
      const { server, client, call } = await startServer({ claudeCliPath });
      try {
        const first = await call({ query: 'hello' });
        const second = await call({ query: 'hello again' });
        expect(first.s.error?.category).toBe('cli_not_found');
        expect(second.s.error?.category).toBe('cli_not_found');
        expect(first.s.error?.message).not.toContain(sandbox.root);
      } finally {
        await client.close();
        await server.stop();
      }
    }
  });

  it('accepts a working system binary in CLAUDE_CLI_PATH', async () => {
    const { BUNDLED_CLAUDE } = await import('../helpers/claude-env.js');
    const { server, client, call } = await startServer({ claudeCliPath: BUNDLED_CLAUDE });
    try {
      mock.on({ prompt: 'system-binary', replies: [{ kind: 'text', text: 'from the system binary' }] });
      expect((await call({ query: 'system-binary' })).s.result).toBe('from the system binary');
    } finally {
      await client.close();
      await server.stop();
    }
  });
});
