import { McpServer, type CallToolResult } from '@modelcontextprotocol/server';
import type { Caller } from './caller.js';
import { interceptToolCallback, type ToolCallInterceptor } from './tool-interceptor.js';
import type { ToolProvider, ToolProviderContext } from './tool-provider.js';

/** Options of {@link createServerFactory}. */
export interface ServerFactoryOptions {
  name: string;
  version: string;
  /** Shown to clients in the initialize result / discovery: what this server is for. */
  instructions?: string;
  providers: readonly ToolProvider[];
  /**
   * Whether a caller may use a tool (scopes, per-client allow/deny lists). Tools it may not use are removed from the
   * instance as they are registered, so `tools/list` never shows them and calling one is an unknown-tool error.
   */
  toolAccess?: (caller: Caller, toolName: string) => boolean;
  /** Run around every tool call, outermost first (rate limits, metrics, the per-call log line). */
  toolInterceptors?: readonly ToolCallInterceptor[];
}

/** Builds a fresh MCP server for one serving unit (a session, a stateless request, a stdio connection). */
export type ServerFactory = (context: ToolProviderContext) => McpServer;

/** Returns a factory that assembles an {@link McpServer} from the providers for the given caller. */
export function createServerFactory({ name, version, instructions, providers, toolAccess, toolInterceptors = [] }: ServerFactoryOptions): ServerFactory {
  return function buildServer(context) {
    const server = new McpServer(
      { name, version },
      { capabilities: { tools: { listChanged: true }, logging: {} }, ...(instructions ? { instructions } : {}) },
    );
    if (toolAccess || toolInterceptors.length > 0) {
      const register = server.registerTool.bind(server) as (...args: unknown[]) => { remove(): void };
      // Wrapping registerTool (rather than filtering afterwards) also covers tools a provider adds later.
      server.registerTool = ((...args: unknown[]) => {
        const name = args[0] as string;
        const callback = args.at(-1);
        if (toolInterceptors.length > 0 && typeof callback === 'function') {
          args[args.length - 1] = interceptToolCallback(name, context, callback as (...a: unknown[]) => Promise<CallToolResult>, toolInterceptors);
        }
        const tool = register(...args);
        if (toolAccess && !toolAccess(context.caller, name)) tool.remove();
        return tool;
      }) as typeof server.registerTool;
    }
    for (const provider of providers) provider.register(server, context);
    return server;
  };
}
