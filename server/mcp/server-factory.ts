import { McpServer } from '@modelcontextprotocol/server';
import type { ToolProvider, ToolProviderContext } from './tool-provider.js';

/** Options of {@link createServerFactory}. */
export interface ServerFactoryOptions {
  name: string;
  version: string;
  /** Shown to clients in the initialize result / discovery: what this server is for. */
  instructions?: string;
  providers: readonly ToolProvider[];
}

/** Builds a fresh MCP server for one serving unit (a session, a stateless request, a stdio connection). */
export type ServerFactory = (context: ToolProviderContext) => McpServer;

/** Returns a factory that assembles an {@link McpServer} from the providers for the given caller. */
export function createServerFactory({ name, version, instructions, providers }: ServerFactoryOptions): ServerFactory {
  return function buildServer(context) {
    const server = new McpServer(
      { name, version },
      { capabilities: { tools: { listChanged: true }, logging: {} }, ...(instructions ? { instructions } : {}) },
    );
    for (const provider of providers) provider.register(server, context);
    return server;
  };
}
