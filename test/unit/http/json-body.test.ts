import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import { AppError } from '../../../server/errors/app-error.js';
import { jsonBody } from '../../../server/http/middleware/json-body.js';

/** A real server whose one route echoes what the middleware put in `req.body`, or the error it raised. */
describe('jsonBody middleware', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const app = express();
    app.post('/', jsonBody({ limit: 64 }), (req, res) => void res.json({ body: req.body === undefined ? 'undefined' : req.body }));
    // As on the MCP routes: an asynchronous step (authentication) before the body is read. `flowing` tells whether
    // the body was read through 'data' events (true) or straight from the parser's buffer (null).
    const later: express.RequestHandler = (_req, _res, next) => void Promise.resolve().then(() => next());
    app.post(
      '/after-auth',
      later,
      jsonBody({ limit: 64 }),
      (req, res) => void res.json({ body: req.body ?? 'undefined', flowing: req.readableFlowing }),
    );
    app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(error instanceof AppError ? error.status : 500).json({ error: error instanceof AppError ? error.code : String(error) });
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const post = async (body: string | Buffer | undefined, headers: Record<string, string>) => {
    const response = await fetch(url, { method: 'POST', headers, ...(body !== undefined ? { body } : {}) });
    return { status: response.status, json: (await response.json()) as { body?: unknown; error?: string } };
  };

  it('parses JSON and +json bodies, any JSON value', async () => {
    expect(await post('{"a":1}', { 'content-type': 'application/json' })).toEqual({ status: 200, json: { body: { a: 1 } } });
    expect(await post('[1,2]', { 'content-type': 'application/vnd.x+json; charset=utf-8' })).toEqual({
      status: 200,
      json: { body: [1, 2] },
    });
    expect(await post('"text"', { 'content-type': 'Application/JSON' })).toEqual({ status: 200, json: { body: 'text' } });
  });

  it('leaves other types alone and treats an empty JSON body as {}', async () => {
    expect(await post('{"a":1}', { 'content-type': 'text/plain' })).toEqual({ status: 200, json: { body: 'undefined' } });
    expect(await post('', { 'content-type': 'application/json' })).toEqual({ status: 200, json: { body: {} } });
  });

  it('answers malformed JSON with 400 and a body over the limit with 413, declared or streamed', async () => {
    expect((await post('{"a":', { 'content-type': 'application/json' })).status).toBe(400);
    expect((await post(JSON.stringify({ x: 'y'.repeat(100) }), { 'content-type': 'application/json' })).status).toBe(413);
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        url,
        { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(`{"x":"${'y'.repeat(40)}`);
      req.end(`${'y'.repeat(40)}"}`);
    });
    expect(streamed).toBe(413);
  });

  it('reads a body that arrived whole from the buffer, and one still arriving from its events', async () => {
    /** Node's client writes the headers and a body given to `end()` in one packet; `split` sends the body 50 ms later. */
    const afterAuth = (body: string, split = false) =>
      new Promise<unknown>((resolve, reject) => {
        const req = httpRequest(
          `${url}after-auth`,
          { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } },
          (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
            res.on('end', () => resolve(JSON.parse(text)));
          },
        );
        req.on('error', reject);
        if (!split) return void req.end(body);
        req.flushHeaders();
        setTimeout(() => req.end(body), 50);
      });
    expect(await afterAuth('{"whole":"é"}')).toEqual({ body: { whole: 'é' }, flowing: null });
    expect(await afterAuth('')).toEqual({ body: {}, flowing: null });
    expect(await afterAuth('{"a":')).toEqual({ error: 'invalid_json' });
    // The request is not complete when the middleware runs.
    expect(await afterAuth('{"split":[1,2,3]}', true)).toEqual({ body: { split: [1, 2, 3] }, flowing: true });
  });

  it('hands compressed bodies to body-parser, which inflates them', async () => {
    const result = await post(gzipSync('{"zipped":true}'), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(result).toEqual({ status: 200, json: { body: { zipped: true } } });
  });
});
