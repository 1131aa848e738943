/**
 * SIGTERM to a real server process under load: gateway calls that hang, that run too long and that finish within the
 * drain window, a Claude call in flight, and clients sending short calls back to back across the signal. Every call
 * ends with a result or a JSON-RPC error — none with an empty stream or a reset; the ones that could finish got their
 * results; new work during the drain gets 503 with Retry-After; the process exits 0 within SHUTDOWN_TIMEOUT_MS.
 * See docs/operations.md ("Shutdown") and docs/reliability.md.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startMockAnthropicApi, type MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import { createClaudeSandbox, type ClaudeSandbox } from '../helpers/claude-env.js';
import { structuredOf } from '../helpers/claude-harness.js';
import { createSandbox, waitFor, type Sandbox } from '../helpers/cli-process.js';
import { writeFaultGatewayConfig } from '../helpers/fault-upstream.js';
import { mcpHeaders, openSession, postRpc, resultText, toolCall, type RpcOutcome } from '../helpers/mcp-wire.js';
import { runSeed, seededRandom } from '../helpers/seeded-random.js';
import { killServers, signalServer, startServer, type ServerProcess } from '../helpers/server-process.js';

const SHUTDOWN_TIMEOUT_MS = 6000;
const RUN_INTERRUPT_GRACE_MS = 1000;
/** What calls in flight get to finish: SHUTDOWN_TIMEOUT_MS − RUN_INTERRUPT_GRACE_MS − the 2 s reserve. */
const DRAIN_BUDGET_MS = SHUTDOWN_TIMEOUT_MS - RUN_INTERRUPT_GRACE_MS - 2000;
/** Calls that finish inside the drain window (sent just before the signal). */
const FINISHING_MS = [600, 1400, 2200];
/** Clients sending short calls back to back, from before the signal until they are refused. */
const LOAD_WORKERS = 6;
/** How long the load runs before the signal. */
const LOAD_BEFORE_MS = 1500;
/** Calls one load client sends at most (bounds the loop whatever the server does). */
const LOAD_CALLS_MAX = 200;

const seed = runSeed();

/** How the calls of the load ended. */
interface LoadFigures {
  sent: number;
  results: number;
  /** Of the results, those of calls in flight at the signal: they finished during the drain. */
  finishedInDrain: number;
  /** Refused with 503 `shutting_down` (a JSON-RPC error the client can retry elsewhere). */
  refused: number;
  /** Refused at connect (the listener had closed): nothing was accepted, the client knows to retry. */
  connectionRefused: number;
  /** Ended with no answer and no error: lost. */
  lost: string[];
  /** Answered, but not as expected (a wrong result, another error). */
  failures: string[];
}

/** One call in flight at the signal, and what it must end with. */
interface InFlight {
  name: string;
  /** `claude tool error`: a tool error naming the Claude session to resume (`_meta["claude-code-mcp/error"].sessionId`). */
  expected: 'result' | 'shutdown error' | 'claude tool error';
  outcome: Promise<RpcOutcome>;
}

describe('SIGTERM under load (real process)', () => {
  let sandbox: Sandbox;
  let claude: ClaudeSandbox;
  let mock: MockAnthropicApi;
  let server: ServerProcess;

  beforeAll(async () => {
    sandbox = createSandbox();
    mock = await startMockAnthropicApi();
    mock.on({ prompt: 'drain-claude', replies: [{ kind: 'hang' }] });
    claude = createClaudeSandbox(mock.url);
    server = await startServer(sandbox, {
      ...claude.env,
      WORKSPACE_ROOTS: claude.workspace,
      MCP_CONFIG_PATH: writeFaultGatewayConfig(sandbox.cwd, { f: 60_000 }),
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      RUN_INTERRUPT_GRACE_MS: String(RUN_INTERRUPT_GRACE_MS),
    });
  }, 60_000);

  afterAll(async () => {
    await killServers();
    await mock?.close();
    claude?.remove();
    sandbox?.remove();
  });

  /**
   * {@link LOAD_WORKERS} clients each sending short calls (echo, or a sleep of up to 300 ms) one after the other
   * until one is refused (503 `shutting_down`, or the connection refused) — what a client does before it retries
   * elsewhere — or {@link LOAD_CALLS_MAX} calls.
   */
  async function runLoad(sessions: string[], signalledAt: () => number): Promise<LoadFigures> {
    const random = seededRandom(seed);
    const figures: LoadFigures = { sent: 0, results: 0, finishedInDrain: 0, refused: 0, connectionRefused: 0, lost: [], failures: [] };
    const worker = async (index: number) => {
      for (let n = 0; n < LOAD_CALLS_MAX; n += 1) {
        const sleepMs = random.chance(0.5) ? random.int(20, 300) : undefined;
        const message =
          sleepMs === undefined ? toolCall('f__echo', { text: `load ${index}.${n}` }) : toolCall('f__sleep', { ms: sleepMs, everyMs: 100 });
        const name = `load ${index}.${n} ${message.params.name as string}`;
        figures.sent += 1;
        const sentAt = Date.now();
        const outcome = await postRpc(server.mcpUrl, message, {
          headers: mcpHeaders({ sessionId: sessions[index % sessions.length] }),
          timeoutMs: SHUTDOWN_TIMEOUT_MS + 10_000,
        });
        if (outcome.kind === 'result') {
          const expected = sleepMs === undefined ? `load ${index}.${n}` : `slept ${sleepMs}`;
          if (outcome.result.isError || resultText(outcome.result) !== expected)
            figures.failures.push(`${name}: result ${resultText(outcome.result).slice(0, 120)}`);
          else {
            figures.results += 1;
            if (sentAt < signalledAt() && Date.now() > signalledAt()) figures.finishedInDrain += 1;
          }
          continue;
        }
        if (outcome.kind === 'error' && outcome.error.data?.error === 'shutting_down') figures.refused += 1;
        else if (outcome.kind === 'reset' && outcome.reason === 'ECONNREFUSED') figures.connectionRefused += 1;
        else if (outcome.kind === 'error') figures.failures.push(`${name}: error ${outcome.error.code} ${outcome.error.message}`);
        else figures.lost.push(`${name}: ${JSON.stringify(outcome).slice(0, 300)}`);
        return;
      }
    };
    await Promise.all(Array.from({ length: LOAD_WORKERS }, (_, index) => worker(index)));
    return figures;
  }

  it('answers every call in flight, lets the finishable ones finish, refuses new work with 503, and exits 0 in time', async () => {
    const sessions = [await openSession(server.mcpUrl), await openSession(server.mcpUrl)];
    // The first tools/list waits for the upstream to be up (GATEWAY_STARTUP_WAIT_MS).
    const listed = await postRpc(
      server.mcpUrl,
      { jsonrpc: '2.0', id: 'list', method: 'tools/list' },
      { headers: mcpHeaders({ sessionId: sessions[0] }) },
    );
    expect(listed.kind === 'result' && JSON.stringify(listed.result)).toContain('f__sleep');

    const send = (sessionIndex: number, message: ReturnType<typeof toolCall>) =>
      postRpc(server.mcpUrl, message, {
        headers: mcpHeaders({ sessionId: sessions[sessionIndex % sessions.length] }),
        timeoutMs: SHUTDOWN_TIMEOUT_MS + 10_000,
      });
    const calls: InFlight[] = [
      {
        name: 'claude_ask (model never answers)',
        expected: 'claude tool error',
        outcome: send(0, toolCall('claude_ask', { query: 'drain-claude' })),
      },
      ...[0, 1, 2].map((i) => ({ name: `f__hang #${i}`, expected: 'shutdown error' as const, outcome: send(i, toolCall('f__hang', {})) })),
      ...[0, 1].map((i) => ({
        name: `f__sleep 30 s with progress #${i}`,
        expected: 'shutdown error' as const,
        outcome: send(i, toolCall('f__sleep', { ms: 30_000 }, { progress: true })),
      })),
    ];
    // The Claude run is in flight once the binary has asked the model.
    await waitFor(() => mock.requestsFor('drain-claude').length > 0, 'the Claude run to reach the model', 20_000);
    let signalledAt = Number.POSITIVE_INFINITY;
    const load = runLoad(sessions, () => signalledAt);
    await new Promise((resolve) => setTimeout(resolve, LOAD_BEFORE_MS));
    calls.push(
      ...FINISHING_MS.map((ms, i) => ({
        name: `f__sleep ${ms} ms with progress`,
        expected: 'result' as const,
        outcome: send(i, toolCall('f__sleep', { ms }, { progress: true })),
      })),
    );
    await new Promise((resolve) => setTimeout(resolve, 150));

    const signalled = Date.now();
    signalledAt = signalled;
    const exit = signalServer(server, 'SIGTERM', SHUTDOWN_TIMEOUT_MS + 5000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // New work during the drain: a new session, and a new call in an open one.
    const fresh = await fetch(server.mcpUrl, {
      method: 'POST',
      headers: mcpHeaders(),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'late', version: '1' } },
      }),
    });
    const lateCall = await postRpc(server.mcpUrl, toolCall('f__echo', { text: 'late' }), {
      headers: mcpHeaders({ sessionId: sessions[0] }),
    });
    const ready = await fetch(`${server.url}/health/ready`);

    const outcomes = await Promise.all(calls.map((call) => call.outcome));
    const { code, ms } = await exit;
    const figures = await load;
    const failures: string[] = [];
    const lost: string[] = [];
    calls.forEach((call, i) => {
      const outcome = outcomes[i]!;
      const seen =
        outcome.kind === 'result'
          ? `result: ${resultText(outcome.result).slice(0, 80)}`
          : outcome.kind === 'error'
            ? `error ${outcome.error.code} ${outcome.error.message}`
            : outcome.kind;
      console.log(`SIGTERM under load: ${call.name} -> ${seen}`);
      if (outcome.kind !== 'result' && outcome.kind !== 'error') lost.push(`${call.name}: ${JSON.stringify(outcome)}`);
      const ok =
        call.expected === 'result'
          ? outcome.kind === 'result' && !outcome.result.isError && resultText(outcome.result).startsWith('slept')
          : call.expected === 'claude tool error'
            ? outcome.kind === 'result' &&
              outcome.result.isError === true &&
              /^[0-9a-f-]{36}$/.test(String(structuredOf(outcome.result).sessionId))
            : outcome.kind === 'error' && outcome.error.message.includes('server shutting down') && outcome.error.data?.retryable === true;
      if (!ok) failures.push(`${call.name}: expected ${call.expected}, got ${seen}`);
    });
    console.log(
      `SIGTERM under load (seed ${seed}): cases tried ${calls.length + figures.sent} (${calls.length} long calls in flight, ${figures.sent} short calls from ${LOAD_WORKERS} clients), ` +
        `failures ${failures.length + figures.failures.length}, lost ${lost.length + figures.lost.length} (ended with no answer); ` +
        `short calls: ${figures.results} results (${figures.finishedInDrain} of calls in flight at the signal), ${figures.refused} refused with 503 shutting_down, ${figures.connectionRefused} refused at connect; ` +
        `exit code ${code} after ${ms} ms (SHUTDOWN_TIMEOUT_MS ${SHUTDOWN_TIMEOUT_MS}, drain budget ${DRAIN_BUDGET_MS} ms); ` +
        `during the drain: initialize ${fresh.status} Retry-After ${fresh.headers.get('retry-after')}, tools/call ${lateCall.kind === 'error' || lateCall.kind === 'http' ? lateCall.status : lateCall.kind}, /health/ready ${ready.status}`,
    );
    expect(lost).toEqual([]);
    expect(failures).toEqual([]);
    expect(figures.lost).toEqual([]);
    expect(figures.failures).toEqual([]);
    // The load was running across the signal: calls finished before it, and calls after it were refused.
    expect(figures.results).toBeGreaterThan(LOAD_WORKERS);
    expect(figures.finishedInDrain).toBeGreaterThan(0);
    expect(figures.refused + figures.connectionRefused).toBeGreaterThan(0);
    expect(fresh.status).toBe(503);
    expect(fresh.headers.get('retry-after')).toBe('1');
    expect(await fresh.json()).toMatchObject({ error: { data: { error: 'shutting_down' } } });
    expect(lateCall).toMatchObject({ kind: 'error', status: 503, error: { data: { error: 'shutting_down' } } });
    expect(ready.status).toBe(503);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    // The calls that could not finish were held for the drain budget, not cut at once.
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(DRAIN_BUDGET_MS);
  }, 60_000);
});
