import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from '@jest/globals';
import { createApp, type AppDeps } from '../../../server/app.js';
import { authWarnings } from '../../../server/config/load.js';
import { testConfig, testLogger } from '../../helpers/test-server.js';

describe('/health warnings', () => {
  it('warns only when authentication is off on a non-loopback interface', () => {
    expect(authWarnings({ authMode: 'none', mcpDisableAuth: false, host: '127.0.0.1' })).toEqual([]);
    expect(authWarnings({ authMode: 'oauth', mcpDisableAuth: false, host: '0.0.0.0' })).toEqual([]);
    expect(authWarnings({ authMode: 'oauth', mcpDisableAuth: true, host: '0.0.0.0' })).toHaveLength(1);
  });

  it('reports authentication disabled on a public interface loudly', async () => {
    const config = testConfig({ host: '0.0.0.0', authMode: 'none', mcpDisableAuth: true });
    const app = createApp({
      config,
      logger: testLogger(),
      publicUrl: 'http://127.0.0.1',
      version: 'test',
      startedAt: Date.now(),
      transports: ['streamable-http'],
      sessions: {
        stats: () => ({ active: 0, limit: 1, oldest: null, newest: null, averageAgeSeconds: 0 }),
      } as unknown as AppDeps['sessions'],
      storage: { kind: 'memory', ping: async () => undefined },
      streamable: {} as AppDeps['streamable'],
      sse: {} as AppDeps['sse'],
      warnings: authWarnings(config),
      draining: () => false,
    });
    // Only the app is exercised; it listens on loopback whatever `host` says.
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/health`);
      const body = (await response.json()) as { warnings?: string[] };
      expect(body.warnings).toEqual([
        expect.stringContaining('authentication is disabled (MCP_DISABLE_AUTH=true) on a non-loopback interface'),
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
