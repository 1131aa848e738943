import { describe, expect, it } from '@jest/globals';
import { deserializeMessage, type JSONRPCMessage } from '@modelcontextprotocol/client';
import { JsonRpcLineReader, OVERSIZED_MESSAGE } from '../../../server/gateway/json-rpc-line-reader.js';
import { isJsonRpcEnvelope } from '../../../server/mcp/jsonrpc.js';
import { JSON_RPC_CASES } from '../mcp/jsonrpc-cases.js';

/** Lines an upstream may write: what the SDK's zod parse takes must pass the envelope check, and what it refuses fail. */
const LINES = [
  '{"jsonrpc":"2.0","id":1,"result":{}}',
  '{"jsonrpc":"2.0","id":"gw-7","result":{"content":[{"type":"text","text":"hi"}],"isError":false}}',
  '{"jsonrpc":"2.0","id":1,"result":{"_meta":{"progressToken":1}}}',
  '{"jsonrpc":"2.0","id":1,"result":{"_meta":5}}',
  '{"jsonrpc":"2.0","id":1,"result":[]}',
  '{"jsonrpc":"2.0","id":1,"result":null}',
  '{"jsonrpc":"2.0","id":1.5,"result":{}}',
  '{"jsonrpc":"2.0","id":null,"result":{}}',
  '{"jsonrpc":"2.0","result":{}}',
  '{"jsonrpc":"2.0","id":1,"result":{},"extra":true}',
  '{"jsonrpc":"1.0","id":1,"result":{}}',
  '{"id":1,"result":{}}',
  '{"jsonrpc":"2.0","id":"gw-1","error":{"code":-32050,"message":"quota exceeded","data":{"retryAfterSeconds":60}}}',
  '{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}',
  '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}',
  '{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}',
  '{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"m"}}',
  '{"jsonrpc":"2.0","id":1,"error":{"code":1}}',
  '{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m","extra":1}}',
  '{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"m"},"result":{}}',
  '{"jsonrpc":"2.0","id":3,"method":"sampling/createMessage","params":{"maxTokens":5}}',
  '{"jsonrpc":"2.0","id":"s-1","method":"ping"}',
  '{"jsonrpc":"2.0","id":3,"method":"ping","params":[]}',
  '{"jsonrpc":"2.0","id":3,"method":7}',
  '{"jsonrpc":"2.0","id":3,"method":"ping","result":{}}',
  '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"gw-1","progress":1,"total":3}}',
  '{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}',
  '{"jsonrpc":"2.0","method":"notifications/message","params":null}',
  '{"jsonrpc":"2.0","method":"notifications/message","params":{},"extra":1}',
  '{"jsonrpc":"2.0"}',
  '[{"jsonrpc":"2.0","id":1,"result":{}}]',
  '42',
  '"text"',
  'null',
];

function sdkAccepts(line: string): boolean {
  try {
    deserializeMessage(line);
    return true;
  } catch {
    return false;
  }
}

function readAll(reader: JsonRpcLineReader): { messages: JSONRPCMessage[]; errors: string[] } {
  const messages: JSONRPCMessage[] = [];
  const errors: string[] = [];
  // The SDK transport's loop: an error is reported and reading goes on.
  for (;;) {
    try {
      const message = reader.readMessage();
      if (message === null) return { messages, errors };
      messages.push(message);
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
}

describe('JsonRpcLineReader', () => {
  it.each(LINES)('takes or refuses %s as the SDK deserializer does', (line) => {
    expect(isJsonRpcEnvelope(JSON.parse(line))).toBe(sdkAccepts(line));
  });

  it.each(JSON_RPC_CASES)('shared case: $name -> $envelope', ({ message, sdk, envelope }) => {
    expect(isJsonRpcEnvelope(message)).toBe(envelope);
    // The reader returns what the check takes and reports the rest; the SDK's deserializer takes what its guards take.
    const line = JSON.stringify(message);
    const reader = new JsonRpcLineReader(1024, () => false);
    reader.append(Buffer.from(`${line}\n`));
    expect(readAll(reader)).toEqual(
      envelope ? { messages: [message], errors: [] } : { messages: [], errors: [expect.stringContaining('Invalid JSON-RPC message')] },
    );
    expect(sdkAccepts(line)).toBe(sdk !== 'invalid');
  });

  it('splits a stream into messages across chunk boundaries, CRLF included, skipping lines that are not JSON', () => {
    const reader = new JsonRpcLineReader(1024, () => false);
    const stream =
      '{"jsonrpc":"2.0","id":1,"result":{}}\r\nnot json at all\n\n{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\n{"jsonrpc":"2.0","id":2,';
    for (const part of [stream.slice(0, 10), stream.slice(10, 45), stream.slice(45)]) reader.append(Buffer.from(part));
    expect(readAll(reader)).toEqual({
      messages: [
        { jsonrpc: '2.0', id: 1, result: {} },
        { jsonrpc: '2.0', method: 'notifications/tools/list_changed' },
      ],
      errors: [],
    });
    reader.append(Buffer.from('"result":{"ok":true}}\n'));
    expect(readAll(reader).messages).toEqual([{ jsonrpc: '2.0', id: 2, result: { ok: true } }]);
  });

  it('reports JSON that is not a JSON-RPC message and reads on past it', () => {
    const reader = new JsonRpcLineReader(1024, () => false);
    reader.append(Buffer.from('{"jsonrpc":"2.0","id":1,"result":[]}\n{"jsonrpc":"2.0","id":2,"result":{}}\n'));
    const { messages, errors } = readAll(reader);
    expect(messages).toEqual([{ jsonrpc: '2.0', id: 2, result: {} }]);
    expect(errors).toEqual([expect.stringContaining('Invalid JSON-RPC message')]);
  });

  it('offers every message to claim in arrival order and returns only what it leaves', () => {
    const offered: unknown[] = [];
    const reader = new JsonRpcLineReader(1024, (message) => {
      offered.push('method' in message ? message.method : message.id);
      return 'id' in message && typeof message.id === 'string';
    });
    reader.append(
      Buffer.from(
        [
          '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":1}}',
          '{"jsonrpc":"2.0","id":"gw-1","result":{}}',
          '{"jsonrpc":"2.0","id":4,"result":{}}',
          '',
        ].join('\n'),
      ),
    );
    expect(readAll(reader).messages).toEqual([
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 't', progress: 1 } },
      { jsonrpc: '2.0', id: 4, result: {} },
    ]);
    expect(offered).toEqual(['notifications/progress', 'gw-1', 4]);
  });

  it('reads past a line over its maximum, holding only its ends, and answers the request it names with an error', () => {
    const reader = new JsonRpcLineReader(64, () => false);
    const result = `{"result":{"content":[{"type":"text","text":"${'x'.repeat(5000)}"}]},"jsonrpc":"2.0","id":"gw-7"}`;
    for (let at = 0; at < result.length; at += 100) reader.append(Buffer.from(result.slice(at, at + 100)));
    expect((reader as unknown as { partBytes: number }).partBytes).toBe(0);
    reader.append(Buffer.from('\n{"jsonrpc":"2.0","id":8,"result":{}}\n'));
    expect(reader.readMessage()).toEqual({
      jsonrpc: '2.0',
      id: 'gw-7',
      error: {
        code: -32603,
        message: expect.stringContaining(`${result.length} bytes`),
        data: { [OVERSIZED_MESSAGE]: { bytes: result.length, limit: 64 } },
      },
    });
    expect(reader.readMessage()).toEqual({ jsonrpc: '2.0', id: 8, result: {} });
  });

  it('while reading past an oversized line, holds copies of its ends, not the megabyte read before the limit', () => {
    const reader = new JsonRpcLineReader(1024 * 1024, () => false);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    reader.append(Buffer.from('{"jsonrpc":"2.0","id":"gw-9","result":"'));
    for (let i = 0; i < 40; i += 1) reader.append(chunk);
    const { head, tail } = (reader as unknown as { skipping: { head: Buffer; tail: Buffer } }).skipping;
    // A pooled copy shares at most Node's 8 KiB allocation pool; a view would keep the megabyte alive.
    expect(head.buffer.byteLength).toBeLessThanOrEqual(8192);
    expect(tail.buffer.byteLength).toBeLessThanOrEqual(8192);
    reader.append(Buffer.from('"}\n'));
    expect(reader.readMessage()).toMatchObject({ id: 'gw-9', error: { data: { [OVERSIZED_MESSAGE]: { limit: 1024 * 1024 } } } });
  });

  it('finds the id at the start of an oversized line too, and drops one without an id, saying so', () => {
    const reader = new JsonRpcLineReader(32, () => false);
    reader.append(Buffer.from(`{"jsonrpc":"2.0","id":12,"result":{"text":"${'y'.repeat(100)}"}}\n`));
    reader.append(Buffer.from(`{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"${'z'.repeat(100)}"}}\n`));
    expect(reader.readMessage()).toMatchObject({ id: 12, error: { code: -32603 } });
    expect(() => reader.readMessage()).toThrow('Dropped a message of');
    expect(reader.readMessage()).toBeNull();
  });
});
