import {
  Client,
  ProtocolError,
  ProtocolErrorCode,
  SSEClientTransport,
  StreamableHTTPClientTransport,
  type ClientCapabilities,
  type CreateMessageRequest,
  type CreateMessageResult,
  type ElicitRequest,
  type ElicitResult,
  type ListRootsRequest,
  type ListRootsResult,
  type LoggingMessageNotification,
  type McpSubscription,
  RELATED_TASK_META_KEY,
  type Prompt,
  type Resource,
  type ResourceTemplateType,
  type Tool,
  type Transport,
} from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { boundedFetch } from './bounded-fetch.js';
import { CoalescingStdioClientTransport, type DirectRequester } from './stdio-transport.js';
import type { Logger } from '../logging/logger.js';
import { isStdio, type UpstreamServerConfig } from './config.js';
import { StderrLog } from './stderr-log.js';
import { TASKS_EXTENSION } from '../tasks/task-protocol.js';
import { UPSTREAM_TASK_META_KEY } from './modern-relay.js';

/** Lifecycle of one upstream. `failed` stays until the config changes or an operator restarts it. */
export type UpstreamStatus = 'stopped' | 'starting' | 'running' | 'restarting' | 'failed' | 'disabled';

/** What an upstream offers, refreshed on connect and on its `list_changed` notifications. */
export interface UpstreamCatalog {
  tools: Tool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplateType[];
  prompts: Prompt[];
}

const EMPTY_CATALOG: UpstreamCatalog = Object.freeze({ tools: [], resources: [], resourceTemplates: [], prompts: [] }) as UpstreamCatalog;

/**
 * Where an upstream's sampling, elicitation and roots requests go: the client request (a forwarded call) that is
 * waiting on the upstream. `owner` identifies whose call it is — the client session of a 2025-era call, the principal
 * of a 2026-07-28 one (which has no session) — so requests are relayed only when it is unambiguous whose call caused
 * them.
 */
export interface RelayTarget {
  owner: object | string;
  sample(params: CreateMessageRequest['params']): Promise<CreateMessageResult>;
  elicit(params: ElicitRequest['params']): Promise<ElicitResult>;
  /** Asked only of an upstream whose entry sets `roots` (the capability is declared to it only then). */
  listRoots(params: ListRootsRequest['params']): Promise<ListRootsResult>;
  /** Forwards a log message the upstream sent while this call was in flight. */
  log(params: LoggingMessageNotification['params']): void;
}

/**
 * Where the questions of one upstream task go: the relay following that task (`task-relay.ts`). An upstream sends
 * them with the related-task `_meta` naming its task, so they are routed by that id, not to whichever call is in
 * flight.
 */
export interface TaskRelayTarget {
  elicit(params: ElicitRequest['params']): Promise<ElicitResult>;
}

/** How a tool of an upstream may run as a task (2025-11-25 `execution.taskSupport`), when the upstream runs tasks. */
export type UpstreamTaskSupport = 'optional' | 'required';

/** The fields of a `notifications/progress` an upstream sends. */
export interface ProgressParams {
  progressToken: string | number;
  progress: number;
  total?: number;
  message?: string;
}

/** Everything a connection needs besides its config entry. */
export interface UpstreamConnectionOptions {
  name: string;
  config: UpstreamServerConfig;
  logger: Logger;
  /** Allow-listed base environment of stdio children; the entry's `env` is added on top. */
  baseEnv: Readonly<Record<string, string>>;
  /** Where stdio stderr logs go. */
  logDir: string;
  logMaxBytes: number;
  /** Longest message (line) a stdio upstream may write; a longer answer fails its call with a tool error (GATEWAY_MAX_MESSAGE_BYTES). */
  maxMessageBytes?: number;
  version: string;
  /** Called when the connection ends without {@link UpstreamConnection.close} (crash, remote close). */
  onLost(reason: string): void;
  /** Called when the catalog changed while connected (the upstream's `list_changed`). */
  onCatalogChanged(): void;
  /**
   * Extension support (`capabilities.extensions`: MCP Apps and others) and experimental capabilities
   * declared to the upstream at connect, next to the sampling and elicitation the gateway relays. The SDK client fixes
   * its capabilities when it connects, so a shared upstream gets the gateway's own and a per-session one its client's.
   */
  declared?: Pick<ClientCapabilities, 'extensions' | 'experimental'>;
}

/** Whether the connection asks for 2026-07-28 first: `protocol: "auto"`, but never over the 2024-11-05 SSE transport, which predates it. */
function negotiates(config: UpstreamServerConfig): boolean {
  return config.protocol === 'auto' && (isStdio(config) || config.transport === 'http');
}

/**
 * One live MCP client connection to an upstream: spawns (stdio) or connects (HTTP/SSE), reads the catalog, forwards
 * requests. No restart logic here: the {@link UpstreamSupervisor} owns that.
 */
export class UpstreamConnection {
  readonly client: Client;
  private transport?: Transport;
  private closing = false;
  private stderrLog?: StderrLog;
  catalog: UpstreamCatalog = EMPTY_CATALOG;
  /** Forwarded calls in flight, newest last: the candidates an upstream's sampling/elicitation request is for. */
  private readonly relayTargets = new Set<RelayTarget>();
  /** Resource subscriptions by upstream URI: one upstream subscription however many client sessions hold it. */
  private readonly subscriptions = new Map<string, Set<() => void>>();
  /** The `subscriptions/listen` stream of each subscribed URI, on a 2026-07-28 connection. */
  private readonly listens = new Map<string, McpSubscription>();
  /** Progress listeners by the progress token we sent upstream. */
  private readonly progressListeners = new Map<string, (progress: ProgressParams) => void>();
  private progressCounter = 0;
  /** Relays of the upstream's tasks in flight, by the upstream's task id. */
  private readonly taskTargets = new Map<string, TaskRelayTarget>();
  /** Aborted when the connection ends, whatever ended it. */
  private readonly lifetime = new AbortController();
  /** Work using the connection that no relay target or task target shows (see {@link hold}). */
  private holds = 0;

  constructor(private readonly options: UpstreamConnectionOptions) {
    const refresh = () => {
      if (!this.closing)
        void this.refreshCatalog().then(
          () => options.onCatalogChanged(),
          () => undefined,
        );
    };
    this.client = new Client(
      { name: 'claude-code-mcp-gateway', version: options.version },
      {
        capabilities: {},
        listChanged: { tools: { onChanged: refresh }, prompts: { onChanged: refresh }, resources: { onChanged: refresh } },
        // `protocol: "auto"`: a 2026-07-28 server is spoken to in its era (a legacy one answers the probe with an error).
        // A stdio server silent on the probe is a legacy one: a third of the start time is left for the probe, so
        // the `initialize` that follows has the rest.
        ...(negotiates(options.config)
          ? {
              versionNegotiation: {
                mode: 'auto' as const,
                probe: { timeoutMs: Math.ceil((options.config.startTimeoutMs ?? options.config.timeoutMs) / 3) },
              },
            }
          : {}),
        // Its `input_required` rounds are served per call, by the caller of that call (`modern-relay.ts`), never by
        // the handlers below, which pick a caller among the calls in flight.
        inputRequired: { autoFulfill: false },
      },
    );
    // Declared so upstreams may ask; each request is relayed to the client whose call is waiting on this upstream.
    this.client.registerCapabilities({ sampling: {}, elicitation: {} });
    // Roots are a client's folders: a shared upstream would see each caller's in turn, so only an entry that asks.
    if (options.config.roots) {
      this.client.registerCapabilities({ roots: {} });
      this.client.setRequestHandler('roots/list', (request) => this.relayTarget('roots').listRoots(request.params));
    }
    const { extensions, experimental } = options.declared ?? {};
    if (extensions && Object.keys(extensions).length > 0) this.client.registerCapabilities({ extensions });
    if (experimental && Object.keys(experimental).length > 0) this.client.registerCapabilities({ experimental });
    this.client.setRequestHandler('sampling/createMessage', (request) => this.relayTarget('sampling').sample(request.params));
    this.client.setRequestHandler('elicitation/create', (request) =>
      (this.taskTarget(request.params._meta) ?? this.relayTarget('elicitation')).elicit(request.params),
    );
    // Log messages have no request id either: they go to the caller only when unambiguous, else to our debug log.
    this.client.setNotificationHandler('notifications/message', (notification) => {
      const targets = [...this.relayTargets];
      const newest = targets.at(-1);
      if (newest && targets.every((target) => target.owner === newest.owner)) newest.log(notification.params);
      else
        options.logger.debug('gateway upstream log message', {
          server: options.name,
          level: notification.params.level,
          category: 'gateway',
        });
    });
    this.client.setNotificationHandler('notifications/resources/updated', (notification) => {
      for (const listener of this.subscriptions.get(notification.params.uri) ?? []) listener();
    });
  }

  /**
   * Subscribes `listener` to updates of the upstream resource `uri` (`resources/subscribe` on first use); the
   * returned function unsubscribes (`resources/unsubscribe` when the last listener leaves).
   */
  async subscribe(uri: string, listener: () => void): Promise<() => Promise<void>> {
    let listeners = this.subscriptions.get(uri);
    const timeout = this.options.config.timeoutMs;
    if (!listeners) {
      listeners = new Set();
      this.subscriptions.set(uri, listeners);
      try {
        // 2026-07-28 has no resources/subscribe: a `subscriptions/listen` stream per URI carries its updates instead.
        if (this.era === 'modern') this.listens.set(uri, await this.client.listen({ resourceSubscriptions: [uri] }, { timeout }));
        else await this.client.subscribeResource({ uri }, { timeout });
      } catch (error) {
        this.subscriptions.delete(uri);
        throw error;
      }
    }
    listeners.add(listener);
    return async () => {
      const current = this.subscriptions.get(uri);
      if (!current?.delete(listener) || current.size > 0) return;
      this.subscriptions.delete(uri);
      const listen = this.listens.get(uri);
      this.listens.delete(uri);
      if (listen) await listen.close().catch(() => undefined);
      else await this.client.unsubscribeResource({ uri }, { timeout }).catch(() => undefined);
    };
  }

  /**
   * Registers `target` as a destination for the upstream's sampling/elicitation requests and log messages while a
   * forwarded call is in flight; the caller must {@link detachRelay} it when the call settles. Over a shared stdio
   * connection a server-to-client request carries no link to the call that caused it, so it is relayed only while
   * every call in flight belongs to one client session (always true with `isolation: "session"`).
   */
  attachRelay(target: RelayTarget): void {
    this.relayTargets.add(target);
  }

  /**
   * Marks the connection in use until the returned function is called: a 2026-07-28 request between its rounds, a
   * followed task. A principal's idle connection is not closed while it is {@link busy}.
   */
  hold(): () => void {
    this.holds += 1;
    let released = false;
    return () => {
      if (!released) this.holds -= 1;
      released = true;
    };
  }

  /** Whether anything runs on the connection: a call in flight, a held request, a task followed. */
  get busy(): boolean {
    return this.holds > 0 || this.relayTargets.size > 0 || this.taskTargets.size > 0;
  }

  /** Ends what {@link attachRelay} began. */
  detachRelay(target: RelayTarget): void {
    this.relayTargets.delete(target);
  }

  /**
   * Routes the questions of the upstream's task `taskId` (requests carrying the related-task `_meta`) to `target`
   * until the returned function is called.
   */
  attachTask(taskId: string, target: TaskRelayTarget): () => void {
    this.taskTargets.set(taskId, target);
    return () => {
      if (this.taskTargets.get(taskId) === target) this.taskTargets.delete(taskId);
    };
  }

  private taskTarget(meta: Record<string, unknown> | undefined): TaskRelayTarget | undefined {
    const related = meta?.[RELATED_TASK_META_KEY] as { taskId?: unknown } | undefined;
    return typeof related?.taskId === 'string' ? this.taskTargets.get(related.taskId) : undefined;
  }

  /** Aborted once this connection has ended: closed, crashed, or lost. Work bound to it (an upstream task) ends then. */
  get closedSignal(): AbortSignal {
    return this.lifetime.signal;
  }

  /** The protocol revision agreed with the upstream (`2025-11-25`, `2026-07-28`, ...); undefined before it connected. */
  get protocolVersion(): string | undefined {
    return this.client.getNegotiatedProtocolVersion();
  }

  /** The protocol era spoken with the upstream: `modern` (2026-07-28) only for an entry with `protocol: "auto"`. */
  get era(): 'legacy' | 'modern' {
    return this.client.getProtocolEra() === 'modern' ? 'modern' : 'legacy';
  }

  /**
   * How `tool` may run as a task; undefined when it may not. On 2025-11-25 its `execution.taskSupport`, when the
   * upstream declares task-augmented `tools/call` (`capabilities.tasks.requests.tools.call`). On 2026-07-28 the
   * server decides per call whether to answer with a task (tools list no task support there): any tool of an upstream
   * with the tasks extension may (`optional`, or what it lists).
   */
  taskSupportOf(tool: Tool): UpstreamTaskSupport | undefined {
    const listed = tool.execution?.taskSupport;
    const support = listed === 'optional' || listed === 'required' ? listed : undefined;
    const capabilities = this.client.getServerCapabilities() as
      { tasks?: { requests?: { tools?: { call?: object } } }; extensions?: Record<string, unknown> } | undefined;
    if (this.era === 'modern') return capabilities?.extensions?.[TASKS_EXTENSION] !== undefined ? (support ?? 'optional') : undefined;
    return support && capabilities?.tasks?.requests?.tools?.call ? support : undefined;
  }

  private relayTarget(kind: string): RelayTarget {
    const targets = [...this.relayTargets];
    const newest = targets.at(-1);
    if (!newest)
      throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `${this.options.name}: ${kind} request outside of any client call`);
    if (targets.some((target) => target.owner !== newest.owner)) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidRequest,
        `${this.options.name}: ${kind} request is ambiguous: calls of several clients are in flight`,
      );
    }
    return newest;
  }

  /**
   * A progress token for one forwarded request and the listener its notifications go to, in order; `done` removes it.
   */
  trackProgress(listener: (progress: ProgressParams) => void): { token: string; done(): void } {
    const token = `gw-${++this.progressCounter}`;
    this.progressListeners.set(token, listener);
    return { token, done: () => this.progressListeners.delete(token) };
  }

  /**
   * Where requests can go below the SDK client's Protocol layer (see {@link CoalescingStdioClientTransport}): a stdio
   * upstream on the 2025 protocol era, whose results the SDK would pass on as they came (`resultType` aside); else
   * `undefined`, and requests go through {@link client}. A modern-era result needs the SDK's decoding (`resultType`,
   * `input_required` rounds), and HTTP/SSE transports have no such path.
   */
  get direct(): DirectRequester | undefined {
    return this.transport instanceof CoalescingStdioClientTransport && this.client.getProtocolEra() === 'legacy'
      ? this.transport
      : undefined;
  }

  /** Pid of a stdio child, when running. */
  get pid(): number | undefined {
    return this.transport instanceof StdioClientTransport ? (this.transport.pid ?? undefined) : undefined;
  }

  /** The stderr log file of a stdio upstream. */
  get logFile(): string | undefined {
    return this.stderrLog?.file;
  }

  /** Connects within `startTimeoutMs` (else `timeoutMs`) and reads the catalog; on failure everything started is torn down. */
  async connect(): Promise<void> {
    const { config, name } = this.options;
    const startMs = config.startTimeoutMs ?? config.timeoutMs;
    const transport = this.buildTransport();
    this.transport = transport;
    // The SDK chains a handler set before connect() and calls it first, synchronously, for every message it gets
    // (all but the answers to direct requests, which the stdio transport settles in the same arrival order). Progress
    // is taken here, in arrival order, because the SDK client handles a response before a progress notification
    // that arrived just ahead of it and drops that last notification.
    transport.onmessage = (message) => {
      if ('method' in message && message.method === 'notifications/progress' && !('id' in message)) {
        const params = message.params as ProgressParams | undefined;
        const listener = params && this.progressListeners.get(String(params.progressToken));
        if (listener) listener(params);
      } else if ('result' in message && (message.result as { resultType?: unknown }).resultType === 'task' && this.era === 'modern') {
        // The same object goes on to the SDK, which then decodes a complete result (see UPSTREAM_TASK_META_KEY).
        const { resultType: _task, _meta, ...task } = message.result as Record<string, unknown>;
        message.result = {
          resultType: 'complete',
          content: [],
          _meta: { ...(_meta as object | undefined), [UPSTREAM_TASK_META_KEY]: task },
        };
      }
    };
    this.client.onclose = () => {
      this.lifetime.abort();
      if (!this.closing) this.options.onLost('connection closed');
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${name}: no connection within ${startMs} ms`)), startMs);
      timer.unref();
    });
    try {
      await Promise.race([this.client.connect(transport, { timeout: startMs }), timeout]);
      await Promise.race([this.refreshCatalog(startMs), timeout]);
    } catch (error) {
      await this.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private buildTransport(): Transport {
    const { config, name } = this.options;
    if (isStdio(config)) {
      const transport = new CoalescingStdioClientTransport({
        command: config.command,
        args: [...config.args],
        env: { ...this.options.baseEnv, ...config.env },
        stderr: 'pipe',
        ...(config.cwd ? { cwd: config.cwd } : {}),
        ...(this.options.maxMessageBytes ? { maxBufferSize: this.options.maxMessageBytes } : {}),
      });
      this.stderrLog = new StderrLog(this.options.logDir, name, this.options.logMaxBytes);
      const log = this.stderrLog;
      transport.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
      return transport;
    }
    // Only the entry's own headers are sent: a client's token never reaches an upstream.
    const requestInit: RequestInit = { headers: { ...config.headers } };
    // No answer longer than GATEWAY_MAX_MESSAGE_BYTES is held (the SDK's HTTP client would buffer any size).
    const bounded = this.options.maxMessageBytes ? boundedFetch(this.options.maxMessageBytes) : fetch;
    return config.transport === 'sse'
      ? new SSEClientTransport(new URL(config.url), {
          requestInit,
          fetch: bounded,
          eventSourceInit: {
            fetch: (url, init) => bounded(url, { ...init, headers: { ...(init?.headers as Record<string, string>), ...config.headers } }),
          },
        })
      : new StreamableHTTPClientTransport(new URL(config.url), { requestInit, fetch: bounded });
  }

  /** Re-reads tools, resources, templates and prompts (only the kinds the upstream declares). */
  async refreshCatalog(timeoutMs = this.options.config.timeoutMs): Promise<void> {
    const capabilities = this.client.getServerCapabilities() ?? {};
    const options = { cacheMode: 'refresh' as const, timeout: timeoutMs };
    const [tools, resources, resourceTemplates, prompts] = await Promise.all([
      capabilities.tools ? this.client.listTools(undefined, options).then((r) => r.tools) : [],
      capabilities.resources ? this.client.listResources(undefined, options).then((r) => r.resources) : [],
      capabilities.resources
        ? this.client.listResourceTemplates(undefined, options).then(
            (r) => r.resourceTemplates,
            () => [],
          )
        : [],
      capabilities.prompts ? this.client.listPrompts(undefined, options).then((r) => r.prompts) : [],
    ]);
    this.catalog = { tools, resources, resourceTemplates, prompts };
  }

  /** A health check with a time limit; resolves to the round-trip time. */
  async ping(timeoutMs: number): Promise<number> {
    const started = performance.now();
    // 2026-07-28 has no ping (the SDK refuses to send one): server/discover is the cheapest request it has.
    if (this.era === 'modern') await this.client.discover({ timeout: timeoutMs });
    else await this.client.ping({ timeout: timeoutMs });
    return performance.now() - started;
  }

  /** Staged shutdown (stdio: stdin end, SIGTERM, SIGKILL, by the SDK transport); never reports a loss. */
  async close(): Promise<void> {
    this.closing = true;
    // Ended from now on: a stdio child may take a while to exit, and nothing may be sent meanwhile.
    this.lifetime.abort();
    try {
      await this.client.close();
    } catch {
      // already gone
    }
  }
}
