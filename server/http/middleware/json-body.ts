import express, { type Request, type RequestHandler, type Response } from 'express';
import { AppError, AppErrorCode } from '../../errors/app-error.js';

/** Options of {@link jsonBody}. */
export interface JsonBodyOptions {
  /** Most bytes accepted (MAX_BODY_BYTES); more is a 413. */
  limit: number;
}

const JSON_TYPE = /^application\/(?:[^/;\s]+\+)?json$/;

/**
 * A body over the limit is still read, and thrown away, up to this many bytes in all and for this long before the
 * 413 goes out: a client that is still sending when the server answers and closes sees its write fail (EPIPE, a
 * reset) and often never reads the answer. Past either bound the 413 is sent at once with `Connection: close`.
 */
export const OVERSIZED_DRAIN_BYTES = 64 * 1024 * 1024;
export const OVERSIZED_DRAIN_MS = 10_000;

const tooLarge = () => new AppError(AppErrorCode.BodyTooLarge, 'Request body too large (MAX_BODY_BYTES)');

/**
 * Reads and discards the rest of `req` (of which `received` bytes are already read), then calls `done`; gives up at
 * {@link OVERSIZED_DRAIN_BYTES} or {@link OVERSIZED_DRAIN_MS} and asks for the connection to be closed instead
 * (`res.locals.bodyAbandoned`).
 */
export function drainThen(req: Request, res: Response, received: number, done: () => void): void {
  let total = received;
  const finish = (close: boolean) => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('aborted', onEnd);
    req.off('error', onEnd);
    if (close) {
      req.pause();
      res.setHeader('Connection', 'close');
      res.locals.bodyAbandoned = true;
    }
    done();
  };
  const onData = (chunk: Buffer) => {
    total += chunk.length;
    if (total > OVERSIZED_DRAIN_BYTES) finish(true);
  };
  const onEnd = () => finish(false);
  const timer = setTimeout(() => finish(true), OVERSIZED_DRAIN_MS);
  timer.unref();
  if (req.complete || req.readableEnded) return finish(false);
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('aborted', onEnd);
  req.on('error', onEnd);
  req.resume();
}

/**
 * Parses a JSON request body into `req.body`, as `express.json({ strict: false })` would, for the MCP routes that
 * take one on every call. The common case (uncompressed UTF-8 JSON) is read here directly: one buffer, one
 * `JSON.parse`, no content-type library work per call. Compressed bodies and explicit non-UTF-8 charsets go to
 * body-parser, which inflates and decodes them. Like body-parser: a body of another type, or none, leaves `req.body`
 * undefined; an empty JSON body is `{}`; errors are 413 (too large), 400 (not JSON, or cut short).
 */
export function jsonBody({ limit }: JsonBodyOptions): RequestHandler {
  const fallback = express.json({ limit, strict: false, type: ['application/json', 'application/*+json'] });
  return function readJsonBody(req, res, next) {
    const contentType = req.headers['content-type'];
    if (!contentType) return next();
    const separator = contentType.indexOf(';');
    const mediaType = (separator === -1 ? contentType : contentType.slice(0, separator)).trim().toLowerCase();
    if (!JSON_TYPE.test(mediaType)) return next();
    const encoding = req.headers['content-encoding'];
    const charset = separator === -1 ? undefined : /charset\s*=\s*"?([^";\s]+)/i.exec(contentType.slice(separator))?.[1]?.toLowerCase();
    if ((encoding && encoding.toLowerCase() !== 'identity') || (charset && charset !== 'utf-8' && charset !== 'utf8'))
      return fallback(req, res, next);
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return next();
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      if (declared <= OVERSIZED_DRAIN_BYTES) return drainThen(req, res, 0, () => next(tooLarge()));
      res.setHeader('Connection', 'close');
      res.locals.bodyAbandoned = true;
      return next(tooLarge());
    }

    const parse = (raw: string) => {
      // body-parser's decoder drops a leading byte order mark; JSON.parse would refuse it.
      const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
      if (text.length === 0) {
        req.body = {};
        return next();
      }
      try {
        req.body = JSON.parse(text);
      } catch {
        return next(new AppError(AppErrorCode.InvalidJson, 'Parse error: request body is not valid JSON'));
      }
      next();
    };

    // The usual short call: the body came in the headers' packet, and by the time an earlier asynchronous step
    // (authentication) hands over, the parser has buffered all the declared bytes. Read them now instead of waiting a
    // few ticks for 'data' and 'end' (`req.complete` is set later still, after the microtasks of the body's callback).
    if (Number.isFinite(declared) && req.readableLength === declared && !req.readableFlowing) {
      const body = declared === 0 ? null : (req.read() as Buffer | null);
      return parse(body === null ? '' : body.toString('utf8'));
    }

    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const detach = () => {
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('aborted', onAborted);
      req.off('error', onAborted);
    };
    const finish = (error?: AppError) => {
      if (settled) return;
      detach();
      if (error) {
        req.pause();
        return next(error);
      }
      parse(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, received).toString('utf8'));
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        detach();
        chunks.length = 0;
        return drainThen(req, res, received, () => next(tooLarge()));
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      if (!Number.isNaN(declared) && received !== declared)
        return finish(new AppError(AppErrorCode.InvalidJson, 'Request body was cut short'));
      finish();
    };
    const onAborted = () => finish(new AppError(AppErrorCode.InvalidJson, 'Request body was cut short'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('aborted', onAborted);
    req.on('error', onAborted);
  };
}
