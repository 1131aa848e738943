import type { Config } from '../../server/config/schema.js';
import { startTestServer, type TestServer } from './test-server.js';

/** The local user every OAuth test signs in as. */
export const TEST_USER = { username: 'alice', password: 'correct horse battery' };

/** Starts a test server with the built-in OAuth server on, and {@link TEST_USER} registered. */
export async function startOAuthServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const server = await startTestServer({ authMode: 'oauth', authInitialAdmin: false, ...overrides });
  await server.auth!.users.add(TEST_USER.username, TEST_USER.password);
  return server;
}
