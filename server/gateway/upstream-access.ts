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
  /**
   * How long a principal's own connection to an `isolation: "session"` upstream stays open after its last request
   * ended and nothing runs on it (default 30 minutes, SESSION_TIMEOUT_MS in the server).
   */
  principalIdleMs?: number;
}

/** A principal's own connection to one `isolation: "session"` upstream, shared by that principal's 2026-07-28 requests. */
interface PrincipalConnection {
  pending: Promise<UpstreamConnection>;
  /** Instances (requests) holding it now. */
  users: number;
  idle?: NodeJS.Timeout;
}

const DEFAULT_PRINCIPAL_IDLE_MS = 30 * 60_000;

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
export function createUpstreamAccess({
  registry,
  catalog,
  principalIdleMs = DEFAULT_PRINCIPAL_IDLE_MS,
}: UpstreamAccessOptions): UpstreamAccess {
  /** By `{server}\0{principal}`: 2026-07-28 instances are one per request, so their isolated connection is the principal's. */
  const principals = new Map<string, PrincipalConnection>();

  /** What a client declared goes to its own upstream connection, but tasks, which the gateway follows itself. */
  function declaredTo(instance: InstanceConnections) {
    const declared = instance.clientCapabilities();
    const extensions = withoutTasksExtension(declared?.extensions);
    const experimental = declared?.experimental;
    return { ...(extensions ? { extensions } : {}), ...(experimental ? { experimental } : {}) };
  }

  /**
   * The principal's own connection to `supervisor`, opened on its first request and held by each instance using it;
   * closed once no instance holds it, nothing runs on it (a call parked between rounds, a task followed) and
   * `principalIdleMs` passed.
   */
  function principalConnection(instance: InstanceConnections, supervisor: UpstreamSupervisor, principal: string) {
    // Held from now until release(): an instance already released would never let go.
    if (instance.closed) return Promise.reject(new ProtocolError(ProtocolErrorCode.InternalError, `${supervisor.name}: request ended`));
    const key = `${supervisor.name}\0${principal}`;
    let held = principals.get(key);
    if (!held) {
      const opened: PrincipalConnection = {
        pending: registry.openSessionConnection(
          supervisor.name,
          () => forget(),
          () => undefined,
          declaredTo(instance),
        ),
        users: 0,
      };
      const forget = () => {
        if (principals.get(key) === opened) principals.delete(key);
        clearTimeout(opened.idle);
      };
      opened.pending.catch(forget);
      principals.set(key, opened);
      held = opened;
    }
    if (!instance.sessionConnections.has(supervisor.name)) {
      held.users += 1;
      clearTimeout(held.idle);
      instance.sessionConnections.set(supervisor.name, held.pending);
    }
    return held.pending;
  }

  /**
   * One instance less holds the principal's connection to `server` (the one it got, `pending`: after a loss the
   * principal may hold a newer one); the last one starts its idle timer.
   */
  function letGo(server: string, principal: string, pending: Promise<UpstreamConnection>): void {
    const key = `${server}\0${principal}`;
    const held = principals.get(key);
    if (!held || held.pending !== pending || (held.users -= 1) > 0) return;
    const closeIfIdle = () => {
      void held.pending.then(
        (connection) => {
          if (held.users > 0) return;
          if (connection.busy) {
            held.idle?.refresh();
            return;
          }
          principals.delete(key);
          return registry.closeSessionConnection(connection);
        },
        () => undefined,
      );
    };
    held.idle = setTimeout(closeIfIdle, principalIdleMs);
    held.idle.unref();
  }

  /** The instance's own connection to `supervisor`, opened once (a failed open is forgotten, so the next call retries). */
  async function sessionConnection(instance: InstanceConnections, supervisor: UpstreamSupervisor): Promise<UpstreamConnection> {
    let pending = instance.sessionConnections.get(supervisor.name);
    if (!pending) {
      const forget = () => instance.sessionConnections.delete(supervisor.name);
      pending = registry.openSessionConnection(supervisor.name, forget, () => undefined, declaredTo(instance));
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
      if (supervisor.config.isolation === 'session') {
        // A 2026-07-28 instance serves one request: its own connection would be a new upstream per request.
        if (typeof instance.relayOwner === 'string') {
          const connection = await principalConnection(instance, supervisor, instance.relayOwner);
          if (instance.closed) throw new ProtocolError(ProtocolErrorCode.InternalError, `${supervisor.name}: request ended`);
          return connection;
        }
        return sessionConnection(instance, supervisor);
      }
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
      if (typeof instance.relayOwner === 'string') {
        for (const [server, pending] of instance.sessionConnections) letGo(server, instance.relayOwner, pending);
        instance.sessionConnections.clear();
        return;
      }
      for (const pending of instance.sessionConnections.values())
        void pending.then(
          (c) => registry.closeSessionConnection(c),
          () => undefined,
        );
      instance.sessionConnections.clear();
    },
  };
}
