/**
 * Our HTTP server for the "after forced GC" memory rows: `startHttpServer` (the code `serve` runs), configured from
 * the environment like `serve`, in a process started with `--expose-gc` and an IPC channel. On the message `gc` it
 * runs two full collections and answers `gc-done`, so the bench can read RSS without uncollected garbage in it.
 * Prints `{"url":...,"mcpUrl":...}` on stdout once listening; SIGTERM closes it.
 */
import { loadConfig } from '../../server/config/load.js';
import { createLogger } from '../../server/logging/logger.js';
import { startHttpServer } from '../../server/runtime.js';
import { answerGcRequests } from './gc-ipc.js';

const { config } = loadConfig({ env: process.env });
const logger = createLogger({ level: config.logLevel, format: 'json', defaultMeta: { service: 'claude-code-mcp' } });
const running = await startHttpServer(config, { logger });
answerGcRequests();
process.stdout.write(`${JSON.stringify({ url: running.url, mcpUrl: `${running.url}${config.mcpPathPrefix}/mcp` })}\n`);
process.once('SIGTERM', () => {
  const force = setTimeout(() => process.exit(1), 3000);
  force.unref();
  void running.close('bench').then(() => process.exit(0));
});
