import { describe, expect, it } from '@jest/globals';
import { claudeChildEnvironment } from '../../../server/config/child-env.js';

describe('claudeChildEnvironment', () => {
  const source = {
    PATH: '/usr/bin',
    HOME: '/home/app',
    ANTHROPIC_API_KEY: 'sk-ant',
    CLAUDE_CODE_USE_BEDROCK: '1',
    DISABLE_TELEMETRY: '1',
    HTTPS_PROXY: 'http://proxy:3128',
    LC_ALL: 'C.UTF-8',
    MCP_API_KEYS: 'secret:client',
    WEBHOOK_SECRET: 'whsec',
    REDIS_URL: 'redis://:pw@host',
    OAUTH_SIGNING_KEY: 'key',
    GITHUB_TOKEN: 'ghp',
    NPM_CONFIG_REGISTRY: 'https://r',
  };

  it('passes only the allow-listed variables: server secrets never reach Claude', () => {
    expect(claudeChildEnvironment([], source)).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/app',
      ANTHROPIC_API_KEY: 'sk-ant',
      CLAUDE_CODE_USE_BEDROCK: '1',
      DISABLE_TELEMETRY: '1',
      HTTPS_PROXY: 'http://proxy:3128',
      LC_ALL: 'C.UTF-8',
    });
  });

  it('adds operator-chosen names and prefixes (CLAUDE_ENV_ALLOW)', () => {
    const env = claudeChildEnvironment(['GITHUB_TOKEN', 'NPM_CONFIG_*'], source);
    expect(env.GITHUB_TOKEN).toBe('ghp');
    expect(env.NPM_CONFIG_REGISTRY).toBe('https://r');
    expect(env.WEBHOOK_SECRET).toBeUndefined();
  });
});
