import type { Config } from '../config/schema.js';
import { TASK_MIN_TTL_MS } from '../config/fields/tasks.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import type { Storage } from '../storage/types.js';
import { createCallRouting, type CallRouting } from './call-routing.js';
import { ParkedCalls } from './parked-calls.js';
import { TaskRuntime } from './task-runtime.js';
import { TaskStore } from './task-store.js';

/** Options of {@link createTaskService}. */
export interface TaskServiceOptions {
  config: Config;
  storage: Storage;
  events: EventBus;
  logger: Logger;
}

/** Tasks and long calls: the runtime every task runs on, and how `tools/call` is routed to it. */
export interface TaskService {
  runtime: TaskRuntime;
  /** For the main server factory (`createServerFactory({ routing })`). */
  routing: CallRouting;
  /** Stops the recovery sweep. Tasks themselves end through {@link TaskRuntime.beginShutdown} and `drain`. */
  close(): void;
}

/**
 * Builds the task runtime from config, marks tasks a stopped process left running as `interrupted` (at start, and
 * every 30 s with shared storage, where a replica that died is found by its stopped heartbeat), and the routing of
 * calls to tasks, parked 2026-07-28 calls and permission prompts.
 */
export async function createTaskService({ config, storage, events, logger }: TaskServiceOptions): Promise<TaskService> {
  const runtime = new TaskRuntime({
    store: new TaskStore(storage, config.taskPollIntervalMs),
    events,
    logger,
    maxLive: config.maxAsyncProcesses,
    pollIntervalMs: config.taskPollIntervalMs,
    ttl: { defaultMs: Math.min(config.taskTtlMs, config.taskMaxTtlMs), minMs: TASK_MIN_TTL_MS, maxMs: config.taskMaxTtlMs },
  });
  // A failed recovery must not stop the server from serving; the stale records stay running until it works.
  await runtime.recover().catch((error: unknown) => logger.warn('could not recover task records', { error }));
  const sweep = storage.shared ? setInterval(() => void runtime.recover().catch(() => undefined), 30_000) : undefined;
  sweep?.unref();
  const parked = new ParkedCalls({
    waitMs: config.permissionPromptTimeoutMs,
    maxParked: () => Math.max(0, config.maxAsyncProcesses - runtime.liveCount),
  });
  const routing = createCallRouting({
    ...(config.tasksEnabled ? { runtime } : {}),
    parked,
    promptTimeoutMs: config.permissionPromptTimeoutMs,
    progressIntervalMs: config.progressIntervalMs,
  });
  return { runtime, routing, close: () => clearInterval(sweep) };
}
