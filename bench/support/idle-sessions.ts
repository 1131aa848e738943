import { request, type ClientRequest } from 'node:http';
import { mapLimit } from './load.js';
import { readRssBytes, sleep } from './processes.js';

/**
 * RSS of a server already holding `sessions` idle sessions (the fill), then holding twice as many, then after closing
 * them all. The per-session figure is the growth from the second batch: the marginal cost of a session.
 */
export interface IdleMemoryResult {
  label: string;
  sessions: number;
  rssBeforeBytes: number;
  rssOpenBytes: number;
  rssAfterCloseBytes: number;
  /** (open - before) scaled to 1,000 sessions, in MB (MiB, see {@link MIB}): what the second batch added. */
  mbPer1000: number;
  /** What the fill added to the warmed-up server, scaled the same way: includes one-time costs (see {@link IdleOptions.warmupSessions}). */
  fillMbPer1000: number;
  /** V8 heap used (after the forced GC) scaled the same way; NaN without forced GC. */
  heapMbPer1000: number;
}

/** Warm-up sessions of every idle measurement (opened and closed): enough to compile the handshake's code. */
export const IDLE_WARMUP_SESSIONS = 50;

/** Reported "MB" are MiB (2^20 bytes), as `ps`/`top` show RSS. */
export const MIB = 1024 * 1024;

/** Options of the idle-session measurements. */
export interface IdleOptions {
  label: string;
  pid: number;
  sessions: number;
  /** Wait before each RSS reading, so in-flight work and timers settle. */
  settleMs: number;
  /** Handshakes in flight at once. */
  parallel: number;
  /**
   * Sessions opened and closed before anything is read, so lazily compiled code is not counted. Other one-time
   * costs are paid by the fill: V8 first touches the pages of its young generation (up to 32 MB) only after tens of
   * MB have been allocated, and a fill of `sessions` held open does that without leaving freed room in the old
   * generation (closed warm-up sessions would: new sessions fill such room without any RSS growth).
   */
  warmupSessions: number;
  /**
   * Forces a full GC in the server before each reading and returns its heap used afterwards (see gc-ipc.ts);
   * without it RSS includes garbage.
   */
  gc?: () => Promise<{ heapUsed: number }>;
}

interface Reading {
  rss: number;
  /** Heap used after a forced GC, or NaN. */
  heap: number;
}

async function readAfterSettle(options: IdleOptions): Promise<Reading> {
  await sleep(options.settleMs);
  const memory = await options.gc?.();
  return { rss: readRssBytes(options.pid), heap: memory?.heapUsed ?? Number.NaN };
}

const TIMEOUT_MS = 10_000;
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench-idle', version: '1.0.0' } },
});
const INITIALIZED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });

/** initialize + notifications/initialized with plain fetch (no GET stream); returns the session id. */
async function openStreamableSession(mcpUrl: string): Promise<string> {
  const init = await fetch(mcpUrl, { method: 'POST', headers: HEADERS, body: INITIALIZE, signal: AbortSignal.timeout(TIMEOUT_MS) });
  const text = await init.text();
  const id = init.headers.get('mcp-session-id');
  if (!init.ok || !id) throw new Error(`initialize answered ${init.status}: ${text.slice(0, 300)}`);
  const headers = { ...HEADERS, 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' };
  const done = await fetch(mcpUrl, { method: 'POST', headers, body: INITIALIZED, signal: AbortSignal.timeout(TIMEOUT_MS) });
  await done.arrayBuffer();
  if (done.status !== 202) throw new Error(`notifications/initialized answered ${done.status}`);
  return id;
}

async function deleteStreamableSession(mcpUrl: string, id: string): Promise<void> {
  const headers = { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' };
  const res = await fetch(mcpUrl, { method: 'DELETE', headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
  await res.arrayBuffer();
}

/** RSS per idle 2025-era Streamable HTTP session (sessionful, no GET stream), for ours or the baseline. */
export async function measureStreamableIdle(mcpUrl: string, options: IdleOptions): Promise<IdleMemoryResult> {
  const warmup = await mapLimit(Array.from({ length: options.warmupSessions }), options.parallel, () => openStreamableSession(mcpUrl));
  await mapLimit(warmup, options.parallel, (id) => deleteStreamableSession(mcpUrl, id));
  const warm = await readAfterSettle(options);
  const ids: string[] = [];
  const openBatch = () =>
    mapLimit(Array.from({ length: options.sessions }), options.parallel, async () => {
      ids.push(await openStreamableSession(mcpUrl));
    });
  try {
    await openBatch();
    const before = await readAfterSettle(options);
    await openBatch();
    const open = await readAfterSettle(options);
    await mapLimit(ids.splice(0), options.parallel, (id) => deleteStreamableSession(mcpUrl, id));
    return result(options, warm, before, open, await readAfterSettle(options));
  } finally {
    // A failure part-way must not leave sessions behind for the next measurement.
    await mapLimit(ids, options.parallel, (id) => deleteStreamableSession(mcpUrl, id).catch(() => undefined));
  }
}

/** Opens `GET sseUrl` and resolves once the `endpoint` event arrived; the stream stays open until destroyed. */
function openSseStream(sseUrl: string): Promise<ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = request(sseUrl, { method: 'GET', agent: false, headers: { accept: 'text/event-stream' }, timeout: TIMEOUT_MS });
    req.once('timeout', () => req.destroy(new Error('no endpoint event in time')));
    req.once('error', reject);
    req.once('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        req.destroy();
        return reject(new Error(`GET /sse answered ${res.statusCode}`));
      }
      let buffered = '';
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        if (!buffered.includes('event: endpoint')) return;
        res.off('data', onData);
        res.resume(); // keep draining keep-alive frames
        req.setTimeout(0);
        resolve(req);
      };
      res.on('data', onData);
    });
    req.end();
  });
}

/** RSS per idle legacy SSE session: streams held open, then closed by the client. */
export async function measureSseIdle(sseUrl: string, options: IdleOptions): Promise<IdleMemoryResult> {
  const warmup = await mapLimit(Array.from({ length: options.warmupSessions }), options.parallel, () => openSseStream(sseUrl));
  for (const req of warmup) req.destroy();
  const warm = await readAfterSettle(options);
  const streams: ClientRequest[] = [];
  const openBatch = () =>
    mapLimit(Array.from({ length: options.sessions }), options.parallel, async () => {
      streams.push(await openSseStream(sseUrl));
    });
  try {
    await openBatch();
    const before = await readAfterSettle(options);
    await openBatch();
    const open = await readAfterSettle(options);
    for (const req of streams.splice(0)) req.destroy();
    return result(options, warm, before, open, await readAfterSettle(options));
  } finally {
    for (const req of streams) req.destroy();
  }
}

function result(options: IdleOptions, warm: Reading, before: Reading, open: Reading, after: Reading): IdleMemoryResult {
  const per1000 = (bytes: number) => (bytes / MIB) * (1000 / options.sessions);
  return {
    label: options.label,
    sessions: options.sessions,
    rssBeforeBytes: before.rss,
    rssOpenBytes: open.rss,
    rssAfterCloseBytes: after.rss,
    mbPer1000: per1000(open.rss - before.rss),
    fillMbPer1000: per1000(before.rss - warm.rss),
    heapMbPer1000: per1000(open.heap - before.heap),
  };
}
