import { isDeepStrictEqual } from 'node:util';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import type { GatewayConfig, UpstreamServerConfig } from './config.js';
import { loadUpstreamModule } from './upstream-loader.js';
import type { UpstreamConnection, UpstreamConnectionOptions } from './upstream.js';
import { UpstreamSupervisor } from './supervisor.js';

/** Options of {@link GatewayRegistry}. */
export interface GatewayRegistryOptions {
  logger: Logger;
  events: EventBus;
  /** Allow-listed base environment of stdio upstreams. */
  baseEnv: Readonly<Record<string, string>>;
  /** Directory of the per-server stderr logs. */
  logDir: string;
  logMaxBytes: number;
  /** Longest message (line) a stdio upstream may write; a longer answer fails its call with a tool error (GATEWAY_MAX_MESSAGE_BYTES). */
  maxMessageBytes?: number;
  version: string;
}

/** What {@link GatewayRegistry.apply} did. */
export interface ApplyResult {
  started: string[];
  stopped: string[];
  restarted: string[];
  unchanged: string[];
}

/**
 * The set of upstreams of the current config, each under an {@link UpstreamSupervisor}. `apply` diffs a new config
 * against the running set and touches only the servers whose entry changed, so sessions of the others are never
 * disturbed. Listeners hear about every change of what the upstreams offer, to send `list_changed`.
 */
export class GatewayRegistry {
  private readonly servers = new Map<string, UpstreamSupervisor>();
  private readonly listeners = new Set<(server: string) => void>();
  private readonly sessionConnections = new Set<UpstreamConnection>();

  constructor(private readonly options: GatewayRegistryOptions) {}

  /** Supervisors in name order. */
  list(): UpstreamSupervisor[] {
    return [...this.servers.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): UpstreamSupervisor | undefined {
    return this.servers.get(name);
  }

  /** Subscribes to changes of what an upstream offers; returns the unsubscribe function. */
  onChange(listener: (server: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Listener count, for leak checks in tests. */
  listenerCount(): number {
    return this.listeners.size;
  }

  private notify(server: string): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(server);
      } catch (error) {
        this.options.logger.warn('gateway change listener failed', { server, error: (error as Error).message });
      }
    }
  }

  private create(name: string, config: UpstreamServerConfig): UpstreamSupervisor {
    return new UpstreamSupervisor({
      name,
      config,
      logger: this.options.logger,
      events: this.options.events,
      baseEnv: this.options.baseEnv,
      logDir: this.options.logDir,
      logMaxBytes: this.options.logMaxBytes,
      ...(this.options.maxMessageBytes ? { maxMessageBytes: this.options.maxMessageBytes } : {}),
      version: this.options.version,
      onChange: () => this.notify(name),
    });
  }

  /**
   * Makes the running set match `config`: new entries start, removed ones stop, changed ones restart with their new
   * entry, identical ones are left alone. Starting is not awaited (an `npx` server may take its full connect timeout);
   * use {@link UpstreamSupervisor.waitUntilRunning} to wait.
   */
  async apply(config: GatewayConfig): Promise<ApplyResult> {
    const result: ApplyResult = { started: [], stopped: [], restarted: [], unchanged: [] };
    const wanted = config.mcpServers;
    const stopping: Promise<void>[] = [];
    for (const [name, supervisor] of this.servers) {
      if (!(name in wanted)) {
        this.servers.delete(name);
        result.stopped.push(name);
        stopping.push(supervisor.stop());
      }
    }
    for (const [name, entry] of Object.entries(wanted)) {
      const current = this.servers.get(name);
      if (current && isDeepStrictEqual(current.config, entry)) {
        result.unchanged.push(name);
        continue;
      }
      if (current) {
        result.restarted.push(name);
        await current.stop();
      } else {
        result.started.push(name);
      }
      const supervisor = this.create(name, entry);
      this.servers.set(name, supervisor);
      void supervisor.start();
    }
    await Promise.all(stopping);
    for (const name of [...result.stopped, ...result.restarted]) this.notify(name);
    if (result.started.length + result.stopped.length + result.restarted.length > 0) {
      this.options.logger.info('gateway config applied', { ...result, category: 'gateway' });
    }
    return result;
  }

  /**
   * While upstreams (or only `only`) are in their first start and began it less than `waitMs` ago: a promise that
   * resolves when each of them is up, has failed that start, or has been starting for `waitMs` — whichever comes
   * first. `undefined` when none is, so a caller that need not wait pays one pass over the supervisors.
   */
  starting(waitMs: number, only?: string): Promise<void> | undefined {
    const now = Date.now();
    let waits: Promise<void>[] | undefined;
    for (const supervisor of this.servers.values()) {
      if (only !== undefined && supervisor.name !== only) continue;
      const since = supervisor.startingSince;
      if (since === undefined || since + waitMs <= now) continue;
      (waits ??= []).push(supervisor.settled(since + waitMs - now));
    }
    return waits && Promise.all(waits).then(() => undefined);
  }

  /**
   * A private connection to `name` for one client session (`isolation: "session"`): not supervised, closed with the
   * session by the caller. `declared` is that client's own extension support, declared to the upstream as it is.
   */
  async openSessionConnection(
    name: string,
    onLost: () => void,
    onCatalogChanged: () => void,
    declared?: UpstreamConnectionOptions['declared'],
  ): Promise<UpstreamConnection> {
    const supervisor = this.servers.get(name);
    if (!supervisor) throw new Error(`unknown upstream ${name}`);
    const { UpstreamConnection } = await loadUpstreamModule();
    const connection = new UpstreamConnection({
      name: `${name}.session`,
      config: supervisor.config,
      logger: this.options.logger,
      baseEnv: this.options.baseEnv,
      logDir: this.options.logDir,
      logMaxBytes: this.options.logMaxBytes,
      ...(this.options.maxMessageBytes ? { maxMessageBytes: this.options.maxMessageBytes } : {}),
      version: this.options.version,
      onLost,
      onCatalogChanged,
      ...(declared ? { declared } : {}),
    });
    this.sessionConnections.add(connection);
    try {
      await connection.connect();
    } catch (error) {
      this.sessionConnections.delete(connection);
      throw error;
    }
    return connection;
  }

  /** Closes a session connection opened by {@link openSessionConnection}. */
  async closeSessionConnection(connection: UpstreamConnection): Promise<void> {
    this.sessionConnections.delete(connection);
    await connection.close();
  }

  /** Number of live per-session upstream connections. */
  sessionConnectionCount(): number {
    return this.sessionConnections.size;
  }

  /** Stops every upstream (shutdown). */
  async close(): Promise<void> {
    const all = [...this.servers.values()];
    this.servers.clear();
    await Promise.all([
      ...all.map((supervisor) => supervisor.stop()),
      ...[...this.sessionConnections].map((c) => this.closeSessionConnection(c)),
    ]);
  }
}
