import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig, publicBaseUrl, sqliteFile, type LoadConfigOptions } from '../../../server/config/load.js';

/** A throwaway cwd, home and /etc, so no test ever reads the developer's real config or environment. */
let root: string;
let cwd: string;
let home: string;
let systemFile: string;

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'config-load-'));
  cwd = path.join(root, 'cwd');
  home = path.join(root, 'home');
  systemFile = path.join(root, 'etc', 'claude-mcp', 'config.json');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(home, { recursive: true });
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function write(file: string, content: unknown): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

function load(options: LoadConfigOptions = {}) {
  return loadConfig({ env: {}, cwd, home, systemFile, ...options });
}

/** The problems of the ConfigError `fn` throws; fails the test when it does not throw one. */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('starts from defaults that need no external services', () => {
    const { config, sources, file, dotenvFile } = load();
    expect(config).toMatchObject({
      transport: 'http',
      port: 3000,
      host: '127.0.0.1',
      dataDir: './data',
      storage: 'sqlite',
      legacyStateless: false,
      trustProxy: false,
      mcpPathPrefix: '',
      logLevel: 'info',
      logFormat: 'auto',
      allowedOrigins: ['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'],
    });
    expect(config.baseUrl).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
    expect(file).toBeUndefined();
    expect(dotenvFile).toBeUndefined();
    expect(new Set(Object.values(sources))).toEqual(new Set(['default']));
  });

  it('layers defaults < file < .env < real environment < flags', () => {
    write(path.join(cwd, 'claude-mcp.config.json'), { port: 4000, host: 'file-host', dataDir: '/from-file', logLevel: 'debug' });
    write(path.join(cwd, '.env'), 'PORT=5000\nHOST=dotenv-host\nDATA_DIR=/from-dotenv\n');
    const { config, sources, file, dotenvFile } = load({ env: { PORT: '6000', HOST: 'env-host' }, flags: { port: '7000' } });
    expect(file).toBe(path.join(cwd, 'claude-mcp.config.json'));
    expect(dotenvFile).toBe(path.join(cwd, '.env'));
    expect(config.port).toBe(7000);
    expect(sources.port).toBe('flag');
    expect(config.host).toBe('env-host');
    expect(sources.host).toBe('env');
    expect(config.dataDir).toBe('/from-dotenv');
    expect(sources.dataDir).toBe('env');
    expect(config.logLevel).toBe('debug');
    expect(sources.logLevel).toBe('file');
    expect(config.maxSessions).toBe(1000);
    expect(sources.maxSessions).toBe('default');
  });

  it('treats an empty environment variable as unset', () => {
    write(path.join(cwd, 'claude-mcp.config.json'), { port: 4000 });
    expect(load({ env: { PORT: '' } }).config.port).toBe(4000);
  });

  it('reads the first config file found: working directory, then home, then /etc', () => {
    write(systemFile, { port: 1003 });
    expect(load().config.port).toBe(1003);
    write(path.join(home, '.claude-mcp', 'config.json'), { port: 1002 });
    expect(load().config.port).toBe(1002);
    write(path.join(cwd, 'claude-mcp.config.json'), { port: 1001 });
    const loaded = load();
    expect(loaded.config.port).toBe(1001);
    expect(loaded.file).toBe(path.join(cwd, 'claude-mcp.config.json'));
  });

  it('reads only the --config file when one is given, resolved against the working directory', () => {
    write(path.join(cwd, 'claude-mcp.config.json'), { port: 1001, host: 'searched' });
    write(path.join(cwd, 'conf', 'explicit.json'), { port: 2002 });
    const { config, file } = load({ configPath: 'conf/explicit.json' });
    expect(file).toBe(path.join(cwd, 'conf', 'explicit.json'));
    expect(config.port).toBe(2002);
    expect(config.host).toBe('127.0.0.1');
  });

  it('names a --config file that does not exist', () => {
    const missing = path.join(root, 'nope', 'config.json');
    const problems = problemsOf(() => load({ configPath: missing }));
    expect(problems).toEqual([`${missing}: cannot read config file (ENOENT)`]);
  });

  it('names a config file that is not valid JSON', () => {
    const file = write(path.join(cwd, 'claude-mcp.config.json'), '{ "port": 3000, }');
    const problems = problemsOf(() => load());
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${escapeRegExp(file)}: not valid JSON \\(`));
  });

  it('refuses a config file whose top level is not an object', () => {
    const file = write(path.join(cwd, 'claude-mcp.config.json'), '[1, 2]');
    expect(problemsOf(() => load())).toEqual([`${file}: expected a JSON object at the top level`]);
  });

  it('refuses unknown config-file keys so a typo is not silently ignored', () => {
    const file = write(path.join(cwd, 'claude-mcp.config.json'), { prot: 4000 });
    expect(problemsOf(() => load())).toEqual([`${file}: unknown setting "prot" (see docs/configuration.md)`]);
  });

  it('names the setting, the expectation and the bad value', () => {
    expect(problemsOf(() => load({ env: { PORT: 'abc' } }))).toEqual(['PORT: expected an integer 0-65535, got "abc"']);
    expect(problemsOf(() => load({ env: { PORT: '80.5' } }))).toEqual(['PORT: expected an integer 0-65535, got 80.5']);
    expect(problemsOf(() => load({ env: { PORT: '70000' } }))).toEqual([expect.stringMatching(/^PORT: expected an integer 0-65535/)]);
    expect(problemsOf(() => load({ flags: { port: 'abc' } }))).toEqual(['--port: expected an integer 0-65535, got "abc"']);
    write(path.join(cwd, 'claude-mcp.config.json'), { port: '3000' });
    expect(problemsOf(() => load())).toEqual(['claude-mcp.config.json: port: expected an integer 0-65535, got "3000"']);
  });

  it('reads booleans from the environment in the usual spellings', () => {
    for (const yes of ['true', 'TRUE', '1', 'yes', 'on']) {
      expect(load({ env: { MCP_LEGACY_STATELESS: yes } }).config.legacyStateless).toBe(true);
    }
    for (const no of ['false', '0', 'no', 'off']) {
      expect(load({ env: { MCP_LEGACY_STATELESS: no } }).config.legacyStateless).toBe(false);
    }
    expect(problemsOf(() => load({ env: { MCP_LEGACY_STATELESS: 'maybe' } }))).toEqual([
      'MCP_LEGACY_STATELESS: expected true or false, got "maybe"',
    ]);
  });

  it('reads enums and lists the allowed values when one is wrong', () => {
    expect(load({ env: { LOG_FORMAT: 'json', STORAGE: 'memory' } }).config).toMatchObject({ logFormat: 'json', storage: 'memory' });
    expect(problemsOf(() => load({ env: { STORAGE: 'mongo' } }))).toEqual([
      'STORAGE: expected one of sqlite | redis | memory, got "mongo"',
    ]);
  });

  it('reads comma-separated lists, trimming blanks', () => {
    expect(load({ env: { ALLOWED_ORIGINS: 'a,b' } }).config.allowedOrigins).toEqual(['a', 'b']);
    expect(load({ env: { ALLOWED_HOSTS: ' example.com , , api.example.com ' } }).config.allowedHosts).toEqual([
      'example.com',
      'api.example.com',
    ]);
  });

  it('reads TRUST_PROXY digits as a hop count, not as `true` (which would trust every proxy)', () => {
    expect(load({ env: { TRUST_PROXY: '1' } }).config.trustProxy).toBe(1);
    expect(load({ env: { TRUST_PROXY: '2' } }).config.trustProxy).toBe(2);
    expect(load({ env: { TRUST_PROXY: 'true' } }).config.trustProxy).toBe(true);
    expect(load({ env: { TRUST_PROXY: 'false' } }).config.trustProxy).toBe(false);
    expect(load({ env: { TRUST_PROXY: 'loopback, 10.0.0.0/8' } }).config.trustProxy).toBe('loopback, 10.0.0.0/8');
  });

  it('requires REDIS_URL when STORAGE=redis', () => {
    expect(problemsOf(() => load({ env: { STORAGE: 'redis' } }))).toEqual(['REDIS_URL: required when STORAGE=redis']);
    const { config } = load({ env: { STORAGE: 'redis', REDIS_URL: 'redis://127.0.0.1:6379' } });
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(problemsOf(() => load({ env: { STORAGE: 'redis', REDIS_URL: 'http://127.0.0.1:6379' } }))).toEqual([
      'REDIS_URL: expected a redis:// or rediss:// URL',
    ]);
  });

  it('reads a secret from its *_FILE (the Docker/Kubernetes secrets convention), never from both places', () => {
    const file = write(path.join(root, 'secrets', 'redis_url'), 'redis://:pa55@127.0.0.1:6379\n');
    const { config, sources } = load({ env: { STORAGE: 'redis', REDIS_URL_FILE: file } });
    expect(config.redisUrl).toBe('redis://:pa55@127.0.0.1:6379');
    expect(sources.redisUrl).toBe('env');
    // Relative to the working directory, like every other path.
    write(path.join(cwd, 'keys.txt'), 'k-0123456789:ci');
    expect(load({ env: { MCP_API_KEYS_FILE: 'keys.txt' } }).config.apiKeys).toEqual(['k-0123456789:ci']);
    expect(problemsOf(() => load({ env: { STORAGE: 'redis', REDIS_URL: 'redis://127.0.0.1:6379', REDIS_URL_FILE: file } }))).toEqual([
      'REDIS_URL: set either REDIS_URL or REDIS_URL_FILE, not both',
    ]);
    expect(problemsOf(() => load({ env: { WEBHOOK_SECRET_FILE: path.join(root, 'missing') } }))).toEqual([
      `WEBHOOK_SECRET_FILE: cannot read ${path.join(root, 'missing')} (ENOENT)`,
    ]);
    // Only secrets have a *_FILE form: other settings are not secret and stay in plain sight.
    expect(load({ env: { PORT_FILE: file } }).config.port).toBe(3000);
  });

  it('checks BASE_URL', () => {
    expect(problemsOf(() => load({ env: { BASE_URL: 'ftp://mcp.example.com' } }))).toEqual([
      'BASE_URL: expected an absolute http(s) URL, got "ftp://mcp.example.com"',
    ]);
    expect(problemsOf(() => load({ env: { BASE_URL: 'https://mcp.example.com/?x=1' } }))).toEqual([
      'BASE_URL: must not contain a query or fragment',
    ]);
  });

  it('reports every problem at once, one line each', () => {
    write(path.join(cwd, 'claude-mcp.config.json'), { prot: 1 });
    let error: unknown;
    try {
      load({ env: { PORT: 'abc', STORAGE: 'mongo', LOG_LEVEL: 'loud' } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    expect(problems).toHaveLength(4);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('unknown setting "prot"'),
        'PORT: expected an integer 0-65535, got "abc"',
        'STORAGE: expected one of sqlite | redis | memory, got "mongo"',
        expect.stringMatching(/^LOG_LEVEL: expected one of error \| warn/),
      ]),
    );
    expect(message.split('\n')).toEqual(['invalid configuration:', ...problems.map((p) => `  ${p}`)]);
  });

  it('returns a deeply frozen configuration', () => {
    const { config, sources } = load({ env: { ALLOWED_ORIGINS: 'https://a.example' } });
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => (config.allowedOrigins as string[]).push('https://evil.example')).toThrow(TypeError);
    expect(() => {
      (sources as Record<string, string>).port = 'flag';
    }).toThrow(TypeError);
    expect(config.port).toBe(3000);
    expect(config.allowedOrigins).toEqual(['https://a.example']);
  });

  it('does not let one frozen result leak into the next load', () => {
    load();
    expect(load({ env: { ALLOWED_HOSTS: 'example.com' } }).config.allowedHosts).toEqual(['example.com']);
    expect(load().config.allowedHosts).toEqual(['localhost', '127.0.0.1', '[::1]']);
  });
});

describe('publicBaseUrl', () => {
  it('uses BASE_URL without trailing slashes', () => {
    const { config } = load({ env: { BASE_URL: 'https://mcp.example.com/' } });
    expect(publicBaseUrl(config)).toBe('https://mcp.example.com');
    expect(publicBaseUrl({ baseUrl: 'https://example.com/mcp//', host: '127.0.0.1', port: 3000 })).toBe('https://example.com/mcp');
  });

  it('builds http://host:port when BASE_URL is unset', () => {
    expect(publicBaseUrl({ host: '127.0.0.1', port: 3000 })).toBe('http://127.0.0.1:3000');
    expect(publicBaseUrl({ host: 'mcp.internal', port: 8080 })).toBe('http://mcp.internal:8080');
  });

  it('shows wildcard binds as localhost, since 0.0.0.0 is not an address a client can use', () => {
    expect(publicBaseUrl({ host: '0.0.0.0', port: 3000 })).toBe('http://localhost:3000');
    expect(publicBaseUrl({ host: '::', port: 3000 })).toBe('http://localhost:3000');
  });

  it('brackets IPv6 hosts once', () => {
    expect(publicBaseUrl({ host: '::1', port: 3000 })).toBe('http://[::1]:3000');
    expect(publicBaseUrl({ host: '[::1]', port: 3000 })).toBe('http://[::1]:3000');
  });

  it('uses the bound port when PORT=0 picked one', () => {
    expect(publicBaseUrl({ host: '127.0.0.1', port: 0 }, 54321)).toBe('http://127.0.0.1:54321');
  });
});

describe('sqliteFile', () => {
  it('defaults to DATA_DIR/claude-code-mcp.db and honours SQLITE_PATH', () => {
    expect(sqliteFile({ dataDir: '/var/lib/mcp' })).toBe(path.join('/var/lib/mcp', 'claude-code-mcp.db'));
    expect(sqliteFile({ dataDir: '/var/lib/mcp', sqlitePath: '/tmp/x.db' })).toBe('/tmp/x.db');
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
