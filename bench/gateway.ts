/**
 * Gateway benchmark: `npm run bench:gateway [-- --seconds 2 --rounds 3 --concurrency 1,8,32 --sessions 1000]`.
 *
 * `tools/call echo` of one stdio upstream (bench/support/echo-server.mjs) through our gateway at `/servers/x/mcp` and
 * at `/mcp` (`x__echo`), against (a) the same tool served natively over HTTP by the SDK (the floor of an HTTP hop),
 * (b) direct stdio, (c) supergateway and (d) mcp-proxy, at each concurrency with ~100 B and 64 KiB payloads. HTTP
 * targets use a raw keep-alive HTTP client (one 2025-11-25 session per worker), so client overhead is the same for
 * all. Rounds are interleaved (every target runs each cell once per round) and medians reported. Then RSS per 1,000
 * idle sessions of ours, and how many upstream processes each gateway spawned for 32 sessions. Markdown to stdout;
 * every server binds to 127.0.0.1 and is stopped by PID before exit.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { IDLE_WARMUP_SESSIONS, measureStreamableIdle } from './support/idle-sessions.js';
import { mapLimit, median, runCell, type CellResult, type Connection, type Target } from './support/load.js';
import {
  createSandbox,
  freePort,
  sleep,
  spawnChild,
  stopAllChildren,
  trackPid,
  type ManagedChild,
  type Sandbox,
} from './support/processes.js';
import { fixed, table, verdict, whole } from './support/report.js';
import { processFiles, readState } from '../server/cli/process-files.js';
import { CLI, OUR_ENV } from './support/servers.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ECHO = path.join(HERE, 'support', 'echo-server.mjs');
const LOOPBACK_ONLY = path.join(HERE, 'support', 'loopback-only.mjs');
const ROOT = path.resolve(HERE, '..');
const SUPERGATEWAY = path.join(ROOT, 'node_modules', 'supergateway', 'dist', 'index.js');
const MCP_PROXY = path.join(ROOT, 'node_modules', 'mcp-proxy', 'dist', 'bin', 'mcp-proxy.mjs');
const PROTOCOL = '2025-11-25';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '0.5' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,8,32' },
    sessions: { type: 'string', default: '1000' },
  },
});
const timing = {
  warmupMs: Number(values.warmup) * 1000,
  measureMs: Number(values.seconds) * 1000,
  callTimeoutMs: 15_000,
  maxCalls: 2_000_000,
};
const rounds = Number(values.rounds);
const concurrencies = values.concurrency.split(',').map(Number);
const PAYLOADS = [
  { id: '100B', text: 'x'.repeat(100) },
  { id: '64KiB', text: 'y'.repeat(64 * 1024) },
];

/** A raw HTTP client for one 2025-era session: POSTs JSON-RPC, reads a JSON or SSE answer. */
class RawSession {
  private id = 1;
  private sessionId?: string;
  constructor(
    private readonly url: URL,
    private readonly agent: Agent,
  ) {}

  private post(body: unknown, timeoutMs: number): Promise<{ status: number; text: string; sessionId?: string }> {
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          timeout: timeoutMs,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'content-length': Buffer.byteLength(payload),
            ...(this.sessionId ? { 'mcp-session-id': this.sessionId, 'mcp-protocol-version': PROTOCOL } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const sessionId = res.headers['mcp-session-id'];
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              ...(typeof sessionId === 'string' ? { sessionId } : {}),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  private static result(
    text: string,
    id: number,
  ): { result?: { content?: { text?: string }[]; isError?: boolean }; error?: { message: string } } {
    const lines = text.startsWith('{')
      ? [text]
      : text
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trim());
    for (const line of lines) {
      if (!line) continue;
      const message = JSON.parse(line) as { id?: number; result?: never; error?: never };
      if (message.id === id) return message;
    }
    throw new Error(`no response with id ${id} in: ${text.slice(0, 200)}`);
  }

  async open(): Promise<void> {
    const init = await this.post(
      {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'bench-gateway', version: '1' } },
      },
      30_000,
    );
    if (init.status !== 200 || !init.sessionId) throw new Error(`initialize answered ${init.status}: ${init.text.slice(0, 200)}`);
    this.sessionId = init.sessionId;
    const done = await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' }, 10_000);
    if (done.status !== 202) throw new Error(`notifications/initialized answered ${done.status}`);
  }

  async call(tool: string, text: string, timeoutMs: number): Promise<void> {
    const id = ++this.id;
    const answer = await this.post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: { text } } }, timeoutMs);
    const message = RawSession.result(answer.text, id);
    if (message.error) throw new Error(message.error.message);
    if (message.result?.isError || message.result?.content?.[0]?.text?.length !== text.length)
      throw new Error(`unexpected result: ${answer.text.slice(0, 200)}`);
  }

  async close(): Promise<void> {
    if (!this.sessionId) return;
    await new Promise<void>((resolve) => {
      const req = request(
        this.url,
        { method: 'DELETE', agent: this.agent, headers: { 'mcp-session-id': this.sessionId!, 'mcp-protocol-version': PROTOCOL } },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', () => resolve());
      req.end();
    });
  }
}

function httpTarget(id: string, label: string, url: string, tool: string, text: string, serverPid: () => number): Target {
  return {
    id,
    label,
    async open(concurrency) {
      const agent = new Agent({ keepAlive: true, maxSockets: concurrency + 4 });
      const sessions = await mapLimit(Array.from({ length: concurrency }), 8, async () => {
        const session = new RawSession(new URL(url), agent);
        await session.open();
        return session;
      });
      const connections: Connection[] = sessions.map((session) => ({ call: () => session.call(tool, text, timing.callTimeoutMs) }));
      return {
        connections,
        serverPid: serverPid(),
        async close() {
          await mapLimit(sessions, 8, (session) => session.close());
          agent.destroy();
        },
      };
    },
  };
}

function stdioTarget(id: string, label: string, text: string, sandbox: Sandbox): Target {
  return {
    id,
    label,
    async open(concurrency) {
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [ECHO],
        cwd: sandbox.cwd,
        env: sandbox.env(),
        stderr: 'ignore',
      });
      const client = new Client({ name: 'bench-gateway', version: '1' });
      await client.connect(transport);
      const pid = transport.pid!;
      const untrack = trackPid(pid);
      const connection: Connection = {
        async call() {
          const result = await client.callTool({ name: 'echo', arguments: { text } }, { timeout: timing.callTimeoutMs });
          if ((result.content as { text: string }[])[0]?.text.length !== text.length) throw new Error('unexpected echo');
        },
      };
      return {
        connections: Array.from({ length: concurrency }, () => connection),
        serverPid: pid,
        async close() {
          await client.close();
          untrack();
        },
      };
    },
  };
}

async function waitForLine(child: ManagedChild, pattern: RegExp, read: () => string, timeoutMs: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(read());
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`${child.name}: not ready within ${timeoutMs} ms:\n${child.tail()}`);
    await sleep(50);
  }
}

async function waitForHttp(
  url: string,
  child: ManagedChild,
  timeoutMs: number,
  ready: (status: number, body: string) => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (ready(res.status, await res.text())) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${child.name}: ${url} not ready within ${timeoutMs} ms:\n${child.tail()}`);
    await sleep(100);
  }
}

/** Direct children of `pid` (from /proc), to count the upstream processes a gateway spawned. */
function childCount(pid: number): number {
  let count = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) count += 1;
    } catch {
      // gone
    }
  }
  return count;
}

/** Child processes of a gateway while 32 sessions are open (each has made one call). */
async function spawnedFor32Sessions(url: string, pid: number): Promise<number> {
  const agent = new Agent({ keepAlive: true });
  const sessions = await mapLimit(Array.from({ length: 32 }), 8, async () => {
    const session = new RawSession(new URL(url), agent);
    await session.open();
    return session;
  });
  try {
    await mapLimit(sessions, 8, (session) => session.call('echo', 'count', 15_000).catch(() => undefined));
    return childCount(pid);
  } finally {
    await mapLimit(sessions, 8, (session) => session.close());
    agent.destroy();
  }
}

/** Our server (`serve`, authentication off, MCP_CONFIG_PATH = the sandbox's ./mcp_config.json) in its own process. */
async function startOurs(sandbox: Sandbox, name = 'ours'): Promise<{ child: ManagedChild; url: string }> {
  const dataDir = sandbox.dir(name);
  const env = sandbox.env({ ...OUR_ENV, AUTH_MODE: 'none', DATA_DIR: dataDir, MAX_SESSIONS: '5000' });
  const child = spawnChild({ name: 'ours', command: process.execPath, args: [CLI, 'serve'], cwd: sandbox.cwd, env });
  const files = processFiles(dataDir);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const state = readState(files);
    if (state?.pid === child.pid) return { child, url: state.url };
    if (Date.now() > deadline) throw new Error(`ours: no state file within 20 s:\n${child.tail()}`);
    await sleep(50);
  }
}

async function main(): Promise<void> {
  const sandbox = createSandbox('ccm-bench-gw-');
  const out: string[] = [];
  try {
    writeFileSync(
      path.join(sandbox.cwd, 'mcp_config.json'),
      JSON.stringify({ mcpServers: { x: { command: process.execPath, args: [ECHO] } } }),
    );
    process.stderr.write('starting servers...\n');
    const ours = await startOurs(sandbox);
    const oursUrl = ours.url;
    await waitForHttp(`${oursUrl}/health/servers`, ours.child, 30_000, (status, body) => status === 200 && body.includes('"running":1'));

    let nativeOut = '';
    const native = spawnChild({
      name: 'native SDK HTTP',
      command: process.execPath,
      args: [ECHO, '--http', '0'],
      cwd: sandbox.cwd,
      env: sandbox.env(),
      onStdout: (c) => (nativeOut += c),
    });
    const nativePort = (await waitForLine(native, /"port":(\d+)/, () => nativeOut, 15_000))[1];

    const sgPort = await freePort();
    const supergateway = spawnChild({
      name: 'supergateway',
      command: process.execPath,
      args: [
        '--import',
        LOOPBACK_ONLY,
        SUPERGATEWAY,
        '--stdio',
        `${process.execPath} ${ECHO}`,
        '--outputTransport',
        'streamableHttp',
        '--stateful',
        '--port',
        String(sgPort),
        '--logLevel',
        'none',
      ],
      cwd: sandbox.cwd,
      env: sandbox.env(),
    });
    await waitForHttp(`http://127.0.0.1:${sgPort}/mcp`, supergateway, 20_000, (status) => status > 0);

    const mpPort = await freePort();
    const mcpProxy = spawnChild({
      name: 'mcp-proxy',
      command: process.execPath,
      args: [MCP_PROXY, '--host', '127.0.0.1', '--port', String(mpPort), '--server', 'stream', '--', process.execPath, ECHO],
      cwd: sandbox.cwd,
      env: sandbox.env(),
    });
    await waitForHttp(`http://127.0.0.1:${mpPort}/mcp`, mcpProxy, 20_000, (status) => status > 0);

    const results: (CellResult & { payload: string; round: number })[] = [];
    const targetsFor = (text: string): Target[] => [
      httpTarget(
        'ours /servers/x/mcp',
        'our gateway, one upstream unprefixed',
        `${oursUrl}/servers/x/mcp`,
        'echo',
        text,
        () => ours.child.pid,
      ),
      httpTarget('ours /mcp', 'our gateway, aggregated (x__echo)', `${oursUrl}/mcp`, 'x__echo', text, () => ours.child.pid),
      httpTarget(
        'native SDK HTTP',
        'the tool served by the SDK over sessionful Streamable HTTP',
        `http://127.0.0.1:${nativePort}/mcp`,
        'echo',
        text,
        () => native.pid,
      ),
      stdioTarget('direct stdio', 'v2 client -> the stdio server, one connection shared by all workers', text, sandbox),
      httpTarget(
        'supergateway',
        'supergateway --stateful streamableHttp',
        `http://127.0.0.1:${sgPort}/mcp`,
        'echo',
        text,
        () => supergateway.pid,
      ),
      httpTarget('mcp-proxy', 'mcp-proxy --server stream', `http://127.0.0.1:${mpPort}/mcp`, 'echo', text, () => mcpProxy.pid),
    ];
    for (let round = 0; round < rounds; round++) {
      for (const payload of PAYLOADS) {
        for (const concurrency of concurrencies) {
          const targets = targetsFor(payload.text);
          // Rotate the order each round so no target always runs first (or last) on a warming machine.
          const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
          for (const target of order) {
            process.stderr.write(`round ${round + 1}/${rounds} ${payload.id} c=${concurrency} ${target.id}... `);
            try {
              const result = await runCell(target, concurrency, timing);
              results.push({ ...result, payload: payload.id, round });
              process.stderr.write(
                `${whole(result.callsPerSec)} calls/s p50 ${fixed(result.p50Ms, 2)} ms${result.errors ? ` (${result.errors} errors: ${result.firstError})` : ''}\n`,
              );
            } catch (error) {
              process.stderr.write(`failed: ${(error as Error).message}\n`);
            }
          }
        }
      }
    }

    const ids = targetsFor('').map((t) => t.id);
    const cell = (id: string, payload: string, c: number) =>
      results.filter((r) => r.target === id && r.payload === payload && r.concurrency === c);
    const med = (rows: CellResult[], pick: (r: CellResult) => number) => (rows.length ? median(rows.map(pick)) : Number.NaN);
    out.push(
      '# Gateway benchmark',
      '',
      `${new Date().toISOString()}, Node ${process.version}, ${rounds} interleaved rounds, ${values.seconds} s per cell, medians.`,
      '',
    );
    for (const payload of PAYLOADS) {
      out.push(`## tools/call echo, ${payload.id} payload`, '');
      const rows = ids.map((id) => [
        id,
        ...concurrencies.flatMap((c) => {
          const rowsC = cell(id, payload.id, c);
          return [
            whole(med(rowsC, (r) => r.callsPerSec)),
            fixed(
              med(rowsC, (r) => r.p50Ms),
              2,
            ),
            fixed(
              med(rowsC, (r) => r.p99Ms),
              2,
            ),
          ];
        }),
        whole(results.filter((r) => r.target === id && r.payload === payload.id).reduce((n, r) => n + r.errors, 0)),
      ]);
      out.push(
        table(['target', ...concurrencies.flatMap((c) => [`c=${c} calls/s`, `c=${c} p50 ms`, `c=${c} p99 ms`]), 'errors'], rows),
        '',
      );
    }
    const top = Math.max(...concurrencies);
    const rate = (id: string, c: number) => med(cell(id, '100B', c), (r) => r.callsPerSec);
    const p50 = (id: string, c: number) => med(cell(id, '100B', c), (r) => r.p50Ms);
    out.push('## Targets (100 B payload)', '');
    const checks: [string, number, number, boolean][] = [];
    for (const id of ['ours /servers/x/mcp', 'ours /mcp']) {
      const vsProxy = rate(id, top) / rate('mcp-proxy', top);
      const vsNative = rate(id, top) / rate('native SDK HTTP', top);
      const latency = p50(id, 1) / p50('native SDK HTTP', 1);
      checks.push([`${id}: throughput vs mcp-proxy at c=${top}`, vsProxy, 2, vsProxy >= 2]);
      checks.push([`${id}: throughput vs native SDK HTTP at c=${top}`, vsNative, 1, vsNative >= 1]);
      checks.push([`${id}: p50 vs native SDK HTTP at c=1`, latency, 1.2, latency <= 1.2]);
    }
    out.push(
      table(
        ['measure', 'ratio', 'target', 'met'],
        checks.map(([name, value, target, ok]) => [name, fixed(value, 2), String(target), verdict(ok)]),
      ),
      '',
    );

    out.push('## Memory and processes', '');
    const spawned = [
      ['ours (/servers/x/mcp, shared)', await spawnedFor32Sessions(`${oursUrl}/servers/x/mcp`, ours.child.pid)],
      ['supergateway --stateful', await spawnedFor32Sessions(`http://127.0.0.1:${sgPort}/mcp`, supergateway.pid)],
      ['mcp-proxy', await spawnedFor32Sessions(`http://127.0.0.1:${mpPort}/mcp`, mcpProxy.pid)],
    ] as const;
    // Memory is read on a fresh server (same configuration): the one that just served the throughput cells holds
    // their garbage and grown heap, which V8 returns over several idle collections, so its readings wander.
    process.stderr.write('idle sessions...\n');
    await Promise.all([ours.child.stop(), native.stop(), supergateway.stop(), mcpProxy.stop()]);
    const fresh = await startOurs(sandbox, 'ours-memory');
    await waitForHttp(`${fresh.url}/health/servers`, fresh.child, 30_000, (status, body) => status === 200 && body.includes('"running":1'));
    const idle = await measureStreamableIdle(`${fresh.url}/servers/x/mcp`, {
      label: 'ours /servers/x/mcp',
      pid: fresh.child.pid,
      sessions: Number(values.sessions),
      settleMs: 1500,
      parallel: 16,
      warmupSessions: IDLE_WARMUP_SESSIONS,
    });
    out.push(
      table(
        ['measure', 'value', 'target', 'met'],
        [
          [
            `RSS per 1,000 idle sessions (ours, fresh server, ${idle.sessions} opened after a fill of as many)`,
            `${fixed(idle.mbPer1000, 1)} MB`,
            '<= 30 MB',
            verdict(idle.mbPer1000 <= 30),
          ],
          [`  the fill itself, one-time costs included`, `${fixed(idle.fillMbPer1000, 1)} MB`, '-', '-'],
          ...spawned.map(([name, count]) => [
            `upstream processes with 32 sessions open: ${name}`,
            String(count),
            name.startsWith('ours') ? '1' : '-',
            name.startsWith('ours') ? verdict(count === 1) : '-',
          ]),
        ],
      ),
      '',
    );
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await stopAllChildren();
    sandbox.remove();
  }
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    process.stderr.write(`bench:gateway failed: ${(error as Error).stack ?? String(error)}\n`);
    await stopAllChildren();
    process.exit(1);
  },
);
