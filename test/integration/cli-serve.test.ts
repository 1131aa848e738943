import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  createSandbox,
  killStarted,
  runCli,
  spawnCli,
  waitFor,
  within,
  type CliProcess,
  type LogLine,
  type Sandbox,
} from '../helpers/cli-process.js';

// The foreground server as a process: signals, streams cut at shutdown, configuration layering.

const SHUTDOWN_TIMEOUT_MS = 3000;
const PROTOCOL_VERSION = '2025-06-18';

let sandbox: Sandbox;

beforeEach(() => {
  sandbox = createSandbox();
});

afterEach(async () => {
  await killStarted();
  sandbox.remove();
});

/** Spawns `serve` and waits for its `listening` log line; returns the base URL. */
async function serve(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ server: CliProcess; url: string; port: number }> {
  const server = spawnCli([...args, 'serve'], { env: sandbox.env(env), cwd: sandbox.cwd });
  const listening = await waitFor(
    () => server.logLines().find((line) => line.message === 'listening') ?? (server.child.exitCode !== null && new Error(server.stderr())),
    'the listening log line',
  );
  if (listening instanceof Error) throw new Error(`serve exited early: ${listening.message}`);
  const port = Number(listening.port);
  return { server, url: `http://127.0.0.1:${port}`, port };
}

async function health(url: string): Promise<{ status: number; body: { status: string; sessions: { active: number; limit: number } } }> {
  const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
  return { status: response.status, body: (await response.json()) as never };
}

/** Reads a response body to its end; resolves how it ended. */
async function drain(reader: ReadableStreamDefaultReader<string>): Promise<'ended' | 'errored'> {
  try {
    for (;;) if ((await reader.read()).done) return 'ended';
  } catch {
    return 'errored';
  }
}

/** Opens a legacy SSE stream and reads up to its `endpoint` event. */
async function openLegacySse(url: string): Promise<{ reader: ReadableStreamDefaultReader<string>; endpoint: string }> {
  const response = await fetch(`${url}/sse`, { headers: { accept: 'text/event-stream' } });
  expect(response.status).toBe(200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  const endpoint = await within(
    (async () => {
      for (;;) {
        const match = /event: endpoint\ndata: (.+)\n/.exec(text);
        if (match) return match[1]!;
        const { done, value } = await reader.read();
        if (done) throw new Error(`SSE stream ended before the endpoint event: ${text}`);
        text += value;
      }
    })(),
    5000,
    'the endpoint event',
  );
  return { reader, endpoint };
}

/** Initializes a Streamable HTTP session and opens its standalone GET stream. */
async function openStreamableSession(url: string): Promise<{ reader: ReadableStreamDefaultReader<string>; sessionId: string }> {
  const post = (body: unknown, sessionId?: string) =>
    fetch(`${url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': PROTOCOL_VERSION,
        ...(sessionId ? { 'mcp-session-id': sessionId } : {}),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
  const init = await post({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'cli-serve-test', version: '1.0.0' } },
  });
  expect(init.status).toBe(200);
  const sessionId = init.headers.get('mcp-session-id')!;
  expect(sessionId).toBeTruthy();
  await init.text();
  expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sessionId)).status).toBe(202);
  const stream = await fetch(`${url}/mcp`, {
    headers: { accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': PROTOCOL_VERSION },
  });
  expect(stream.status).toBe(200);
  expect(stream.headers.get('content-type')).toContain('text/event-stream');
  return { reader: stream.body!.pipeThrough(new TextDecoderStream()).getReader(), sessionId };
}

const messages = (lines: LogLine[]) => lines.map((line) => line.message);

describe('serve in the foreground', () => {
  it('answers requests that arrive while it is still starting (first start, OAuth on), none left hanging', async () => {
    const [port] = await freePorts(1);
    spawnCli(['serve'], {
      env: sandbox.env({ PORT: String(port), AUTH_MODE: 'oauth', HOST: '127.0.0.1', STORAGE: 'sqlite' }),
      cwd: sandbox.cwd,
    });
    const outcomes: string[] = [];
    const started = Date.now();
    // Polled from the moment the process starts, so some requests land between listen() and the app being ready.
    for (;;) {
      if (Date.now() - started > 15_000) throw new Error(`no 200 within 15 s: ${outcomes.join(', ')}`);
      const outcome = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(3000) }).then(
        (response) => String(response.status),
        (error: Error) => (error.name === 'TimeoutError' ? 'timeout' : 'refused'),
      );
      outcomes.push(outcome);
      if (outcome === '200') break;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(outcomes.filter((outcome) => outcome !== 'refused' && outcome !== '200')).toEqual([]);
  });

  it('SIGTERM closes open SSE and Streamable HTTP streams, ends their sessions and exits 0', async () => {
    const startedAt = Date.now();
    const { server, url } = await serve([], { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) });
    await waitFor(async () => (await health(url).catch(() => undefined))?.status === 200, '/health 200');
    console.log(`serve: process start to /health 200 in ${Date.now() - startedAt} ms`);

    const legacy = await openLegacySse(url);
    expect(legacy.endpoint).toMatch(/^\/messages\?sessionId=/);
    const streamable = await openStreamableSession(url);
    const streamsEnded = Promise.all([drain(legacy.reader), drain(streamable.reader)]);
    expect((await health(url)).body.sessions.active).toBe(2);

    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    const exit = await within(server.exited, SHUTDOWN_TIMEOUT_MS + 2000, 'exit after SIGTERM');
    console.log(`serve: SIGTERM to exit in ${Date.now() - signalledAt} ms`);

    expect(exit).toEqual({ code: 0, signal: null });
    // 'ended', not 'errored': the server finished both responses itself before the process went away.
    expect(await within(streamsEnded, 2000, 'the end of both streams')).toEqual(['ended', 'ended']);
    const lines = server.logLines();
    expect(messages(lines)).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
    const ended = lines.filter((line) => line.message === 'session ended');
    expect(ended.map((line) => [line.transport, line.reason]).sort()).toEqual([
      ['sse', 'shutdown'],
      ['streamable-http', 'shutdown'],
    ]);
    expect(ended.map((line) => line.sessionId)).toContain(streamable.sessionId);
    expect(lines.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('a second SIGINT during a stuck shutdown exits at once', async () => {
    // A Redis that never answers (beyond PING/INFO) holds the shutdown until SHUTDOWN_TIMEOUT_MS.
    const redis = await startSilentQuitRedis();
    try {
      const { server } = await serve([], { STORAGE: 'redis', REDIS_URL: `redis://127.0.0.1:${redis.port}`, SHUTDOWN_TIMEOUT_MS: '30000' });

      server.child.kill('SIGINT');
      // The fake Redis answers nothing but PING/INFO, so shutdown sticks at the first storage command or at QUIT.
      await waitFor(() => messages(server.logLines()).includes('shutting down'), 'the shutdown to start', 15_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const secondAt = Date.now();
      server.child.kill('SIGINT');
      // Generous bounds for loaded machines; the point is not waiting out the 30 s shutdown timeout.
      const exit = await within(server.exited, 10_000, 'exit after the second SIGINT');

      expect(Date.now() - secondAt).toBeLessThan(10_000);
      expect(exit).toEqual({ code: 130, signal: null });
      expect(messages(server.logLines())).toEqual(expect.arrayContaining(['shutting down', 'second signal: exiting now']));
      expect(messages(server.logLines())).not.toContain('stopped');
    } finally {
      await redis.close();
    }
  }, 60_000);
});

describe('config check', () => {
  it('prints the effective settings with the Redis password masked', async () => {
    const result = await runCli(['config', 'check'], {
      env: sandbox.env({ REDIS_URL: 'redis://user:secret@127.0.0.1:6379' }),
      cwd: sandbox.cwd,
    });

    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('secret');
    expect(result.stderr).not.toContain('secret');
    expect(result.stdout.trimEnd().endsWith('\nconfiguration OK')).toBe(true);
    const summary = JSON.parse(result.stdout.slice(0, result.stdout.lastIndexOf('configuration OK'))) as {
      file: string | null;
      dotenv: string | null;
      settings: Record<string, { value: unknown; source: string; env: string }>;
    };
    expect(summary).toMatchObject({ file: null, dotenv: null });
    expect(summary.settings.redisUrl).toEqual({ value: 'redis://user:***@127.0.0.1:6379', source: 'env', env: 'REDIS_URL' });
    expect(summary.settings.storage).toEqual({ value: 'memory', source: 'env', env: 'STORAGE' });
  });

  it('rejects PORT=abc with exit 2 and a message naming the variable', async () => {
    const result = await runCli(['config', 'check'], { env: sandbox.env({ PORT: 'abc' }), cwd: sandbox.cwd });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('PORT: expected an integer 0-65535, got "abc"');
    expect(result.stdout).not.toContain('configuration OK');
  });
});

describe('configuration layering', () => {
  it('honours --config, and --port beats PORT', async () => {
    const configFile = path.join(sandbox.root, 'custom.json');
    writeFileSync(configFile, JSON.stringify({ maxSessions: 7 }));
    const [flagPort, envPort] = await freePorts(2);
    const args = ['--config', configFile, '--port', String(flagPort)];
    const env = { PORT: String(envPort) };

    const check = await runCli([...args, 'config', 'check'], { env: sandbox.env(env), cwd: sandbox.cwd });
    expect(check.code).toBe(0);
    const { settings } = JSON.parse(check.stdout.slice(0, check.stdout.lastIndexOf('configuration OK'))) as {
      settings: Record<string, { value: unknown; source: string }>;
    };
    expect(settings.maxSessions).toMatchObject({ value: 7, source: 'file' });
    expect(settings.port).toMatchObject({ value: flagPort, source: 'flag' });

    const { server, port, url } = await serve(args, env);
    expect(port).toBe(flagPort);
    const { status, body } = await health(url);
    expect(status).toBe(200);
    expect(body.sessions.limit).toBe(7);

    server.child.kill('SIGTERM');
    expect(await within(server.exited, SHUTDOWN_TIMEOUT_MS + 2000, 'exit after SIGTERM')).toEqual({ code: 0, signal: null });
  });
});

/** Ports that were free a moment ago (held together, so they differ). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve) => {
          const server = createServer();
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/**
 * Just enough of the Redis protocol for ioredis to connect (INFO ready check, PING), plus a QUIT that is never
 * answered: the server's shutdown then waits on it.
 */
async function startSilentQuitRedis(): Promise<{ port: number; quitReceived(): boolean; close(): Promise<void> }> {
  let quit = false;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      for (let command = takeCommand(); command; command = takeCommand()) {
        const name = command[0]!.toUpperCase();
        if (name === 'QUIT') quit = true;
        else if (name === 'PING') socket.write('+PONG\r\n');
        else if (name === 'INFO') {
          const info = '# Server\r\nredis_version:7.2.0\r\n# Persistence\r\nloading:0\r\n';
          socket.write(`$${Buffer.byteLength(info)}\r\n${info}\r\n`);
        } else if (name === 'GET') {
          // Any stored value is a JSON string here (the cluster's forwarding secret is read at start-up).
          socket.write('$8\r\n"secret"\r\n');
        } else socket.write('+OK\r\n');
      }
    });
    /** Removes one complete `*N` array of bulk strings from the buffer. */
    function takeCommand(): string[] | undefined {
      const lines = buffer.split('\r\n');
      const count = Number(lines[0]?.slice(1));
      if (!lines[0]?.startsWith('*') || lines.length < 1 + count * 2 + 1) return undefined;
      const args = Array.from({ length: count }, (_, i) => lines[2 + i * 2]!);
      buffer = lines.slice(1 + count * 2).join('\r\n');
      return args;
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    quitReceived: () => quit,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
