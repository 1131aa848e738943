import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createEventBus, type BusEvent } from '../../server/events/bus.js';
import { parseGatewayConfig } from '../../server/gateway/config.js';
import { GatewayRegistry } from '../../server/gateway/registry.js';
import { waitFor } from '../helpers/http.js';
import { testLogger } from '../helpers/test-server.js';

const fixture = path.resolve('test/fixtures/gateway-upstream.mjs');
const baseEnv = { PATH: process.env.PATH ?? '' };

describe('gateway supervision (real fixture processes)', () => {
  let dir: string;
  let registry: GatewayRegistry;
  let events: BusEvent[];

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwsup-'));
    events = [];
    const bus = createEventBus(testLogger());
    bus.onAny((event) => void events.push(event));
    registry = new GatewayRegistry({ logger: testLogger(), events: bus, baseEnv, logDir: dir, logMaxBytes: 4096, version: 'test' });
  });

  afterEach(async () => {
    await registry.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const ofServer = (type: string, server: string) =>
    events.filter((e) => e.type === type && (e.data as { server: string }).server === server);

  it('startTimeoutMs: a slow start within it succeeds though calls time out sooner; past timeoutMs alone it fails', async () => {
    const slow = { command: process.execPath, args: [fixture], env: { FIXTURE_START_DELAY_MS: '1500' }, timeoutMs: 500 };
    await registry.apply(
      parseGatewayConfig({ mcpServers: { patient: { ...slow, startTimeoutMs: 20_000 }, hasty: { ...slow, restart: { max: 0 } } } }),
    );
    await waitFor(() => registry.get('patient')!.status === 'running' && registry.get('hasty')!.status === 'failed', 25_000);
    expect(registry.get('hasty')!.health.lastError).toBe('hasty: no connection within 500 ms');
  }, 40_000);

  it('restarts a server that stops answering health pings', async () => {
    await registry.apply(
      parseGatewayConfig({
        mcpServers: {
          hung: {
            command: process.execPath,
            args: [fixture],
            env: { FIXTURE_HANG_PINGS: '1' },
            healthCheck: { intervalMs: 200, failures: 2 },
            restart: { max: 5, backoff: 50 },
          },
        },
      }),
    );
    const hung = registry.get('hung')!;
    await waitFor(() => hung.status === 'running', 20_000);
    const firstPid = hung.pid;
    await waitFor(() => ofServer('upstream.down', 'hung').length > 0, 10_000);
    expect((ofServer('upstream.down', 'hung')[0]!.data as { reason: string }).reason).toBe('2 failed health checks');
    await waitFor(() => hung.status === 'running' && hung.pid !== firstPid, 20_000);
    expect(ofServer('upstream.restarted', 'hung').length).toBeGreaterThanOrEqual(1);
  }, 40_000);

  it('gives up after restart.max restarts in the window (failed), and an operator restart tries again', async () => {
    await registry.apply(
      parseGatewayConfig({
        mcpServers: {
          broken: {
            command: process.execPath,
            args: [fixture],
            env: { FIXTURE_FAIL_START: '1' },
            timeoutMs: 5000,
            restart: { max: 2, windowMs: 60_000, backoff: 50 },
          },
        },
      }),
    );
    const broken = registry.get('broken')!;
    await waitFor(() => broken.status === 'failed', 20_000);
    expect(broken.health.restartCount).toBe(2);
    expect(broken.health.lastError).toBeTruthy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(broken.status).toBe('failed');
    expect(broken.health.restartCount).toBe(2);
    void broken.restart();
    await waitFor(() => broken.health.restartCount >= 3, 10_000);
  }, 40_000);

  it('applies a changed config by starting, stopping and restarting only what changed', async () => {
    const entry = (tag: string) => ({ command: process.execPath, args: [fixture], env: { FIXTURE_TAG: tag } });
    await registry.apply(parseGatewayConfig({ mcpServers: { keep: entry('k'), change: entry('1'), drop: entry('d') } }));
    await waitFor(() => registry.list().every((s) => s.status === 'running'), 20_000);
    const keepPid = registry.get('keep')!.pid;
    const changePid = registry.get('change')!.pid;
    const result = await registry.apply(parseGatewayConfig({ mcpServers: { keep: entry('k'), change: entry('2'), add: entry('a') } }));
    expect(result).toEqual({ started: ['add'], stopped: ['drop'], restarted: ['change'], unchanged: ['keep'] });
    await waitFor(() => registry.list().every((s) => s.status === 'running'), 20_000);
    expect(registry.list().map((s) => s.name)).toEqual(['add', 'change', 'keep']);
    expect(registry.get('keep')!.pid).toBe(keepPid);
    expect(registry.get('change')!.pid).not.toBe(changePid);
  }, 40_000);
});
