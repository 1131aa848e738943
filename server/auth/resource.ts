import { OAuthError, OAuthErrorCode } from './oauth-error.js';

/**
 * Resource indicators (RFC 8707). This server protects exactly one resource, the canonical MCP URL (`R`, MCP-Auth
 * "Canonical Server URI"). Requests may name it with a trailing slash or a different case of scheme and host
 * (Claude Code once appended `/`, anthropics/claude-code#52871); anything else is `invalid_target`.
 */
export function normaliseResource(value: string | undefined, canonical: string): string {
  if (value === undefined || value === '') return canonical; // legacy clients: default to R (checklist E.31)
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OAuthError(OAuthErrorCode.InvalidTarget, 'resource must be an absolute URI');
  }
  if (value.includes('#')) throw new OAuthError(OAuthErrorCode.InvalidTarget, 'resource must not contain a fragment');
  const normalised = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}${url.search}`;
  if (normalised !== canonical) {
    throw new OAuthError(OAuthErrorCode.InvalidTarget, `resource is not served here; use ${canonical}`);
  }
  return canonical;
}
