/**
 * `npm run conformance:gateway`: runs the @modelcontextprotocol/conformance server scenarios against a fixture
 * upstream (test/fixtures/conformance-upstream.mjs) directly over Streamable HTTP, and through the gateway
 * (`/servers/conf/mcp`, the fixture as a stdio upstream), and prints both summaries. Exit code 1 when the gateway
 * passes fewer checks than the direct run. Everything binds to 127.0.0.1 and is stopped before exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configSchema } from '../server/config/schema.js';
import { createSilentLogger } from '../server/logging/logger.js';
import { startHttpServer } from '../server/runtime.js';

const fixture = path.resolve('test/fixtures/conformance-upstream.mjs');
const cli = path.resolve('node_modules/@modelcontextprotocol/conformance/dist/index.js');

interface Summary {
  passed: number;
  failed: number;
  lines: string[];
}

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: tmpdir() });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(output);
    });
  });
}

async function conformance(url: string): Promise<Summary> {
  const output = await run(process.execPath, [cli, 'server', '--url', url], 300_000);
  const summary = output.slice(output.indexOf('=== SUMMARY ==='));
  const total = /Total: (\d+) passed, (\d+) failed/.exec(summary);
  return {
    passed: Number(total?.[1] ?? 0),
    failed: Number(total?.[2] ?? 0),
    lines: summary.split('\n').filter((line) => /^[✓✗]/u.test(line)),
  };
}

function startDirect(): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, '--http', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout!.once('data', (chunk: Buffer) => {
      const port = /listening (\d+)/.exec(chunk.toString())?.[1];
      if (port) resolve({ child, url: `http://127.0.0.1:${port}/mcp` });
      else reject(new Error(`fixture said: ${chunk.toString()}`));
    });
    child.once('error', reject);
  });
}

const dir = mkdtempSync(path.join(tmpdir(), 'ccm-conformance-'));
const direct = await startDirect();
writeFileSync(path.join(dir, 'mcp_config.json'), JSON.stringify({ mcpServers: { conf: { command: process.execPath, args: [fixture] } } }));
const config = Object.freeze(
  configSchema.parse({ storage: 'memory', port: 0, host: '127.0.0.1', dataDir: dir, authMode: 'none', mcpConfigPath: path.join(dir, 'mcp_config.json') }),
);
const gateway = await startHttpServer(config, { logger: createSilentLogger() });
let exitCode = 0;
try {
  const deadline = Date.now() + 30_000;
  while (gateway.container.gateway.registry.get('conf')?.status !== 'running') {
    if (Date.now() > deadline) throw new Error('the fixture upstream did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const directResult = await conformance(direct.url);
  const gatewayResult = await conformance(`${gateway.url}/servers/conf/mcp`);
  const report = [
    '## Conformance: fixture upstream directly vs through the gateway',
    '',
    `@modelcontextprotocol/conformance server scenarios (active suite), ${new Date().toISOString()}`,
    '',
    `| run | passed | failed |`,
    `| --- | --- | --- |`,
    `| direct (Streamable HTTP, SDK) | ${directResult.passed} | ${directResult.failed} |`,
    `| gateway \`/servers/conf/mcp\` (stdio upstream) | ${gatewayResult.passed} | ${gatewayResult.failed} |`,
    '',
    'Scenarios that differ:',
    '',
    ...gatewayResult.lines.filter((line) => !directResult.lines.includes(line)).map((line) => `- gateway: ${line}`),
  ];
  process.stdout.write(`${report.join('\n')}\n`);
  if (gatewayResult.passed < directResult.passed) exitCode = 1;
} finally {
  await gateway.close('conformance done');
  direct.child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
