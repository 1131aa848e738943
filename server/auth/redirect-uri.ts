import { OAuthError, OAuthErrorCode } from './oauth-error.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True for `http://localhost`, `http://127.0.0.1` and `http://[::1]` URLs (RFC 8252 §7.3). */
function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

/**
 * Checks a redirect URI at registration (checklist D.21; OAuth 2.1 §2.3; RFC 7591 §3.2.2): absolute, no fragment,
 * `https:` or loopback `http:`. Private-use schemes (`cursor://`, `vscode://`) are accepted for native apps
 * (RFC 8252 §7.1) only when `allowPrivateSchemes` is set; `javascript:`, `data:`, `file:` and friends never are.
 * Throws `invalid_redirect_uri`.
 */
export function validateRedirectUri(value: unknown, allowPrivateSchemes = true): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2000) {
    throw new OAuthError(OAuthErrorCode.InvalidRedirectUri, 'redirect_uris entries must be non-empty strings');
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OAuthError(OAuthErrorCode.InvalidRedirectUri, `redirect_uri is not an absolute URI: ${value}`);
  }
  if (value.includes('#')) throw new OAuthError(OAuthErrorCode.InvalidRedirectUri, 'redirect_uri must not contain a fragment');
  if (url.protocol === 'https:' || isLoopbackHttp(url)) return value;
  if (url.protocol === 'http:') {
    throw new OAuthError(OAuthErrorCode.InvalidRedirectUri, 'http redirect_uris are allowed only for localhost, 127.0.0.1 and [::1]');
  }
  const banned = ['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:', 'ftp:', 'ws:', 'wss:'];
  // A private-use scheme must look like a reverse-domain or app name (RFC 8252 §7.1), e.g. `cursor:`, `com.example.app:`.
  if (!allowPrivateSchemes || banned.includes(url.protocol) || !/^[a-z][a-z0-9+.-]*:$/.test(url.protocol)) {
    throw new OAuthError(OAuthErrorCode.InvalidRedirectUri, `redirect_uri scheme ${url.protocol} is not allowed`);
  }
  return value;
}

/**
 * Exact redirect matching (OAuth 2.1 §4.1.1; checklist E.28), except that a registered loopback `http` URI matches
 * the same URI on any port (RFC 8252 §7.3). `localhost` and `127.0.0.1` are not cross-matched.
 */
export function redirectUriMatches(registered: string, requested: string): boolean {
  if (registered === requested) return true;
  let a: URL;
  let b: URL;
  try {
    a = new URL(registered);
    b = new URL(requested);
  } catch {
    return false;
  }
  if (!isLoopbackHttp(a) || !isLoopbackHttp(b)) return false;
  if (b.username || b.password || requested.includes('#')) return false;
  return a.hostname === b.hostname && a.pathname === b.pathname && a.search === b.search;
}
