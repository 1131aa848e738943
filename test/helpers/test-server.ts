import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configSchema, type Config } from '../../server/config/schema.js';
import { createLogger, createSilentLogger, type Logger } from '../../server/logging/logger.js';
import type { ToolProvider } from '../../server/mcp/tool-provider.js';
import { startHttpServer, type RunningHttpServer } from '../../server/runtime.js';
import { waitFor } from './http.js';

/**
 * A config for tests: memory storage, port 0 on loopback, a fresh data dir, authentication off (tests of the OAuth
 * server pass `authMode: 'oauth'`), plus overrides.
 */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const dataDir = overrides.dataDir ?? mkdtempSync(path.join(tmpdir(), 'ccm-test-'));
  return Object.freeze(configSchema.parse({ storage: 'memory', port: 0, host: '127.0.0.1', dataDir, authMode: 'none', ...overrides }));
}

/** A running server for one test file, and everything needed to clean it up. */
export interface TestServer extends RunningHttpServer {
  /** `${url}${prefix}/mcp` */
  mcpUrl: string;
  stop(): Promise<void>;
}

/** Logs go nowhere unless TEST_LOG=1 (then to stderr), so failures can be debugged without noisy runs. */
export function testLogger(): Logger {
  return process.env.TEST_LOG ? createLogger({ level: 'debug', format: 'json', stream: process.stderr }) : createSilentLogger();
}

/** Starts a real server on 127.0.0.1 with a free port. */
export async function startTestServer(
  overrides: Partial<Config> = {},
  options: { extraProviders?: ToolProvider[]; claudeEnvironment?: Record<string, string> } = {},
): Promise<TestServer> {
  const config = testConfig(overrides);
  const running = await startHttpServer(config, {
    logger: testLogger(),
    extraProviders: options.extraProviders,
    ...(options.claudeEnvironment ? { claudeEnvironment: options.claudeEnvironment } : {}),
  });
  return {
    ...running,
    mcpUrl: `${running.url}${config.mcpPathPrefix}/mcp`,
    async stop() {
      await running.close('test');
      if (!overrides.dataDir) rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A server whose gateway runs `mcpServers` (the `mcpServers` object of a gateway config file, written into the
 * server's fresh data dir), started once every upstream is running (30 s at most).
 */
export async function startGatewayTestServer(mcpServers: Record<string, unknown>, overrides: Partial<Config> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ccm-gw-test-'));
  const mcpConfigPath = path.join(dataDir, 'mcp_config.json');
  writeFileSync(mcpConfigPath, JSON.stringify({ mcpServers }));
  const server = await startTestServer({ ...overrides, dataDir, mcpConfigPath });
  const stop = async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitFor(() => server.container.gateway.registry.list().every((upstream) => upstream.status === 'running'), 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { ...server, stop };
}
