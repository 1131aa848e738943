import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Redis } from 'ioredis';
import { lastToolResult, startMockAnthropicApi, type MockAnthropicApi, type MockReply } from '../fixtures/mock-anthropic-api.js';
import { killStarted, spawnCli, waitFor, type CliProcess } from '../helpers/cli-process.js';
import { structuredOf } from '../helpers/claude-harness.js';

/**
 * The sandbox as an attacker meets it: a real `serve` process laid out as operators run it (its `.env` and API-key
 * file in its working directory, the default `./workspace` below it, a SQLite DATA_DIR beside it, secrets in its
 * environment), the real bundled `claude` binary, and a mock Messages API whose request log is the oracle: no
 * secret may ever appear in what the model was sent. Every attack is a tool call the "model" makes, scripted by the
 * mock; the far side (the file system, Redis, the server's access log) is checked too.
 */
describe('Claude runs in a sandbox: a caller reaches its own workspace and nothing else', () => {
  const marker = (name: string) => `SECRET-${name}-${randomBytes(6).toString('hex')}`;
  const secrets = {
    dotenv: `whsec_${Buffer.from(marker('DOTENV')).toString('base64')}`,
    environKey: marker('ENVIRON-KEY'),
    redisPassword: marker('REDIS-PASSWORD'),
    dataDir: marker('DATADIR'),
    sibling: marker('SIBLING'),
    bob: marker('BOB'),
    home: marker('HOME'),
    apiKey: `sk-test-${marker('ANTHROPIC')}`,
  };
  const keys = {
    alice: `key-alice-${randomBytes(8).toString('hex')}`,
    bob: `key-bob-${randomBytes(8).toString('hex')}`,
    eve: `key-eve-${randomBytes(8).toString('hex')}`,
  };

  let mock: MockAnthropicApi;
  let root: string;
  let serverDir: string;
  let dataDir: string;
  let outside: string;
  let server: CliProcess;
  let url: string;
  const clients: Partial<Record<keyof typeof keys, Client>> = {};

  const connect = async (who: keyof typeof keys) => {
    const client = new Client({ name: who, version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${keys[who]}` } } }),
    );
    clients[who] = client;
    return client;
  };

  /** The "model" makes `calls` in turn, then answers with the last tool result, which the test reads back. */
  const script = (prompt: string, calls: Array<{ name: string; input: Record<string, unknown> }>) =>
    mock.on({
      prompt,
      replies: [
        ...calls.map((call): MockReply => ({ kind: 'tool_use', name: call.name, input: call.input })),
        (request) => ({ kind: 'text', text: `LAST:${JSON.stringify(lastToolResult(request) ?? null)}` }),
      ],
    });

  type Answer = {
    isError?: boolean;
    text: string;
    structured: Record<string, unknown> & { error?: { category: string }; permissionDenials?: unknown[] };
  };
  const ask = async (who: keyof typeof keys, args: Record<string, unknown>): Promise<Answer> => {
    const client = clients[who] ?? (await connect(who));
    const result = await client.callTool({ name: 'claude_ask', arguments: args }, { timeout: 60_000 });
    const content = result.content as Array<{ type: string; text?: string }>;
    return {
      isError: result.isError as boolean | undefined,
      text: content.map((c) => c.text ?? '').join('\n'),
      structured: structuredOf(result) as Answer['structured'],
    };
  };
  /** `command`, hidden from Claude Code's own look at a command's paths, so that only the OS sandbox stands in the way. */
  const hidden = (command: string) => `eval "$(echo ${Buffer.from(command).toString('base64')} | base64 -d)"`;

  /** The tool results the model received in `prompt`'s run (the last request carries the whole conversation). */
  const toolResults = (prompt: string) =>
    (mock.requestsFor(prompt).at(-1)?.body.messages ?? [])
      .flatMap((message) => (typeof message.content === 'string' ? [] : message.content))
      .filter((block) => block.type === 'tool_result')
      .map((block) => (typeof block.content === 'string' ? block.content : JSON.stringify(block.content)));

  beforeAll(async () => {
    mock = await startMockAnthropicApi();
    root = realpathSync(mkdtempSync(path.join(tmpdir(), 'ccm-sbx-')));
    serverDir = path.join(root, 'server');
    dataDir = path.join(root, 'data');
    outside = path.join(root, 'outside');
    const home = path.join(root, 'home');
    for (const dir of [serverDir, dataDir, outside, home, path.join(root, 'tmp'), path.join(serverDir, 'workspace', 'bob')])
      mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(serverDir, '.env'), `WEBHOOK_SECRET=${secrets.dotenv}\n`);
    writeFileSync(
      path.join(serverDir, 'api-keys.json'),
      JSON.stringify({
        [keys.alice]: { client_id: 'alice', scopes: ['mcp:tools', 'claude:ask', 'claude:plan'] },
        [keys.bob]: { client_id: 'bob', scopes: ['mcp:tools', 'claude:ask', 'claude:plan'] },
        [keys.eve]: { client_id: 'eve', scopes: ['mcp:tools', 'claude:ask', 'claude:exec'] },
      }),
    );
    writeFileSync(path.join(dataDir, 'notes.txt'), secrets.dataDir);
    writeFileSync(path.join(outside, 'secret.txt'), secrets.sibling);
    writeFileSync(path.join(home, 'notes.txt'), secrets.home);
    writeFileSync(path.join(serverDir, 'workspace', 'bob', 'bob.txt'), secrets.bob);
    server = spawnCli(['serve'], {
      cwd: serverDir,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        TMPDIR: path.join(root, 'tmp'),
        DATA_DIR: dataDir,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
        AUTH_MODE: 'oauth',
        AUTH_INITIAL_ADMIN: 'false',
        MCP_API_KEYS_PATH: 'api-keys.json',
        MCP_API_KEYS: `${secrets.environKey}:environ-client`,
        REDIS_URL: `redis://:${secrets.redisPassword}@127.0.0.1:6379`,
        PER_CLIENT_WORKSPACES: 'true',
        ANTHROPIC_BASE_URL: mock.url,
        ANTHROPIC_API_KEY: secrets.apiKey,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_AUTOUPDATER: '1',
        DISABLE_TELEMETRY: '1',
        DISABLE_ERROR_REPORTING: '1',
        CLAUDE_CODE_MAX_RETRIES: '0',
      },
    });
    const listening = await waitFor(
      () =>
        server.logLines().find((line) => line.message === 'listening') ?? (server.child.exitCode !== null && new Error(server.stderr())),
      'the listening log line',
      20_000,
    );
    if (listening instanceof Error) throw new Error(`serve exited early: ${listening.message}`);
    url = `http://127.0.0.1:${Number(listening.port)}`;
    // Alice's workspace holds links that lead out of it: to a file and to a folder outside every workspace.
    const aliceDir = path.join(serverDir, 'workspace', 'alice');
    mkdirSync(aliceDir, { recursive: true });
    symlinkSync(path.join(outside, 'secret.txt'), path.join(aliceDir, 'linked.txt'));
    symlinkSync(outside, path.join(aliceDir, 'linked-dir'));
    writeFileSync(path.join(aliceDir, 'notes.md'), 'draft\n');
    // A workspace that carries its own Claude Code settings with a hook, trusted by the operator at some point.
    mkdirSync(path.join(aliceDir, '.claude'));
    const hook = {
      hooks: { PreToolUse: [{ matcher: '*', hooks: [{ type: 'command', command: `touch ${path.join(outside, 'hook-ran')}` }] }] },
    };
    writeFileSync(path.join(aliceDir, '.claude', 'settings.json'), JSON.stringify(hook));
    writeFileSync(path.join(home, '.claude.json'), JSON.stringify({ projects: { [aliceDir]: { hasTrustDialogAccepted: true } } }));
    const eveDir = path.join(serverDir, 'workspace', 'eve');
    mkdirSync(eveDir, { recursive: true });
    symlinkSync(outside, path.join(eveDir, 'linked-dir'));
  }, 40_000);

  afterAll(async () => {
    for (const client of Object.values(clients)) await client?.close().catch(() => undefined);
    await killStarted();
    await mock?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('reports the sandbox as working on /health', async () => {
    const health = (await (await fetch(`${url}/health`)).json()) as { sandbox: { mode: string; ready: boolean }; warnings?: string[] };
    expect(health.sandbox).toMatchObject({ mode: 'required', ready: true });
    expect(health.warnings ?? []).toEqual([]);
  });

  it('file tools reach nothing outside the working directory: other folders, .env, DATA_DIR, home, /etc, another client, links', async () => {
    const reads = [
      path.join(outside, 'secret.txt'),
      path.join(serverDir, '.env'),
      path.join(serverDir, 'api-keys.json'),
      path.join(dataDir, 'notes.txt'),
      path.join(root, 'home', 'notes.txt'),
      '/etc/hostname',
      path.join(serverDir, 'workspace', 'bob', 'bob.txt'),
      path.join(serverDir, 'workspace', 'alice', 'linked.txt'),
      path.join(serverDir, 'workspace', 'alice', 'linked-dir', 'secret.txt'),
      `/proc/${server.pid}/environ`,
    ];
    script('attack: file tools', [
      ...reads.map((file) => ({ name: 'Read', input: { file_path: file } })),
      { name: 'Grep', input: { pattern: '.', path: outside } },
      { name: 'Grep', input: { pattern: '.', path: serverDir } },
      { name: 'Grep', input: { pattern: '.', path: dataDir } },
      { name: 'Glob', input: { pattern: '**/*', path: path.join(serverDir, 'workspace', 'bob') } },
    ]);
    const answer = await ask('alice', { query: 'attack: file tools', allowedTools: ['Read', 'Grep', 'Glob'] });
    expect(answer.structured.error).toBeUndefined();
    const results = toolResults('attack: file tools');
    expect(results).toHaveLength(reads.length + 4);
    for (const result of results) expect(result).toMatch(/outside|does not read|off limits|denied|blocked/i);
  });

  it('file tools write nothing outside the working directory, and not through a link', async () => {
    script('attack: writes', [
      { name: 'Write', input: { file_path: path.join(outside, 'written.txt'), content: 'x' } },
      { name: 'Write', input: { file_path: path.join(serverDir, 'workspace', 'alice', 'linked-dir', 'via-link.txt'), content: 'x' } },
      { name: 'Write', input: { file_path: path.join(serverDir, 'workspace', 'bob', 'planted.txt'), content: 'x' } },
      { name: 'Edit', input: { file_path: path.join(serverDir, '.env'), old_string: 'WEBHOOK', new_string: 'X' } },
    ]);
    const answer = await ask('alice', { query: 'attack: writes', allowedTools: ['Write', 'Edit', 'Read'], permissionMode: 'acceptEdits' });
    expect(answer.structured.error).toBeUndefined();
    expect(existsSync(path.join(outside, 'written.txt'))).toBe(false);
    expect(existsSync(path.join(outside, 'via-link.txt'))).toBe(false);
    expect(existsSync(path.join(serverDir, 'workspace', 'bob', 'planted.txt'))).toBe(false);
    expect(readFileSync(path.join(serverDir, '.env'), 'utf8')).toBe(`WEBHOOK_SECRET=${secrets.dotenv}\n`);
  });

  it('a caller without claude:exec cannot ask for Bash, and the model cannot use it either', async () => {
    script('attack: bash without scope', [{ name: 'Bash', input: { command: `cat /proc/${server.pid}/environ` } }]);
    const refused = await ask('alice', { query: 'attack: bash without scope', allowedTools: ['Bash'] });
    expect(refused.isError).toBe(true);
    expect(refused.structured.error?.category).toBe('permission_denied');
    expect(refused.text).toContain('claude:exec');
    expect(mock.requestsFor('attack: bash without scope')).toHaveLength(0);
    for (const tool of ['Bash(cat *)', 'Monitor']) {
      const again = await ask('alice', { query: 'attack: bash without scope', allowedTools: [tool] });
      expect(again.structured.error?.category).toBe('permission_denied');
    }
    // Not asked for, but used anyway by the model: the tool is not even offered.
    const answer = await ask('alice', { query: 'attack: bash without scope', permissionMode: 'acceptEdits' });
    const offered = mock.requestsFor('attack: bash without scope')[0]!.body.tools?.map((tool) => tool.name) ?? [];
    expect(offered).not.toContain('Bash');
    expect(offered).not.toContain('Monitor');
    expect(toolResults('attack: bash without scope').join('\n')).not.toContain('MCP_API_KEYS');
    expect(answer.structured.error).toBeUndefined();
  });

  it('refuses what a caller may not widen: bypassPermissions, hooks, directories outside its workspace', async () => {
    const bypass = await ask('eve', { query: 'attack: widen', permissionMode: 'bypassPermissions' });
    expect(bypass.structured.error?.category).toBe('permission_denied');
    const hooks = await ask('eve', { query: 'attack: widen', hooks: { preToolUse: [`cat /proc/${server.pid}/environ > leak.txt`] } });
    expect(hooks.structured.error?.category).toBe('permission_denied');
    expect(hooks.text).toContain('sandbox');
    const extra = await ask('eve', { query: 'attack: widen', additionalDirectories: [outside] });
    expect(extra.structured.error?.category).toBe('workspace_denied');
    const other = await ask('eve', { query: 'attack: widen', additionalDirectories: ['../bob'] });
    expect(other.structured.error?.category).toBe('workspace_denied');
    const cwd = await ask('eve', { query: 'attack: widen', workingDirectory: '../bob' });
    expect(cwd.structured.error?.category).toBe('workspace_denied');
    expect(mock.requestsFor('attack: widen')).toHaveLength(0);
  });

  it('commands see no process, file or environment of the server, and write nowhere but the workspace', async () => {
    const commands = [
      `cat /proc/${server.pid}/environ`,
      `cat /proc/${server.pid}/cmdline; head -c 64 /proc/${server.pid}/mem`,
      'cat /proc/1/environ; ls /proc',
      'env',
      `cat ${path.join(dataDir, 'notes.txt')}; head -c 200 ${path.join(dataDir, 'claude-code-mcp.db')}`,
      'cat ../../.env ../../api-keys.json',
      `cat ${path.join(outside, 'secret.txt')} linked-dir/secret.txt`,
      `cat ../bob/bob.txt; ls ${path.join(root, 'home')}; cat ${path.join(root, 'home', 'notes.txt')}`,
      `echo planted > ${path.join(outside, 'from-bash.txt')}; echo planted > ../bob/from-bash.txt; echo planted > linked-dir/via-link.txt`,
    ];
    // Each command as written (Claude Code's own check refuses paths it can see outside the workspace), then hidden
    // from that check, so that only the OS sandbox stands in the way.
    script(
      'attack: commands',
      [...commands, ...commands.map(hidden)].map((command) => ({ name: 'Bash', input: { command } })),
    );
    const answer = await ask('eve', { query: 'attack: commands', allowedTools: ['Bash'] });
    expect(answer.structured.error).toBeUndefined();
    const results = toolResults('attack: commands');
    expect(results).toHaveLength(commands.length * 2);
    const sandboxed = results.slice(commands.length);
    // The server's /proc entry does not exist in the sandbox's pid namespace; its folders are not there at all.
    expect(sandboxed[0]).toMatch(/No such file/);
    expect(sandboxed[4]).toMatch(/No such file/);
    expect(sandboxed[5]).toMatch(/No such file/);
    expect(results.join('\n')).not.toMatch(/ANTHROPIC_API_KEY|MCP_API_KEYS|REDIS_URL|SQLite format/);
    expect(existsSync(path.join(outside, 'from-bash.txt'))).toBe(false);
    expect(existsSync(path.join(outside, 'via-link.txt'))).toBe(false);
    expect(existsSync(path.join(serverDir, 'workspace', 'bob', 'from-bash.txt'))).toBe(false);
  });

  it('commands reach no address: not the server itself on loopback, not Redis, not the metadata service', async () => {
    const probe = `probe${randomBytes(6).toString('hex')}`;
    const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      const commands = [
        `curl -sS -m 5 ${url}/health?${probe}`,
        `redis-cli -h 127.0.0.1 -p 6379 SET ${probe} planted`,
        'curl -sS -m 5 http://169.254.169.254/latest/meta-data/',
        // Through the sandbox's own proxy, which must not forward to these addresses either.
        `curl -sS -m 5 --noproxy '' -x "$HTTP_PROXY" ${url}/health?${probe}`,
        `curl -sS -m 5 --noproxy '' -x "$HTTP_PROXY" http://127.0.0.1:6379/${probe}`,
      ];
      script(
        'attack: network',
        [...commands, ...commands.map(hidden)].map((command) => ({ name: 'Bash', input: { command } })),
      );
      const answer = await ask('eve', { query: 'attack: network', allowedTools: ['Bash'] });
      expect(answer.structured.error).toBeUndefined();
      const results = toolResults('attack: network');
      expect(results).toHaveLength(commands.length * 2);
      expect(results.join('\n')).not.toContain('"status":"ok"');
      expect(await redis.exists(probe)).toBe(0);
      const logged = server.logLines().filter((line) => JSON.stringify(line).includes(probe));
      expect(logged).toEqual([]);
    } finally {
      await redis.del(probe);
      redis.disconnect();
    }
  });

  it('work inside the workspace still succeeds: read, edit, write and run a script', async () => {
    script('work: edit', [
      { name: 'Read', input: { file_path: path.join(serverDir, 'workspace', 'alice', 'notes.md') } },
      {
        name: 'Edit',
        input: { file_path: path.join(serverDir, 'workspace', 'alice', 'notes.md'), old_string: 'draft', new_string: 'final' },
      },
    ]);
    const edited = await ask('alice', { query: 'work: edit', allowedTools: ['Read', 'Edit'] });
    expect(edited.structured.error).toBeUndefined();
    expect(readFileSync(path.join(serverDir, 'workspace', 'alice', 'notes.md'), 'utf8')).toBe('final\n');
    expect(toolResults('work: edit')[0]).toContain('draft');
    // The workspace's own hook ran outside the sandbox if it ran at all: it must not have.
    expect(existsSync(path.join(outside, 'hook-ran'))).toBe(false);

    script('work: script', [
      {
        name: 'Write',
        input: {
          file_path: path.join(serverDir, 'workspace', 'eve', 'build.sh'),
          content: 'echo built > out.txt\nls /usr/bin | head -1 >> out.txt\n',
        },
      },
      { name: 'Bash', input: { command: 'sh build.sh && cat out.txt && mktemp' } },
    ]);
    const ran = await ask('eve', { query: 'work: script', allowedTools: ['Write', 'Bash'] });
    expect(ran.structured.error).toBeUndefined();
    expect(readFileSync(path.join(serverDir, 'workspace', 'eve', 'out.txt'), 'utf8')).toMatch(/^built\n/);
    expect(toolResults('work: script')[1]).toContain('built');

    // The conversation goes on: Claude's own session files keep working.
    const resumed = await clients.eve!.callTool(
      { name: 'claude_resume', arguments: { sessionId: ran.structured.sessionId, query: 'work: resumed' } },
      { timeout: 60_000 },
    );
    expect(resumed.isError).toBeFalsy();
    const history = mock
      .requestsFor('work: resumed')[0]!
      .body.messages.map((m) => JSON.stringify(m.content))
      .join('\n');
    expect(history).toContain('work: script');
  });

  it('a background task, and its restart, are sandboxed the same way', async () => {
    const command = hidden(`cat /proc/${server.pid}/environ; cat ${path.join(outside, 'secret.txt')}`);
    script('attack: background', [{ name: 'Bash', input: { command } }]);
    const started = await ask('eve', { query: 'attack: background', allowedTools: ['Bash'], backgroundTask: true });
    const taskId = started.structured.taskId as string;
    expect(taskId).toBeDefined();
    const status = async () =>
      (
        (await clients.eve!.callTool({ name: 'claude_background_tasks', arguments: { action: 'list' } })).structuredContent as {
          tasks: Array<{ taskId: string; status: string }>;
        }
      ).tasks.find((task) => task.taskId === taskId)?.status;
    await waitFor(async () => (await status()) === 'completed', 'the background task to complete', 30_000);
    await clients.eve!.callTool({ name: 'claude_background_tasks', arguments: { action: 'restart', taskId } });
    await waitFor(
      async () => mock.requestsFor('attack: background').length >= 4 && (await status()) === 'completed',
      'the restart to complete',
      30_000,
    );
    // Each run (the task, then its restart) sent the model its command's output once.
    const results = mock
      .requestsFor('attack: background')
      .map((request) => lastToolResult(request))
      .filter((result) => result !== undefined);
    expect(results.length).toBeGreaterThanOrEqual(2);
    for (const result of results) expect(result.content).toMatch(/No such file/);
  });

  it('no secret ever reached the model', () => {
    const sent = mock.requests.map((request) => JSON.stringify(request.body)).join('\n');
    expect(mock.requests.length).toBeGreaterThan(10);
    for (const [name, secret] of Object.entries(secrets)) expect({ name, leaked: sent.includes(secret) }).toEqual({ name, leaked: false });
    expect(sent).not.toContain('SQLite format 3');
  });
});
