import { describe, expect, it } from '@jest/globals';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { DirectRoutes } from '../../../server/http/direct-routes.js';

/** Runs the middleware on a request and reports what happened: the handler's record, or where `next` went. */
async function dispatch(routes: DirectRoutes, method: string, url: string): Promise<{ seen?: unknown; next?: unknown }> {
  const req = { method, url } as Request;
  const outcome: { seen?: unknown; next?: unknown } = {};
  await new Promise<void>((resolve) => {
    const res = { locals: {}, end: (value: unknown) => ((outcome.seen = value), resolve()) } as unknown as Response;
    const next: NextFunction = (error?: unknown) => {
      outcome.next = error ?? 'fell through';
      resolve();
    };
    routes.middleware()(req, res, next);
  });
  return outcome;
}

const answer: RequestHandler = (req, res) => {
  (res as unknown as { end(value: unknown): void }).end({ params: req.params, route: (req.route as { path: string }).path, steps: res.locals.steps });
};
const step: RequestHandler = (_req, res, next) => {
  res.locals.steps = [...((res.locals.steps as string[] | undefined) ?? []), 'step'];
  next();
};

describe('DirectRoutes', () => {
  const routes = new DirectRoutes()
    .add('/mcp', 'POST', [step, step, answer])
    .add('/servers/:name/mcp', 'GET', [step, answer])
    .add('/fails', 'POST', [
      () => {
        throw new Error('thrown');
      },
    ])
    .add('/rejects', 'POST', [async () => Promise.reject(new Error('rejected'))]);

  it('runs the whole chain of an exact path, with the template as the route and the query ignored', async () => {
    expect(await dispatch(routes, 'POST', '/mcp?x=1')).toEqual({ seen: { params: {}, route: '/mcp', steps: ['step', 'step'] } });
  });

  it('decodes parameters like the router does', async () => {
    expect((await dispatch(routes, 'GET', '/servers/my%20server/mcp')).seen).toMatchObject({ params: { name: 'my server' }, route: '/servers/:name/mcp' });
  });

  it('leaves everything else to the routers: other methods, trailing slashes, extra segments, bad escapes', async () => {
    for (const [method, url] of [
      ['GET', '/mcp'],
      ['POST', '/mcp/'],
      ['GET', '/servers/a/b/mcp'],
      ['GET', '/servers//mcp'],
      ['GET', '/servers/%E0%A4%A/mcp'],
    ] as const) {
      expect(await dispatch(routes, method, url)).toEqual({ next: 'fell through' });
    }
  });

  it('hands thrown errors and rejected promises to the error handler', async () => {
    expect(((await dispatch(routes, 'POST', '/fails')).next as Error).message).toBe('thrown');
    expect(((await dispatch(routes, 'POST', '/rejects')).next as Error).message).toBe('rejected');
  });

  it('refuses a parameter that is not a whole segment', () => {
    expect(() => new DirectRoutes().add('/a/x:name', 'GET', [])).toThrow('whole path segment');
  });
});
