import { describe, expect, it } from '@jest/globals';
import { classifyJsonRpc, isJsonRpcEnvelope, isJsonRpcPayload } from '../../../server/mcp/jsonrpc.js';
import { JSON_RPC_CASES } from './jsonrpc-cases.js';

describe('isJsonRpcPayload', () => {
  it.each([
    [{ jsonrpc: '2.0', id: 1, method: 'ping' }],
    [{ jsonrpc: '2.0', id: 'a', method: 'tools/call', params: {} }],
    [{ jsonrpc: '2.0', method: 'notifications/initialized' }],
    [{ jsonrpc: '2.0', id: 3, result: {} }],
    [{ jsonrpc: '2.0', id: 3, error: { code: -1, message: 'x' } }],
    [
      [
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        { jsonrpc: '2.0', method: 'notifications/x' },
      ],
    ],
  ])('accepts %j', (body) => {
    expect(isJsonRpcPayload(body)).toBe(true);
  });

  it.each([
    ['just a string'],
    [42],
    [null],
    [[]],
    [{ hello: 'world' }],
    [{ jsonrpc: '1.0', id: 1, method: 'ping' }],
    [{ jsonrpc: '2.0', id: 1 }],
    [{ jsonrpc: '2.0', id: 1.5, method: 'ping' }],
    [{ jsonrpc: '2.0', id: { x: 1 }, method: 'ping' }],
    [{ jsonrpc: '2.0', method: 7 }],
    [[{ jsonrpc: '2.0', id: 1, method: 'ping' }, 'junk']],
  ])('refuses %j', (body) => {
    expect(isJsonRpcPayload(body)).toBe(false);
  });
});

describe('the shared JSON-RPC case table', () => {
  it.each(JSON_RPC_CASES)('HTTP check: $name -> $http', ({ message, http }) => {
    expect(isJsonRpcPayload(message)).toBe(http);
  });

  it('gives a reason wherever the three checks disagree, and nothing else', () => {
    for (const row of JSON_RPC_CASES) {
      const agree = (row.sdk !== 'invalid') === row.envelope && row.envelope === row.http;
      expect({ name: row.name, explained: row.why !== undefined }).toEqual({ name: row.name, explained: !agree });
    }
  });

  it('nests the rule sets as jsonrpc.ts documents them', () => {
    for (const { name, message } of JSON_RPC_CASES) {
      const kind = classifyJsonRpc(message);
      // What the SDK takes, the stdio reader takes (it checks less).
      if (kind !== 'invalid') expect({ name, envelope: isJsonRpcEnvelope(message) }).toEqual({ name, envelope: true });
      // What the stdio reader takes, the HTTP check takes, but for a response without an id.
      const idless = typeof message === 'object' && message !== null && !('id' in message) && !('method' in message);
      if (isJsonRpcEnvelope(message) && !idless) expect({ name, http: isJsonRpcPayload(message) }).toEqual({ name, http: true });
    }
  });
});
