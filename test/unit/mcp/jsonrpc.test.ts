import { describe, expect, it } from '@jest/globals';
import { isJsonRpcPayload } from '../../../server/mcp/jsonrpc.js';

describe('isJsonRpcPayload', () => {
  it.each([
    [{ jsonrpc: '2.0', id: 1, method: 'ping' }],
    [{ jsonrpc: '2.0', id: 'a', method: 'tools/call', params: {} }],
    [{ jsonrpc: '2.0', method: 'notifications/initialized' }],
    [{ jsonrpc: '2.0', id: 3, result: {} }],
    [{ jsonrpc: '2.0', id: 3, error: { code: -1, message: 'x' } }],
    [[{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', method: 'notifications/x' }]],
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
