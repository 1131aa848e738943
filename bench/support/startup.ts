import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { freePort, sleep, spawnChild, type Sandbox } from './processes.js';

/** Options of {@link measureStartup}. */
export interface StartupOptions {
  /** `build/server/main.js`. */
  cli: string;
  sandbox: Sandbox;
  runs: number;
  /** Gap between /health polls. */
  pollMs: number;
  /** A run that has not answered 200 by then fails. */
  timeoutMs: number;
}

/** One GET /health; resolves the status, or 0 when nothing answered (refused, reset, timed out). */
function healthStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: 250 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
    req.end();
  });
}

/**
 * Milliseconds from `spawn` of `node build/server/main.js serve` (STORAGE=sqlite, fresh DATA_DIR, free port) to
 * the first `GET /health` 200, once per run. Each server is stopped by PID before the next run starts.
 */
export async function measureStartup(options: StartupOptions): Promise<number[]> {
  const times: number[] = [];
  for (let run = 0; run < options.runs; run += 1) {
    const port = await freePort();
    const dataDir = options.sandbox.dir(`startup-${run}`);
    const env = options.sandbox.env({ STORAGE: 'sqlite', DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' });
    const url = `http://127.0.0.1:${port}/health`;
    const began = performance.now();
    const child = spawnChild({
      name: `startup-${run}`,
      command: process.execPath,
      args: [options.cli, 'serve'],
      cwd: options.sandbox.cwd,
      env,
    });
    let exited = false;
    void child.exited.then(() => (exited = true));
    try {
      const deadline = began + options.timeoutMs;
      let status = 0;
      while (status !== 200) {
        if (exited) throw new Error(`serve exited before /health answered:\n${child.tail()}`);
        if (performance.now() > deadline) throw new Error(`no /health 200 within ${options.timeoutMs} ms:\n${child.tail()}`);
        status = await healthStatus(url);
        if (status !== 200) await sleep(options.pollMs);
      }
      times.push(performance.now() - began);
    } finally {
      await child.stop();
    }
  }
  return times;
}
