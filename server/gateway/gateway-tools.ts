import { MissingRequiredClientCapabilityError, type CallToolResult, type McpServer } from '@modelcontextprotocol/server';
import type { Tool } from '@modelcontextprotocol/client';
import type { ToolDefinition } from '../mcp/tool-provider.js';
import { TASKS_EXTENSION } from '../tasks/task-protocol.js';
import { renameAppResources } from './apps-extension.js';
import { relayToolCall } from './call-relay.js';
import { requiresTasks, upstreamCapabilities } from './modern-relay.js';
import { createErrorResultGuard } from './error-result.js';
import { followModernTask, relayUpstreamTask, startModernTask, type UpstreamTaskOptions } from './task-relay.js';
import { detachContext } from '../tasks/detached-call.js';
import type { TaskWork } from '../tasks/task-work.js';
import type { GatewayCatalog } from './gateway-catalog.js';
import type { UpstreamSupervisor } from './supervisor.js';
import type { InstanceConnections, UpstreamAccess } from './upstream-access.js';
import type { UpstreamConnection } from './upstream.js';

/** Options of {@link createGatewayTools}. */
export interface GatewayToolsOptions {
  /** What to define, and the names and URIs to define it with; its changes rebuild the list. */
  catalog: GatewayCatalog;
  /** Where calls go. */
  access: Pick<UpstreamAccess, 'connectionFor'>;
  /** The connections of the instance a call arrives on; undefined for an instance the gateway was never registered on. */
  instanceOf(server: McpServer): InstanceConnections | undefined;
}

/** The gateway's tools: shared definitions, rebuilt when the catalog changes. */
export interface GatewayTools {
  /** The current definitions, the same array until the tool set changes ({@link ToolProvider.tools}). */
  tools(): ToolDefinition[];
  /**
   * Subscribes to real changes of the tool set (a health check that changes nothing sends no `list_changed`);
   * returns the unsubscribe function.
   */
  onToolsChanged(listener: () => void): () => void;
}

/** One catalog entry to define: the exposed name and the upstream's tool. */
interface ExposedTool {
  /** The exposed name. */
  name: string;
  /** The upstream it is called on. */
  supervisor: UpstreamSupervisor;
  /** The tool as the upstream listed it. */
  tool: Tool;
}

/**
 * A gateway tool: listed with the upstream's own schemas (the upstream validates its arguments), called through it.
 * A tool the upstream runs as a task (`execution.taskSupport`) may be one here too: a call that runs as our task, or
 * that the upstream accepts only as a task, follows the upstream's task (`task-relay.ts`); the client sees our task,
 * never the upstream's.
 */
function toolDefinition({ name, supervisor, tool }: ExposedTool, { catalog, access, instanceOf }: GatewayToolsOptions): ToolDefinition {
  const headerSchema = JSON.stringify(tool.inputSchema).includes('"x-mcp-header"') ? tool.inputSchema : undefined;
  const taskSupport = supervisor.live?.taskSupportOf(tool);
  const guardError = createErrorResultGuard(tool.outputSchema);
  // An app's resource is served under its exposed URI here, so the tool must name it so (MCP Apps).
  const meta = tool._meta && !catalog.only ? renameAppResources(tool._meta, (uri) => catalog.exposeUri(supervisor, uri)) : tool._meta;
  return {
    tool: {
      name,
      ...(tool.title ? { title: tool.title } : {}),
      ...(tool.description ? { description: tool.description } : {}),
      inputSchema: tool.inputSchema,
      ...(tool.outputSchema ? { outputSchema: tool.outputSchema } : {}),
      ...(tool.annotations ? { annotations: tool.annotations } : {}),
      ...(tool.icons ? { icons: tool.icons } : {}),
      ...(meta ? { _meta: meta } : {}),
    },
    accessName: catalog.accessName(supervisor, name),
    relaysClientRequests: true,
    ...(taskSupport ? { taskSupport } : {}),
    // A 2026-07-28 upstream may ask before it creates its task, or answer without one: its call becomes our task late.
    ...(taskSupport && supervisor.config.protocol === 'auto' ? { startsTaskLate: true } : {}),
    async call({ args, requestContext: ctx, server, serving, task, ask, startTask }) {
      // 2026-07-28: a tool that runs only as a task needs a client that declared the tasks extension (-32021);
      // a 2025-era client gets an answer either way (below).
      if (taskSupport === 'required' && !task && !startTask && serving.era === 'modern') {
        throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
      }
      const instance = instanceOf(server);
      if (!instance) throw new Error(`${name}: this server instance has no gateway state`);
      let connection: UpstreamConnection;
      try {
        connection = await access.connectionFor(instance, supervisor);
      } catch (error) {
        // An upstream that is down or restarting is a tool error the model can read, not a protocol failure.
        throw new Error((error as Error).message);
      }
      const { roots, timeoutMs } = supervisor.config;
      // What a 2026-07-28 upstream sees of the caller (a 2025-era connection carries none per request).
      const capabilities = (withTasks: boolean) =>
        connection.era === 'modern' ? upstreamCapabilities(instance.clientCapabilities(), { roots, withTasks }) : {};
      const taskOptions = (): UpstreamTaskOptions => ({
        server: supervisor.name,
        name: tool.name,
        args,
        ctx,
        timeoutMs,
        asTask: task !== undefined,
        capabilities: capabilities(true),
        ...(ask ? { ask } : {}),
      });
      if (startTask && taskSupport && connection.taskSupportOf(tool)) {
        const result = startLate(connection, taskOptions(), startTask);
        return guardError ? result.then(guardError) : result;
      }
      // A 2025-era client that does not follow tasks still gets an answer from a tool the upstream runs only as a task: we follow it.
      if (taskSupport && (task || taskSupport === 'required') && connection.taskSupportOf(tool)) {
        const result = relayUpstreamTask(connection, taskOptions());
        return guardError ? result.then(guardError) : result;
      }
      // An error the upstream answered (a JSON-RPC error with its code) propagates as such to the client.
      const result = relayToolCall(connection, {
        owner: instance.relayOwner,
        ctx,
        name: tool.name,
        args,
        timeoutMs,
        ...(headerSchema ? { headerSchema } : {}),
        capabilities: capabilities(false),
      });
      // A 2025-era client knows nothing of the tasks extension: when a 2026-07-28 upstream runs the tool only as a
      // task (-32021 naming the extension), we follow that task for it, as for a 2025-11-25 upstream's required one.
      const answered =
        serving.era === 'legacy' && connection.era === 'modern' && connection.taskSupportOf(tool)
          ? result.catch((error: unknown) => (requiresTasks(error) ? relayUpstreamTask(connection, taskOptions()) : Promise.reject(error)))
          : result;
      return guardError ? answered.then(guardError) : answered;
    },
  };
}

/**
 * A call that becomes our task only when the upstream creates its own ({@link ToolDefinition.startsTaskLate}): a
 * 2026-07-28 upstream is called first — its `input_required` rounds reach the caller, and it may answer without a
 * task — and the task we start follows the upstream's. A `protocol: "auto"` entry that fell back to the 2025 era
 * starts our task at once, following the upstream's 2025-11-25 task.
 */
async function startLate(
  connection: UpstreamConnection,
  options: UpstreamTaskOptions,
  startTask: (work: TaskWork) => Promise<CallToolResult>,
): Promise<CallToolResult> {
  const { ask: _requestAsk, ...rest } = options;
  // The task's work runs apart from the request: its signal, status lines and questions are the task's.
  const following = (follow: (options: UpstreamTaskOptions) => Promise<CallToolResult>): TaskWork => ({
    kind: 'upstream',
    run: ({ signal, ask, progress }) =>
      follow({
        ...rest,
        asTask: true,
        ctx: detachContext(options.ctx, {
          signal,
          progress: (message) => {
            if (message !== undefined) progress(message);
          },
          ...(ask ? { ask } : {}),
        }),
        ...(ask ? { ask } : {}),
      }),
  });
  if (connection.era === 'legacy') return startTask(following((task) => relayUpstreamTask(connection, task)));
  const started = await startModernTask(connection, options);
  if ('result' in started) return started.result;
  return startTask(following((task) => followModernTask(connection, started.task, task)));
}

/** Builds the {@link GatewayTools} of one gateway endpoint. */
export function createGatewayTools(options: GatewayToolsOptions): GatewayTools {
  const { catalog } = options;

  /** Definitions by `name + upstream + tool` key: an unchanged tool keeps its definition across catalog changes. */
  let built = new Map<string, ToolDefinition>();
  let toolList: ToolDefinition[] | undefined;
  const listeners = new Set<() => void>();

  function tools(): ToolDefinition[] {
    if (toolList) return toolList;
    const next = new Map<string, ToolDefinition>();
    for (const [name, { supervisor, tool }] of catalog.desired().tools) {
      const key = JSON.stringify([name, supervisor.name, tool]);
      next.set(key, built.get(key) ?? toolDefinition({ name, supervisor, tool }, options));
    }
    built = next;
    toolList = [...next.values()];
    return toolList;
  }

  // Runs after the catalog has dropped its cache, so `tools()` here sees the new catalog.
  catalog.onChange(() => {
    const before = toolList;
    toolList = undefined;
    const after = tools();
    if (before && before.length === after.length && before.every((definition, index) => definition === after[index])) return;
    for (const listener of listeners) listener();
  });

  return {
    tools,
    onToolsChanged(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
