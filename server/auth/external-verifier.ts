import type { createRemoteJWKSet, JWTPayload } from 'jose';
import { loadJose } from './jose.js';
import type { Caller } from '../mcp/caller.js';
import { principalId } from './bearer-authenticator.js';
import { OAuthError, OAuthErrorCode } from './oauth-error.js';
import { AppError, AppErrorCode } from '../errors/app-error.js';
import { hashToken } from './secrets.js';

/** Options of {@link createExternalVerifier}: the external authorization server this server trusts. */
export interface ExternalVerifierOptions {
  /** The external issuer, exactly as in its metadata (checked against `iss`). */
  issuer: string;
  /** The canonical MCP resource `R`; a token's `aud` must contain it (or `R/`). */
  resource: string;
  /** JWKS URL; discovered from the issuer's RFC 8414 / OpenID metadata when absent. */
  jwksUri?: string;
  /** Accepted JWS algorithms; never `none` or HMAC (the keys are public). */
  algorithms: readonly string[];
  /** Require `typ: at+jwt` (RFC 9068), for issuers that issue it. */
  requireAtJwt: boolean;
  /** Longest lifetime a token may claim (`exp - iat`, or `exp - now` without `iat`), in seconds. */
  maxLifetimeSeconds: number;
  /** RFC 7662 introspection for opaque tokens (absent: opaque tokens are refused). */
  introspection?: { url: string; clientId: string; clientSecret: string };
  /** Fetch used for discovery and introspection (tests inject nothing; the default is global fetch). */
  fetch?: typeof fetch;
  now?: () => number;
}

/**
 * Verifies an external AS's access tokens and maps them to a caller; throws `invalid_token` for a bad token and
 * `service_unavailable` when the issuer's keys or introspection endpoint cannot be reached.
 */
export type ExternalVerifier = (token: string) => Promise<Caller>;

const FORBIDDEN_ALGS = /^(none|HS\d+)$/i;
const INTROSPECTION_CACHE_MS = 5 * 60_000;
/** Clock difference tolerated between this server and the issuer. */
const CLOCK_TOLERANCE_SECONDS = 30;

/** The issuer could not be asked (network, timeout, its 5xx): no verdict on the token. */
class IssuerUnreachable extends Error {}

/** Refuses `iat` in the future and lifetimes beyond `maxSeconds` (a token that can never be taken back). */
function checkLifetime(claims: { iat?: unknown; exp?: unknown }, nowMs: number, maxSeconds: number): void {
  const now = nowMs / 1000;
  const iat = typeof claims.iat === 'number' ? claims.iat : undefined;
  const exp = typeof claims.exp === 'number' ? claims.exp : undefined;
  if (iat !== undefined && iat > now + CLOCK_TOLERANCE_SECONDS) throw new Error('iat in the future');
  if (exp !== undefined && exp - (iat ?? now) > maxSeconds + CLOCK_TOLERANCE_SECONDS) throw new Error('lifetime too long');
}

function scopesOf(payload: Record<string, unknown>): string[] {
  if (typeof payload.scope === 'string') return payload.scope.split(' ').filter(Boolean);
  if (Array.isArray(payload.scp)) return payload.scp.filter((s): s is string => typeof s === 'string');
  if (typeof payload.scp === 'string') return payload.scp.split(' ').filter(Boolean);
  return [];
}

function audienceMatches(aud: unknown, resource: string): boolean {
  const list = Array.isArray(aud) ? aud : [aud];
  return list.some((entry) => entry === resource || entry === `${resource}/`);
}

/**
 * External-AS mode (checklist M): JWT access tokens are checked against the issuer's JWKS (cached by jose, refetched
 * on an unknown `kid` with a cool-down), an algorithm allow-list, `iss`, `aud` ∋ R, `exp`/`nbf` with 30 s skew and
 * optionally `typ`. Opaque tokens go to RFC 7662 introspection, cached until their `exp` (at most 5 minutes).
 */
export function createExternalVerifier(options: ExternalVerifierOptions): ExternalVerifier {
  const algorithms = options.algorithms.filter((alg) => !FORBIDDEN_ALGS.test(alg));
  const http = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  const introspected = new Map<string, { caller: Caller; until: number }>();

  async function keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (jwks) return jwks;
    let uri = options.jwksUri;
    if (!uri) {
      const base = options.issuer.replace(/\/+$/, '');
      const { pathname, origin } = new URL(base);
      const path = pathname === '/' ? '' : pathname;
      for (const candidate of [`${origin}/.well-known/oauth-authorization-server${path}`, `${base}/.well-known/openid-configuration`]) {
        const response = await http(candidate, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(5000) }).catch(
          () => undefined,
        );
        if (!response?.ok) continue;
        const metadata = (await response.json()) as { issuer?: string; jwks_uri?: string };
        if (metadata.issuer === options.issuer && metadata.jwks_uri) {
          uri = metadata.jwks_uri;
          break;
        }
      }
      if (!uri) throw new IssuerUnreachable('external issuer metadata with a jwks_uri could not be read');
    }
    jwks = (await loadJose()).createRemoteJWKSet(new URL(uri), { cooldownDuration: 30_000, timeoutDuration: 5000 });
    return jwks;
  }

  function toCaller(payload: Record<string, unknown>): Caller {
    const subject = typeof payload.sub === 'string' ? payload.sub : undefined;
    const clientId = [payload.client_id, payload.azp, subject].find((value): value is string => typeof value === 'string') ?? 'external';
    return { principalId: principalId(clientId, subject), oauthClientId: clientId, subject, scopes: scopesOf(payload), method: 'external' };
  }

  async function verifyJwt(token: string): Promise<Caller> {
    const { jwtVerify } = await loadJose();
    const { payload } = await jwtVerify(token, await keySet(), {
      issuer: options.issuer,
      algorithms: [...algorithms],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate: new Date(now()),
      requiredClaims: ['exp'],
      ...(options.requireAtJwt ? { typ: 'at+jwt' } : {}),
    });
    if (!audienceMatches((payload as JWTPayload).aud, options.resource)) throw new Error('audience');
    checkLifetime(payload, now(), options.maxLifetimeSeconds);
    return toCaller(payload as Record<string, unknown>);
  }

  async function introspect(token: string): Promise<Caller> {
    const { introspection } = options;
    if (!introspection) throw new Error('opaque tokens need introspection');
    const key = hashToken(token);
    const cached = introspected.get(key);
    if (cached && cached.until > now()) return cached.caller;
    const response = await http(introspection.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(introspection.clientId)}:${encodeURIComponent(introspection.clientSecret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      signal: AbortSignal.timeout(5000),
    }).catch((error: unknown) => {
      throw new IssuerUnreachable(`introspection: ${(error as Error).message}`);
    });
    if (response.status >= 500) throw new IssuerUnreachable(`introspection answered ${response.status}`);
    if (!response.ok) throw new Error(`introspection answered ${response.status}`);
    const body = (await response.json()) as Record<string, unknown>;
    if (body.active !== true || !audienceMatches(body.aud, options.resource)) throw new Error('inactive');
    if (body.iss !== undefined && body.iss !== options.issuer) throw new Error('issuer');
    const exp = typeof body.exp === 'number' ? body.exp * 1000 : now() + INTROSPECTION_CACHE_MS;
    if (exp <= now()) throw new Error('expired');
    checkLifetime(body, now(), options.maxLifetimeSeconds);
    const caller = toCaller(body);
    if (introspected.size > 10_000) introspected.clear();
    introspected.set(key, { caller, until: Math.min(exp, now() + INTROSPECTION_CACHE_MS) });
    return caller;
  }

  return async function verifyExternal(token) {
    try {
      return token.split('.').length === 3 ? await verifyJwt(token) : await introspect(token);
    } catch (error) {
      if (error instanceof IssuerUnreachable || isKeySetUnreachable(error)) {
        const unavailable = new AppError(
          AppErrorCode.ServiceUnavailable,
          'The authorization server cannot be reached to check the token; retry shortly',
          { retryAfter: 5 },
        );
        unavailable.cause = error; // logged, never sent
        throw unavailable;
      }
      throw new OAuthError(OAuthErrorCode.InvalidToken, 'The access token is invalid, expired or not meant for this resource');
    }
  };
}

/** jose's own failures to fetch the key set (timeout, network, a non-200 answer): no verdict on the token. */
function isKeySetUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    code === 'ERR_JWKS_TIMEOUT' || (error instanceof TypeError && /fetch/i.test(error.message)) || (error as Error).name === 'JOSEError'
  );
}
