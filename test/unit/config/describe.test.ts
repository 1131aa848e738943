import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { describeConfig, MASK, maskSecret } from '../../../server/config/describe.js';
import { loadConfig } from '../../../server/config/load.js';
import { configSchema } from '../../../server/config/schema.js';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'config-describe-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const load = (env: NodeJS.ProcessEnv, flags = {}) =>
  loadConfig({ env, flags, cwd: dir, home: dir, systemFile: path.join(dir, 'none.json') });

describe('describeConfig', () => {
  it('masks the Redis password but keeps the host visible', () => {
    const described = describeConfig(load({ STORAGE: 'redis', REDIS_URL: 'redis://default:hunter2@redis.internal:6379/0' }));
    expect(described.redisUrl).toEqual({ value: `redis://default:${MASK}@redis.internal:6379/0`, source: 'env', env: 'REDIS_URL' });
    expect(JSON.stringify(described)).not.toContain('hunter2');
  });

  it('masks a password-only Redis URL', () => {
    const described = describeConfig(load({ STORAGE: 'redis', REDIS_URL: 'redis://:hunter2@redis.internal:6379' }));
    expect(described.redisUrl!.value).toBe(`redis://:${MASK}@redis.internal:6379`);
  });

  it('shows an unset secret as unset rather than masked', () => {
    expect(describeConfig(load({})).redisUrl!.value).toBeUndefined();
  });

  it('reports where each value came from', () => {
    writeFileSync(path.join(dir, 'claude-mcp.config.json'), JSON.stringify({ port: 4000 }));
    const described = describeConfig(load({ HOST: '0.0.0.0' }, { logLevel: 'debug' }));
    expect(described.port).toEqual({ value: 4000, source: 'file', env: 'PORT' });
    expect(described.host).toEqual({ value: '0.0.0.0', source: 'env', env: 'HOST' });
    expect(described.logLevel).toEqual({ value: 'debug', source: 'flag', env: 'LOG_LEVEL' });
    expect(described.maxSessions).toEqual({ value: 1000, source: 'default', env: 'MAX_SESSIONS' });
  });

  it('lists every setting', () => {
    expect(Object.keys(describeConfig(load({}))).sort()).toEqual(Object.keys(configSchema.shape).sort());
  });
});

describe('maskSecret', () => {
  it('masks a user name that carries the credential', () => {
    expect(maskSecret('redis://s3cr3t-token@redis.internal:6379')).toBe(`redis://${MASK}@redis.internal:6379`);
  });

  it('leaves a URL without credentials readable', () => {
    expect(maskSecret('redis://redis.internal:6379')).toBe('redis://redis.internal:6379');
  });

  it('masks anything that is not a URL entirely', () => {
    expect(maskSecret('plain-secret-value')).toBe(MASK);
    expect(maskSecret('host:1234')).toBe(MASK);
  });
});
