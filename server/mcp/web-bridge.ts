import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/server';
import { answerBarrier } from '../events/durable-writes.js';

/**
 * Builds the web-standard `Request` the SDK's web transports take from a Node request whose body was already
 * parsed (the transport receives it as `parsedBody`, so no body is attached and nothing is serialised again).
 * The URL's host is fixed: Host was validated earlier and the transport never reads it.
 */
export function toBodylessWebRequest(req: IncomingMessage, signal?: AbortSignal): Request {
  return new Request(`http://localhost${req.url ?? '/'}`, {
    method: req.method ?? 'GET',
    headers: webHeaders(req),
    ...(signal ? { signal } : {}),
  });
}

function webHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.set(name, value);
  }
  return headers;
}

/** What the SDK's web-standard handlers take besides the request. */
export interface WebHandlerOptions {
  parsedBody?: unknown;
  authInfo?: AuthInfo;
}

/**
 * Serves a Node request with one of the SDK's web-standard handlers (`createMcpHandler(...).fetch`, the legacy
 * stateless fallback): the request's signal aborts when the client goes away, and the response is streamed back.
 * Errors the handler throws propagate to the caller (the HTTP layer's error translator answers them).
 */
export async function serveWebHandler(
  fetch: (request: Request, options: WebHandlerOptions) => Promise<Response>,
  req: IncomingMessage & { auth?: AuthInfo },
  res: ServerResponse,
  body: unknown,
): Promise<void> {
  const abort = new AbortController();
  let finished = false;
  const onClose = () => {
    if (!finished) abort.abort();
  };
  res.once('close', onClose);
  try {
    const response = await fetch(toBodylessWebRequest(req, abort.signal), {
      ...(body !== undefined ? { parsedBody: body } : {}),
      ...(req.auth ? { authInfo: req.auth } : {}),
    });
    await writeWebResponse(response, res);
  } finally {
    finished = true;
    res.off('close', onClose);
  }
}

/**
 * Writes a web `Response` to a Node response, streaming its body with backpressure. If the client goes away first,
 * the body stream is cancelled, which is how the SDK transport learns that a stream closed.
 *
 * Few writes per response: headers go out with the first chunk when it is already queued (a POST's SSE answer has
 * its priming event ready), and chunks that follow each other without a wait share one socket write (corked until the
 * next tick), so a typical tool call answer is two writes instead of four. When no chunk is ready (a GET stream) the
 * headers are flushed after one turn of the event loop, so the client sees the stream open before the first event.
 *
 * Written here instead of using the SDK's Node wrapper because that wrapper's adapter delays every streamed response
 * that has one chunk ready by a timer tick (about 1 ms per request, measured in bench:transport).
 */
export async function writeWebResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const onClose = () => void reader.cancel().catch(() => undefined);
  res.once('close', onClose);
  let uncorkScheduled = false;
  const uncork = () => {
    uncorkScheduled = false;
    res.uncork();
  };
  try {
    let next = reader.read();
    const first = await Promise.race([next, new Promise<typeof NOT_READY>((resolve) => setImmediate(resolve, NOT_READY))]);
    if (first === NOT_READY) res.flushHeaders();
    else next = Promise.resolve(first);
    for (;;) {
      const { done, value } = await next;
      if (done) break;
      // An answer goes out only once the events of what it acknowledges are stored (events/durable-writes.ts).
      const held = answerBarrier();
      if (held) await held;
      // A shutdown may have answered and ended the response meanwhile (streamable-endpoint answerPending).
      if (res.writableEnded) break;
      if (!uncorkScheduled) {
        res.cork();
        uncorkScheduled = true;
        process.nextTick(uncork);
      }
      const flowing = res.write(value);
      if (res.destroyed) break;
      next = reader.read();
      if (!flowing) {
        await new Promise<void>((resolve) => {
          const settle = () => {
            res.off('drain', settle);
            res.off('close', settle);
            resolve();
          };
          res.once('drain', settle);
          res.once('close', settle);
        });
      }
    }
  } catch {
    // The stream was cancelled because the client left; nothing more to write.
  } finally {
    res.off('close', onClose);
    if (!res.writableEnded && !res.destroyed) res.end();
  }
}

const NOT_READY = Symbol('not ready');
