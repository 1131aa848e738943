/**
 * One stdio client transport contract (stdio-client.cases.ts), two implementations: the SDK's `StdioClientTransport`
 * and the gateway's `CoalescingStdioClientTransport` (server/gateway/stdio-transport.ts), which replaces its line
 * reader with `JsonRpcLineReader` and coalesces writes.
 */
import { describe } from '@jest/globals';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { CoalescingStdioClientTransport } from '../../server/gateway/stdio-transport.js';
import { stdioClientCases, type StdioTarget } from './stdio-client.cases.js';

const targets: Array<[string, StdioTarget]> = [
  ['sdk', { implementation: 'sdk', create: (server) => new StdioClientTransport(server) }],
  ['ours', { implementation: 'ours', create: (server) => new CoalescingStdioClientTransport(server) }],
];

describe.each(targets)('stdio client transport contract: %s', (_name, target) => {
  stdioClientCases(() => target);
});
