import { OAuthError, OAuthErrorCode } from './oauth-error.js';

/**
 * The resources (RFC 8707) this server protects: the canonical MCP URL `R` (MCP-Auth "Canonical Server URI"), and
 * each gateway upstream's own endpoint `{R's base}/servers/{name}/mcp`, which is a protected resource of its own
 * (its own metadata, tokens audienced to it).
 */
export interface ProtectedResources {
  /** `R`: the default when a request names no resource. */
  readonly canonical: string;
  /** Whether `url` (normalised: no trailing slash, lower-case scheme and host) is another resource served here. */
  served(url: string): boolean;
}

/**
 * The resource a request names, normalised and checked: `R` when none is named (legacy clients, checklist E.31), or a
 * resource this server protects. Requests may add a trailing slash or use another case of scheme and host (Claude
 * Code once appended `/`, anthropics/claude-code#52871); anything else is `invalid_target`.
 */
export function normaliseResource(value: string | undefined, resources: ProtectedResources | string): string {
  const known: ProtectedResources = typeof resources === 'string' ? { canonical: resources, served: () => false } : resources;
  if (value === undefined || value === '') return known.canonical;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OAuthError(OAuthErrorCode.InvalidTarget, 'resource must be an absolute URI');
  }
  if (value.includes('#')) throw new OAuthError(OAuthErrorCode.InvalidTarget, 'resource must not contain a fragment');
  const normalised = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}${url.search}`;
  if (normalised === known.canonical || known.served(normalised)) return normalised;
  throw new OAuthError(OAuthErrorCode.InvalidTarget, `resource is not served here; use ${known.canonical}`);
}
