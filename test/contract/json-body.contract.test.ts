/**
 * The MCP routes' JSON body reader (server/http/middleware/json-body.ts) against what it stands in for,
 * `express.json({ limit, strict: false, type: ['application/json', 'application/*+json'] })`: each body is posted to
 * a route behind either parser, followed by the app's own error translator, and must come out the same — the parsed
 * `req.body` (or none), or the same error status and body.
 *
 * test/unit/http/json-body.test.ts covers how the reader reads (from the buffer or from events); this suite holds
 * what it reads to body-parser.
 */
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express, { type RequestHandler } from 'express';
import { errorHandler } from '../../server/http/middleware/error-handler.js';
import { jsonBody } from '../../server/http/middleware/json-body.js';
import { createSilentLogger } from '../../server/logging/logger.js';

const LIMIT = 1024;

/** One request body and how it is sent. */
interface BodyCase {
  name: string;
  headers: Record<string, string>;
  body?: Buffer | string;
  /** Send the body in pieces with Transfer-Encoding: chunked instead of a Content-Length. */
  chunked?: boolean;
  /** The status both must answer (200: parsed or left alone). */
  status: number;
  /** Where ours answers otherwise on purpose: what it answers instead, and why. */
  intended?: { ours: Outcome; why: string };
}

interface Outcome {
  status: number;
  body: unknown;
}

const json = (type = 'application/json') => ({ 'content-type': type });
const big = JSON.stringify({ x: 'y'.repeat(LIMIT) });

const CASES: BodyCase[] = [
  { name: 'an object', headers: json(), body: '{"jsonrpc":"2.0","id":1,"method":"ping"}', status: 200 },
  { name: 'an array', headers: json(), body: '[1,{"a":[true,null]}]', status: 200 },
  { name: 'a bare string (strict: false)', headers: json(), body: '"text"', status: 200 },
  { name: 'a number', headers: json(), body: ' 42 ', status: 200 },
  { name: 'null', headers: json(), body: 'null', status: 200 },
  { name: 'non-ASCII text', headers: json(), body: '{"text":"héllo ✓ 日本"}', status: 200 },
  {
    name: 'a UTF-8 byte order mark before the JSON',
    headers: json(),
    body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"bom":true}')]),
    status: 200,
  },
  { name: 'a +json media type', headers: json('application/vnd.api+json'), body: '{"a":1}', status: 200 },
  { name: 'the type in other letter case', headers: json('Application/JSON'), body: '{"a":1}', status: 200 },
  { name: 'charset=utf-8', headers: json('application/json; charset=utf-8'), body: '{"a":1}', status: 200 },
  { name: 'charset=UTF-8 quoted', headers: json('application/json;charset="UTF-8"'), body: '{"a":1}', status: 200 },
  {
    name: 'charset=utf8',
    headers: json('application/json; charset=utf8'),
    body: '{"a":1}',
    status: 415,
    intended: {
      ours: { status: 200, body: { body: { a: 1 } } },
      why: 'utf8 is a common alias of UTF-8, read as such; body-parser only takes utf-* names',
    },
  },
  {
    name: 'charset=iso-8859-1',
    headers: json('application/json; charset=iso-8859-1'),
    body: Buffer.from('{"a":"caf\xe9"}', 'latin1'),
    status: 415,
  },
  { name: 'charset=utf-16le', headers: json('application/json; charset=utf-16le'), body: Buffer.from('{"a":1}', 'utf16le'), status: 200 },
  { name: 'an unknown charset', headers: json('application/json; charset=no-such-charset'), body: '{"a":1}', status: 415 },
  { name: 'parameters other than charset', headers: json('application/json; profile="x"'), body: '{"a":1}', status: 200 },
  { name: 'invalid JSON', headers: json(), body: '{"a":', status: 400 },
  { name: 'two JSON values', headers: json(), body: '{"a":1}{"b":2}', status: 400 },
  { name: 'an empty body', headers: json(), body: '', status: 200 },
  { name: 'whitespace only', headers: json(), body: '  \n', status: 400 },
  { name: 'no body and no length', headers: json(), status: 200 },
  { name: 'text/plain', headers: json('text/plain'), body: '{"a":1}', status: 200 },
  { name: 'text/json', headers: json('text/json'), body: '{"a":1}', status: 200 },
  { name: 'application/jsonx', headers: json('application/jsonx'), body: '{"a":1}', status: 200 },
  { name: 'a form', headers: json('application/x-www-form-urlencoded'), body: 'a=1', status: 200 },
  { name: 'no content type', headers: {}, body: '{"a":1}', status: 200 },
  { name: 'exactly the limit', headers: json(), body: JSON.stringify({ x: 'y'.repeat(LIMIT - 8) }), status: 200 },
  { name: 'over the limit, declared', headers: json(), body: big, status: 413 },
  { name: 'over the limit, chunked', headers: json(), body: big, chunked: true, status: 413 },
  { name: 'chunked within the limit', headers: json(), body: '{"chunked":[1,2,3]}', chunked: true, status: 200 },
  { name: 'gzip', headers: { ...json(), 'content-encoding': 'gzip' }, body: gzipSync('{"zipped":true}'), status: 200 },
  { name: 'deflate', headers: { ...json(), 'content-encoding': 'deflate' }, body: deflateSync('{"deflated":true}'), status: 200 },
  { name: 'identity encoding', headers: { ...json(), 'content-encoding': 'identity' }, body: '{"a":1}', status: 200 },
  { name: 'gzip inflating past the limit', headers: { ...json(), 'content-encoding': 'gzip' }, body: gzipSync(big), status: 413 },
  { name: 'an unsupported encoding', headers: { ...json(), 'content-encoding': 'compress' }, body: '{"a":1}', status: 415 },
  // A body that does not inflate is the client's mistake: 400 from both.
  { name: 'gzip that is not gzip', headers: { ...json(), 'content-encoding': 'gzip' }, body: '{"a":1}', status: 400 },
];

function send(url: string, c: BodyCase): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const body = c.body === undefined ? undefined : Buffer.isBuffer(c.body) ? c.body : Buffer.from(c.body, 'utf8');
    const headers: Record<string, string> = { ...c.headers };
    if (body && c.chunked) headers['transfer-encoding'] = 'chunked';
    else if (body) headers['content-length'] = String(body.length);
    const req = request(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as unknown) : '' }));
    });
    req.on('error', reject);
    if (body && c.chunked) {
      // Two pieces, the second after the first has surely been read.
      req.write(body.subarray(0, Math.floor(body.length / 2)));
      setTimeout(() => req.end(body.subarray(Math.floor(body.length / 2))), 20);
    } else {
      req.end(body);
    }
  });
}

describe('jsonBody reads what express.json() reads', () => {
  const servers: Server[] = [];
  const urls: Record<'ours' | 'express', string> = { ours: '', express: '' };

  beforeAll(async () => {
    const parsers: Record<'ours' | 'express', RequestHandler> = {
      ours: jsonBody({ limit: LIMIT }),
      express: express.json({ limit: LIMIT, strict: false, type: ['application/json', 'application/*+json'] }),
    };
    for (const name of ['ours', 'express'] as const) {
      const app = express();
      app.post('/', parsers[name], (req, res) => void res.json({ body: req.body === undefined ? '(none)' : (req.body as unknown) }));
      app.use(errorHandler(createSilentLogger()));
      const server = app.listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      servers.push(server);
      urls[name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    }
  });
  afterAll(async () => {
    for (const server of servers) await new Promise((resolve) => server.close(resolve));
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const ours = await send(urls.ours, c);
    const reference = await send(urls.express, c);
    expect(reference.status).toBe(c.status);
    expect(ours).toEqual(c.intended ? c.intended.ours : reference);
  });
});
