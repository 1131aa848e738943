import express, { type Request, type RequestHandler } from 'express';
import { OAuthError, OAuthErrorCode } from '../../auth/oauth-error.js';

/** `Cache-Control: no-store` for token, registration and revocation responses (RFC 6749 §5.1, RFC 7591 §3.2.1). */
export const noStore: RequestHandler = function noStore(_req, res, next) {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  next();
};

/**
 * Parses an `application/x-www-form-urlencoded` body (RFC 6749 §3.2) into single-valued fields. Another content
 * type, a duplicated field (§3.1) or an unparsable body is `invalid_request`, as OAuth JSON, never an HTML page.
 */
export function parseOAuthForm(limit = '64kb'): RequestHandler[] {
  const urlencoded = express.urlencoded({ extended: false, limit, parameterLimit: 100 });
  const parse: RequestHandler = function parseForm(req, res, next) {
    urlencoded(req, res, (error?: unknown) => {
      if (error) return next(new OAuthError(OAuthErrorCode.InvalidRequest, 'The request body could not be parsed'));
      next();
    });
  };
  const check: RequestHandler = function requireSingleValuedForm(req, _res, next) {
    if (!req.is('application/x-www-form-urlencoded')) {
      return next(new OAuthError(OAuthErrorCode.InvalidRequest, 'Send the parameters as application/x-www-form-urlencoded'));
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    const repeated = Object.entries(body)
      .filter(([, value]) => typeof value !== 'string')
      .map(([key]) => key);
    if (repeated.length > 0) return next(new OAuthError(OAuthErrorCode.InvalidRequest, `Parameter repeated: ${repeated.join(', ')}`));
    next();
  };
  return [parse, check];
}

/** The single-valued form fields parsed by {@link parseOAuthForm}. */
export function formFields(req: Request): Record<string, string> {
  return { ...(req.body as Record<string, string>) };
}

/**
 * `Authorization: Basic` client credentials (RFC 6749 §2.3.1: both parts form-urlencoded before base64). `undefined`
 * when the header is absent or another scheme; malformed Basic is `invalid_client`.
 */
export function basicCredentials(req: Request): { clientId: string; secret: string } | undefined {
  const header = req.headers.authorization;
  if (!header || !/^Basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const invalid = () => new OAuthError(OAuthErrorCode.InvalidClient, 'Malformed Basic credentials', 'Basic realm="token"');
  if (colon < 0) throw invalid();
  try {
    const decode = (part: string) => decodeURIComponent(part.replace(/\+/g, ' '));
    return { clientId: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
  } catch {
    throw invalid();
  }
}

/** Reads one cookie from the `Cookie` header. */
export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** Answers any method but the allowed ones with 405 `invalid_request` JSON (a code is never redeemable via GET). */
export function onlyMethods(...methods: string[]): RequestHandler {
  return function rejectOtherMethods(req, res, next) {
    if (methods.includes(req.method) || req.method === 'OPTIONS') return next();
    res.setHeader('Allow', methods.join(', '));
    next(new OAuthError(OAuthErrorCode.InvalidRequest, `${req.method} is not allowed here; use ${methods.join(' or ')}`, undefined, 405));
  };
}
