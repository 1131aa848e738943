import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Client, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { CoalescingStdioClientTransport } from '../../../server/gateway/stdio-transport.js';

const fixture = path.resolve('test/fixtures/gateway-upstream.mjs');

/** A client connected to the fixture over the transport, with the errors its Protocol reports. */
async function connectFixture(): Promise<{ client: Client; transport: CoalescingStdioClientTransport; errors: Error[] }> {
  const transport = new CoalescingStdioClientTransport({ command: process.execPath, args: [fixture], stderr: 'pipe' });
  const client = new Client({ name: 'stdio-transport-test', version: '1.0.0' });
  const errors: Error[] = [];
  client.onerror = (error) => void errors.push(error);
  await client.connect(transport);
  return { client, transport, errors };
}

describe('CoalescingStdioClientTransport direct requests', () => {
  let client: Client | undefined;

  afterEach(async () => {
    await client?.close();
    client = undefined;
  });

  it("answers direct requests itself, interleaved with the SDK client's own requests on the same connection", async () => {
    const connected = await connectFixture();
    client = connected.client;
    const echo = (text: string) => connected.transport.request('tools/call', { name: 'echo', arguments: { text } }, {});
    const [first, listed, second] = await Promise.all([echo('one'), client.listTools(), echo('two')]);
    expect(first).toEqual({ content: [{ type: 'text', text: 'one' }] });
    expect(second).toEqual({ content: [{ type: 'text', text: 'two' }] });
    expect(listed.tools.map((tool) => tool.name)).toContain('echo');
    // The Protocol never saw the direct answers: it would report each as a response to an unknown id.
    expect(connected.errors).toEqual([]);
  });

  it('fails every direct request still waiting as soon as the upstream dies', async () => {
    const connected = await connectFixture();
    client = connected.client;
    const hang = () =>
      connected.transport.request('tools/call', { name: 'hang', arguments: {} }, {}).then(
        () => 'answered',
        (error: unknown) => error,
      );
    const calls = [hang(), hang()];
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    process.kill(connected.transport.pid!, 'SIGKILL');
    const outcomes = await Promise.all(calls);
    expect(Date.now() - started).toBeLessThan(2_000);
    for (const outcome of outcomes) {
      expect(outcome).toBeInstanceOf(SdkError);
      expect((outcome as SdkError).code).toBe(SdkErrorCode.ConnectionClosed);
    }
  });
});
