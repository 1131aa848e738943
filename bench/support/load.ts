import { performance } from 'node:perf_hooks';
import { readCpuMs, readMachineBusyMs } from './processes.js';

/** One client connection able to call `server_status`; rejects on a transport error or an `isError` result. */
export interface Connection {
  call(): Promise<void>;
}

/** The connections of one cell: one per worker (HTTP) or one shared by all workers (stdio). */
export interface OpenedConnections {
  /** Exactly `concurrency` entries; entries may be the same connection. */
  connections: Connection[];
  /** The process serving them, for its CPU time. */
  serverPid: number;
  /** Ends sessions (DELETE where the transport has them) and closes every connection. */
  close(): Promise<void>;
}

/** A transport under test. */
export interface Target {
  /** Short stable id used in tables (`ours-sessionful`). */
  id: string;
  /** Human description: server, transport, client. */
  label: string;
  open(concurrency: number): Promise<OpenedConnections>;
}

/** Durations of a cell; every loop is bounded by them. */
export interface CellTiming {
  warmupMs: number;
  measureMs: number;
  /** A call taking longer than this fails (counted as an error), so no worker waits forever. */
  callTimeoutMs: number;
  /** Hard cap on calls issued per cell, whatever the duration. */
  maxCalls: number;
}

/** What one cell measured, over the measurement window only (warm-up excluded). */
export interface CellResult {
  target: string;
  concurrency: number;
  /** Successful calls completed in the window. */
  calls: number;
  callsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Failed calls completed in the window. */
  errors: number;
  firstError?: string;
  /** Server process CPU (user + system) per successful call, in microseconds. */
  serverCpuUsPerCall: number;
  /** CPU of the bench process (the load generator) as % of one core. */
  loadGenCpuPercent: number;
  /** CPU used by everything else on the machine meanwhile (other processes, kernel), as % of one core. */
  otherCpuPercent: number;
}

/**
 * Runs `concurrency` workers, each calling in a closed loop on its connection, for warm-up + measurement. Only
 * calls that complete inside the measurement window count; throughput is completions per second of the window.
 */
export async function runCell(target: Target, concurrency: number, timing: CellTiming): Promise<CellResult> {
  const opened = await target.open(concurrency);
  try {
    const latencies: number[] = [];
    let errors = 0;
    let firstError: string | undefined;
    let issued = 0;
    const start = performance.now();
    const windowStart = start + timing.warmupMs;
    const windowEnd = windowStart + timing.measureMs;

    // CPU snapshots at the window's edges, taken by timers (a few ms of jitter at most).
    const snapshot = () => ({
      at: performance.now(),
      serverCpuMs: readCpuMs(opened.serverPid),
      machineMs: readMachineBusyMs(),
      self: process.cpuUsage(),
      calls: latencies.length,
    });
    let first: ReturnType<typeof snapshot> | undefined;
    let last: ReturnType<typeof snapshot> | undefined;
    const t1 = setTimeout(() => (first = snapshot()), timing.warmupMs);
    const t2 = setTimeout(() => (last = snapshot()), timing.warmupMs + timing.measureMs);

    const worker = async (connection: Connection) => {
      while (issued < timing.maxCalls) {
        const began = performance.now();
        if (began >= windowEnd) return;
        issued += 1;
        let failure: unknown;
        try {
          await connection.call();
        } catch (error) {
          failure = error;
        }
        const ended = performance.now();
        if (ended < windowStart || ended > windowEnd) continue;
        if (failure === undefined) latencies.push(ended - began);
        else {
          errors += 1;
          firstError ??= failure instanceof Error ? failure.message : String(failure);
        }
      }
    };
    await Promise.all(opened.connections.map(worker));
    clearTimeout(t1);
    clearTimeout(t2);
    // A busy event loop can fire the closing timer after the last worker returned; the window ended just now.
    last ??= snapshot();

    latencies.sort((a, b) => a - b);
    const windowSec = timing.measureMs / 1000;
    let serverCpuUsPerCall = Number.NaN;
    let loadGenCpuPercent = Number.NaN;
    let otherCpuPercent = Number.NaN;
    if (first && last && last.calls > first.calls) {
      const serverMs = last.serverCpuMs - first.serverCpuMs;
      const selfMs = (last.self.user + last.self.system - (first.self.user + first.self.system)) / 1000;
      const wallMs = last.at - first.at;
      serverCpuUsPerCall = (serverMs * 1000) / (last.calls - first.calls);
      loadGenCpuPercent = (selfMs / wallMs) * 100;
      otherCpuPercent = Math.max(0, ((last.machineMs - first.machineMs - serverMs - selfMs) / wallMs) * 100);
    }
    return {
      target: target.id,
      concurrency,
      calls: latencies.length,
      callsPerSec: latencies.length / windowSec,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      errors,
      firstError,
      serverCpuUsPerCall,
      loadGenCpuPercent,
      otherCpuPercent,
    };
  } finally {
    await opened.close();
  }
}

/** Nearest-rank percentile of an ascending array (NaN when empty). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Median of the finite values (NaN when none). */
export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs `fn` over `items` with at most `parallel` in flight; results keep the items' order. */
export async function mapLimit<T, R>(items: readonly T[], parallel: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, lane));
  return results;
}
