import {
  McpServer,
  ProtocolError,
  ProtocolErrorCode,
  type CallToolRequest,
  type CallToolResult,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { currentContext } from '../logging/context.js';
import type { CallRouting } from '../tasks/call-routing.js';
import { installFastToolCall } from './fast-dispatch.js';
import { serveToolInputSchemas } from './sdk-internals.js';
import { ToolCatalog, type ToolAccess } from './tool-catalog.js';
import { intercept, type ToolCallInterceptor } from './tool-interceptor.js';
import type { ToolCall, ToolDefinition, ToolProvider, ToolProviderContext } from './tool-provider.js';
import type { Caller } from './caller.js';

/** Options of {@link createServerFactory}. */
export interface ServerFactoryOptions {
  name: string;
  version: string;
  /** Shown to clients in the initialize result / discovery: what this server is for. */
  instructions?: string;
  providers: readonly ToolProvider[];
  /**
   * Whether a caller may use a tool (scopes, per-client allow/deny lists). Tools it may not use are not listed, and
   * calling one is the same unknown-tool error as calling a tool that does not exist.
   */
  toolAccess?: ToolAccess;
  /** Run around every tool call, outermost first (metrics, the per-call log line). */
  toolInterceptors?: readonly ToolCallInterceptor[];
  /**
   * How calls are served beyond a plain answer: as tasks, with questions to the person, parked between 2026-07-28
   * rounds (tasks/call-routing.ts). Absent: every call is answered directly and cannot ask.
   */
  routing?: CallRouting;
}

/** Builds a fresh MCP server for one serving unit (a session, a stateless request, a stdio connection). */
export type ServerFactory = ((context: ToolProviderContext) => McpServer) & {
  /** The scope a caller lacks for an existing tool it may not use yet, for a step-up challenge (see ToolCatalog). */
  scopeNeeded?: (caller: Caller, toolName: string) => string | undefined;
};

/**
 * Returns a factory that assembles an {@link McpServer} for a caller. Tools are not registered per instance: every
 * instance answers `tools/list` and `tools/call` from one shared {@link ToolCatalog}, so a session holds only its
 * server, transport and context, and a stateless request converts no schema. Providers' `register` adds what is not
 * a tool (the gateway's resources and prompts).
 */
export function createServerFactory({
  name,
  version,
  instructions,
  providers,
  toolAccess,
  toolInterceptors = [],
  routing,
}: ServerFactoryOptions): ServerFactory {
  const catalog = new ToolCatalog(providers, toolAccess);
  /** Instances that outlive a request and so must hear `tools/list_changed`. */
  const listening = new Set<McpServer>();
  catalog.onChange(() => {
    for (const server of listening) if (server.isConnected()) server.sendToolListChanged();
  });

  async function callTool(
    server: McpServer,
    context: ToolProviderContext,
    params: CallToolRequest['params'],
    ctx: ServerContext,
    taskAnswers: boolean,
  ): Promise<CallToolResult> {
    let definition = catalog.find(params.name, context.caller);
    if (!definition) {
      // A tool still on its way (a gateway upstream starting) is waited for, or answered with the provider's error.
      const arriving = arrivingTool(providers, params.name, context.caller, ctx.mcpReq.signal);
      if (arriving) {
        try {
          await arriving;
        } catch (error) {
          if (error instanceof ProtocolError) throw error;
          return toolError(error);
        }
        definition = catalog.find(params.name, context.caller);
      }
      if (!definition) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Tool ${params.name} not found`);
    }
    const requestId = currentContext()?.requestId ?? ctx.http?.req?.headers.get('x-request-id') ?? undefined;
    const call: ToolCall = {
      tool: params.name,
      args: params.arguments ?? {},
      caller: context.caller,
      serving: context,
      requestContext: ctx,
      server,
      ...(ctx.sessionId ? { sessionId: ctx.sessionId } : {}),
      ...(requestId ? { requestId } : {}),
    };
    const found = definition;
    const run = (routed: ToolCall) => runTool(server, found, routed);
    if (!routing) return run(call);
    const task = (params as { task?: { ttl?: number | null } }).task;
    return routing.serve({ server, context, definition, call, taskAnswers, run, ...(task ? { task } : {}) }) as Promise<CallToolResult>;
  }

  /** A call of `definition` through the interceptors, its result projected onto the tool's output schema. */
  async function runTool(server: McpServer, definition: ToolDefinition, call: ToolCall): Promise<CallToolResult> {
    let result: CallToolResult;
    try {
      result = await intercept(call, toolInterceptors, definition.call);
    } catch (error) {
      // A JSON-RPC error (an upstream's own error code, an elicitation the client must complete) reaches the client
      // as such; anything else is the tool failing, which the model should see as a tool error.
      if (error instanceof ProtocolError) throw error;
      return toolError(error);
    }
    return server.server.projectCallToolResult(result, definition.tool.outputSchema) as CallToolResult;
  }

  const buildServer = function buildServer(serving: ToolProviderContext): McpServer {
    // A 2026-07-28 instance can serve prompts and resource reads in input_required rounds too (a gateway upstream's questions).
    const context: ToolProviderContext =
      routing && serving.era === 'modern' ? { ...serving, rounds: routing.rounds(serving.caller) } : serving;
    const server = new McpServer(
      { name, version },
      { capabilities: { tools: { listChanged: true }, logging: {} }, ...(instructions ? { instructions } : {}), ...routing?.serverOptions },
    );
    // Set once tools/call is installed below: whether this instance offers tasks (2025 tools then say which may be one).
    let taskAnswers = false;
    const listTools = () => ({ tools: catalog.listFor(context.caller, taskAnswers && context.era === 'legacy') });
    server.server.setRequestHandler('tools/list', () => {
      const settling = settlingTools(providers);
      return settling ? settling.then(listTools) : listTools();
    });
    // Task answers need the SDK internals the fast path uses (fast-dispatch.ts); without them no task is offered.
    const handleCall = (request: CallToolRequest, ctx: ServerContext) => callTool(server, context, request.params, ctx, taskAnswers);
    // Tasks are offered when answers can go out, calls may become tasks, and some tool may run as one.
    taskAnswers = installFastToolCall(server.server, handleCall) && routing?.offersTasks === true && catalog.offersTasks();
    routing?.install(server, context, taskAnswers);
    // The SDK's HTTP entry checks a 2026-07-28 call's `Mcp-Param-*` headers against the tool's `x-mcp-header`
    // parameters (400, -32020); it finds the schema here. Without the SDK member the check is off (the internals test says so).
    if (context.era === 'modern') serveToolInputSchemas(server, (tool) => catalog.find(tool, context.caller)?.tool.inputSchema);
    for (const provider of providers) provider.register?.(server, context);
    if (context.mode !== 'stateless-http') {
      listening.add(server);
      const previous = server.server.onclose;
      server.server.onclose = () => {
        listening.delete(server);
        previous?.();
      };
    }
    return server;
  };
  return Object.assign(buildServer, { scopeNeeded: (caller: Caller, toolName: string) => catalog.scopeNeeded(toolName, caller) });
}

/** A thrown error as the tool error result the model reads. */
function toolError(error: unknown): CallToolResult {
  return { content: [{ type: 'text', text: error instanceof Error ? error.message : String(error) }], isError: true };
}

/** Settles once every provider's tools still on their way are listed (or its bound passed); undefined if none are. */
function settlingTools(providers: readonly ToolProvider[]): Promise<unknown> | undefined {
  let waits: Promise<void>[] | undefined;
  for (const provider of providers) {
    const settling = provider.settling?.();
    if (settling) (waits ??= []).push(settling);
  }
  return waits && Promise.all(waits);
}

/** The first provider's wait for an unknown tool name that may be on its way; undefined when none claims it. */
function arrivingTool(providers: readonly ToolProvider[], name: string, caller: Caller, signal: AbortSignal): Promise<void> | undefined {
  for (const provider of providers) {
    const arriving = provider.awaitTool?.(name, { caller, signal });
    if (arriving) return arriving;
  }
  return undefined;
}
