import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { DirectRoutes } from '../../../server/http/direct-routes.js';

describe('DirectRoutes in front of an Express app', () => {
  let server: Server;
  let base: string;
  const seen: string[] = [];

  const prelude: RequestHandler = (req, res, next) => {
    res.setHeader('X-Prelude', '1');
    res.locals.steps = ['prelude'];
    next();
  };
  const step: RequestHandler = (_req, res, next) => {
    (res.locals.steps as string[]).push('step');
    next();
  };
  const answer: RequestHandler = (req, res) => {
    seen.push('direct');
    // Express helpers work: the request and response have the app's prototypes.
    res
      .status(200)
      .json({
        params: req.params,
        route: (req.route as { path: string }).path,
        steps: res.locals.steps,
        base: req.baseUrl,
        original: req.originalUrl,
        header: req.get('x-test') ?? null,
      });
  };
  const onError: ErrorRequestHandler = (error: Error & { status?: number }, _req, res, _next) => {
    res.status(error.status ?? 500).json({ error: error.message });
  };

  beforeAll(async () => {
    const app = express();
    app.use(prelude);
    app.use((req, res) => {
      seen.push('express');
      res.status(299).json({ express: req.method + ' ' + req.url });
    });
    const routes = new DirectRoutes()
      .add('/mcp', 'POST', [step, step, answer])
      .add('/servers/:name/mcp', 'GET', [step, answer])
      .add('/fails', 'POST', [
        () => {
          throw Object.assign(new Error('thrown'), { status: 418 });
        },
      ])
      .add('/rejects', 'POST', [async () => Promise.reject(Object.assign(new Error('rejected'), { status: 409 }))])
      .add('/silent', 'POST', [(_req, _res, next) => next()]);
    server = createServer(routes.listener(app, { prelude: [prelude], onError, bypass: (req) => req.headers['x-bypass'] === '1' }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  async function call(
    method: string,
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown>; prelude: string | null }> {
    const response = await fetch(`${base}${path}`, { method, headers });
    return {
      status: response.status,
      body: (await response.json()) as Record<string, unknown>,
      prelude: response.headers.get('x-prelude'),
    };
  }

  it('runs the prelude and the whole chain of an exact path, as Express would set the request up', async () => {
    expect(await call('POST', '/mcp?x=1', { 'x-test': 'yes' })).toEqual({
      status: 200,
      prelude: '1',
      body: { params: {}, route: '/mcp', steps: ['prelude', 'step', 'step'], base: '', original: '/mcp?x=1', header: 'yes' },
    });
  });

  it('decodes parameters like the router does', async () => {
    expect((await call('GET', '/servers/my%20server/mcp')).body).toMatchObject({
      params: { name: 'my server' },
      route: '/servers/:name/mcp',
    });
  });

  it('leaves everything else to the app: other methods, trailing slashes, extra segments, bad escapes, bypassed requests', async () => {
    for (const [method, path, headers] of [
      ['GET', '/mcp', {}],
      ['POST', '/mcp/', {}],
      ['GET', '/servers/a/b/mcp', {}],
      ['GET', '/servers//mcp', {}],
      ['GET', '/servers/%E0%A4%A/mcp', {}],
      ['POST', '/mcp', { 'x-bypass': '1' }],
    ] as const) {
      const answered = await call(method, path, headers);
      expect([method, path, answered.status, answered.prelude]).toEqual([method, path, 299, '1']);
    }
  });

  it("hands thrown errors and rejected promises to the app's error translator, and a chain that answers nothing is a 404", async () => {
    expect(await call('POST', '/fails')).toMatchObject({ status: 418, body: { error: 'thrown' } });
    expect(await call('POST', '/rejects')).toMatchObject({ status: 409, body: { error: 'rejected' } });
    expect(await call('POST', '/silent')).toMatchObject({ status: 404, body: { error: 'No route for POST /silent' } });
  });

  it('refuses a parameter that is not a whole segment', () => {
    expect(() => new DirectRoutes().add('/a/x:name', 'GET', [])).toThrow('whole path segment');
  });
});
