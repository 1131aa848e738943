import type { JsonRpcErrorObject } from '../mcp/jsonrpc-errors.js';
import type { ServerFactory } from '../mcp/server-factory.js';
import type { SseEndpoint } from '../mcp/sse-endpoint.js';
import type { StreamableEndpoint } from '../mcp/streamable-endpoint.js';
import type { ToolProvider } from '../mcp/tool-provider.js';
import type { GatewayService } from './gateway-service.js';

/** The MCP endpoints serving one upstream alone (`/servers/{name}/mcp` and `/sse`). */
export interface PerServerEndpoints {
  streamable: StreamableEndpoint;
  sse: SseEndpoint;
}

/** Options of {@link createServerEndpoints}. */
export interface ServerEndpointsOptions {
  gateway: GatewayService;
  /** A server factory for one upstream's provider, with the access rules and per-call layers of `/mcp`. */
  assemble(name: string, provider: ToolProvider): ServerFactory;
  /** Builds the transports around a factory (the runtime knows their settings and the session registry). */
  build(factory: ServerFactory): PerServerEndpoints;
}

/** Per-upstream endpoints, built on first use. */
export interface ServerEndpoints {
  /** The endpoints of `name`, or undefined when no such upstream is configured. */
  get(name: string): PerServerEndpoints | undefined;
  /** Answers every per-request exchange still open on any upstream's endpoint (see StreamableEndpoint). */
  answerPending(error: JsonRpcErrorObject): Promise<number>;
  close(): Promise<void>;
}

/**
 * One upstream served unprefixed: its own tool, prompt and resource names, behind the same authentication, sessions
 * and access rules as `/mcp` (`gateway:<server>` scopes and per-client patterns are checked with the aggregated
 * names, so a caller sees the same tools on both).
 */
export function createServerEndpoints({ gateway, assemble, build }: ServerEndpointsOptions): ServerEndpoints {
  const built = new Map<string, PerServerEndpoints>();
  return {
    get(name) {
      const provider = gateway.providerFor(name);
      if (!provider) return undefined;
      let endpoints = built.get(name);
      if (!endpoints) {
        endpoints = build(assemble(name, provider));
        built.set(name, endpoints);
      }
      return endpoints;
    },
    async answerPending(error) {
      const counts = await Promise.all([...built.values()].map((endpoints) => endpoints.streamable.answerPending(error)));
      return counts.reduce((sum, count) => sum + count, 0);
    },
    async close() {
      await Promise.all([...built.values()].map((endpoints) => endpoints.streamable.close()));
    },
  };
}
