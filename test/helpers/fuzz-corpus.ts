import type { SeededRandom } from './seeded-random.js';

/**
 * A deterministic corpus of malformed HTTP requests across every endpoint of the server, for the fuzz fault test:
 * the same seed and context always give the same cases, so a failing case can be replayed (FAULT_SEED) and printed.
 */

/** Live credentials and ids the corpus mixes in, so cases get past authentication and session lookup. */
export interface FuzzContext {
  token: string;
  /** A token of the same client that revoke and introspect cases name (the first revoke ends it); no case revokes `token`. */
  spareToken: string;
  /** A session most cases use; no case ends it. */
  sessionId: string;
  /** A session DELETE cases may end. */
  spareSessionId: string;
  clientId: string;
  clientSecret: string;
  /** MAX_BODY_BYTES of the server under test: oversized cases go just past it. */
  maxBodyBytes: number;
  /** A gateway upstream that is configured. */
  upstream: string;
}

/** One request. */
export interface FuzzCase {
  index: number;
  family: string;
  method: string;
  /** Path and query, sent as they are. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

type Gen<T> = (r: SeededRandom, ctx: FuzzContext) => T;

const pickGen = <T>(r: SeededRandom, ctx: FuzzContext, gens: ReadonlyArray<Gen<T>>): T => r.pick(gens)(r, ctx);

const PRINTABLE = ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~';
const junk = (r: SeededRandom, length = r.int(0, 40)) => Array.from({ length }, () => r.pick([...PRINTABLE])).join('');

/** Nested JSON text of `depth` levels (objects or arrays). */
const nested = (r: SeededRandom, depth: number) =>
  r.chance(0.5) ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}1${']'.repeat(depth)}`;

/** JSON text of odd values: huge numbers, deep nesting, odd strings. Bounded in size. */
const ODD_VALUES: ReadonlyArray<Gen<string>> = [
  () => 'null',
  () => 'true',
  () => '0',
  () => '-1',
  () => '1.5',
  () => '1e400',
  () => '-1e400',
  () => '123456789012345678901234567890',
  () => String(2 ** 53),
  () => '"x"',
  () => '""',
  () => '[]',
  () => '{}',
  () => '"\\ud800"',
  () => '"\\u0000"',
  (r) => JSON.stringify('é€😀'.repeat(r.int(1, 50))),
  (r) => JSON.stringify('x'.repeat(r.int(1000, 20_000))),
  (r) => nested(r, r.pick([8, 64, 512, 4000, 12_000])),
  (r) => `[${Array.from({ length: r.int(1, 200) }, () => r.int(0, 9)).join(',')}]`,
];
const oddValue: Gen<string> = (r, ctx) => pickGen(r, ctx, ODD_VALUES);

const METHODS = [
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/read',
  'prompts/list',
  'prompts/get',
  'logging/setLevel',
  'completion/complete',
  'tasks/get',
  'tasks/list',
  'tasks/cancel',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'nope/nope',
  '',
];
const TOOLS = (ctx: FuzzContext) => [
  'server_status',
  `${ctx.upstream}__echo`,
  `${ctx.upstream}__hang`,
  `${ctx.upstream}__garbage`,
  'claude_ask',
  'nope',
  '',
  `${ctx.upstream}__`,
];

/** `params` for a method: mostly well-shaped, sometimes odd. */
const params: Gen<string | undefined> = (r, ctx) =>
  pickGen(r, ctx, [
    () => undefined,
    () => '{}',
    () =>
      JSON.stringify({
        protocolVersion: r.pick(['2025-11-25', '2025-06-18', '2024-11-05', '2026-07-28', 'x', '']),
        capabilities: r.pick([{}, null, [], 'x']),
        clientInfo: r.pick([{ name: 'f', version: '1' }, {}, 'x']),
      }),
    () => `{"name":${JSON.stringify(r.pick(TOOLS(ctx)))},"arguments":${r.pick(['{}', '{"text":"hi"}', '[]', '"x"', 'null'])}}`,
    () => `{"name":${JSON.stringify(r.pick(TOOLS(ctx)))},"arguments":{"text":${oddValue(r, ctx)}}}`,
    () => `{"uri":${oddValue(r, ctx)}}`,
    () => `{"level":${JSON.stringify(r.pick(['debug', 'nope', '']))}}`,
    () => `{"requestId":${oddValue(r, ctx)},"reason":"x"}`,
    () =>
      `{"_meta":${r.pick(['{"progressToken":1}', '{"progressToken":null}', '"x"', '[]', '{"io.modelcontextprotocol/related-task":{"taskId":1}}'])}}`,
    () => `{"taskId":${oddValue(r, ctx)}}`,
    () => oddValue(r, ctx),
  ]);

const ID_VALUES = ['1', '"a"', 'null', '1.5', '-7', String(2 ** 53), '1e400', '{}', '[]', 'true', JSON.stringify('i'.repeat(300))];

/** A JSON-RPC-ish message as text, with `__proto__`, unknown keys and wrong `jsonrpc` now and then. */
const rpcMessage: Gen<string> = (r, ctx) => {
  const fields: string[] = [];
  if (!r.chance(0.08)) fields.push(`"jsonrpc":${r.chance(0.9) ? '"2.0"' : r.pick(['"1.0"', '2', 'null'])}`);
  if (r.chance(0.8)) fields.push(`"id":${r.chance(0.6) ? String(r.int(1, 1000)) : r.pick(ID_VALUES)}`);
  if (r.chance(0.93)) fields.push(`"method":${r.chance(0.95) ? JSON.stringify(r.pick(METHODS)) : oddValue(r, ctx)}`);
  const p = params(r, ctx);
  if (p !== undefined) fields.push(`"params":${p}`);
  if (r.chance(0.05)) fields.push(`"result":${oddValue(r, ctx)}`);
  if (r.chance(0.05)) fields.push(`"error":${r.pick(['{"code":-32601,"message":"m"}', '{}', '"x"'])}`);
  if (r.chance(0.06)) fields.push(`"__proto__":{"polluted":true}`);
  if (r.chance(0.04)) fields.push(`"constructor":{"prototype":{"polluted":true}}`);
  if (r.chance(0.06)) fields.push(`"${junk(r, 6)}":1`);
  for (let i = fields.length - 1; i > 0; i -= 1) if (r.chance(0.2)) [fields[i], fields[i - 1]] = [fields[i - 1]!, fields[i]!];
  return `{${fields.join(',')}}`;
};

/** A JSON body: one message, a batch, an odd value, or broken JSON. */
const jsonBody: Gen<string> = (r, ctx) =>
  pickGen(r, ctx, [
    rpcMessage,
    rpcMessage,
    rpcMessage,
    () => `[${Array.from({ length: r.pick([0, 1, 2, 5, 101, 150]) }, () => rpcMessage(r, ctx)).join(',')}]`,
    () => `[[${rpcMessage(r, ctx)}]]`,
    oddValue,
    () => {
      const whole = rpcMessage(r, ctx);
      return whole.slice(0, r.int(0, whole.length - 1));
    },
    () => `${rpcMessage(r, ctx)}${r.pick([',', '}', ' x', '\n{}', '\u0000'])}`,
    () => `\ufeff${rpcMessage(r, ctx)}`,
    () => `{'jsonrpc':'2.0','id':1,'method':'ping'}`,
    () => '{"jsonrpc":"2.0","id":1,"method":"ping",}',
    () => '{"jsonrpc":"2.0","id":NaN,"method":"ping"}',
    () => junk(r),
    () => '',
    () => ' \n\t ',
  ]);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/*',
  ';;;',
  '',
];
const ACCEPTS = ['application/json, text/event-stream', 'application/json', 'text/event-stream', '*/*', 'text/html', ''];
const PROTOCOLS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', '2026-07-28', '1999-01-01', 'x', ''];

/** An Authorization header: the live token mostly, else broken ones; undefined: none. */
const authorization: Gen<string | undefined> = (r, ctx) =>
  pickGen(r, ctx, [
    () => `Bearer ${ctx.token}`,
    () => `Bearer ${ctx.token}`,
    () => `Bearer ${ctx.token}`,
    () => undefined,
    () => `Bearer ${ctx.token.slice(0, r.int(1, ctx.token.length - 1))}`,
    () => `Bearer ${ctx.token}x`,
    () => `bearer ${ctx.token}`,
    () => 'Bearer',
    () => 'Bearer ',
    () => `Bearer ${junk(r)}`,
    () => 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    () => `Basic ${Buffer.from(`${ctx.clientId}:${ctx.clientSecret}`).toString('base64')}`,
    () => `Basic ${junk(r)}`,
    () => `Bearer ${'A'.repeat(r.int(1000, 8000))}`,
    () => junk(r),
  ]);

/** MCP request headers, each one mutated or dropped now and then. */
const mcpHeaders: Gen<Record<string, string>> = (r, ctx) => {
  const headers: Record<string, string> = {};
  const set = (name: string, value: string | undefined) => value !== undefined && (headers[name] = value);
  set('content-type', r.chance(0.8) ? 'application/json' : r.pick(CONTENT_TYPES));
  set('accept', r.chance(0.8) ? 'application/json, text/event-stream' : r.pick(ACCEPTS));
  set('authorization', authorization(r, ctx));
  if (r.chance(0.6))
    set('mcp-session-id', r.chance(0.6) ? ctx.sessionId : r.pick(['00000000-0000-0000-0000-000000000000', junk(r), '', 'x'.repeat(2000)]));
  if (r.chance(0.6)) set('mcp-protocol-version', r.pick(PROTOCOLS));
  if (r.chance(0.1)) set('mcp-method', r.pick(METHODS));
  if (r.chance(0.05)) set('mcp-name', junk(r));
  if (r.chance(0.05)) set('last-event-id', junk(r));
  if (r.chance(0.05)) set('origin', r.pick(['https://evil.example', 'null', 'http://localhost:1', junk(r)]));
  if (r.chance(0.05)) set('x-request-id', r.pick([junk(r), 'a'.repeat(500)]));
  return headers;
};

const query = (r: SeededRandom) =>
  r.pick([
    '',
    '',
    '',
    `?${junk(r).replace(/[#\s]/g, '')}`,
    '?a=1&a=2',
    '?__proto__[x]=1&constructor[prototype][x]=1',
    '?%zz=%',
    `?q=${'x'.repeat(r.int(100, 4000))}`,
  ]);

const formBody = (r: SeededRandom, fields: Record<string, string | undefined>) => {
  const entries = Object.entries(fields).filter((entry): entry is [string, string] => entry[1] !== undefined);
  if (r.chance(0.15)) entries.push([r.pick(Object.keys(fields)), junk(r)]); // repeated parameter
  if (r.chance(0.1)) entries.push(['__proto__', 'x']);
  return new URLSearchParams(entries).toString();
};

const maybe = (r: SeededRandom, value: string, alternatives: string[]) =>
  r.chance(0.7) ? value : r.chance(0.3) ? undefined : r.pick(alternatives);

const MCP_PATHS = (ctx: FuzzContext) => [
  '/mcp',
  '/mcp',
  '/mcp',
  `/servers/${ctx.upstream}/mcp`,
  `/servers/${ctx.upstream}/mcp`,
  '/servers/nope/mcp',
  '/mcp/',
  '/MCP',
];
const TOKEN_PATHS = ['/token', '/oauth/token', '/revoke', '/oauth/revoke', '/introspect', '/oauth/introspect'];
const WELL_KNOWN = (ctx: FuzzContext) => [
  '/.well-known/oauth-protected-resource',
  '/.well-known/oauth-protected-resource/mcp',
  `/.well-known/oauth-protected-resource/servers/${ctx.upstream}/mcp`,
  '/.well-known/oauth-protected-resource/servers/nope/mcp',
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
  '/.well-known/jwks.json',
  '/oauth/jwks',
  '/.well-known/nope',
];
const OPS = (ctx: FuzzContext) => [
  '/health',
  '/health/ready',
  '/metrics',
  '/health/servers',
  '/health/resources',
  '/listmcp',
  `/listtools/${ctx.upstream}`,
  '/cleanup',
  `/servers/${ctx.upstream}/restart`,
];
const UNKNOWN = [
  '/',
  '/nope',
  '//mcp',
  '/mcp/../mcp',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/mcp%00',
  '/servers//mcp',
  `/${'a'.repeat(3000)}`,
  '/*',
  '/favicon.ico',
];
const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'FOO'];

type Request = Omit<FuzzCase, 'index' | 'family'>;

/** A header set of one header. */
const header = (name: string, value: string): Record<string, string> => ({ [name]: value });

/** Headers of a request that may end its session (a DELETE): the spare session, or none that exists. */
const deletingHeaders: Gen<Record<string, string>> = (r, ctx) => ({
  ...mcpHeaders(r, ctx),
  'mcp-session-id': r.chance(0.5) ? ctx.spareSessionId : junk(r),
});

/** Each family: a weight and a generator of requests to one group of endpoints. */
const FAMILIES: ReadonlyArray<[string, number, Gen<Request>]> = [
  [
    'mcp POST',
    34,
    (r, ctx) => ({
      method: 'POST',
      path: r.pick(MCP_PATHS(ctx)) + query(r),
      headers: mcpHeaders(r, ctx),
      body: Buffer.from(jsonBody(r, ctx)),
    }),
  ],
  [
    'mcp GET',
    5,
    (r, ctx) => ({
      method: 'GET',
      path: r.pick(MCP_PATHS(ctx)) + query(r),
      headers: { ...mcpHeaders(r, ctx), accept: r.pick(['text/event-stream', ...ACCEPTS]) },
    }),
  ],
  [
    'mcp DELETE',
    3,
    (r, ctx) => ({
      method: 'DELETE',
      path: r.pick(MCP_PATHS(ctx)),
      headers: deletingHeaders(r, ctx),
      ...(r.chance(0.3) ? { body: Buffer.from(jsonBody(r, ctx)) } : {}),
    }),
  ],
  [
    'mcp other method',
    3,
    (r, ctx) => {
      const method = r.pick(HTTP_METHODS.filter((name) => name !== 'GET' && name !== 'POST'));
      return {
        method,
        path: r.pick(MCP_PATHS(ctx)),
        headers: method === 'DELETE' ? deletingHeaders(r, ctx) : mcpHeaders(r, ctx),
        ...(r.chance(0.5) ? { body: Buffer.from(jsonBody(r, ctx)) } : {}),
      };
    },
  ],
  [
    'legacy sse',
    5,
    (r, ctx) =>
      r.chance(0.3)
        ? { method: r.pick(['GET', 'GET', 'POST']), path: '/sse' + query(r), headers: mcpHeaders(r, ctx) }
        : {
            method: 'POST',
            path: `/messages${r.pick(['', '?sessionId=', `?sessionId=${ctx.sessionId}`, `?sessionId=${junk(r).replace(/[#\s&]/g, '')}`, '?sessionId=a&sessionId=b'])}`,
            headers: mcpHeaders(r, ctx),
            body: Buffer.from(jsonBody(r, ctx)),
          },
  ],
  [
    'token/revoke/introspect',
    14,
    (r, ctx) => ({
      method: r.chance(0.9) ? 'POST' : r.pick(HTTP_METHODS),
      path: r.pick(TOKEN_PATHS) + (r.chance(0.1) ? query(r) : ''),
      headers: {
        'content-type': r.chance(0.8) ? 'application/x-www-form-urlencoded' : r.pick(CONTENT_TYPES),
        ...(r.chance(0.2) ? { authorization: authorization(r, ctx) ?? '' } : {}),
      },
      body: Buffer.from(
        r.chance(0.85)
          ? formBody(r, {
              grant_type: maybe(r, r.pick(['client_credentials', 'authorization_code', 'refresh_token']), [
                'password',
                'implicit',
                '',
                junk(r),
              ]),
              client_id: maybe(r, ctx.clientId, ['', junk(r), 'https://evil.example/client.json', 'x'.repeat(5000)]),
              client_secret: maybe(r, ctx.clientSecret, ['', junk(r)]),
              code: r.chance(0.3) ? junk(r) : undefined,
              code_verifier: r.chance(0.3) ? junk(r) : undefined,
              redirect_uri: r.chance(0.2) ? r.pick(['http://127.0.0.1/cb', 'javascript:alert(1)', junk(r)]) : undefined,
              refresh_token: r.chance(0.2) ? junk(r) : undefined,
              token: r.chance(0.4) ? r.pick([ctx.spareToken, junk(r), '']) : undefined,
              token_type_hint: r.chance(0.2) ? r.pick(['access_token', 'refresh_token', junk(r)]) : undefined,
              scope: r.chance(0.3) ? r.pick(['mcp:tools', 'claude:admin', '*', junk(r), 'gateway:*']) : undefined,
              resource: r.chance(0.2) ? r.pick(['https://evil.example/mcp', junk(r), '']) : undefined,
            })
          : jsonBody(r, ctx),
      ),
    }),
  ],
  [
    'register',
    8,
    (r, ctx) => {
      const fields = [
        `"client_name":${r.pick(['"fuzz"', '123', 'null', '{}', JSON.stringify('n'.repeat(r.int(1, 3000)))])}`,
        `"redirect_uris":${r.pick(['["http://127.0.0.1/cb"]', '["https://a.example/cb"]', '"http://127.0.0.1/cb"', '[]', '[1]', '["javascript:alert(1)"]', '["cursor://cb"]', '["http://evil.example/cb"]', 'null'])}`,
        `"grant_types":${r.pick(['["client_credentials"]', '["authorization_code","refresh_token"]', '["password"]', '"client_credentials"', '[]', '[null]'])}`,
        `"token_endpoint_auth_method":${r.pick(['"none"', '"client_secret_post"', '"client_secret_basic"', '"private_key_jwt"', '7', '""'])}`,
        `"response_types":${r.pick(['["code"]', '["token"]', '"code"', '[]'])}`,
        `"scope":${r.pick(['"mcp:tools"', '"nope:scope"', '""', '["mcp:tools"]', '"claude:admin"'])}`,
      ].filter(() => r.chance(0.75));
      if (r.chance(0.1)) fields.push('"__proto__":{"polluted":true}');
      if (r.chance(0.1)) fields.push(`"jwks":${oddValue(r, ctx)}`);
      if (r.chance(0.1)) fields.push(`"${junk(r, 8)}":${oddValue(r, ctx)}`);
      return {
        method: r.chance(0.92) ? 'POST' : r.pick(HTTP_METHODS),
        path: r.pick(['/register', '/oauth/register']),
        headers: {
          'content-type': r.chance(0.85) ? 'application/json' : r.pick(CONTENT_TYPES),
          ...(r.chance(0.1) ? { authorization: authorization(r, ctx) ?? '' } : {}),
        },
        body: Buffer.from(r.chance(0.85) ? `{${fields.join(',')}}` : jsonBody(r, ctx)),
      };
    },
  ],
  [
    'authorize',
    6,
    (r, ctx) => {
      const params = formBody(r, {
        response_type: maybe(r, 'code', ['token', '', junk(r)]),
        client_id: maybe(r, ctx.clientId, ['', junk(r), 'https://evil.example/c.json']),
        redirect_uri: maybe(r, 'http://127.0.0.1/cb', ['', 'javascript:alert(1)', 'https://evil.example/cb', junk(r)]),
        code_challenge: maybe(r, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', ['', junk(r)]),
        code_challenge_method: maybe(r, 'S256', ['plain', '', junk(r)]),
        state: r.chance(0.7) ? junk(r) : undefined,
        scope: r.chance(0.5) ? r.pick(['mcp:tools', 'claude:admin offline_access', junk(r)]) : undefined,
        resource: r.chance(0.5) ? r.pick(['https://evil.example/mcp', junk(r)]) : undefined,
        prompt: r.chance(0.1) ? r.pick(['none', 'login', 'consent', junk(r)]) : undefined,
      });
      return {
        method: r.chance(0.85) ? 'GET' : r.pick(HTTP_METHODS),
        path: `${r.pick(['/authorize', '/oauth/authorize'])}?${params}`,
        headers: r.chance(0.2) ? header('cookie', junk(r)) : {},
      };
    },
  ],
  [
    'login/consent/grants',
    5,
    (r) => ({
      method: r.chance(0.8) ? 'POST' : r.pick(HTTP_METHODS),
      path: r.pick(['/oauth/login', '/oauth/consent', '/oauth/grants']) + (r.chance(0.2) ? query(r) : ''),
      headers: {
        'content-type': r.chance(0.8) ? 'application/x-www-form-urlencoded' : r.pick(CONTENT_TYPES),
        ...(r.chance(0.3) ? { cookie: r.pick([junk(r), `ccm_login=${junk(r)}`, 'a=b; a=c']) } : {}),
      },
      body: Buffer.from(
        formBody(r, {
          username: r.chance(0.5) ? r.pick(['admin', 'alice', junk(r)]) : undefined,
          password: r.chance(0.5) ? junk(r) : undefined,
          interaction: r.chance(0.5) ? junk(r) : undefined,
          csrf: r.chance(0.5) ? junk(r) : undefined,
          decision: r.chance(0.5) ? r.pick(['approve', 'deny', junk(r)]) : undefined,
          grant: r.chance(0.2) ? junk(r) : undefined,
          action: r.chance(0.2) ? r.pick(['revoke', junk(r)]) : undefined,
        }),
      ),
    }),
  ],
  [
    'well-known',
    5,
    (r, ctx) => ({
      method: r.chance(0.85) ? 'GET' : r.pick(HTTP_METHODS),
      path: r.pick(WELL_KNOWN(ctx)) + query(r),
      headers: r.chance(0.2) ? header('origin', 'https://evil.example') : {},
    }),
  ],
  [
    'health/metrics/operator',
    6,
    (r, ctx) => ({
      method: r.chance(0.8) ? r.pick(['GET', 'POST']) : r.pick(HTTP_METHODS),
      path: r.pick(OPS(ctx)) + query(r),
      headers: r.chance(0.5) ? header('authorization', authorization(r, ctx) ?? '') : {},
    }),
  ],
  [
    'unknown',
    6,
    (r, ctx) => ({
      method: r.pick(HTTP_METHODS),
      path: r.pick(UNKNOWN) + query(r),
      headers: r.chance(0.5) ? deletingHeaders(r, ctx) : {},
      ...(r.chance(0.3) ? { body: Buffer.from(jsonBody(r, ctx)) } : {}),
    }),
  ],
];

/** Endpoints an oversized body goes to: the JSON-RPC and the form and JSON OAuth endpoints. */
const OVERSIZED: Gen<Request> = (r, ctx) => {
  const path = r.pick([...MCP_PATHS(ctx).slice(0, 4), '/messages?sessionId=x', '/register', '/token', '/introspect', '/oauth/login']);
  const bytes = ctx.maxBodyBytes + r.int(1, 4 * ctx.maxBodyBytes);
  return {
    method: 'POST',
    path,
    headers: {
      ...mcpHeaders(r, ctx),
      'content-type':
        path.startsWith('/token') || path.startsWith('/introspect') || path.startsWith('/oauth')
          ? 'application/x-www-form-urlencoded'
          : 'application/json',
    },
    body: Buffer.alloc(bytes, r.pick(['{', 'a', ' '])),
  };
};

/** `count` cases drawn from `r`; one in `oversizedEvery` carries a body over MAX_BODY_BYTES. */
export function fuzzCorpus(r: SeededRandom, count: number, ctx: FuzzContext, { oversizedEvery = 300 } = {}): FuzzCase[] {
  const total = FAMILIES.reduce((sum, [, weight]) => sum + weight, 0);
  const cases: FuzzCase[] = [];
  for (let index = 0; index < count; index += 1) {
    if (index % oversizedEvery === oversizedEvery - 1) {
      cases.push({ index, family: 'oversized body', ...OVERSIZED(r, ctx) });
      continue;
    }
    let ticket = r.int(1, total);
    const [family, , generate] = FAMILIES.find(([, weight]) => (ticket -= weight) <= 0)!;
    cases.push({ index, family, ...generate(r, ctx) });
  }
  return cases;
}
