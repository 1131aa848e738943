import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { GatewayConfigError, gatewayJsonSchema, isStdio, loadGatewayConfig, parseGatewayConfig } from '../../../server/gateway/config.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ccm-gwcfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gateway config', () => {
  it('reads a claude_desktop_config.json file unchanged and applies our defaults', () => {
    const config = parseGatewayConfig({
      mcpServers: {
        memory: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-memory'] },
        remote: { url: 'https://example.com/mcp', headers: { Authorization: 'Bearer x' } },
      },
      globalShortcut: 'ignored? no: top-level keys other than mcpServers are allowed',
    });
    const memory = config.mcpServers.memory!;
    expect(isStdio(memory)).toBe(true);
    expect(memory).toMatchObject({
      enabled: true,
      isolation: 'shared',
      timeoutMs: 30_000,
      env: {},
      healthCheck: { intervalMs: 30_000, failures: 3 },
      restart: { max: 3, windowMs: 300_000 },
    });
    expect(config.mcpServers.remote).toMatchObject({ transport: 'http', url: 'https://example.com/mcp' });
  });

  it('expands ${VAR} and ${VAR:-default} from the environment, and refuses an unset variable without default', () => {
    const config = parseGatewayConfig(
      { mcpServers: { gh: { command: 'gh-mcp', args: ['--dir', '${DIR:-/tmp}'], env: { TOKEN: '${GH_TOKEN}' } } } },
      { GH_TOKEN: 'secret' },
    );
    expect(config.mcpServers.gh).toMatchObject({ args: ['--dir', '/tmp'], env: { TOKEN: 'secret' } });
    expect(() => parseGatewayConfig({ mcpServers: { gh: { command: 'x', env: { TOKEN: '${GH_TOKEN}' } } } }, {})).toThrow(
      'mcpServers.gh: env.TOKEN: environment variable GH_TOKEN is not set',
    );
  });

  it('names the server and field in validation errors', () => {
    const cases: [unknown, string][] = [
      [{ mcpServers: { a: { command: 'x', timeoutMs: 'soon' } } }, 'mcpServers.a: timeoutMs'],
      [{ mcpServers: { b: { url: 'ftp://x' } } }, 'mcpServers.b: url: expected an absolute http(s) URL'],
      [
        { mcpServers: { c: { command: 'x', url: 'http://x' } } },
        'mcpServers.c: expected exactly one of "command" (stdio) or "url" (remote)',
      ],
      [{ mcpServers: { d: { command: 'x', isolation: 'per-user' } } }, 'mcpServers.d: isolation'],
      [{ mcpServers: { e: { command: 'x', restart: { max: -1 } } } }, 'mcpServers.e: restart.max'],
      [{ mcpServers: { f: { command: 'x', colour: 'red' } } }, 'mcpServers.f: unknown field(s) colour'],
      [{ mcpServers: { 'bad name!': { command: 'x' } } }, 'server names are'],
    ];
    for (const [document, message] of cases) {
      expect(() => parseGatewayConfig(document)).toThrow(GatewayConfigError);
      expect(() => parseGatewayConfig(document)).toThrow(message);
    }
  });

  it('treats a missing file as no upstreams and prefixes file errors with the path', () => {
    expect(loadGatewayConfig(path.join(dir, 'none.json'), {}).mcpServers).toEqual({});
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{ not json');
    expect(() => loadGatewayConfig(broken, {})).toThrow(broken);
  });

  it('publishes mcp_config.schema.json generated from the zod schema (npm run docs:config)', () => {
    const published = JSON.parse(readFileSync('mcp_config.schema.json', 'utf8')) as unknown;
    expect(published).toEqual(gatewayJsonSchema());
  });
});
