import { McpServer } from '@modelcontextprotocol/server';
import type { Caller } from './caller.js';
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
}

/** Builds a fresh MCP server for one serving unit (a session, a stateless request, a stdio connection). */
export type ServerFactory = (context: ToolProviderContext) => McpServer;

/** Returns a factory that assembles an {@link McpServer} from the providers for the given caller. */
export function createServerFactory({ name, version, instructions, providers, toolAccess }: ServerFactoryOptions): ServerFactory {
  return function buildServer(context) {
    const server = new McpServer(
      { name, version },
      { capabilities: { tools: { listChanged: true }, logging: {} }, ...(instructions ? { instructions } : {}) },
    );
    if (toolAccess) {
      const register = server.registerTool.bind(server) as (...args: unknown[]) => { remove(): void };
      // Wrapping registerTool (rather than filtering afterwards) also covers tools a provider adds later.
      server.registerTool = ((...args: unknown[]) => {
        const tool = register(...args);
        if (!toolAccess(context.caller, args[0] as string)) tool.remove();
        return tool;
      }) as typeof server.registerTool;
    }
    for (const provider of providers) provider.register(server, context);
    return server;
  };
}
