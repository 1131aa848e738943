import { spawn, type ChildProcess } from 'node:child_process';
import type { SpawnedProcess, SpawnOptions } from '@anthropic-ai/claude-agent-sdk';
import type { Logger } from '../logging/logger.js';

/**
 * Spawns the binary with the SDK's arguments (an argv array, never a shell string) and the allow-listed environment,
 * and records the child so shutdown can reach it. When the SDK's forwarded abort signal fires (after its own stdin
 * EOF grace), the child gets SIGTERM, then SIGKILL.
 */
export function spawnChild(
  spawnOptions: SpawnOptions,
  tracked: { id: string; child?: ChildProcess; pid?: number },
  graceMs: number,
  logger: Logger,
  onStderr: (data: string) => void,
): SpawnedProcess {
  const child = spawn(spawnOptions.command, spawnOptions.args, {
    cwd: spawnOptions.cwd,
    env: spawnOptions.env as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  tracked.child = child;
  tracked.pid = child.pid;
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', onStderr);
  child.on('error', (error) => logger.warn('claude process error', { runId: tracked.id, error: error.message }));
  spawnOptions.signal?.addEventListener(
    'abort',
    () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      setTimeout(
        () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        },
        Math.max(500, graceMs),
      ).unref();
    },
    { once: true },
  );
  return child as unknown as SpawnedProcess;
}

/** Resolves when the child has exited, killing it when it has not within `timeoutMs`. */
export function waitForExit(child: ChildProcess | undefined, timeoutMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      resolve();
    }, timeoutMs);
    timer.unref();
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
