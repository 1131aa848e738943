import { bool, fieldMeta, int } from '../field-helpers.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** MCP tasks, long calls and mid-run questions; see docs/tools.md "Long calls and tasks". */
export const taskFields = {
  /**
   * Offer MCP tasks: the 2025-11-25 `tasks` capability (with `execution.taskSupport` on the tools that run long) and
   * the 2026-07-28 `io.modelcontextprotocol/tasks` extension. Off: task requests are served as plain calls.
   */
  tasksEnabled: bool()
    .default(true)
    .describe(
      'Offer MCP tasks (2025-11-25 `tasks` capability, 2026-07-28 `io.modelcontextprotocol/tasks` extension) for the tools that run long.',
    )
    .register(fieldMeta, { env: 'TASKS_ENABLED', group: 'MCP' }),
  /** How long a task and its result are kept when the client asks for no `ttl` (reported as `ttl` / `ttlMs`). */
  taskTtlMs: int(60_000, 30 * DAY)
    .default(DAY)
    .describe('How long a task and its result are kept, from its creation, when the client asks for no ttl (ms).')
    .register(fieldMeta, { env: 'TASK_TTL_MS', group: 'MCP' }),
  /** The longest `ttl` a client may ask for (a longer one is lowered to it); also how long background tasks are kept. */
  taskMaxTtlMs: int(60_000, 365 * DAY)
    .default(7 * DAY)
    .describe('Longest ttl a client may ask for (longer wishes are lowered to it); background tasks are kept this long (ms).')
    .register(fieldMeta, { env: 'TASK_MAX_TTL_MS', group: 'MCP' }),
  /** The polling interval tasks suggest to clients (`pollInterval` / `pollIntervalMs`). */
  taskPollIntervalMs: int(50, 600_000)
    .default(2000)
    .describe('Polling interval tasks suggest to clients (ms).')
    .register(fieldMeta, { env: 'TASK_POLL_INTERVAL_MS', group: 'MCP' }),
  /**
   * Most time between two progress notifications of a Claude call that asked for progress: while Claude is silent
   * (queued, thinking, running a long command) the last line is repeated, so clients that reset their request
   * timeout on progress keep waiting. Also paces the keep-alives of a blocking 2025-11-25 `tasks/result`.
   */
  progressIntervalMs: int(100, 600_000)
    .default(15_000)
    .describe(
      'Most time between two progress notifications of a call that asked for progress; the last line is repeated while Claude is silent (ms).',
    )
    .register(fieldMeta, { env: 'PROGRESS_INTERVAL_MS', group: 'MCP' }),
  /**
   * How long a question to the person (a Claude permission prompt) waits for its answer, whichever way it was put
   * (elicitation, a task's `input_required`, a 2026-07-28 `input_required` result); then the tool is denied. A
   * 2026-07-28 call waiting between rounds is abandoned (its run stopped) after this long without a retry.
   */
  permissionPromptTimeoutMs: int(1000, DAY)
    .default(10 * 60_000)
    .describe("How long a permission prompt waits for the person's answer before the tool is denied (ms).")
    .register(fieldMeta, { env: 'PERMISSION_PROMPT_TIMEOUT_MS', group: 'Claude' }),
};

/** The least retention a task gets, whatever the client asks for. */
export const TASK_MIN_TTL_MS = 60_000;
