import type { RequestHandler } from 'express';
import helmet from 'helmet';

/** Options of the security-header middleware. */
export interface SecurityHeadersOptions {
  /** Send `Strict-Transport-Security` (the public URL is HTTPS). */
  hsts: boolean;
}

/** What both header sets send for content policy: nothing may load, nothing may frame. */
const CONTENT_SECURITY_POLICY = "default-src 'none';frame-ancestors 'none'";
const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * helmet's full set, for everything Express serves (health, metadata, OAuth endpoints and pages): the
 * document-oriented headers (cross-origin isolation, DNS prefetch, legacy browser switches) on top of the API set.
 */
export function documentSecurityHeaders(options: SecurityHeadersOptions): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    strictTransportSecurity: options.hsts,
  });
}

/**
 * The headers of the MCP endpoints, which answer JSON and event streams to programs, never documents: those the
 * OWASP REST Security Cheat Sheet lists for API responses (a content policy that loads and frames nothing,
 * `nosniff`, `X-Frame-Options: DENY`, no referrer, HSTS over HTTPS; the transports set `Cache-Control` and
 * `Content-Type` themselves). helmet's other headers only mean something for documents, and on the path every
 * tool call takes they are bytes both ends write and parse for nothing (docs/benchmarks.md).
 */
export function apiSecurityHeaders(options: SecurityHeadersOptions): RequestHandler {
  const headers: Array<[string, string]> = [
    ['Content-Security-Policy', CONTENT_SECURITY_POLICY],
    ['X-Content-Type-Options', 'nosniff'],
    ['X-Frame-Options', 'DENY'],
    ['Referrer-Policy', 'no-referrer'],
  ];
  if (options.hsts) headers.push(['Strict-Transport-Security', HSTS]);
  return function apiSecurityHeadersMiddleware(_req, res, next) {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}
