/**
 * A misbehaving stdio upstream (test/fixtures/fault-upstream.mjs) behind a real server process: a crash, a hang,
 * garbage on stdout, a 50 MB line and a result over GATEWAY_MAX_MESSAGE_BYTES each get an answer, the server stays
 * healthy, and none of them costs the server more than 2 × GATEWAY_MAX_MESSAGE_BYTES of resident memory at its peak.
 * See docs/gateway.md ("Large results and misbehaving output").
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSandbox, memoryOf, resetPeakMemory, waitFor, type Sandbox } from '../helpers/cli-process.js';
import { writeFaultGatewayConfig } from '../helpers/fault-upstream.js';
import { mcpHeaders, openSession, postRpc, resultText, toolCall, type RpcOutcome } from '../helpers/mcp-wire.js';
import { killServers, startServer, type ServerProcess } from '../helpers/server-process.js';

const MB = 1024 * 1024;
/** The default GATEWAY_MAX_MESSAGE_BYTES, set explicitly so the figures below stay tied to it. */
const LIMIT = 32 * MB;
/** Call timeout of upstream `f` (crash, hang, garbage); upstream `big` moves tens of megabytes and gets longer. */
const CALL_TIMEOUT_MS = 1500;
const ROUNDS = 2;

/** One case, how to provoke it and what its answer must be. */
interface FaultCase {
  name: string;
  tool: string;
  args: Record<string, unknown>;
  /**
   * A misbehaviour (held to the 2 × limit memory bound), or a legitimate relay of a large result, whose transient
   * cost (the result as bytes, string, object and again as the answer) is reported but not bounded here.
   */
  fault: boolean;
  /** Checks the answer and its time; returns what is wrong, or undefined. */
  verdict(outcome: RpcOutcome, ms: number): string | undefined;
}

const toolError = (outcome: RpcOutcome) => outcome.kind === 'result' && outcome.result.isError === true;
const textOf = (outcome: RpcOutcome) => (outcome.kind === 'result' ? resultText(outcome.result) : '');
const expectText = (text: string) => (outcome: RpcOutcome) => (textOf(outcome) === text ? undefined : `no result "${text}"`);

const CASES: FaultCase[] = [
  {
    name: 'crash mid-call',
    tool: 'f__crash',
    args: {},
    fault: true,
    verdict: (outcome, ms) =>
      !toolError(outcome)
        ? 'not a tool error'
        : ms >= CALL_TIMEOUT_MS
          ? `took ${ms} ms: waited for the timeout instead of noticing the exit`
          : undefined,
  },
  {
    name: 'hang',
    tool: 'f__hang',
    args: {},
    fault: true,
    verdict: (outcome, ms) =>
      !toolError(outcome)
        ? 'not a tool error'
        : !textOf(outcome).includes(`${CALL_TIMEOUT_MS} ms`)
          ? `does not name the ${CALL_TIMEOUT_MS} ms timeout: ${textOf(outcome)}`
          : ms < CALL_TIMEOUT_MS || ms > CALL_TIMEOUT_MS + 2000
            ? `answered after ${ms} ms, not after the ${CALL_TIMEOUT_MS} ms timeout`
            : undefined,
  },
  { name: 'garbage on stdout', tool: 'f__garbage', args: {}, fault: true, verdict: expectText('after garbage') },
  {
    name: '50 MB line that answers nothing',
    tool: 'big__huge_line',
    args: { bytes: 50 * MB },
    fault: true,
    verdict: expectText('after the huge line'),
  },
  {
    name: 'result of twice the limit',
    tool: 'big__big',
    args: { bytes: 2 * LIMIT },
    fault: true,
    verdict: (outcome) =>
      toolError(outcome) && textOf(outcome).includes('GATEWAY_MAX_MESSAGE_BYTES') && textOf(outcome).includes(String(LIMIT))
        ? undefined
        : `not a tool error naming GATEWAY_MAX_MESSAGE_BYTES: ${textOf(outcome).slice(0, 200)}`,
  },
  {
    name: 'result of an eighth of the limit (relayed)',
    tool: 'big__big',
    args: { bytes: LIMIT / 8 },
    fault: false,
    verdict: (outcome) => (!toolError(outcome) && textOf(outcome).length === LIMIT / 8 ? undefined : 'not the whole result'),
  },
];

describe('a misbehaving upstream behind a real server process', () => {
  let sandbox: Sandbox;
  let server: ServerProcess;
  let sessionId: string;

  beforeAll(async () => {
    sandbox = createSandbox();
    server = await startServer(sandbox, {
      MCP_CONFIG_PATH: writeFaultGatewayConfig(sandbox.cwd, { f: CALL_TIMEOUT_MS, big: 60_000 }),
      GATEWAY_MAX_MESSAGE_BYTES: String(LIMIT),
    });
    sessionId = await openSession(server.mcpUrl);
  }, 60_000);

  afterAll(async () => {
    await killServers();
    sandbox?.remove();
  });

  const call = (tool: string, args: Record<string, unknown>) =>
    postRpc(server.mcpUrl, toolCall(tool, args), { headers: mcpHeaders({ sessionId }), timeoutMs: 60_000 });

  /** Both upstreams answer echo (after a crash, once the supervisor has restarted the upstream). */
  const echoWorks = async () => {
    const answers = await Promise.all(['f__echo', 'big__echo'].map((tool) => call(tool, { text: 'still here' })));
    return answers.every((answer) => textOf(answer) === 'still here');
  };

  it('answers each fault, stays ready and serving, and keeps each fault’s memory within 2 × GATEWAY_MAX_MESSAGE_BYTES', async () => {
    await waitFor(echoWorks, 'the upstreams to answer echo', 20_000);
    const before = memoryOf(server.pid);
    const failures: string[] = [];
    const peaksMb = new Map<string, number>();
    let tried = 0;
    let unanswered = 0;
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const fault of CASES) {
        tried += 1;
        resetPeakMemory(server.pid);
        const start = memoryOf(server.pid);
        const started = Date.now();
        const outcome = await call(fault.tool, fault.args);
        const ms = Date.now() - started;
        const growthMb = (memoryOf(server.pid).peakKb - start.rssKb) / 1024;
        peaksMb.set(fault.name, Math.max(peaksMb.get(fault.name) ?? 0, growthMb));
        const answered = outcome.kind === 'result' || outcome.kind === 'error';
        if (!answered) unanswered += 1;
        let problem = answered ? fault.verdict(outcome, ms) : `no answer: ${JSON.stringify(outcome)}`;
        if (!problem && fault.fault && growthMb >= (2 * LIMIT) / MB) problem = `peak resident memory grew ${growthMb.toFixed(1)} MB`;
        console.log(
          `upstream faults: round ${round}, ${fault.name} -> ${outcome.kind}${toolError(outcome) ? ' (tool error)' : ''} in ${ms} ms, ` +
            `peak RSS +${growthMb.toFixed(1)} MB${problem ? ` — FAILED: ${problem}` : ''}`,
        );
        if (problem) failures.push(`${fault.name} (round ${round}): ${problem}`);
        // A crash is answered at once; the next call needs the restarted upstream.
        if (fault.tool === 'f__crash') await waitFor(echoWorks, 'the upstream to be restarted', 20_000);
      }
    }
    const ready = await fetch(`${server.url}/health/ready`);
    const echo = await echoWorks();
    const after = memoryOf(server.pid);
    const peaks = [...peaksMb].map(([name, mb]) => `${name} +${mb.toFixed(1)} MB`).join(', ');
    console.log(
      `upstream faults: cases tried ${tried}, failures ${failures.length}, lost ${unanswered} (no answer); /health/ready ${ready.status}, echo ${echo}; ` +
        `RSS before ${(before.rssKb / 1024).toFixed(1)} MB, after ${(after.rssKb / 1024).toFixed(1)} MB; ` +
        `largest peak RSS growth per case (bound for faults: 2 × GATEWAY_MAX_MESSAGE_BYTES = ${(2 * LIMIT) / MB} MB): ${peaks}`,
    );
    expect(failures).toEqual([]);
    expect(ready.status).toBe(200);
    expect(echo).toBe(true);
  }, 120_000);
});
