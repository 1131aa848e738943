import { describe, expect, it } from '@jest/globals';
import { REDACTED, redact, redactField, redactText } from '../../../server/logging/redact.js';

describe('redact', () => {
  it('masks credentials under secret-looking keys at any depth', () => {
    const input = {
      request: {
        method: 'POST',
        headers: {
          Authorization: 'Bearer eyJhbGciOi.abc.def',
          cookie: 'sid=abc123',
          'set-cookie': ['sid=abc123; HttpOnly'],
          'x-api-key': 'key-123',
          accept: 'application/json',
        },
        body: { grant: { client_id: 'app', client_secret: 'cs-1', clientSecret: 'cs-2', password: 'pw', apiKey: 'ak' } },
      },
      tokens: [{ access_token: 'at', refreshToken: 'rt', id_token: 'it' }],
    };
    expect(redact(input)).toEqual({
      request: {
        method: 'POST',
        headers: { Authorization: REDACTED, cookie: REDACTED, 'set-cookie': REDACTED, 'x-api-key': REDACTED, accept: 'application/json' },
        body: { grant: { client_id: 'app', client_secret: REDACTED, clientSecret: REDACTED, password: REDACTED, apiKey: REDACTED } },
      },
      tokens: [{ access_token: REDACTED, refreshToken: REDACTED, id_token: REDACTED }],
    });
  });

  it('keeps token counts readable: only keys ending in a singular "token" are secrets', () => {
    const usage = { input_tokens: 12, output_tokens: 34, maxTokens: 100, tokenCount: 3, sessionToken: 's' };
    expect(redact(usage)).toEqual({ input_tokens: 12, output_tokens: 34, maxTokens: 100, tokenCount: 3, sessionToken: REDACTED });
  });

  it('masks secrets inside arrays of objects', () => {
    expect(
      redact({
        attempts: [
          { user: 'a', passwd: 'x' },
          { user: 'b', privateKey: '-----BEGIN' },
        ],
      }),
    ).toEqual({
      attempts: [
        { user: 'a', passwd: REDACTED },
        { user: 'b', privateKey: REDACTED },
      ],
    });
  });

  it('removes inline credentials from strings anywhere in the value', () => {
    const out = redact({ deep: { deeper: ['upstream said: Authorization: Bearer abc.def-ghi failed'] } }) as { deep: { deeper: string[] } };
    expect(out.deep.deeper[0]).toBe('upstream said: Authorization: Bearer [REDACTED] failed');
  });

  it('leaves the original object untouched', () => {
    const input = { password: 'pw', note: 'Bearer abc' };
    redact(input);
    expect(input).toEqual({ password: 'pw', note: 'Bearer abc' });
  });

  it('keeps empty or absent secrets visible, so a missing header can be diagnosed', () => {
    expect(redact({ authorization: '', password: undefined, token: null })).toEqual({
      authorization: '',
      password: undefined,
      token: null,
    });
  });

  it('turns errors into plain objects with credentials removed from message and stack', () => {
    const out = redact({ error: new Error('connect redis://:hunter2@redis:6379 failed') }) as {
      error: { name: string; message: string; stack: string };
    };
    expect(out.error.name).toBe('Error');
    expect(out.error.message).toBe('connect redis://[REDACTED]@redis:6379 failed');
    expect(out.error.stack).not.toContain('hunter2');
  });

  it('cuts cycles instead of hanging', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    a.list = [a];
    expect(redact(a)).toEqual({ name: 'a', self: '[Truncated]', list: ['[Truncated]'] });
  });

  it('logs an object referenced twice (not a cycle) both times', () => {
    const client = { id: 'c1', secret: 's' };
    expect(redact({ requestedBy: client, grantedTo: client })).toEqual({
      requestedBy: { id: 'c1', secret: REDACTED },
      grantedTo: { id: 'c1', secret: REDACTED },
    });
  });

  it('cuts very deep values', () => {
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 20; i += 1) deep = { next: deep };
    expect(JSON.stringify(redact(deep))).toContain('[Truncated]');
  });

  it('writes a bigint as its decimal string, at any depth', () => {
    expect(redact({ size: 12345678901234567890n, nested: [{ id: -1n }] })).toEqual({
      size: '12345678901234567890',
      nested: [{ id: '-1' }],
    });
  });

  it('passes primitives through', () => {
    expect(redact(42)).toBe(42);
    expect(redact(null)).toBeNull();
    expect(redact(undefined)).toBeUndefined();
    expect(redact(true)).toBe(true);
  });
});

describe('redactField', () => {
  it('masks a top-level field by its key and redacts other fields by content', () => {
    expect(redactField('password', 'hunter2')).toBe(REDACTED);
    expect(redactField('Authorization', 'Basic dXNlcjpwYXNz')).toBe(REDACTED);
    expect(redactField('url', 'redis://:hunter2@redis:6379')).toBe('redis://[REDACTED]@redis:6379');
    expect(redactField('headers', { cookie: 'sid=1' })).toEqual({ cookie: REDACTED });
  });
});

describe('redactText', () => {
  it('masks Bearer and Basic credentials', () => {
    expect(redactText('got Bearer abc.DEF_ghi-jkl~+/= from client')).toBe('got Bearer [REDACTED] from client');
    expect(redactText('authorization: basic dXNlcjpwYXNz')).toBe('authorization: basic [REDACTED]');
  });

  it('masks URL userinfo but keeps the host', () => {
    expect(redactText('redis://user:hunter2@redis.internal:6379/0')).toBe('redis://[REDACTED]@redis.internal:6379/0');
    expect(redactText('connecting to redis://:hunter2@redis.internal:6379')).toBe('connecting to redis://[REDACTED]@redis.internal:6379');
    expect(redactText('https://alice:pw@example.com/path')).toBe('https://[REDACTED]@example.com/path');
  });

  it('does not mistake a port and a later @ for credentials', () => {
    expect(redactText('http://host:8080/users/@me')).toBe('http://host:8080/users/@me');
  });

  it('masks secret query parameters and keeps the others', () => {
    expect(redactText('GET https://app.example/cb?state=xyz&access_token=abc123&x=1')).toBe(
      'GET https://app.example/cb?state=xyz&access_token=[REDACTED]&x=1',
    );
    expect(redactText('refresh_token=r1&client_secret=cs&code_verifier=v&api_key=k&password=p')).toBe(
      'refresh_token=[REDACTED]&client_secret=[REDACTED]&code_verifier=[REDACTED]&api_key=[REDACTED]&password=[REDACTED]',
    );
  });

  it('masks credentials in any letter case, so the quick pre-check misses none', () => {
    expect(redactText('BEARER abc.def')).toBe('BEARER [REDACTED]');
    expect(redactText('auth bAsIc dXNlcjpwYXNz')).toBe('auth bAsIc [REDACTED]');
    expect(redactText('HTTPS://Alice:PW@example.com')).toBe('HTTPS://[REDACTED]@example.com');
    expect(redactText('PASSWORD=hunter2 and Client_Secret=cs')).toBe('PASSWORD=[REDACTED] and Client_Secret=[REDACTED]');
    expect(redactText('x\nBearer\ttok')).toBe('x\nBearer [REDACTED]');
  });

  it('leaves ordinary text alone', () => {
    const text = 'session abc started on http://127.0.0.1:3000/mcp with 3 tools';
    expect(redactText(text)).toBe(text);
  });
});
