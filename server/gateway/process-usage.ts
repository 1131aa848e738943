import { readFile } from 'node:fs/promises';

/** Alert thresholds of `/health/resources`. */
export interface ResourceThresholds {
  /** Resident memory of one process above which it is flagged. */
  rssMb: number;
  /** CPU use of one process (percent of one core) above which it is flagged. */
  cpuPercent: number;
}

/** One process's figures. */
export interface ProcessFigures {
  name: string;
  pid: number;
  rssMb: number | null;
  cpuPercent: number | null;
  alerts: string[];
}

const CLOCK_TICKS = 100; // USER_HZ on Linux
const samples = new Map<number, { ticks: number; at: number }>();

async function readTicks(pid: number): Promise<number | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command (which may contain spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

async function readRssMb(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Math.round((Number(match[1]) / 1024) * 10) / 10 : null;
  } catch {
    return null;
  }
}

/**
 * RSS and CPU% of each process from /proc (Linux; other systems report nulls). CPU% is measured since the previous
 * call for that pid, or over a 200 ms window on the first call.
 */
export async function processUsage(processes: readonly { name: string; pid: number }[], thresholds: ResourceThresholds) {
  const first = await Promise.all(processes.map((p) => readTicks(p.pid)));
  const now = Date.now();
  if (processes.some((p) => !samples.has(p.pid))) {
    processes.forEach((p, i) => {
      if (first[i] !== null && !samples.has(p.pid)) samples.set(p.pid, { ticks: first[i]!, at: now });
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const figures: ProcessFigures[] = await Promise.all(
    processes.map(async (p) => {
      const [ticks, rssMb] = await Promise.all([readTicks(p.pid), readRssMb(p.pid)]);
      const at = Date.now();
      const previous = samples.get(p.pid);
      let cpuPercent: number | null = null;
      if (ticks !== null && previous && at > previous.at) {
        cpuPercent = Math.round(((ticks - previous.ticks) / CLOCK_TICKS / ((at - previous.at) / 1000)) * 1000) / 10;
      }
      if (ticks !== null) samples.set(p.pid, { ticks, at });
      const alerts: string[] = [];
      if (rssMb !== null && rssMb > thresholds.rssMb) alerts.push(`rss ${rssMb} MB > ${thresholds.rssMb} MB`);
      if (cpuPercent !== null && cpuPercent > thresholds.cpuPercent) alerts.push(`cpu ${cpuPercent}% > ${thresholds.cpuPercent}%`);
      return { ...p, rssMb, cpuPercent, alerts };
    }),
  );
  const live = new Set(processes.map((p) => p.pid));
  for (const pid of samples.keys()) if (!live.has(pid)) samples.delete(pid);
  const sum = (values: (number | null)[]) => Math.round(values.reduce<number>((total, v) => total + (v ?? 0), 0) * 10) / 10;
  return {
    processes: figures,
    totals: { rssMb: sum(figures.map((f) => f.rssMb)), cpuPercent: sum(figures.map((f) => f.cpuPercent)) },
    thresholds,
    alerts: figures.flatMap((f) => f.alerts.map((alert) => `${f.name}: ${alert}`)),
  };
}
