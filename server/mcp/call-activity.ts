import type { ToolCallInterceptor } from './tool-interceptor.js';

/** Tool calls in flight across every server instance: what a graceful shutdown waits for. */
export interface CallActivity {
  /** Counts each call from its start until its result is ready (the tool interceptor of the factory). */
  readonly interceptor: ToolCallInterceptor;
  /** Calls running now. */
  inFlight(): number;
  /** Resolves `true` once no call runs, or `false` at `deadline` (epoch ms) if some still do. */
  idle(deadline: number): Promise<boolean>;
}

/** Creates the tracker; one per container. */
export function createCallActivity(): CallActivity {
  let running = 0;
  const waiters = new Set<() => void>();
  const settle = () => {
    running -= 1;
    if (running === 0) for (const wake of [...waiters]) wake();
  };
  return {
    interceptor: async (_call, next) => {
      running += 1;
      try {
        return await next();
      } finally {
        settle();
      }
    },
    inFlight: () => running,
    idle(deadline) {
      if (running === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => finish(false), Math.max(0, deadline - Date.now()));
        const finish = (idle: boolean) => {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(idle);
        };
        const wake = () => finish(true);
        waiters.add(wake);
      });
    },
  };
}
