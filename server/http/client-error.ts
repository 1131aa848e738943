import type { Duplex } from 'node:stream';

/** How long a connection whose request could not be parsed is still read, and what arrives thrown away, after its answer. */
export const CLIENT_ERROR_LINGER_MS = 2_000;

/** Node's answers by parser error code (as its default `clientError` handler gives them); anything else is a 400. */
const STATUS_LINES: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: '413 Payload Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

const answered = new WeakSet<Duplex>();

/**
 * The `clientError` handler of the HTTP server: a request Node cannot parse (an unknown method, a malformed request
 * line or header) gets Node's own answer, then a staged close (RFC 9112 §9.6): the connection is half-closed and
 * what the client is still sending is read and dropped for up to {@link CLIENT_ERROR_LINGER_MS}. Node's default
 * destroys the socket at once, so a client still writing its body got a reset instead of the answer. A connection
 * that failed (reset, timed out mid-answer) is destroyed as before.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (answered.has(socket)) return; // the parser reports every further chunk of a connection it gave up on
  answered.add(socket);
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || error.code === 'ECONNRESET' || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  socket.end(`HTTP/1.1 ${STATUS_LINES[error.code ?? ''] ?? '400 Bad Request'}\r\nConnection: close\r\n\r\n`);
  const timer = setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  socket.resume();
}
