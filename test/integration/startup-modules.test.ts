import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CLI, createSandbox, killStarted, parseJsonLines, track, waitFor, type Sandbox } from '../helpers/cli-process.js';

const RECORDER = fileURLToPath(new URL('../fixtures/record-module-loads.mjs', import.meta.url));

/**
 * Start-up loads only what serving needs (the start-up target of bench:transport depends on it): libraries used
 * only by a feature's first use are loaded then. This fails when a static import pulls one of them back in, as a
 * value import from the MCP client package into a module the gateway loads at start-up once did.
 */
describe('start-up loads no library that only a first use needs', () => {
  let sandbox: Sandbox;

  beforeAll(() => {
    sandbox = createSandbox();
  });
  afterAll(async () => {
    await killStarted();
    sandbox.remove();
  });

  it('serves /health with the default settings without loading them', async () => {
    const record = path.join(sandbox.root, 'modules.txt');
    // The defaults a newcomer gets: OAuth on, SQLite, metrics, the Claude tools and the gateway (no upstreams yet).
    const env = { ...sandbox.env({ AUTH_MODE: undefined, STORAGE: 'sqlite', HOST: '127.0.0.1' }), RECORD_MODULE_LOADS: record };
    const child = spawn(process.execPath, ['--import', RECORDER, CLI, 'serve'], {
      cwd: sandbox.cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child.pid!, child);
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const listening = await waitFor(
      () => parseJsonLines(stdout).find((line) => line.message === 'listening'),
      'the listening log line',
      15_000,
    );
    const url = `http://127.0.0.1:${Number(listening.port)}`;
    await waitFor(async () => (await fetch(`${url}/health`).catch(() => undefined))?.status === 200, '/health 200');
    child.kill('SIGTERM');

    const loaded = readFileSync(record, 'utf8').split('\n');
    const packages = new Set(loaded.map((url) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1]).filter(Boolean));
    expect(packages).toContain('@modelcontextprotocol/server'); // the recorder works
    for (const lazy of [
      '@modelcontextprotocol/client',
      '@anthropic-ai/claude-agent-sdk',
      'rate-limiter-flexible',
      'jose',
      'ioredis',
      '@modelcontextprotocol/node',
    ]) {
      expect([lazy, packages.has(lazy)]).toEqual([lazy, false]);
    }
  });
});
