import { describe, expect, it } from '@jest/globals';
import type { NextFunction, Request, Response } from 'express';
import { AppError, AppErrorCode } from '../../../server/errors/app-error.js';
import { compileOriginAllowList, requireAllowedOrigin } from '../../../server/http/middleware/origin-check.js';

const DEFAULT_ORIGINS = ['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*'];

describe('compileOriginAllowList', () => {
  it('allows exact origins only as written (scheme, host and port)', () => {
    const allowed = compileOriginAllowList(['https://app.example.com', 'http://dev.example.com:8080']);
    expect(allowed('https://app.example.com')).toBe(true);
    expect(allowed('http://dev.example.com:8080')).toBe(true);
    expect(allowed('http://app.example.com')).toBe(false);
    expect(allowed('https://app.example.com:8443')).toBe(false);
    expect(allowed('http://dev.example.com:8081')).toBe(false);
    expect(allowed('http://dev.example.com')).toBe(false);
  });

  it('lets `:*` stand for any port, or none, on that scheme and host', () => {
    const allowed = compileOriginAllowList(DEFAULT_ORIGINS);
    expect(allowed('http://localhost:3000')).toBe(true);
    expect(allowed('http://localhost:65535')).toBe(true);
    expect(allowed('http://localhost')).toBe(true);
    expect(allowed('http://127.0.0.1:5173')).toBe(true);
    expect(allowed('http://[::1]:8080')).toBe(true);
    expect(allowed('https://localhost:3000')).toBe(false);
  });

  it('compares case-insensitively and ignores a trailing slash in an entry', () => {
    const allowed = compileOriginAllowList(['HTTPS://App.Example.com/', 'http://LOCALHOST:*']);
    expect(allowed('https://app.example.com')).toBe(true);
    expect(allowed('HTTPS://APP.EXAMPLE.COM')).toBe(true);
    expect(allowed('http://Localhost:3000')).toBe(true);
  });

  it('refuses look-alike hosts', () => {
    const allowed = compileOriginAllowList([...DEFAULT_ORIGINS, 'https://app.example.com']);
    for (const origin of [
      'http://localhost.evil.com',
      'http://localhost.evil.com:3000',
      'http://evil.com:3000',
      'http://evil-localhost:3000',
      'http://127.0.0.1.nip.io:3000',
      'https://app.example.com.evil.com',
      'https://evilapp.example.com',
      'http://localhost:3000.evil.com',
      'http://localhost:*',
    ]) {
      expect([origin, allowed(origin)]).toEqual([origin, false]);
    }
  });

  it('refuses the opaque `null` origin (sandboxed iframes, file://)', () => {
    expect(compileOriginAllowList(DEFAULT_ORIGINS)('null')).toBe(false);
  });

  it('allows nothing with an empty list', () => {
    expect(compileOriginAllowList([])('http://localhost:3000')).toBe(false);
  });
});

describe('requireAllowedOrigin', () => {
  const middleware = requireAllowedOrigin(compileOriginAllowList(['https://app.example.com']));

  function run(origin: string | undefined): unknown[] {
    const req = { get: (name: string) => (name.toLowerCase() === 'origin' ? origin : undefined) } as unknown as Request;
    const calls: unknown[][] = [];
    middleware(req, {} as Response, ((...args: unknown[]) => void calls.push(args)) as NextFunction);
    expect(calls).toHaveLength(1);
    return calls[0]!;
  }

  it('passes requests without an Origin header (CLIs, server-to-server)', () => {
    expect(run(undefined)).toEqual([]);
  });

  it('passes an allowed origin', () => {
    expect(run('https://app.example.com')).toEqual([]);
  });

  it('refuses other origins with 403 origin_not_allowed naming the origin and the setting', () => {
    const [error] = run('https://evil.example');
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: AppErrorCode.OriginNotAllowed, status: 403 });
    expect((error as AppError).message).toBe('Origin "https://evil.example" is not allowed (ALLOWED_ORIGINS)');
  });
});
