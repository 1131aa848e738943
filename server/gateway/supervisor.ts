import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import { gatewayAppsCapability } from './apps-extension.js';
import { isStdio, type UpstreamServerConfig } from './config.js';
import type { UpstreamCatalog, UpstreamConnection, UpstreamStatus } from './upstream.js';
import { loadUpstreamModule } from './upstream-loader.js';

/** Health figures of one upstream (`/health/servers`). */
export interface UpstreamHealth {
  status: UpstreamStatus;
  /** ISO time of the last health ping, if any. */
  lastCheck: string | null;
  responseTimeMs: number | null;
  consecutiveFails: number;
  /** Restarts since the process started (or the config last changed). */
  restartCount: number;
  lastError: string | null;
}

/** Options of {@link UpstreamSupervisor}. */
export interface UpstreamSupervisorOptions {
  name: string;
  config: UpstreamServerConfig;
  logger: Logger;
  events: EventBus;
  baseEnv: Readonly<Record<string, string>>;
  logDir: string;
  logMaxBytes: number;
  /** Longest message (line) a stdio upstream may write; a longer answer fails its call with a tool error (GATEWAY_MAX_MESSAGE_BYTES). */
  maxMessageBytes?: number;
  version: string;
  /** Called whenever what this upstream offers changes (up, down, its own list_changed). */
  onChange(): void;
}

/**
 * Keeps one upstream alive: connects it, pings it every `healthCheck.intervalMs`, and restarts it after a crash or
 * `healthCheck.failures` failed pings, at most `restart.max` times per `restart.windowMs` with doubling backoff;
 * past the limit it is `failed` until {@link restart} (operator) or a config change.
 *
 * A crash is noticed at once (the transport closes): the SDK client rejects every in-flight request, so callers fail
 * fast, and the catalog empties (`onChange`) until the server is up again.
 */
export class UpstreamSupervisor {
  readonly name: string;
  readonly config: UpstreamServerConfig;
  private connection?: UpstreamConnection;
  private statusValue: UpstreamStatus = 'stopped';
  private healthTimer?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  private restartTimes: number[] = [];
  private stopped = false;
  private generation = 0;
  /** Called when a start attempt ends (up or failed), or the server stops: whoever waits on {@link settled}. */
  private readonly settleWaiters = new Set<() => void>();
  private firstStartAt: number | undefined;
  readonly health: Omit<UpstreamHealth, 'status'> = {
    lastCheck: null,
    responseTimeMs: null,
    consecutiveFails: 0,
    restartCount: 0,
    lastError: null,
  };

  constructor(private readonly options: UpstreamSupervisorOptions) {
    this.name = options.name;
    this.config = options.config;
    if (!options.config.enabled) this.statusValue = 'disabled';
  }

  get status(): UpstreamStatus {
    return this.statusValue;
  }

  /** The live connection, only while `running`. */
  get live(): UpstreamConnection | undefined {
    return this.statusValue === 'running' ? this.connection : undefined;
  }

  /** What the upstream offers now (empty unless running). */
  get catalog(): UpstreamCatalog {
    return this.live?.catalog ?? { tools: [], resources: [], resourceTemplates: [], prompts: [] };
  }

  get pid(): number | undefined {
    return this.connection?.pid;
  }

  /** Whether it is on its way up: starting, or restarting after a crash or a failed start. */
  get comingUp(): boolean {
    return this.statusValue === 'starting' || this.statusValue === 'restarting';
  }

  /**
   * When the first start of this entry began, while that attempt is still running (`status` is `starting`);
   * undefined otherwise. A start-up wait is counted from it.
   */
  get startingSince(): number | undefined {
    return this.statusValue === 'starting' ? this.firstStartAt : undefined;
  }

  get logFile(): string | undefined {
    return this.connection?.logFile;
  }

  /** Starts the upstream (not awaited by callers that must not block on slow `npx` servers). */
  async start(): Promise<void> {
    if (!this.config.enabled || this.stopped) return;
    await this.connectOnce('start');
  }

  /**
   * Resolves when the current start attempt ends, up or failed, or the server stops; at once when it is not
   * {@link comingUp}; and after `timeoutMs` or when `signal` aborts in any case. Never rejects.
   */
  settled(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (!this.comingUp || timeoutMs <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.settleWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      signal?.addEventListener('abort', done, { once: true });
      this.settleWaiters.add(done);
    });
  }

  /** Resolves to true once the upstream is running, or false after `timeoutMs` or when it stops coming up. */
  async waitUntilRunning(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.comingUp && Date.now() < deadline) await this.settled(deadline - Date.now());
    return this.statusValue === 'running';
  }

  private settle(): void {
    for (const waiter of [...this.settleWaiters]) waiter();
  }

  private async connectOnce(reason: 'start' | 'restart'): Promise<void> {
    const generation = ++this.generation;
    this.statusValue = reason === 'start' ? 'starting' : 'restarting';
    if (reason === 'start') this.firstStartAt = Date.now();
    const { UpstreamConnection } = await loadUpstreamModule();
    const connection = new UpstreamConnection({
      name: this.name,
      config: this.config,
      logger: this.options.logger,
      baseEnv: this.options.baseEnv,
      logDir: this.options.logDir,
      logMaxBytes: this.options.logMaxBytes,
      ...(this.options.maxMessageBytes ? { maxMessageBytes: this.options.maxMessageBytes } : {}),
      version: this.options.version,
      onLost: (why) => {
        if (generation === this.generation) this.lost(why);
      },
      onCatalogChanged: () => {
        if (generation === this.generation) this.options.onChange();
      },
      declared: { extensions: gatewayAppsCapability() },
    });
    this.connection = connection;
    try {
      await connection.connect();
    } catch (error) {
      if (generation !== this.generation) return;
      this.health.lastError = (error as Error).message;
      this.options.logger.warn('gateway upstream failed to start', {
        server: this.name,
        error: (error as Error).message,
        category: 'gateway',
      });
      this.scheduleRestart(`start failed: ${(error as Error).message}`);
      this.settle();
      return;
    }
    if (generation !== this.generation || this.stopped) {
      await connection.close();
      return;
    }
    this.statusValue = 'running';
    this.health.consecutiveFails = 0;
    this.health.lastError = null;
    this.startHealthChecks(connection);
    this.options.logger.info('gateway upstream up', {
      server: this.name,
      pid: connection.pid,
      protocolVersion: connection.protocolVersion,
      tools: connection.catalog.tools.length,
      category: 'gateway',
    });
    this.options.events.emit('upstream.up', {
      server: this.name,
      tools: connection.catalog.tools.length,
      ...(connection.pid ? { pid: connection.pid } : {}),
    });
    if (reason === 'restart') this.options.events.emit('upstream.restarted', { server: this.name, restartCount: this.health.restartCount });
    // Listeners first: whoever waited finds the catalog already updated.
    this.options.onChange();
    this.settle();
  }

  private startHealthChecks(connection: UpstreamConnection): void {
    clearInterval(this.healthTimer);
    const { intervalMs, failures } = this.config.healthCheck;
    this.healthTimer = setInterval(() => {
      if (this.connection !== connection || this.statusValue !== 'running') return;
      connection.ping(Math.min(intervalMs, this.config.timeoutMs)).then(
        (ms) => {
          this.health.lastCheck = new Date().toISOString();
          this.health.responseTimeMs = Math.round(ms * 10) / 10;
          this.health.consecutiveFails = 0;
        },
        (error: unknown) => {
          if (this.connection !== connection) return;
          this.health.lastCheck = new Date().toISOString();
          this.health.consecutiveFails += 1;
          this.health.lastError = `ping: ${(error as Error).message}`;
          if (this.health.consecutiveFails >= failures && this.statusValue === 'running') this.lost(`${failures} failed health checks`);
        },
      );
    }, intervalMs);
    this.healthTimer.unref();
  }

  /** The upstream crashed, closed, or stopped answering pings. */
  private lost(reason: string): void {
    if (this.stopped || this.statusValue === 'failed') return;
    const wasRunning = this.statusValue === 'running';
    clearInterval(this.healthTimer);
    const connection = this.connection;
    this.generation += 1; // late callbacks of the lost connection are ignored
    this.health.lastError = reason;
    this.options.logger.warn('gateway upstream down', { server: this.name, reason, category: 'gateway' });
    if (wasRunning) this.options.events.emit('upstream.down', { server: this.name, reason });
    void connection?.close();
    this.scheduleRestart(reason);
    this.options.onChange();
    // A connection lost while starting (the process exited at once) ends that start attempt.
    this.settle();
  }

  private scheduleRestart(reason: string): void {
    if (this.stopped) return;
    const { max, windowMs, backoff } = this.config.restart;
    const now = Date.now();
    this.restartTimes = this.restartTimes.filter((at) => now - at < windowMs);
    if (this.restartTimes.length >= max) {
      this.statusValue = 'failed';
      this.options.logger.error('gateway upstream failed: restart limit reached', {
        server: this.name,
        reason,
        max,
        windowMs,
        category: 'gateway',
      });
      this.options.onChange();
      return;
    }
    const delay = backoff * 2 ** this.restartTimes.length;
    this.restartTimes.push(now);
    this.statusValue = 'restarting';
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.health.restartCount += 1;
      void this.connectOnce('restart');
    }, delay);
    this.restartTimer.unref();
  }

  /** Operator restart: clears the restart limit (also revives a `failed` server). */
  async restart(): Promise<void> {
    if (this.stopped || !this.config.enabled) return;
    clearTimeout(this.restartTimer);
    clearInterval(this.healthTimer);
    this.restartTimes = [];
    const connection = this.connection;
    this.generation += 1;
    const wasRunning = this.statusValue === 'running';
    this.statusValue = 'restarting';
    if (wasRunning) this.options.onChange();
    await connection?.close();
    this.health.restartCount += 1;
    await this.connectOnce('restart');
  }

  /** Stops for good (shutdown, removed from config); in-flight calls fail. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.generation += 1;
    clearTimeout(this.restartTimer);
    clearInterval(this.healthTimer);
    const wasRunning = this.statusValue === 'running';
    this.statusValue = 'stopped';
    if (wasRunning) this.options.onChange();
    this.settle();
    await this.connection?.close();
  }

  /** A one-line description for `/listmcp`. */
  describe(): { command?: string; args?: string[]; url?: string; transport: string } {
    const config = this.config;
    return isStdio(config)
      ? { command: config.command, args: [...config.args], transport: 'stdio' }
      : { url: config.url, transport: config.transport };
  }
}
