import { describe, expect, it } from '@jest/globals';
import { boundedFetch } from '../../../server/gateway/bounded-fetch.js';
import { OVERSIZED_MESSAGE } from '../../../server/gateway/json-rpc-line-reader.js';

/** A fetch answering with `chunks` as the body, of `type`. */
function serving(chunks: string[], type: string): typeof fetch {
  return async () =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
          controller.close();
        },
      }),
      { headers: { 'content-type': type } },
    );
}

async function body(chunks: string[], type: string, limit: number): Promise<string> {
  const response = await boundedFetch(limit, serving(chunks, type))('http://upstream.test/mcp');
  return response.text();
}

describe('boundedFetch: no upstream answer longer than GATEWAY_MAX_MESSAGE_BYTES is held', () => {
  it('passes SSE events through unchanged, however they are cut into chunks and whatever their line ends', async () => {
    const stream = 'event: message\nid: 1\ndata: {"a":1}\n\nevent: message\r\ndata: {"b":2}\r\n\r\n: keepalive\n\n';
    for (const cut of [1, 2, 3, 5, 7, 13, stream.length]) {
      const chunks = [];
      for (let at = 0; at < stream.length; at += cut) chunks.push(stream.slice(at, at + cut));
      expect(await body(chunks, 'text/event-stream', 64)).toBe(stream);
    }
  });

  it('never cuts a long stream of small events', async () => {
    const event = `event: message\ndata: {"n":"${'x'.repeat(40)}"}\n\n`;
    const stream = event.repeat(200);
    expect(await body([stream.slice(0, 3000), stream.slice(3000)], 'text/event-stream', 128)).toBe(stream);
  });

  it('replaces an oversized event by the error answer to its request, and keeps the events around it', async () => {
    const big = `event: message\nid: 7\ndata: {"result":{"text":"${'y'.repeat(500)}"},"jsonrpc":"2.0","id":42}\n\n`;
    const text = await body(
      ['event: message\ndata: {"before":true}\n\n', big.slice(0, 100), big.slice(100), 'event: message\ndata: {"after":true}\n\n'],
      'text/event-stream',
      200,
    );
    const events = text.split('\n\n').filter(Boolean);
    expect(events[0]).toBe('event: message\ndata: {"before":true}');
    expect(JSON.parse(events[1]!.replace('event: message\ndata: ', ''))).toEqual({
      jsonrpc: '2.0',
      id: 42,
      error: {
        code: -32603,
        message: expect.stringContaining('GATEWAY_MAX_MESSAGE_BYTES, 200 bytes'),
        data: { [OVERSIZED_MESSAGE]: { bytes: big.length, limit: 200 } },
      },
    });
    expect(events[2]).toBe('event: message\ndata: {"after":true}');
  });

  it('drops an oversized event that names no request', async () => {
    const big = `event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"data":"${'z'.repeat(500)}"}}\n\n`;
    expect(await body([big, 'data: {"next":1}\n\n'], 'text/event-stream', 200)).toBe('data: {"next":1}\n\n');
  });

  it('fails a JSON answer past the limit, naming it; passes a shorter one', async () => {
    await expect(body([`{"x":"${'q'.repeat(300)}"}`], 'application/json', 200)).rejects.toThrow('GATEWAY_MAX_MESSAGE_BYTES, 200 bytes');
    expect(await body(['{"x":1}'], 'application/json', 200)).toBe('{"x":1}');
  });
});
