/**
 * kill -9 in the middle of a burst of acknowledged operations, on SQLite and on Redis: every operation a client saw
 * succeed is still stored after a restart on the same data, and its event reaches the webhook receiver (which stays
 * up throughout). Duplicates by webhook-id are allowed (at least once) and reported apart. See docs/reliability.md.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startMockAnthropicApi, type MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import { createClaudeSandbox, type ClaudeSandbox } from '../helpers/claude-env.js';
import { createSandbox, waitFor, within, type Sandbox } from '../helpers/cli-process.js';
import { machineToken, registerMachineClient, requestMachineToken, type MachineClient } from '../helpers/machine-client.js';
import { mcpHeaders, openSession, postRpc, toolCall } from '../helpers/mcp-wire.js';
import { deleteRedisKeys, REDIS_URL, redisSkipReason } from '../helpers/redis.js';
import { runSeed, seededRandom } from '../helpers/seeded-random.js';
import { killServers, signalServer, startServer, type ServerProcess } from '../helpers/server-process.js';
import { deliveryCounts, startReceiver, webhookSecret, type Receiver } from '../helpers/webhook-receiver.js';

const BURSTS = 3;
/** Operations of one burst, each started at a seeded moment within SPREAD_MS. */
const REGISTRATIONS = 16;
const TOKEN_GRANTS = 16;
const SESSIONS = 12;
const CLAUDE_CALLS = 2;
const SPREAD_MS = 4000;
/**
 * The kill lands at a seeded moment in this range (ms after the burst began), before the last operations of the burst
 * are due. A Claude call takes 1.5-3.5 s here, so some bursts kill the server after a Claude result went out and
 * others while the calls run.
 */
const KILL_WINDOW: [number, number] = [1500, 3500];
/** Operations one burst schedules; those scheduled after the kill are never tried. */
const PLANNED = REGISTRATIONS + TOKEN_GRANTS + SESSIONS + CLAUDE_CALLS;
/** WEBHOOK_TIMEOUT_MS: events a killed process had claimed come back after 2 × this + 5 s. */
const WEBHOOK_TIMEOUT_MS = 500;
const REDELIVERY_WAIT_MS = 2 * WEBHOOK_TIMEOUT_MS + 5000 + 10_000;

const seed = runSeed();
const redisSkip = await redisSkipReason('the Redis kill -9 bursts');

/** What one acknowledged operation must have left behind. */
interface Acknowledged {
  kind: 'registration' | 'token' | 'session' | 'claude';
  /** Still stored after the restart (registrations: a token can be had; tokens: /mcp accepts it). */
  check?: (url: string) => Promise<boolean>;
  /** The webhook event it must have caused: type and the data field that identifies it. */
  event?: { type: string; field: string; value: string };
}

interface BurstFigures {
  tried: Record<Acknowledged['kind'], number>;
  acknowledged: Record<Acknowledged['kind'], number>;
  lostStored: string[];
  lostEvents: string[];
}

const zero = () => ({ registration: 0, token: 0, session: 0, claude: 0 });

const backends: Array<[string, Record<string, string>, string | undefined]> = [
  ['sqlite', { STORAGE: 'sqlite' }, undefined],
  ['redis', { STORAGE: 'redis', REDIS_URL, REDIS_KEY_PREFIX: `ccm-faults:${randomUUID()}:` }, redisSkip],
];

describe.each(backends)('kill -9 during a burst (%s)', (name, storageEnv, skip) => {
  if (skip) {
    it.skip(skip, () => undefined);
    return;
  }
  const random = seededRandom(seed + (name === 'redis' ? 1 : 0));
  let sandbox: Sandbox;
  let claude: ClaudeSandbox;
  let mock: MockAnthropicApi;
  let receiver: Receiver;
  let env: Record<string, string>;
  let server: ServerProcess;
  /** Clients registered before the bursts, whose token grants the bursts make. */
  const clients: MachineClient[] = [];
  let token: string;

  beforeAll(async () => {
    console.log(`kill -9 bursts (${name}): seed ${seed} (FAULT_SEED=${seed} replays the schedule)`);
    sandbox = createSandbox();
    mock = await startMockAnthropicApi();
    claude = createClaudeSandbox(mock.url);
    receiver = await startReceiver(() => 204);
    env = {
      ...claude.env,
      ...storageEnv,
      AUTH_MODE: 'oauth',
      AUTH_INITIAL_ADMIN: 'false',
      // The public URL is the tokens' audience, the same whatever port each restart listens on.
      BASE_URL: 'https://faults.example.test',
      WORKSPACE_ROOTS: claude.workspace,
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: webhookSecret(),
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_TIMEOUT_MS: String(WEBHOOK_TIMEOUT_MS),
      WEBHOOK_RETRY_BASE_MS: '100',
      MAX_CONCURRENT_RUNS: String(CLAUDE_CALLS),
    };
    server = await startServer(sandbox, env);
    for (let i = 0; i < 4; i += 1) {
      const registered = await machineToken(server.url);
      clients.push(registered.client);
      token = registered.token;
    }
  }, 60_000);

  afterAll(async () => {
    await killServers();
    await receiver?.close();
    await mock?.close();
    claude?.remove();
    sandbox?.remove();
    if (storageEnv.REDIS_KEY_PREFIX) await deleteRedisKeys(storageEnv.REDIS_KEY_PREFIX);
  });

  /** Runs one burst against `server`, kills it with SIGKILL at a seeded moment, and returns what was acknowledged. */
  async function burst(
    index: number,
  ): Promise<{ acknowledged: Acknowledged[]; tried: Record<Acknowledged['kind'], number>; killAtMs: number }> {
    const killAtMs = random.int(...KILL_WINDOW);
    const claudeSessions = await Promise.all(Array.from({ length: CLAUDE_CALLS }, () => openSession(server.mcpUrl, token)));
    const tried = zero();
    const acknowledged: Acknowledged[] = [];
    let killed = false;
    const started = Date.now();
    const at = async (offsetMs: number, kind: Acknowledged['kind'], operation: () => Promise<Acknowledged | undefined>) => {
      await new Promise((resolve) => setTimeout(resolve, offsetMs));
      if (killed) return;
      tried[kind] += 1;
      const done = await operation().catch(() => undefined);
      if (done) acknowledged.push(done);
    };
    const claudeCalls = claudeSessions.map((sessionId, i) =>
      at(random.int(0, 300), 'claude', async () => {
        const outcome = await postRpc(server.mcpUrl, toolCall('claude_ask', { query: `burst ${index} call ${i}` }), {
          headers: mcpHeaders({ token, sessionId }),
          timeoutMs: 20_000,
        });
        const claudeSession =
          outcome.kind === 'result' && !outcome.result.isError
            ? (outcome.result.structuredContent as { sessionId?: string } | undefined)?.sessionId
            : undefined;
        return claudeSession ? { kind: 'claude', event: { type: 'tool.completed', field: 'sessionId', value: claudeSession } } : undefined;
      }),
    );
    const operations = [
      ...claudeCalls,
      ...Array.from({ length: REGISTRATIONS }, () =>
        at(random.int(0, SPREAD_MS), 'registration', async () => {
          const response = await registerMachineClient(server.url);
          if (response.status !== 201) return undefined;
          const client = (await response.json()) as MachineClient;
          return {
            kind: 'registration',
            check: async (url) => (await requestMachineToken(url, client)).status === 200,
            event: { type: 'oauth.client_registered', field: 'clientId', value: client.client_id },
          };
        }),
      ),
      ...Array.from({ length: TOKEN_GRANTS }, () =>
        at(random.int(0, SPREAD_MS), 'token', async () => {
          const response = await requestMachineToken(server.url, random.pick(clients));
          if (response.status !== 200) return undefined;
          const { access_token: granted } = (await response.json()) as { access_token: string };
          return { kind: 'token', check: async (url) => Boolean(await openSession(`${url}/mcp`, granted).catch(() => undefined)) };
        }),
      ),
      ...Array.from({ length: SESSIONS }, () =>
        at(random.int(0, SPREAD_MS), 'session', async () => {
          const sessionId = await openSession(server.mcpUrl, token);
          return { kind: 'session', event: { type: 'session.started', field: 'sessionId', value: sessionId } };
        }),
      ),
    ];
    await new Promise((resolve) => setTimeout(resolve, killAtMs - (Date.now() - started)));
    // The first burst's kill also waits for its Claude calls to be answered (they take seconds on a loaded machine),
    // so every run kills a server that has acknowledged Claude results; the other bursts may kill them in flight.
    if (index === 1) await within(Promise.all(claudeCalls), 30_000, 'the Claude calls of the first burst').catch(() => undefined);
    killed = true;
    const killedAtMs = Date.now() - started;
    const exit = await signalServer(server, 'SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    await Promise.all(operations);
    return { acknowledged, tried, killAtMs: killedAtMs };
  }

  it(`loses no acknowledged operation and no event of one over ${BURSTS} bursts`, async () => {
    const totals: BurstFigures = { tried: zero(), acknowledged: zero(), lostStored: [], lostEvents: [] };
    for (let index = 1; index <= BURSTS; index += 1) {
      const { acknowledged, tried, killAtMs } = await burst(index);
      server = await startServer(sandbox, env);
      const lostStored: string[] = [];
      for (const op of acknowledged) if (op.check && !(await op.check(server.url))) lostStored.push(op.kind);
      const delivered = (op: Acknowledged) =>
        !op.event ||
        receiver.deliveries.some((d) => d.payload.type === op.event!.type && d.payload.data[op.event!.field] === op.event!.value);
      await waitFor(() => acknowledged.every(delivered), 'the events of every acknowledged operation', REDELIVERY_WAIT_MS).catch(
        () => undefined,
      );
      const lostEvents = acknowledged.filter((op) => !delivered(op)).map((op) => `${op.kind} ${op.event!.type} ${op.event!.value}`);
      const count = (kind: Acknowledged['kind']) => acknowledged.filter((op) => op.kind === kind).length;
      for (const kind of Object.keys(tried) as Array<Acknowledged['kind']>) {
        totals.tried[kind] += tried[kind];
        totals.acknowledged[kind] += count(kind);
      }
      totals.lostStored.push(...lostStored);
      totals.lostEvents.push(...lostEvents);
      console.log(
        `kill -9 burst ${index} (${name}, seed ${seed}): killed at ${killAtMs} ms; tried ${JSON.stringify(tried)}; ` +
          `acknowledged registrations ${count('registration')}, tokens ${count('token')}, sessions ${count('session')}, claude ${count('claude')}; ` +
          `lost: stored ${lostStored.length}, events ${lostEvents.length}`,
      );
    }
    const { duplicates, distinct } = deliveryCounts(receiver.deliveries);
    const tried = Object.values(totals.tried).reduce((a, b) => a + b, 0);
    const acknowledged = Object.values(totals.acknowledged).reduce((a, b) => a + b, 0);
    const lost = totals.lostStored.length + totals.lostEvents.length;
    console.log(
      `kill -9 bursts (${name}, seed ${seed}): ${BURSTS} bursts, operations planned ${BURSTS * PLANNED}, cases tried ${tried} (the rest were due after the kill), ` +
        `acknowledged ${acknowledged} ${JSON.stringify(totals.acknowledged)}, unanswered (in flight at the kill) ${tried - acknowledged}, failures ${lost}, lost ${lost} (stored ${totals.lostStored.length}, events ${totals.lostEvents.length}); ` +
        `webhook deliveries ${receiver.deliveries.length}, distinct ${distinct}, duplicates ${duplicates}`,
    );
    expect(totals.lostStored).toEqual([]);
    expect(totals.lostEvents).toEqual([]);
    // The kill landed mid-burst: operations had been acknowledged, and others were still due.
    expect(acknowledged).toBeGreaterThan(0);
    expect(tried).toBeLessThan(BURSTS * PLANNED);
    expect(totals.acknowledged.claude).toBeGreaterThan(0);
  }, 150_000);
});
