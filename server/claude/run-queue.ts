import { ClaudeError } from './errors.js';

/** Scheduling priority of a run; higher runs start first, equal ones in arrival order. */
export type RunPriority = 'low' | 'normal' | 'high';

const RANK: Readonly<Record<RunPriority, number>> = { high: 0, normal: 1, low: 2 };

/** Options of {@link RunQueue}. */
export interface RunQueueOptions {
  /** Jobs running at once (MAX_CONCURRENT_RUNS). */
  maxConcurrent: number;
  /** Jobs allowed to wait; beyond it {@link RunQueue.schedule} rejects with `busy` (MAX_QUEUED_RUNS). */
  maxQueued: number;
}

interface Waiting {
  priority: RunPriority;
  seq: number;
  start: () => void;
  reject: (error: Error) => void;
}

/**
 * A priority queue in front of a concurrency limit. Claude Code processes are heavy (~200 MB each), so they run at
 * most `maxConcurrent` at a time; callers beyond that wait, high priority first. The queue is bounded so a flood
 * fails fast with `busy` instead of holding connections open for minutes.
 */
export class RunQueue {
  private running = 0;
  private seq = 0;
  private readonly waiting: Waiting[] = [];
  private closed = false;

  constructor(private readonly options: RunQueueOptions) {}

  /** Runs waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs holding a slot. */
  get active(): number {
    return this.running;
  }

  /**
   * Waits for a slot (rejecting with `busy` when the queue is full, `aborted` when `signal` fires first), runs
   * `job`, frees the slot when it settles and returns its outcome.
   */
  async schedule<T>(priority: RunPriority, job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(priority, signal);
    try {
      return await job();
    } finally {
      this.release();
    }
  }

  /** Rejects every waiting job with `reason` and refuses new ones (shutdown). */
  close(reason: ClaudeError): void {
    this.closed = true;
    for (const waiting of this.waiting.splice(0)) waiting.reject(reason);
  }

  private acquire(priority: RunPriority, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(new ClaudeError('busy', 'the server is shutting down'));
    if (signal?.aborted) return Promise.reject(new ClaudeError('aborted', 'cancelled before it started'));
    if (this.running < this.options.maxConcurrent && this.waiting.length === 0) {
      this.running += 1;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.options.maxQueued) {
      return Promise.reject(
        new ClaudeError(
          'busy',
          `all ${this.options.maxConcurrent} run slots are taken and ${this.waiting.length} runs are waiting; retry later`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const index = this.waiting.indexOf(entry);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new ClaudeError('aborted', 'cancelled while waiting in the queue'));
      };
      const entry: Waiting = {
        priority,
        seq: (this.seq += 1),
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          this.running += 1;
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      // Insert in (priority, arrival) order so the head is always the next to start.
      let at = this.waiting.length;
      while (at > 0 && RANK[this.waiting[at - 1]!.priority] > RANK[priority]) at -= 1;
      this.waiting.splice(at, 0, entry);
    });
  }

  private release(): void {
    this.running -= 1;
    const next = this.waiting.shift();
    if (next) next.start();
  }
}
