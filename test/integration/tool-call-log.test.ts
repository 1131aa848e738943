import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createLogger } from '../../server/logging/logger.js';
import { startHttpServer } from '../../server/runtime.js';
import { createFixtureProvider } from '../fixtures/fixture-tools.js';
import { testConfig } from '../helpers/test-server.js';

describe('tool-call log and audit channel', () => {
  it('writes one structured line per tool call, and audit events to their own file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ccm-log-'));
    const output = new PassThrough();
    let text = '';
    output.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    const auditFile = path.join(dir, 'audit', 'audit.jsonl');
    const running = await startHttpServer(testConfig({ dataDir: dir, auditLogPath: auditFile }), {
      logger: createLogger({ level: 'info', format: 'json', stream: output }),
      extraProviders: [createFixtureProvider({ cancelled: 0, completed: 0 })],
    });
    const client = new Client({ name: 'log-test', version: '1.0.0' });
    try {
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${running.url}/mcp`), { requestInit: { headers: { 'x-request-id': 'req-tool-1' } } }),
      );
      await client.callTool({ name: 'slow_count', arguments: { steps: 1, delayMs: 0 } });
      running.container.events.emit('auth.login', { subject: 'alice', method: 'password', success: false });
    } finally {
      await client.close();
      await running.close('test');
    }
    const lines = text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const calls = lines.filter((line) => line.message === 'tool call');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      channel: 'tool',
      tool: 'slow_count',
      clientId: 'local',
      outcome: 'ok',
      requestId: 'req-tool-1',
      transport: 'streamable-http',
    });
    expect(typeof calls[0]!.sessionId).toBe('string');
    expect(typeof calls[0]!.durationMs).toBe('number');
    expect(JSON.stringify(calls[0])).not.toContain('steps'); // arguments stay out of the log
    const audit = readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(audit).toEqual([
      expect.objectContaining({ message: 'audit', channel: 'audit', event: 'auth.login', subject: 'alice', success: false }),
    ]);
    expect(lines.some((line) => line.channel === 'audit' && line.event === 'auth.login')).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });
});
