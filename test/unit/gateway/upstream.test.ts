import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { upstreamServerSchema } from '../../../server/gateway/config.js';
import { UpstreamConnection } from '../../../server/gateway/upstream.js';
import { createSilentLogger } from '../../../server/logging/logger.js';

const fixture = path.resolve('test/fixtures/gateway-upstream.mjs');

describe('UpstreamConnection', () => {
  it('sends the requests of a stdio upstream by the direct path (below the SDK client) once connected', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ccm-upstream-'));
    const connection = new UpstreamConnection({
      name: 'fx',
      config: upstreamServerSchema.parse({ command: process.execPath, args: [fixture] }),
      logger: createSilentLogger(),
      baseEnv: {},
      logDir: dir,
      logMaxBytes: 1_000_000,
      version: '0.0.0',
      onLost: () => undefined,
      onCatalogChanged: () => undefined,
    });
    try {
      expect(connection.direct).toBeUndefined();
      await connection.connect();
      expect(connection.catalog.tools.map((tool) => tool.name)).toContain('echo');
      const direct = connection.direct;
      expect(direct).toBeDefined();
      await expect(direct!.request('tools/call', { name: 'echo', arguments: { text: 'direct' } }, {})).resolves.toEqual({
        content: [{ type: 'text', text: 'direct' }],
      });
    } finally {
      await connection.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
