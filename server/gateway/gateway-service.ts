import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import type { Caller } from '../mcp/caller.js';
import type { ToolProvider } from '../mcp/tool-provider.js';
import { loadGatewayConfig, type GatewayConfig } from './config.js';
import { createGatewayProvider } from './gateway-provider.js';
import { GatewayRegistry, type ApplyResult } from './registry.js';

/** Options of {@link createGatewayService}. */
export interface GatewayServiceOptions {
  /** MCP_CONFIG_PATH. */
  configPath: string;
  /** Watch the file and reload on change (MCP_LIVE_RELOAD). */
  liveReload: boolean;
  /** Variables `${VAR}` expands from. */
  variables: Readonly<Record<string, string | undefined>>;
  /** Allow-listed base environment of stdio upstreams. */
  baseEnv: Readonly<Record<string, string>>;
  logDir: string;
  logMaxBytes: number;
  /** Longest message (line) a stdio upstream may write; a longer answer fails its call with a tool error (GATEWAY_MAX_MESSAGE_BYTES). */
  maxMessageBytes?: number;
  version: string;
  logger: Logger;
  events: EventBus;
  toolAccess?: (caller: Caller, toolName: string) => boolean;
  /**
   * How long a client's first lists wait for an upstream in its first start (GATEWAY_STARTUP_WAIT_MS), counted from
   * when that start began; 0 never waits.
   */
  startupWaitMs?: number;
  /**
   * How long a principal's own connection to an `isolation: "session"` upstream (2026-07-28 requests have no session)
   * stays open unused (SESSION_TIMEOUT_MS, as for a session's).
   */
  principalIdleMs?: number;
  /** Quiet period before a changed file is read (editors write in several steps). */
  debounceMs?: number;
}

/** The gateway: its upstream registry, the aggregated provider, per-server providers, and reload. */
export interface GatewayService {
  readonly registry: GatewayRegistry;
  /** Every upstream, `{server}__{tool}`, for the aggregated `/mcp`. */
  readonly provider: ToolProvider;
  /** One upstream, unprefixed (`/servers/{name}/mcp`); undefined for an unknown server. */
  providerFor(name: string): ToolProvider | undefined;
  /** Names of enabled upstreams marked `required` that are not running (readiness waits for them). */
  requiredDown(): string[];
  /**
   * Resolves once no upstream is in its first start any more, or has been for `startupWaitMs`: what a stdio server
   * waits for before it reads its client's first message, so that client's capabilities and lists are complete.
   */
  started(): Promise<void>;
  /** Reads the file and applies it; an invalid file keeps the running set and is reported, never thrown. */
  reload(reason: string): Promise<{ ok: true; result: ApplyResult } | { ok: false; error: string }>;
  close(): Promise<void>;
}

/**
 * Builds the gateway and applies the file once. An invalid file at start-up is a configuration error (thrown); an
 * invalid file at a later reload is logged and the running set kept.
 */
export async function createGatewayService(options: GatewayServiceOptions): Promise<GatewayService> {
  const { logger } = options;
  const registry = new GatewayRegistry({
    logger,
    events: options.events,
    baseEnv: options.baseEnv,
    logDir: options.logDir,
    logMaxBytes: options.logMaxBytes,
    ...(options.maxMessageBytes ? { maxMessageBytes: options.maxMessageBytes } : {}),
    version: options.version,
  });
  const initial: GatewayConfig = loadGatewayConfig(options.configPath, options.variables);
  await registry.apply(initial);
  const startupWaitMs = options.startupWaitMs ?? 0;
  const principalIdleMs = options.principalIdleMs;
  const provider = createGatewayProvider({
    registry,
    logger,
    startupWaitMs,
    ...(principalIdleMs ? { principalIdleMs } : {}),
    ...(options.toolAccess ? { toolAccess: options.toolAccess } : {}),
  });
  const single = new Map<string, ToolProvider>();

  let reloading: Promise<unknown> = Promise.resolve();
  async function reload(reason: string): Promise<{ ok: true; result: ApplyResult } | { ok: false; error: string }> {
    const run = reloading.then(async () => {
      let next: GatewayConfig;
      try {
        next = loadGatewayConfig(options.configPath, options.variables);
      } catch (error) {
        logger.error('gateway config reload refused; running servers kept', {
          reason,
          error: (error as Error).message,
          category: 'gateway',
        });
        return { ok: false as const, error: (error as Error).message };
      }
      const result = await registry.apply(next);
      logger.info('gateway config reloaded', { reason, ...result, category: 'gateway' });
      return { ok: true as const, result };
    });
    reloading = run.catch(() => undefined);
    return run;
  }

  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  if (options.liveReload) {
    // Watch the directory: editors and `mv` replace the file, which ends a watch on the file itself.
    const file = path.resolve(options.configPath);
    try {
      watcher = watch(path.dirname(file), (_event, changed) => {
        if (changed && changed.toString() !== path.basename(file)) return;
        clearTimeout(debounce);
        debounce = setTimeout(() => void reload('file changed'), options.debounceMs ?? 300);
        debounce.unref();
      });
      watcher.unref();
    } catch (error) {
      logger.warn('gateway live reload unavailable', { error: (error as Error).message, category: 'gateway' });
    }
  }

  return {
    registry,
    provider,
    providerFor(name) {
      if (!registry.get(name)) return undefined;
      let found = single.get(name);
      if (!found) {
        found = createGatewayProvider({
          registry,
          logger,
          only: name,
          startupWaitMs,
          ...(principalIdleMs ? { principalIdleMs } : {}),
          ...(options.toolAccess ? { toolAccess: options.toolAccess } : {}),
        });
        single.set(name, found);
      }
      return found;
    },
    requiredDown() {
      return registry
        .list()
        .filter((s) => s.config.required && s.config.enabled && s.status !== 'running')
        .map((s) => s.name);
    },
    async started() {
      if (startupWaitMs > 0) await registry.starting(startupWaitMs);
    },
    reload,
    async close() {
      clearTimeout(debounce);
      watcher?.close();
      await reloading;
      await registry.close();
    },
  };
}
