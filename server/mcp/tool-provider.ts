import type { McpServer } from '@modelcontextprotocol/server';
import type { Caller } from './caller.js';

/** Where the server instance being assembled will serve. */
export type ServingMode = 'streamable-http' | 'stateless-http' | 'sse' | 'stdio';

/** What a provider knows about the server instance it is adding tools to. */
export interface ToolProviderContext {
  /** The caller the instance serves; providers register only what this caller may use. */
  caller: Caller;
  /** Protocol era: `modern` is 2026-07-28 (per-request), `legacy` the 2025-era handshake. */
  era: 'legacy' | 'modern';
  mode: ServingMode;
}

/**
 * A source of tools (and later resources/prompts). The MCP server is assembled per caller from the configured
 * providers: the server status, Claude Code, and the gateway's upstreams each plug in as one.
 *
 * `register` runs once per assembled instance (per session, or per request when stateless), so it must be cheap:
 * build schemas once at provider construction, not here.
 */
export interface ToolProvider {
  /** Stable name, for logs and diagnostics. */
  readonly name: string;
  /** Adds this provider's tools for `context.caller` to `server`. */
  register(server: McpServer, context: ToolProviderContext): void;
}
