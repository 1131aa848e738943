import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The misbehaving stdio upstream (test/fixtures/fault-upstream.mjs): big, garbage, huge_line, crash, hang, sleep, echo. */
export const FAULT_UPSTREAM = fileURLToPath(new URL('../fixtures/fault-upstream.mjs', import.meta.url));

/** The start timeout of every fault upstream. */
const START_TIMEOUT_MS = 30_000;

/**
 * Writes a gateway config (`mcpServers` format) into `dir` with one fault upstream per entry of `timeouts` (server
 * name → its call timeout, `timeoutMs`); returns its path, for MCP_CONFIG_PATH. Their tools are `<name>__<tool>`.
 * Starts get {@link START_TIMEOUT_MS} however short the call timeout: on a loaded machine a Node process importing
 * the SDK can take longer than a call may.
 */
export function writeFaultGatewayConfig(dir: string, timeouts: Record<string, number>): string {
  const file = path.join(dir, 'mcp_config.json');
  const servers = Object.fromEntries(
    Object.entries(timeouts).map(([name, timeoutMs]) => [
      name,
      { command: process.execPath, args: [FAULT_UPSTREAM], timeoutMs, startTimeoutMs: START_TIMEOUT_MS },
    ]),
  );
  writeFileSync(file, JSON.stringify({ mcpServers: servers }));
  return file;
}
