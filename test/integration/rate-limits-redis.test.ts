/**
 * Rate limits shared through Redis by two server processes, and the in-memory insurance limiter when Redis goes away.
 * Redis runs when it answers at REDIS_URL (default redis://127.0.0.1:6379); with CI=true it must (the suite fails
 * instead of skipping), as in test/contract/storage.test.ts.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createRateLimits } from '../../server/limits/rate-limits.js';
import { createSilentLogger } from '../../server/logging/logger.js';
import { createMetrics } from '../../server/metrics/metrics.js';
import { createSandbox, spawnCli, type CliProcess, type Sandbox } from '../helpers/cli-process.js';
import { REDIS_URL, redisSkipReason } from '../helpers/redis.js';
import { jsonHeaders } from '../helpers/http.js';

const IN_CI = process.env.CI === 'true';
const PREFIX = `ccm-test:rl:${process.pid}:${randomUUID()}:`;

const describeRedis = (await redisSkipReason('Redis rate-limit tests')) ? describe.skip : describe;

async function ping(url: string): Promise<number> {
  const response = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: jsonHeaders(),
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  await response.text();
  return response.status;
}

async function waitForListening(server: CliProcess): Promise<string> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const line = server.logLines().find((entry) => entry.message === 'listening');
    if (line) return `http://127.0.0.1:${Number(line.port)}`;
    if (server.child.exitCode !== null) throw new Error(`serve exited early: ${server.stderr()}${server.stdout()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('no listening line within 30 s');
}

describeRedis('rate limits on Redis', () => {
  let sandbox: Sandbox;
  const servers: CliProcess[] = [];

  beforeAll(() => {
    sandbox = createSandbox();
  });

  afterAll(async () => {
    for (const server of servers) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    const keys = await redis.keys(`${PREFIX}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    sandbox.remove();
  });

  it('two server processes sharing Redis enforce one combined limit', async () => {
    const env = sandbox.env({
      STORAGE: 'redis',
      REDIS_URL,
      REDIS_KEY_PREFIX: PREFIX,
      RATE_LIMIT_ENABLED: 'true',
      RATE_LIMIT_REQUESTS: '6',
      RATE_LIMIT_WINDOW_MS: '60000',
      LOG_FORMAT: 'json',
    });
    for (let i = 0; i < 2; i += 1) servers.push(spawnCli(['serve'], { env, cwd: sandbox.cwd }));
    const [a, b] = await Promise.all(servers.map(waitForListening));
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      statuses.push(await ping(a!));
      statuses.push(await ping(b!));
    }
    expect(statuses).toEqual([400, 400, 400, 400, 400, 400]);
    expect(await ping(a!)).toBe(429);
    expect(await ping(b!)).toBe(429);
  }, 60_000);

  const REDIS_SERVER = '/usr/bin/redis-server';
  (existsSync(REDIS_SERVER) || IN_CI ? it : it.skip)(
    'a server whose Redis is killed mid-test keeps serving through the insurance limiter, logs it and counts it',
    async () => {
      const port = 20000 + Math.floor(Math.random() * 20000);
      const redisProcess = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      });
      try {
        const probe = new Redis(`redis://127.0.0.1:${port}`, {
          maxRetriesPerRequest: 1,
          retryStrategy: (times) => (times > 50 ? null : 100),
        });
        probe.on('error', () => undefined);
        await probe.ping();
        probe.disconnect();
        const env = sandbox.env({
          STORAGE: 'redis',
          REDIS_URL: `redis://127.0.0.1:${port}`,
          RATE_LIMIT_ENABLED: 'true',
          RATE_LIMIT_REQUESTS: '4',
          RATE_LIMIT_WINDOW_MS: '60000',
          LOG_FORMAT: 'json',
        });
        const server = spawnCli(['serve'], { env, cwd: sandbox.cwd });
        servers.push(server);
        const url = await waitForListening(server);
        expect([await ping(url), await ping(url)]).toEqual([400, 400]); // 2 of 4 counted in Redis
        redisProcess.kill('SIGKILL');
        await new Promise((resolve) => redisProcess.once('exit', resolve));
        const after: number[] = [];
        for (let i = 0; i < 5; i += 1) after.push(await ping(url));
        // The insurance limiter starts from zero: 4 more pass, the 5th is refused — never a 5xx.
        expect(after).toEqual([400, 400, 400, 400, 429]);
        const metrics = await (await fetch(`${url}/metrics`)).text();
        expect(metrics).toMatch(/^rate_limit_insurance_total [1-9]/m);
        expect(server.logLines().some((line) => String(line.message).includes('insurance limiter'))).toBe(true);
      } finally {
        if (redisProcess.exitCode === null) redisProcess.kill('SIGKILL');
      }
    },
    60_000,
  );

  it('keeps limiting with the in-memory insurance limiter when Redis goes away mid-test, and says so in a metric', async () => {
    const redis = new Redis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    await new Promise<void>((resolve) => redis.once('ready', () => resolve()));
    const metrics = createMetrics();
    const limits = createRateLimits({
      settings: {
        requests: 3,
        windowMs: 60_000,
        toolPoints: 10,
        globalRequests: 1000,
        oauthRequests: 1000,
        toolWeights: {},
        clientRequests: {},
      },
      redis,
      keyPrefix: PREFIX,
      logger: createSilentLogger(),
      metrics,
    });
    expect((await limits.consumeRequest('client:x')).allowed).toBe(true);
    redis.disconnect(); // Redis "dies": every further command fails at once
    const after = [];
    for (let i = 0; i < 4; i += 1) after.push((await limits.consumeRequest('client:x')).allowed);
    // The insurance limiter counts on its own from here: 3 more pass, the 4th is refused.
    expect(after).toEqual([true, true, true, false]);
    expect((await metrics.scrape()).body).toMatch(/^rate_limit_insurance_total [1-9]/m);
    await limits.close();
  });
});
