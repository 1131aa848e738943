import type { RequestHandler } from 'express';
import type { Logger } from '../../logging/logger.js';

/**
 * One structured line per HTTP request, written when the response ends (for SSE streams: when the stream closes).
 * The query string is dropped: it may carry session ids and is never needed to read the log.
 */
export function accessLog(logger: Logger): RequestHandler {
  return function accessLogMiddleware(req, res, next) {
    // Formatting a line that the level then drops costs tens of microseconds per request: skip it up front.
    if (!logger.isLevelEnabled('http')) return next();
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      logger.http('request', {
        requestId: res.locals.requestId as string | undefined,
        method: req.method,
        path: req.originalUrl.split('?')[0],
        status: res.statusCode,
        durationMs: Math.round(durationMs * 10) / 10,
        ip: req.ip,
        userAgent: req.get('user-agent'),
        completed: res.writableFinished,
        clientId: res.locals.caller?.clientId as string | undefined,
      });
    });
    next();
  };
}
