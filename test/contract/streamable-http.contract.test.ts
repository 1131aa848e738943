/**
 * One Streamable HTTP contract (streamable-http.cases.ts), two implementations: our server as it serves `/mcp`
 * (`server/mcp/node-streamable-transport.ts` behind the HTTP layer) and the SDK's `NodeStreamableHTTPServerTransport`
 * with an `McpServer`, on a plain `node:http` server. Both serve the same tools (test/fixtures/contract-tools.ts),
 * resumability on, the same SSE `retry`, keep-alive comments off.
 */
import { afterAll, beforeAll, describe } from '@jest/globals';
import { contractToolProvider } from '../fixtures/contract-tools.js';
import { startSdkStreamableServer } from '../helpers/sdk-streamable-server.js';
import { startTestServer } from '../helpers/test-server.js';
import { streamableHttpCases, type Implementation, type StreamableTarget } from './streamable-http.cases.js';

const RETRY_MS = 1500;
/** Short, so the case of a client that never comes back stays short; a prompt resume is well within it. */
const RECONNECT_GRACE_MS = 500;

interface Running extends StreamableTarget {
  stop(): Promise<void>;
}

const implementations: Array<[Implementation, () => Promise<Running>]> = [
  [
    'ours',
    async () => {
      const server = await startTestServer(
        { sseRetryMs: RETRY_MS, keepAliveMs: 0, streamReconnectGraceMs: RECONNECT_GRACE_MS },
        { extraProviders: [contractToolProvider()] },
      );
      return { implementation: 'ours', url: server.mcpUrl, retryMs: RETRY_MS, stop: () => server.stop() };
    },
  ],
  [
    'sdk',
    async () => {
      const server = await startSdkStreamableServer({ retryMs: RETRY_MS, keepAliveMs: 0 });
      return { implementation: 'sdk', url: server.url, retryMs: RETRY_MS, stop: () => server.close() };
    },
  ],
];

describe.each(implementations)('Streamable HTTP contract: %s', (_name, start) => {
  let running: Running | undefined;

  beforeAll(async () => {
    running = await start();
  });
  afterAll(async () => {
    await running?.stop();
  });

  streamableHttpCases(() => running!, { reconnectGraceMs: RECONNECT_GRACE_MS });
});
