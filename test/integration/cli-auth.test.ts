/** `keys`, `users` and `clients` commands against SQLite, and their effect on a running server. */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createGrantStore } from '../../server/auth/grants.js';
import { createStorage } from '../../server/storage/create-storage.js';
import { createSandbox, killStarted, runCli, spawnCli, waitFor, type Sandbox } from '../helpers/cli-process.js';

let sandbox: Sandbox;
beforeEach(() => {
  sandbox = createSandbox();
});
afterEach(async () => {
  await killStarted();
  sandbox.remove();
});

const env = (extra: Record<string, string> = {}) => sandbox.env({ STORAGE: 'sqlite', AUTH_MODE: 'oauth', ...extra });
const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { env: env(extra), cwd: sandbox.cwd });

function initialize(url: string, key?: string): Promise<Response> {
  return fetch(`${url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'k', version: '1' } },
    }),
  });
}

describe('auth CLI commands', () => {
  it('keys create|list|revoke: the key works on a running server until revoked; only its hash is stored', async () => {
    const created = await cli(['keys', 'create', 'ci-bot', '--scopes', 'mcp:tools,claude:ask']);
    expect(created.code).toBe(0);
    const key = created.stdout.split('\n')[0]!;
    expect(key).toMatch(/^ccm_/);
    const id = /API key (\S+) for client/.exec(created.stdout)![1]!;

    const listed = await cli(['keys', 'list']);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('ci-bot');
    expect(listed.stdout).not.toContain(key);

    const server = spawnCli(['serve'], { env: env({ AUTH_INITIAL_ADMIN: 'false' }), cwd: sandbox.cwd });
    const listening = await waitFor(() => server.logLines().find((line) => line.message === 'listening'), 'listening');
    const url = `http://127.0.0.1:${Number(listening.port)}`;
    expect((await initialize(url)).status).toBe(401);
    const accepted = await initialize(url, key);
    expect(accepted.status).toBe(200);
    await accepted.text();

    expect((await cli(['keys', 'revoke', id])).code).toBe(0);
    expect((await initialize(url, key)).status).toBe(401);
  });

  it('users add|list|remove, and the first-start admin password is printed once', async () => {
    const added = await cli(['users', 'add', 'bob', '--password', 'a long password']);
    expect(added.code).toBe(0);
    const generated = await cli(['users', 'add', 'carol']);
    expect(generated.stdout).toMatch(/generated password:\n\S{20}/);
    expect((await cli(['users', 'list'])).stdout).toMatch(/bob[\s\S]*carol/);
    // A grant bob approved (written straight into the same SQLite file) dies with his account.
    const storage = await createStorage({ kind: 'sqlite', path: path.join(sandbox.dataDir, 'claude-code-mcp.db') });
    const grants = createGrantStore({ store: storage, refreshTokenTtlSeconds: 3600 });
    const grant = await grants.create({
      clientId: 'c',
      subject: 'bob',
      scopes: ['mcp:tools'],
      resource: 'http://x/mcp',
      kind: 'authorization_code',
    });
    await storage.close();
    expect((await cli(['users', 'remove', 'bob'])).stdout).toContain('removed user bob and revoked 1 grant(s)');
    const after = await createStorage({ kind: 'sqlite', path: path.join(sandbox.dataDir, 'claude-code-mcp.db') });
    expect(await createGrantStore({ store: after, refreshTokenTtlSeconds: 3600 }).get(grant.id)).toBeUndefined();
    await after.close();
    expect((await cli(['users', 'remove', 'bob'])).code).toBe(1);
    expect((await cli(['users', 'add', 'dave', '--password', 'short'])).code).toBe(1);
  });

  it('prints a generated admin password on first start with no users, and not on the next', async () => {
    const first = spawnCli(['serve'], { env: env(), cwd: sandbox.cwd });
    await waitFor(() => first.logLines().find((line) => line.message === 'listening'), 'listening');
    expect(first.stderr()).toMatch(/user "admin" was created with the one-time password \S+/);
    first.child.kill('SIGTERM');
    await first.exited;
    expect((await cli(['users', 'list'])).stdout).toContain('admin');
    const second = spawnCli(['serve'], { env: env(), cwd: sandbox.cwd });
    await waitFor(() => second.logLines().find((line) => line.message === 'listening'), 'listening');
    expect(second.stderr()).not.toContain('one-time password');
  });

  it('refuses AUTH_MODE=none on a public interface unless MCP_DISABLE_AUTH is set', async () => {
    const refused = await cli(['config', 'check'], { AUTH_MODE: 'none', HOST: '0.0.0.0' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('AUTH_MODE: none is only allowed on a loopback HOST');
    expect((await cli(['config', 'check'], { AUTH_MODE: 'none', HOST: '0.0.0.0', MCP_DISABLE_AUTH: 'true' })).code).toBe(0);
  });

  it('keys commands refuse memory storage', async () => {
    const result = await runCli(['keys', 'list'], { env: sandbox.env({ STORAGE: 'memory' }), cwd: sandbox.cwd });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('STORAGE=memory');
  });
});
