import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { runWithContext } from '../../logging/context.js';

/** A client-supplied id is reused only when it is short and plain, so it cannot inject into logs. */
const ACCEPTABLE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Gives every request an id (the client's `X-Request-Id` when acceptable, else a UUID), echoes it in the response
 * header, and runs the rest of the chain inside a logging context carrying it.
 */
export function requestContext(): RequestHandler {
  return function requestContextMiddleware(req, res, next) {
    const offered = req.get('x-request-id');
    const requestId = offered && ACCEPTABLE_ID.test(offered) ? offered : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    runWithContext({ requestId, response: res }, () => next());
  };
}
