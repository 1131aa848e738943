import type { Config } from '../config/schema.js';
import { TASK_MIN_TTL_MS } from '../config/fields/tasks.js';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import type { Storage } from '../storage/types.js';
import { createCallRouting, type CallRouting } from './call-routing.js';
import { ParkedCalls } from './parked-calls.js';
import { TaskRuntime, type ReplicaLiveness } from './task-runtime.js';
import { TaskStore } from './task-store.js';

/** Options of {@link createTaskService}. */
export interface TaskServiceOptions {
  config: Config;
  storage: Storage;
  events: EventBus;
  logger: Logger;
  /** With several replicas: this replica (its tasks carry its id; tasks of replicas that died are swept). */
  presence?: ReplicaLiveness;
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
 * with several replicas every half CLUSTER_LEASE_MS, where a replica that died is found by its lease having run out),
 * and the routing of calls to tasks, parked 2026-07-28 calls and permission prompts.
 */
export async function createTaskService({ config, storage, events, logger, presence }: TaskServiceOptions): Promise<TaskService> {
  const runtime = new TaskRuntime({
    store: new TaskStore(storage, config.taskPollIntervalMs),
    events,
    logger,
    maxLive: config.maxAsyncProcesses,
    pollIntervalMs: config.taskPollIntervalMs,
    ttl: { defaultMs: Math.min(config.taskTtlMs, config.taskMaxTtlMs), minMs: TASK_MIN_TTL_MS, maxMs: config.taskMaxTtlMs },
    ...(presence ? { presence } : {}),
  });
  // A failed recovery must not stop the server from serving; the stale records stay running until it works.
  await runtime.recover().catch((error: unknown) => logger.warn('could not recover task records', { error }));
  // A replica dies at t: its lease runs out by t + CLUSTER_LEASE_MS, and the next sweep of any other replica marks
  // its tasks, so they are `interrupted` by t + 1.5 x CLUSTER_LEASE_MS. Without a presence (shared storage but no
  // cluster), tasks are found by their stopped heartbeat, as before.
  const sweepEvery = presence ? config.clusterLeaseMs / 2 : 30_000;
  const sweep = storage.shared
    ? setInterval(
        () =>
          void (presence ? runtime.sweep() : runtime.recover()).catch((error: unknown) =>
            logger.warn('task sweep failed', { error, category: 'cluster' }),
          ),
        sweepEvery,
      )
    : undefined;
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
