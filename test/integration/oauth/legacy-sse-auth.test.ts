/** Legacy HTTP+SSE under OAuth: the stream and every POST are authenticated on their own (checklist B.14). */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { obtainTokens, registerClient } from '../../helpers/oauth-flow.js';
import { startOAuthServer } from '../../helpers/oauth-server.js';
import type { TestServer } from '../../helpers/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startOAuthServer();
});
afterAll(async () => {
  await server.stop();
});

/** Opens GET /sse and reads up to the `endpoint` event, leaving the stream open. */
async function openSse(token?: string): Promise<{ status: number; endpoint?: string; close: () => Promise<void> }> {
  const controller = new AbortController();
  const response = await fetch(`${server.url}/sse`, {
    headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    signal: controller.signal,
  });
  if (response.status !== 200) {
    await response.text();
    return { status: response.status, close: async () => undefined };
  }
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const deadline = Date.now() + 5000;
  while (!/event: endpoint\ndata: (\S+)/.test(buffer) && Date.now() < deadline) {
    const chunk = await reader.read();
    if (chunk.done) break;
    buffer += decoder.decode(chunk.value, { stream: true });
  }
  const endpoint = /event: endpoint\ndata: (\S+)/.exec(buffer)?.[1];
  return { status: 200, endpoint, close: async () => controller.abort() };
}

describe('legacy SSE with OAuth', () => {
  it('GET /sse without a token -> 401 challenge', async () => {
    const opened = await openSse();
    expect(opened.status).toBe(401);
  });

  it('a POST to the session needs a token, and the owner one: none -> 401, another client -> 404, owner -> 202', async () => {
    const alice = await obtainTokens(server, await registerClient(server));
    const mallory = await obtainTokens(server, await registerClient(server));
    const stream = await openSse(alice.access_token);
    try {
      expect(stream.endpoint).toBeDefined();
      const post = (token?: string) =>
        fetch(new URL(stream.endpoint!, server.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'sse', version: '1' } },
          }),
        });
      expect((await post()).status).toBe(401);
      expect((await post(mallory.access_token)).status).toBe(404);
      expect((await post(alice.access_token)).status).toBe(202);
    } finally {
      await stream.close();
    }
  });
});
