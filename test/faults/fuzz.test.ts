/**
 * A seeded corpus of malformed requests (test/helpers/fuzz-corpus.ts) across every endpoint of a real server process
 * with OAuth on and a gateway upstream: every request is answered within 2 s, never with a 5xx (503 only where
 * documented), never with a stack trace or a file path, and the server serves normally afterwards. A failing case is
 * printed with the seed, so `FAULT_SEED=<seed>` replays the corpus. Requests refused before their body was read are
 * answered, not reset, to a client still sending it. See docs/errors.md and docs/reliability.md.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSandbox, isRunning, type Sandbox } from '../helpers/cli-process.js';
import { writeFaultGatewayConfig } from '../helpers/fault-upstream.js';
import { fuzzCorpus, type FuzzCase, type FuzzContext } from '../helpers/fuzz-corpus.js';
import { machineToken, requestMachineToken } from '../helpers/machine-client.js';
import { mcpHeaders, openSession, postRpc, resultText, toolCall } from '../helpers/mcp-wire.js';
import { runSeed, seededRandom } from '../helpers/seeded-random.js';
import { killServers, startServer, type ServerProcess } from '../helpers/server-process.js';

const CASES = 5000;
const CONCURRENCY = 6;
const ANSWER_WITHIN_MS = 2000;
const MAX_BODY_BYTES = 64 * 1024;
/** Where a body may not point: stack frames, our paths, source files. */
const LEAKS = ['    at ', '/work/', 'node_modules', '.ts:', '/tmp/ccm-'];
/** 5xx answers the docs allow for a request (docs/errors.md): 503 with one of these codes. */
const DOCUMENTED_503 = ['too_many_sessions'];

const seed = runSeed();

/** How one request ended. */
interface Answer {
  status?: number;
  headers?: IncomingHttpHeaders;
  body: string;
  ms: number;
  /** Why there was no answer: `timeout` or the socket error. */
  failed?: string;
}

/**
 * Sends a case with node:http (any method, header and body), reads the answer to its end — an event stream's headers
 * and its first moments when it is a stream opened by GET, which never ends by itself — and gives up after
 * {@link ANSWER_WITHIN_MS}.
 */
function send(port: number, fuzz: FuzzCase): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve) => {
    let body = '';
    let settled = false;
    const done = (answer: Omit<Answer, 'ms' | 'body'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ body, ms: Date.now() - started, ...answer });
      req.destroy();
    };
    // node:http refuses some requests itself (a path or header it cannot send): that is a corpus bug, not an answer.
    const req = request({ host: '127.0.0.1', port, method: fuzz.method, path: fuzz.path, headers: fuzz.headers, agent: false });
    const timer = setTimeout(() => done({ failed: 'timeout' }), ANSWER_WITHIN_MS);
    req.on('error', (error: NodeJS.ErrnoException) => done({ failed: error.code ?? error.message }));
    req.on('response', (res) => {
      const stream = fuzz.method === 'GET' && String(res.headers['content-type']).includes('text/event-stream');
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 256 * 1024) body += chunk;
      });
      res.on('end', () => done({ status: res.statusCode, headers: res.headers }));
      res.on('error', () => done({ status: res.statusCode, headers: res.headers }));
      if (stream) setTimeout(() => done({ status: res.statusCode, headers: res.headers }), 100);
    });
    req.end(fuzz.body);
  });
}

/** What is wrong with an answer, or undefined. */
function problemOf(answer: Answer): string | undefined {
  if (answer.failed) return answer.failed === 'timeout' ? `no answer within ${ANSWER_WITHIN_MS} ms` : `no answer: ${answer.failed}`;
  const status = answer.status!;
  if (status >= 500) {
    const code = /"error"\s*:\s*"([a-z_]+)"/.exec(answer.body)?.[1];
    if (!(status === 503 && code && DOCUMENTED_503.includes(code))) return `status ${status}: ${answer.body.slice(0, 300)}`;
  }
  const leak = LEAKS.find((needle) => answer.body.includes(needle));
  if (leak)
    return `body contains ${JSON.stringify(leak)}: ${answer.body.slice(Math.max(0, answer.body.indexOf(leak) - 200), answer.body.indexOf(leak) + 200)}`;
  return undefined;
}

/** The MCP endpoints that require a token (the server's own and the configured upstream's). */
const protectedPath = (fuzz: FuzzCase, ctx: FuzzContext) => ['/mcp', `/servers/${ctx.upstream}/mcp`].includes(fuzz.path.split('?')[0]!);

/** Whether a case carries the live token (the scheme is case-insensitive, RFC 9110). */
const carriesToken = (fuzz: FuzzCase, ctx: FuzzContext) =>
  fuzz.headers.authorization?.toLowerCase() === `bearer ${ctx.token}`.toLowerCase();

/**
 * An auth edge: a request to a protected MCP endpoint (not a CORS preflight) without the live token — none, a cut or
 * extended one, a revoked one, Basic, junk — must be refused (4xx), never served.
 */
function authProblem(fuzz: FuzzCase, answer: Answer, ctx: FuzzContext): string | undefined {
  if (!protectedPath(fuzz, ctx) || fuzz.method === 'OPTIONS' || carriesToken(fuzz, ctx) || answer.status === undefined) return undefined;
  return answer.status < 400 ? `served without the token: status ${answer.status}: ${answer.body.slice(0, 300)}` : undefined;
}

/** A case as a reproducible line: the request, its body cut to 300 characters, and its size. */
function describeCase(fuzz: FuzzCase): string {
  const body = fuzz.body ? ` body (${fuzz.body.length} bytes): ${JSON.stringify(fuzz.body.subarray(0, 300).toString('utf8'))}` : '';
  return `#${fuzz.index} [${fuzz.family}] ${fuzz.method} ${fuzz.path.slice(0, 300)} headers ${JSON.stringify(fuzz.headers).slice(0, 600)}${body}`;
}

describe('fuzz: malformed requests to every endpoint of a real server process', () => {
  let sandbox: Sandbox;
  let server: ServerProcess;
  let context: FuzzContext;

  beforeAll(async () => {
    sandbox = createSandbox();
    server = await startServer(sandbox, {
      STORAGE: 'sqlite',
      AUTH_MODE: 'oauth',
      AUTH_INITIAL_ADMIN: 'false',
      MAX_SESSIONS: '100000',
      MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      MCP_CONFIG_PATH: writeFaultGatewayConfig(sandbox.cwd, { f: 800 }),
    });
    const { client, token } = await machineToken(server.url, 'mcp:tools gateway:*');
    const spare = await requestMachineToken(server.url, client);
    if (spare.status !== 200) throw new Error(`token: ${spare.status} ${await spare.text()}`);
    context = {
      token,
      spareToken: ((await spare.json()) as { access_token: string }).access_token,
      sessionId: await openSession(server.mcpUrl, token),
      spareSessionId: await openSession(server.mcpUrl, token),
      clientId: client.client_id,
      clientSecret: client.client_secret,
      maxBodyBytes: MAX_BODY_BYTES,
      upstream: 'f',
    };
  }, 60_000);

  afterAll(async () => {
    await killServers();
    sandbox?.remove();
  });

  it(`answers ${CASES} malformed requests within ${ANSWER_WITHIN_MS} ms each, never with a 5xx or a stack trace, and keeps serving`, async () => {
    console.log(`fuzz: seed ${seed} (FAULT_SEED=${seed} replays the corpus)`);
    const port = Number(new URL(server.url).port);
    const corpus = fuzzCorpus(seededRandom(seed), CASES, context);
    const failures: string[] = [];
    const statuses = new Map<number | string, number>();
    let slowest = 0;
    let authEdges = 0;
    let next = 0;
    const worker = async () => {
      while (next < corpus.length) {
        const fuzz = corpus[next++]!;
        const answer = await send(port, fuzz);
        slowest = Math.max(slowest, answer.ms);
        const key = answer.status ?? answer.failed!;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        const authEdge = protectedPath(fuzz, context) && fuzz.method !== 'OPTIONS' && !carriesToken(fuzz, context);
        if (authEdge) authEdges += 1;
        const problem = problemOf(answer) ?? authProblem(fuzz, answer, context);
        if (problem) {
          failures.push(`${problem}\n    case ${describeCase(fuzz)}`);
          if (failures.length <= 20) console.log(`fuzz FAILED (seed ${seed}): ${problem}\n    case ${describeCase(fuzz)}`);
        }
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const families = new Map<string, number>();
    for (const fuzz of corpus) families.set(fuzz.family, (families.get(fuzz.family) ?? 0) + 1);

    // Afterwards: still alive, ready, and a normal session works (a gateway call, within the upstream's 800 ms call
    // timeout, which a loaded machine can miss once: a few attempts).
    const ready = await fetch(`${server.url}/health/ready`);
    const sessionId = await openSession(server.mcpUrl, context.token);
    let echo = '';
    for (let attempt = 1; attempt <= 5 && echo !== 'after the fuzz'; attempt += 1) {
      const outcome = await postRpc(server.mcpUrl, toolCall('f__echo', { text: 'after the fuzz' }), {
        headers: mcpHeaders({ token: context.token, sessionId }),
        timeoutMs: 10_000,
      });
      echo = outcome.kind === 'result' ? resultText(outcome.result) : JSON.stringify(outcome).slice(0, 300);
      if (echo !== 'after the fuzz') console.log(`fuzz: echo after the fuzz, attempt ${attempt}: ${echo}`);
    }
    const serving = isRunning(server.pid) && ready.status === 200 && echo === 'after the fuzz';
    if (!serving) {
      // What the gateway said about its upstream, so a failure here explains itself (a restart, a start that timed out).
      const upstreamLines = server.cli.logLines().filter((line) => line.category === 'gateway' && line.level !== 'debug');
      console.log(`fuzz: the gateway's upstream log lines:\n${upstreamLines.map((line) => JSON.stringify(line)).join('\n')}`);
    }
    console.log(
      `fuzz (seed ${seed}): cases tried ${corpus.length}, failures ${failures.length}, lost ${corpus.length - [...statuses].filter(([key]) => typeof key === 'number').reduce((n, [, c]) => n + c, 0)} (no answer) ` +
        `in ${((Date.now() - started) / 1000).toFixed(1)} s, slowest answer ${slowest} ms; ` +
        `auth edges (MCP requests without the live token) ${authEdges}, served ${failures.filter((f) => f.startsWith('served without')).length}; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; ` +
        `families ${JSON.stringify(Object.fromEntries(families))}; serving afterwards: ${serving} (/health/ready ${ready.status})`,
    );
    expect(failures).toEqual([]);
    expect(serving).toBe(true);
    // The corpus reached the auth edges it is meant to probe.
    expect(authEdges).toBeGreaterThan(CASES / 20);
  }, 180_000);

  it('answers a refusal made before the body was read, to a client still sending it, instead of resetting the connection', async () => {
    const port = Number(new URL(server.url).port);
    // Each refused before its body (200 KB or 2 MB) is read: by authentication (an empty Bearer), by Node's parser (an unknown
    // method), by routing. send() uses no agent, so every request asks for its connection to be closed.
    const refusals: Array<Pick<FuzzCase, 'method' | 'path' | 'headers'> & { status: number }> = [
      { method: 'DELETE', path: '/mcp', headers: { 'content-type': 'application/json', authorization: 'Bearer ' }, status: 400 },
      {
        method: 'POST',
        path: '/mcp',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${context.token}x` },
        status: 401,
      },
      { method: 'FOO', path: '/mcp', headers: { 'content-type': 'application/json' }, status: 400 },
      { method: 'PUT', path: '/nope', headers: { 'content-type': 'application/json' }, status: 404 },
    ];
    const bodies = [Buffer.alloc(200 * 1024, 'a'), Buffer.alloc(2 * 1024 * 1024, 'a')];
    const seen: string[] = [];
    for (const refusal of refusals) {
      for (let i = 0; i < 10; i += 1) {
        const answer = await send(port, { index: i, family: 'refused before the body', ...refusal, body: bodies[i % 2] });
        seen.push(`${refusal.method} ${refusal.path}: ${answer.status ?? answer.failed}`);
      }
    }
    const wrong = seen.filter((line, i) => !line.endsWith(`: ${refusals[Math.floor(i / 10)]!.status}`));
    console.log(
      `refused before the body: cases tried ${seen.length}, failures ${wrong.length}, lost ${wrong.filter((line) => !/: \d+$/.test(line)).length} (no answer)`,
    );
    expect(wrong).toEqual([]);
  }, 60_000);
});
