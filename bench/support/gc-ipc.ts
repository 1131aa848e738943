import type { ChildProcess } from 'node:child_process';

/** The reply to a `gc` request: `process.memoryUsage()` right after the collections. */
export interface GcDone {
  type: 'gc-done';
  memory: NodeJS.MemoryUsage;
}

/**
 * In a child started with `--expose-gc` and an IPC channel: answers each `gc` message with two full collections
 * (the second catches what finalizers of the first released) and a {@link GcDone}. Does nothing without either.
 */
export function answerGcRequests(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc || !process.send) return;
  process.on('message', (message) => {
    if (message !== 'gc') return;
    gc();
    gc();
    const done: GcDone = { type: 'gc-done', memory: process.memoryUsage() };
    process.send?.(done);
  });
  // The IPC channel must not keep a server alive that was asked to stop.
  process.channel?.unref();
}

/** Asks a child (see {@link answerGcRequests}) for a full GC; resolves with its memory figures after it. */
export function requestGc(child: ChildProcess, timeoutMs = 10_000): Promise<NodeJS.MemoryUsage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error('no gc-done from the child: was it started with --expose-gc and an IPC channel?'));
    }, timeoutMs);
    const onMessage = (message: unknown) => {
      if ((message as GcDone | undefined)?.type !== 'gc-done') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve((message as GcDone).memory);
    };
    child.on('message', onMessage);
    child.send('gc');
  });
}
