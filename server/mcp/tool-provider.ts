import type {
  CallToolResult,
  ElicitRequestFormParams,
  ElicitResult,
  InputRequiredResult,
  McpServer,
  ServerContext,
  Tool,
} from '@modelcontextprotocol/server';
import type { TaskFacts } from '../tasks/task-record.js';
import type { TaskWork } from '../tasks/task-work.js';
import type { Caller } from './caller.js';

/** Where the server instance being assembled will serve. */
export type ServingMode = 'streamable-http' | 'stateless-http' | 'sse' | 'stdio';

/** What a provider knows about the server instance it serves: who, which protocol era, which transport. */
export interface ToolProviderContext {
  /** The caller the instance serves; tools it may not use are neither listed nor callable. */
  caller: Caller;
  /** Protocol era: `modern` is 2026-07-28 (per-request), `legacy` the 2025-era handshake. */
  era: 'legacy' | 'modern';
  mode: ServingMode;
  /** Set on 2026-07-28 instances that can serve a request in `input_required` rounds (see {@link RequestRounds}). */
  rounds?: RequestRounds;
}

/**
 * Serves a 2026-07-28 request other than `tools/call` (`prompts/get`, `resources/read`) whose work may need the
 * client mid-way: `start` gets the context to do it with, whose `elicitInput`, `requestSampling` and
 * `send({ method: 'roots/list' })` become `input_required` rounds when the request declared what they need, and the
 * retry (its `requestState`) resumes the same work. `name` binds the rounds (a retry for another name finds nothing).
 */
export type RequestRounds = <T>(
  ctx: ServerContext,
  name: string,
  start: (requestContext: ServerContext) => Promise<T>,
) => Promise<T | InputRequiredResult>;

/** One tool call, as the tool and every interceptor around it see it. */
export interface ToolCall {
  /** The exposed tool name (bounded: it is a label in metrics). */
  tool: string;
  /** The arguments as the client sent them (a tool with an input schema gets them validated first). */
  args: Readonly<Record<string, unknown>>;
  /** Who calls; the same as `serving.caller`. */
  caller: Caller;
  /** How the call is served: the caller the server instance was built for, protocol era and transport. */
  serving: ToolProviderContext;
  /** The SDK's request context: abort signal, progress token, notifications, elicitation, sampling. */
  requestContext: ServerContext;
  /** The instance serving the call (client capabilities, notifications on the session). */
  server: McpServer;
  /** The session the call arrived on, when there is one. */
  sessionId?: string;
  /** The HTTP request id (X-Request-Id) the call arrived with, when known. */
  requestId?: string;
  /**
   * Puts a question to the person behind the client (an elicitation form) and resolves with the answer; rejects when
   * no answer can come (the client went away, `signal` aborted). Absent when the client cannot be asked. How the
   * question travels depends on how the call is served: an `elicitation/create` request on a 2025-era session, the
   * task's `input_required` status when the call runs as a task, a 2026-07-28 `input_required` result otherwise.
   */
  ask?: InputAsker;
  /**
   * The client follows tasks and can answer their questions (it declared elicitation and task support), so work this
   * call leaves running as a task (a Claude `backgroundTask`) may ask too.
   */
  answersTasks?: boolean;
  /** Set when the call runs as a task (it answered at once; the client follows it with `tasks/*`). */
  task?: TaskCallContext;
  /**
   * Set for a tool that {@link ToolDefinition.startsTaskLate} when the request may get a task (2026-07-28, tasks
   * extension declared): the tool decides whether and when its call becomes one, after its own `input_required`
   * rounds. It hands over the work left to do and answers what this resolves with; the client then gets the task's
   * `CreateTaskResult` instead.
   */
  startTask?: (work: TaskWork) => Promise<CallToolResult>;
}

/** See {@link ToolCall.ask}. */
export type InputAsker = (params: ElicitRequestFormParams, signal: AbortSignal) => Promise<ElicitResult>;

/** What a tool running as a task can tell the task about itself. */
export interface TaskCallContext {
  readonly taskId: string;
  /** Facts for listings and for running the task again (session id, figures, the run request). */
  annotate(facts: TaskFacts): void;
}

/**
 * A tool built once and shared by every server instance: what `tools/list` shows, and what runs on `tools/call`.
 * Per-caller state comes from the {@link ToolCall}, never from the definition.
 */
export interface ToolDefinition {
  /** Exactly what `tools/list` shows (JSON Schemas already converted). */
  readonly tool: Tool;
  /** The name access rules are checked with, when it differs from the listed one (a gateway tool served unprefixed). */
  readonly accessName?: string;
  /**
   * Its work may send the client any request a 2025-era server could (a gateway tool: its upstream may ask for
   * elicitation, sampling or roots at any point), so a 2026-07-28 call that declared one of them is served in
   * `input_required` rounds.
   */
  readonly relaysClientRequests?: boolean;
  /**
   * `optional`: the tool may run as a task (2025-11-25 `execution.taskSupport`; on 2026-07-28 a request declaring the
   * tasks extension gets a task). Set on tools whose calls can outlast a client's request timeout. `required`: as
   * `optional`, and listed so to 2025-era clients (a gateway tool whose upstream runs it only as a task: a 2025-era
   * call that is not a task is still answered, the tool following the upstream's task itself; a 2026-07-28 call
   * without the tasks extension gets -32021). Absent: never a task.
   */
  readonly taskSupport?: 'optional' | 'required';
  /**
   * A 2026-07-28 call that may be a task is not made one at once: the tool starts the task itself when its work says
   * so ({@link ToolCall.startTask}) — a 2026-07-28 upstream may ask for input before it creates its task, or answer
   * without one.
   */
  readonly startsTaskLate?: boolean;
  /** Runs the call. A thrown error becomes a tool error result (`isError`), except JSON-RPC errors meant for the client. */
  call(call: ToolCall): Promise<CallToolResult>;
}

/**
 * A source of tools, and optionally resources and prompts. The MCP server is assembled per caller from the configured
 * providers: the server status, Claude Code, and the gateway's upstreams each plug in as one.
 *
 * Tools are definitions built once per provider (not per session): `tools()` runs on every `tools/list` and
 * `tools/call`, so it returns a cached array, the same one until the provider announces a change.
 */
export interface ToolProvider {
  /** Stable name, for logs and diagnostics. */
  readonly name: string;
  /** The provider's current tools. */
  tools(): readonly ToolDefinition[];
  /** Subscribes to changes of {@link tools}; returns the unsubscribe function. Absent when the set never changes. */
  onToolsChanged?(listener: () => void): () => void;
  /**
   * Tools still on their way (a gateway upstream that is starting): a promise that settles once they are listed, or
   * once the provider's own bound on waiting has passed; `undefined` when none are. `tools/list` waits for it, so a
   * client's first listing is complete. Runs on every `tools/list`, so it must be cheap when nothing is on its way.
   */
  settling?(): Promise<void> | undefined;
  /**
   * Asked for a `tools/call` whose name no tool the caller may use has. When the name may be one of this provider's
   * tools still on its way, a promise that resolves once it is there (the call is then looked up again) or rejects
   * with what the caller gets instead (an `Error` becomes a tool error, e.g. "starting, retry"); `undefined` when the
   * name is not one of its own (the usual unknown-tool error). It must not reveal tools the caller may not use.
   */
  awaitTool?(name: string, call: { caller: Caller; signal: AbortSignal }): Promise<void> | undefined;
  /**
   * Per-instance setup for what is not a tool (resources, prompts, their handlers). Runs once per assembled instance
   * (per session, or per request when stateless), so it must be cheap.
   */
  register?(server: McpServer, context: ToolProviderContext): void;
}
