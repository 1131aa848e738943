/**
 * `npm run bench:auth`: what authentication costs. Two servers in their own processes, identical but for AUTH_MODE:
 * `none` and `oauth` (the built-in authorization server, RFC 9068 JWT access tokens checked on every request).
 * Measures `tools/call server_status` throughput with the same v1 client on both, interleaved, medians of rounds,
 * the token endpoint's requests/s (client_credentials), and, in this process, what authenticating one request costs
 * (a token's first use, with its signature check, and a remembered token). Prints Markdown; exit code 0 whatever the
 * verdicts.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createAuthServer } from '../server/auth/auth-server.js';
import { configSchema } from '../server/config/schema.js';
import { createStorage } from '../server/storage/create-storage.js';
import { median, percentile, runCell, type CellResult, type Target } from './support/load.js';
import { createSandbox, stopAllChildren } from './support/processes.js';
import { fixed, table, verdict, whole } from './support/report.js';
import { CLI, startOurServer } from './support/servers.js';
import { v1StreamableTarget } from './support/targets.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const SECONDS = option('seconds', 3);
const ROUNDS = option('rounds', 3);
const CONCURRENCY = [1, 16];

/** Registers a confidential machine client and returns a fresh access token for the MCP resource. */
async function machineToken(baseUrl: string, mcpUrl: string): Promise<{ token: string; form: URLSearchParams }> {
  const registered = await fetch(`${baseUrl}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'bench',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'mcp:tools',
    }),
  });
  if (registered.status !== 201) throw new Error(`register answered ${registered.status}: ${await registered.text()}`);
  const client = (await registered.json()) as { client_id: string; client_secret: string };
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: client.client_id,
    client_secret: client.client_secret,
    scope: 'mcp:tools',
    resource: mcpUrl,
  });
  const answer = await fetch(`${baseUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
  });
  if (answer.status !== 200) throw new Error(`token answered ${answer.status}: ${await answer.text()}`);
  return { token: ((await answer.json()) as { access_token: string }).access_token, form };
}

/** Closed-loop POST /token for `seconds` with `concurrency` workers; every loop is bounded by time and count. */
async function tokenEndpoint(baseUrl: string, form: URLSearchParams, concurrency: number, seconds: number) {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = 0; i < 100_000 && performance.now() < deadline; i += 1) {
        const started = performance.now();
        const response = await fetch(`${baseUrl}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: form,
        });
        await response.arrayBuffer();
        if (response.status === 200) latencies.push(performance.now() - started);
        else errors += 1;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { perSec: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
}

/**
 * Authentication alone, in this process, on SQLite storage as the servers use: the bearer authenticator of the
 * built-in authorization server against `tokens` distinct tokens once each (first use: signature check, grant and
 * revocation reads) and one token `repeats` times (remembered: a hash and the revocation-generation read).
 */
async function authenticationCost(dir: string, tokens: number, repeats: number) {
  const config = configSchema.parse({ storage: 'sqlite', dataDir: dir, authMode: 'oauth' });
  const storage = await createStorage({ kind: 'sqlite', path: path.join(dir, 'auth-cost.db') });
  try {
    const auth = createAuthServer({ settings: config, storage, publicUrl: 'http://127.0.0.1:1', mcpPathPrefix: config.mcpPathPrefix });
    const grant = await auth.grants.create({
      clientId: 'bench',
      subject: 'bench',
      scopes: ['mcp:tools'],
      resource: auth.urls.resource,
      kind: 'client_credentials',
    });
    const presented = await Promise.all(
      Array.from({ length: tokens }, async () => ({ authorization: `Bearer ${await auth.tokens.issue(grant)}`, tokenInQuery: false })),
    );
    let started = performance.now();
    for (const one of presented) await auth.authenticate(one);
    const firstUseUs = ((performance.now() - started) * 1000) / tokens;
    started = performance.now();
    for (let i = 0; i < repeats; i += 1) await auth.authenticate(presented[0]!);
    const rememberedUs = ((performance.now() - started) * 1000) / repeats;
    return { firstUseUs, rememberedUs };
  } finally {
    await storage.close();
  }
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm run bench:auth does)`);
  const sandbox = createSandbox('ccm-bench-auth-');
  process.on('SIGINT', () => void stopAllChildren().finally(() => process.exit(130)));
  try {
    const open = await startOurServer(sandbox, 'auth-off', 10_000, { AUTH_MODE: 'none' });
    const secured = await startOurServer(sandbox, 'auth-on', 10_000, { AUTH_MODE: 'oauth', AUTH_INITIAL_ADMIN: 'false' });
    const { token, form } = await machineToken(secured.state.url, secured.state.mcpUrl);
    const timing = { warmupMs: 500, measureMs: SECONDS * 1000, callTimeoutMs: 10_000, maxCalls: 1_000_000 };
    const targets: Target[] = [
      v1StreamableTarget({
        id: 'auth-off',
        label: 'AUTH_MODE=none',
        mcpUrl: open.state.mcpUrl,
        serverPid: open.child.pid,
        callTimeoutMs: 10_000,
      }),
      v1StreamableTarget({
        id: 'jwt',
        label: 'AUTH_MODE=oauth, JWT bearer',
        mcpUrl: secured.state.mcpUrl,
        serverPid: secured.child.pid,
        callTimeoutMs: 10_000,
        bearer: token,
      }),
    ];
    const results = new Map<string, CellResult[]>();
    const ratios = new Map<number, number[]>();
    for (const concurrency of CONCURRENCY) {
      for (const target of targets) await runCell(target, concurrency, { ...timing, measureMs: 1000 }); // discarded warm-up
      for (let round = 0; round < ROUNDS; round += 1) {
        const order = round % 2 === 0 ? targets : [...targets].reverse();
        const pair: Record<string, CellResult> = {};
        for (const target of order) {
          const result = await runCell(target, concurrency, timing);
          pair[target.id] = result;
          results.set(`${target.id}/${concurrency}`, [...(results.get(`${target.id}/${concurrency}`) ?? []), result]);
          process.stderr.write(
            `[bench:auth] ${target.id} c=${concurrency} round ${round + 1}: ${whole(result.callsPerSec)} calls/s, errors ${result.errors}\n`,
          );
        }
        ratios.set(concurrency, [...(ratios.get(concurrency) ?? []), pair.jwt!.callsPerSec / pair['auth-off']!.callsPerSec]);
      }
    }
    const rows = CONCURRENCY.flatMap((c) =>
      targets.map((t) => {
        const cells = results.get(`${t.id}/${c}`)!;
        return [
          t.label,
          String(c),
          whole(median(cells.map((r) => r.callsPerSec))),
          fixed(median(cells.map((r) => r.p50Ms)), 2),
          fixed(median(cells.map((r) => r.p99Ms)), 2),
          whole(median(cells.map((r) => r.serverCpuUsPerCall))),
          String(cells.reduce((n, r) => n + r.errors, 0)),
        ];
      }),
    );
    const tokenRun = await tokenEndpoint(secured.state.url, form, 8, SECONDS);
    const cost = await authenticationCost(sandbox.dir('auth-cost'), 2000, 50_000);
    const ratio16 = median(ratios.get(16)!);
    const out = [
      `# Authentication benchmark: claude-code-mcp`,
      '',
      `- ${new Date().toISOString()}, Node ${process.version}; both servers \`node build/server/main.js serve\` (SQLite) in their own processes; v1 client, sessionful Streamable HTTP; ${ROUNDS} rounds × ${SECONDS} s per cell, order alternated, medians.`,
      '',
      '## tools/call server_status',
      '',
      table(['server', 'c', 'calls/s', 'p50 ms', 'p99 ms', 'srv CPU µs/call', 'errors'], rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r']),
      '',
      table(
        ['c', 'JWT ÷ auth off (median of rounds)', 'target'],
        CONCURRENCY.map((c) => [String(c), fixed(median(ratios.get(c)!), 2), c === 16 ? `>= 0.95: ${verdict(ratio16 >= 0.95)}` : '']),
        ['r', 'r', 'r'],
      ),
      '',
      '## Token endpoint (client_credentials, 8 workers)',
      '',
      table(
        ['requests/s', 'p50 ms', 'p99 ms', 'errors'],
        [[whole(tokenRun.perSec), fixed(tokenRun.p50, 2), fixed(tokenRun.p99, 2), String(tokenRun.errors)]],
        ['r', 'r', 'r', 'r'],
      ),
      '',
      '## Authenticating one request (in this process, SQLite)',
      '',
      table(
        ['token', 'µs per request'],
        [
          ['first use (signature check, grant and revocation reads)', fixed(cost.firstUseUs, 1)],
          ['remembered (hash, revocation-generation read)', fixed(cost.rememberedUs, 1)],
        ],
        ['l', 'r'],
      ),
      '',
      'Measurement only: the exit code is 0 whatever the verdicts.',
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await stopAllChildren();
    sandbox.remove();
  }
}

main().catch(async (error: unknown) => {
  process.stderr.write(`bench:auth failed: ${(error as Error).stack ?? String(error)}\n`);
  await stopAllChildren();
  process.exitCode = 1;
});
