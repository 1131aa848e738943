import { describe, expect, it } from '@jest/globals';
import { SdkError, SdkErrorCode, type ServerContext } from '@modelcontextprotocol/server';
import { relayToolCall } from '../../../server/gateway/call-relay.js';
import type { DirectRequester } from '../../../server/gateway/stdio-transport.js';
import type { UpstreamConnection } from '../../../server/gateway/upstream.js';

/** A connection with a direct path that answers every request with `answer`, and what it was sent. */
function directConnection(answer: unknown): {
  connection: UpstreamConnection;
  sent: { method: string; params: Record<string, unknown> }[];
} {
  const sent: { method: string; params: Record<string, unknown> }[] = [];
  const direct: DirectRequester = {
    request: (method, params) => {
      sent.push({ method, params });
      return Promise.resolve(answer);
    },
  };
  const connection = { direct, attachRelay: () => undefined, detachRelay: () => undefined } as unknown as UpstreamConnection;
  return { connection, sent };
}

/** A client request without a progress token. */
const ctx = { mcpReq: { signal: new AbortController().signal } } as unknown as ServerContext;

function relay(connection: UpstreamConnection) {
  return relayToolCall(connection, { owner: {}, ctx, name: 'echo', args: { text: 'hi' }, timeoutMs: 1_000 });
}

describe('relayToolCall over a direct path', () => {
  it('sends tools/call by the direct path and answers with the result as the SDK would hand it over', async () => {
    const { connection, sent } = directConnection({ resultType: 'complete', content: [{ type: 'text', text: 'hi' }] });
    await expect(relay(connection)).resolves.toEqual({ content: [{ type: 'text', text: 'hi' }] });
    expect(sent).toEqual([{ method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } }]);
  });

  it("fails a result that is not a tool result with the SDK's invalid-result error", async () => {
    const { connection } = directConnection({ content: [{ type: 'text' }] });
    const failure = await relay(connection).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SdkError);
    expect((failure as SdkError).code).toBe(SdkErrorCode.InvalidResult);
    expect((failure as SdkError).message).toMatch(/^Invalid result for tools\/call: /);
  });
});
