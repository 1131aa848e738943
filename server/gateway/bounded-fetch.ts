import { EDGE, oversizedAnswer } from './json-rpc-line-reader.js';

/**
 * `fetch` for an HTTP upstream that holds no answer longer than `maxMessageBytes` (GATEWAY_MAX_MESSAGE_BYTES): the
 * SDK's HTTP client would buffer any size.
 *
 * - An SSE answer is passed on event by event. An event past the limit is read past, keeping only its ends; in its
 *   place comes a JSON-RPC error for the request it answered (as the stdio reader does), so that call fails at once
 *   with a tool error naming the limit while the stream and the other calls carry on. An oversized event naming no
 *   request is dropped.
 * - A JSON answer past the limit fails its body with an error naming the limit, which fails its call.
 */
export function boundedFetch(maxMessageBytes: number, base: typeof fetch = fetch): typeof fetch {
  return async function fetchWithinLimit(input, init) {
    const response = await base(input, init);
    if (!response.body) return response;
    const events = (response.headers.get('content-type') ?? '').includes('text/event-stream');
    const body = response.body.pipeThrough(events ? boundedEvents(maxMessageBytes) : boundedBody(maxMessageBytes));
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

function tooLong(limit: number): Error {
  return new Error(`The upstream's answer is longer than the gateway relays (GATEWAY_MAX_MESSAGE_BYTES, ${limit} bytes)`);
}

function boundedBody(limit: number): TransformStream<Uint8Array, Uint8Array> {
  let bytes = 0;
  return new TransformStream({
    transform(chunk, controller) {
      bytes += chunk.length;
      if (bytes > limit) controller.error(tooLong(limit));
      else controller.enqueue(chunk);
    },
  });
}

/**
 * Passes SSE events on whole; an event over `limit` becomes the error answer to its request (see boundedFetch). An
 * event ends at a blank line: "\n\n", "\r\n\r\n" (any mix), also when the two line ends arrive in different chunks.
 */
function boundedEvents(limit: number): TransformStream<Uint8Array, Uint8Array> {
  let parts: Buffer[] = [];
  let held = 0;
  let skipped: { bytes: number; head: Buffer; tail: Buffer } | undefined;
  const take = (piece: Buffer) => {
    if (piece.length === 0) return;
    if (skipped) {
      skipped.bytes += piece.length;
      skipped.tail = Buffer.concat([skipped.tail, piece]).subarray(-EDGE);
    } else if (held + piece.length > limit) {
      skipped = {
        bytes: held + piece.length,
        head: Buffer.concat([...parts, piece.subarray(0, 1024)]).subarray(0, 1024),
        tail: Buffer.concat([...parts.slice(-1), piece]).subarray(-EDGE),
      };
      parts = [];
      held = 0;
    } else {
      parts.push(piece);
      held += piece.length;
    }
  };
  const endEvent = (controller: TransformStreamDefaultController<Uint8Array>) => {
    if (skipped) {
      const head = skipped.head.toString('utf8');
      const data = head.indexOf('data:');
      const answer =
        data === -1
          ? undefined
          : oversizedAnswer(head.slice(data + 5).trimStart(), skipped.tail.toString('utf8').trimEnd(), skipped.bytes, limit);
      if (answer) controller.enqueue(Buffer.from(`event: message\ndata: ${JSON.stringify(answer)}\n\n`));
    } else if (held > 0) {
      controller.enqueue(parts.length === 1 ? parts[0]! : Buffer.concat(parts, held));
    }
    parts = [];
    held = 0;
    skipped = undefined;
  };
  /** The line being read, as far as it came: nothing yet, a lone "\r", or more. */
  let line: 'empty' | 'cr' | 'text' = 'empty';
  const extend = (so: typeof line, piece: Buffer): typeof line => {
    if (piece.length === 0) return so;
    if (so === 'empty' && piece.length === 1 && piece[0] === 0x0d) return 'cr';
    return 'text';
  };
  return new TransformStream({
    transform(chunk, controller) {
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      let from = 0;
      let lineStart = 0;
      for (let newline = bytes.indexOf(0x0a); newline !== -1; newline = bytes.indexOf(0x0a, lineStart)) {
        line = extend(line, bytes.subarray(lineStart, newline));
        const blank = line !== 'text';
        line = 'empty';
        lineStart = newline + 1;
        if (!blank) continue;
        take(bytes.subarray(from, lineStart));
        endEvent(controller);
        from = lineStart;
      }
      line = extend(line, bytes.subarray(lineStart));
      take(bytes.subarray(from));
    },
    flush(controller) {
      if (!skipped && held > 0) controller.enqueue(Buffer.concat(parts, held));
    },
  });
}
