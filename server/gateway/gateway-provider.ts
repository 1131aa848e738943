import type { McpServer } from '@modelcontextprotocol/server';
import type { Logger } from '../logging/logger.js';
import type { Caller } from '../mcp/caller.js';
import type { ToolProvider } from '../mcp/tool-provider.js';
import { createGatewayCatalog } from './gateway-catalog.js';
import { createGatewayTools } from './gateway-tools.js';
import { createInstanceItems, createInstanceState, type InstanceState } from './instance-items.js';
import type { GatewayRegistry } from './registry.js';
import { createUpstreamAccess } from './upstream-access.js';

/** Options of {@link createGatewayProvider}. */
export interface GatewayProviderOptions {
  registry: GatewayRegistry;
  logger: Logger;
  /**
   * Whether a caller may see and use a prompt (asked with its aggregated name `{prefix}__{prompt}`) or a server's
   * resources (asked with `{prefix}__*`), so `gateway:<server>` scopes and per-client patterns apply on every
   * endpoint. Tools are checked by the server factory's tool catalog with each definition's `accessName`.
   * Default: everything.
   */
  toolAccess?: (caller: Caller, toolName: string) => boolean;
  /** Serve only this upstream, with its own (unprefixed) names: `/servers/{name}/mcp`. */
  only?: string;
  /**
   * How long `tools/list` waits for an upstream in its first start, counted from when that start began
   * (`GATEWAY_STARTUP_WAIT_MS`); 0 never waits. A call to an upstream on its way up waits up to its own `timeoutMs`.
   */
  startupWaitMs?: number;
  /** See {@link UpstreamAccessOptions.principalIdleMs}. */
  principalIdleMs?: number;
}

/**
 * The gateway as a {@link ToolProvider}: every running upstream's tools as `{server}__{tool}`, its prompts as
 * `{server}__{prompt}`, and its resources under `exposedUri` of `naming.ts` (`{server}+{uri}`, and `ui://{server}/...` for MCP
 * Apps, whose tools' `_meta.ui.resourceUri` follow). With `only`, one upstream with its own names and URIs.
 *
 * Tools are shared definitions (`gateway-tools.ts`), rebuilt when the registry changes; listeners hear only real
 * changes of the tool set, and the server factory sends `tools/list_changed` to live sessions. Prompts and resources
 * are registered per instance (`instance-items.ts`) and follow the registry the same way: when an upstream goes down
 * its items are removed, when it is up again they come back, and the SDK sends `list_changed` for each change. Names,
 * URIs and access names come from the catalog (`gateway-catalog.ts`); calls reach upstreams through
 * `upstream-access.ts`.
 */
export function createGatewayProvider({
  registry,
  logger,
  toolAccess,
  only,
  startupWaitMs = 0,
  principalIdleMs,
}: GatewayProviderOptions): ToolProvider {
  // The catalog first: its cache reset must run before every other registry listener.
  const catalog = createGatewayCatalog({ registry, logger, only, toolAccess });
  const access = createUpstreamAccess({ registry, catalog, ...(principalIdleMs ? { principalIdleMs } : {}) });
  const states = new WeakMap<McpServer, InstanceState>();
  const items = createInstanceItems({ catalog, access });
  const gatewayTools = createGatewayTools({ catalog, access, instanceOf: (server) => states.get(server) });
  const cleanup = new FinalizationRegistry<() => void>((unsubscribe) => unsubscribe());

  /**
   * Keeps `server`'s prompts and resources in step with the catalog until it closes. The listener reaches the instance
   * only weakly (its state lives in a WeakMap keyed by it): a per-request (stateless) instance that is never closed is
   * still collected, and the finalizer unsubscribes. This function holds no closure over `server` for that reason.
   */
  function followCatalog(server: McpServer, caller: Caller): () => void {
    const ref = new WeakRef(server);
    const unsubscribe = catalog.onChange(() => {
      const live = ref.deref();
      const current = live && states.get(live);
      if (!live || !current || current.closed) {
        unsubscribe();
        return;
      }
      try {
        items.sync(live, current, caller);
      } catch (error) {
        logger.warn('gateway catalog update failed', { error: (error as Error).message, category: 'gateway' });
      }
    });
    cleanup.register(server, unsubscribe);
    return unsubscribe;
  }

  return {
    name: only ? `gateway:${only}` : 'gateway',
    tools: gatewayTools.tools,
    onToolsChanged: gatewayTools.onToolsChanged,
    settling() {
      return startupWaitMs > 0 ? registry.starting(startupWaitMs, only) : undefined;
    },
    awaitTool(name, { caller, signal }) {
      const supervisor = catalog.ownerOf(name);
      if (!supervisor?.comingUp) return undefined;
      // A caller that may not use the tool learns nothing of it: unknown, as ever.
      if (!catalog.mayUse(caller, supervisor, name)) return undefined;
      return access.arrival(name, supervisor.config.timeoutMs, signal);
    },
    register(server, context) {
      const { caller } = context;
      const state = createInstanceState(server, context);
      states.set(server, state);
      items.prepare(server, state);
      items.sync(server, state, caller);
      const unsubscribe = followCatalog(server, caller);
      const previous = server.server.onclose;
      server.server.onclose = () => {
        previous?.();
        state.closed = true;
        unsubscribe();
        items.release(state);
      };
    },
  };
}
