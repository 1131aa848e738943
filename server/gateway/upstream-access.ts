import type { ClientCapabilities } from '@modelcontextprotocol/client';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { withoutTasksExtension } from '../tasks/task-protocol.js';
import type { GatewayCatalog } from './gateway-catalog.js';
import type { GatewayRegistry } from './registry.js';
import type { UpstreamSupervisor } from './supervisor.js';
import type { UpstreamConnection } from './upstream.js';

/** What one assembled MCP server instance holds of its upstream connections. */
export interface InstanceConnections {
  /** Per-session upstream connections (`isolation: "session"`) by upstream name, opened on first use. */
  sessionConnections: Map<string, Promise<UpstreamConnection>>;
  /** What the instance's client declared (its extension support goes to its per-session upstreams). */
  clientCapabilities(): ClientCapabilities | undefined;
  /** Set once the instance has closed; a per-session connection that opens after that is closed again. */
  closed: boolean;
  /**
   * Whose calls this instance's are, for relaying an upstream's requests (`RelayTarget.owner` in upstream.ts): the instance
   * itself (a session), or for a 2026-07-28 instance its principal (such requests have no session).
   */
  relayOwner: object | string;
}

/** Options of {@link createUpstreamAccess}. */
export interface UpstreamAccessOptions {
  /** Opens and closes per-session connections. */
  registry: GatewayRegistry;
  /** Finds the upstream a tool name belongs to, looked up again on every wait (a reload may replace it). */
  catalog: Pick<GatewayCatalog, 'ownerOf'>;
}

/** How calls of one gateway endpoint reach their upstreams. */
export interface UpstreamAccess {
  /**
   * The connection a call of `supervisor` goes to for this instance: the shared live one, or with
   * `isolation: "session"` the instance's own. Rejects with a JSON-RPC internal error saying why when there is none.
   */
  connectionFor(instance: InstanceConnections, supervisor: UpstreamSupervisor): Promise<UpstreamConnection>;
  /**
   * Waits, up to `timeoutMs` (the upstream's time limit of one request), until the upstream the tool `name` belongs to
   * is no longer on its way up; rejects with a "retry" error when it still is by then, or with why it cannot be reached
   * when it gave up or was stopped meanwhile.
   */
  arrival(name: string, timeoutMs: number, signal: AbortSignal): Promise<void>;
  /** Closes the per-session connections of a closed instance (failures ignored) and forgets them. */
  release(instance: InstanceConnections): void;
}

/** Why a call cannot reach `supervisor` now; "retry" when it is on its way up. */
function unavailable(supervisor: UpstreamSupervisor): string {
  return supervisor.comingUp
    ? `upstream ${supervisor.name} is ${supervisor.status} and not ready yet; retry the call in a few seconds`
    : `upstream ${supervisor.name} is ${supervisor.status}`;
}

/** Builds the {@link UpstreamAccess} of one gateway endpoint. */
export function createUpstreamAccess({ registry, catalog }: UpstreamAccessOptions): UpstreamAccess {
  /** The instance's own connection to `supervisor`, opened once (a failed open is forgotten, so the next call retries). */
  async function sessionConnection(instance: InstanceConnections, supervisor: UpstreamSupervisor): Promise<UpstreamConnection> {
    let pending = instance.sessionConnections.get(supervisor.name);
    if (!pending) {
      const forget = () => instance.sessionConnections.delete(supervisor.name);
      // The client's extension support goes to its own upstream connection, but for tasks, which are not relayed.
      const declared = instance.clientCapabilities();
      const extensions = withoutTasksExtension(declared?.extensions);
      const experimental = declared?.experimental;
      pending = registry.openSessionConnection(supervisor.name, forget, () => undefined, {
        ...(extensions ? { extensions } : {}),
        ...(experimental ? { experimental } : {}),
      });
      pending.catch(forget);
      instance.sessionConnections.set(supervisor.name, pending);
    }
    const connection = await pending;
    if (instance.closed) {
      await registry.closeSessionConnection(connection);
      throw new ProtocolError(ProtocolErrorCode.InternalError, `${supervisor.name}: session closed`);
    }
    return connection;
  }

  return {
    async connectionFor(instance, supervisor) {
      if (supervisor.config.isolation === 'session') return sessionConnection(instance, supervisor);
      const live = supervisor.live;
      if (!live) throw new ProtocolError(ProtocolErrorCode.InternalError, unavailable(supervisor));
      return live;
    },
    async arrival(name, timeoutMs, signal) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const supervisor = catalog.ownerOf(name);
        if (!supervisor || supervisor.status === 'running') return;
        // It gave up (restart limit) or was stopped while the call waited: say so rather than "not found".
        if (!supervisor.comingUp) throw new Error(unavailable(supervisor));
        const left = deadline - Date.now();
        if (left <= 0 || signal.aborted) throw new Error(unavailable(supervisor));
        await supervisor.settled(left, signal);
      }
    },
    release(instance) {
      for (const pending of instance.sessionConnections.values())
        void pending.then(
          (c) => registry.closeSessionConnection(c),
          () => undefined,
        );
      instance.sessionConnections.clear();
    },
  };
}
