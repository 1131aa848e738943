import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { loadJose } from './jose.js';
import type { KeyValueStore } from '../storage/types.js';
import type { Grant } from './grants.js';
import { OAuthError, OAuthErrorCode } from './oauth-error.js';
import { createRevocations, type Revocations } from './revocations.js';
import { hashToken } from './secrets.js';
import { SIGNING_ALG, type SigningKeys } from './signing-keys.js';
import { createVerifiedCache, type VerifiedEntry } from './verified-cache.js';

/** RFC 9068 §2.1 media type of JWT access tokens. */
export const ACCESS_TOKEN_TYP = 'at+jwt';

/** The claims of a verified access token (RFC 9068 §2.2). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  /** The grant (refresh family) the token belongs to. */
  gid: string;
}

/** Options of {@link createAccessTokens}. */
export interface AccessTokensOptions {
  keys: SigningKeys;
  store: KeyValueStore;
  /** The one issuer string (checklist C.17). */
  issuer: string;
  /** Lifetime of an access token; at most 3600 s. */
  ttlSeconds: number;
  /** Whether the grant still exists; `false` makes every token of it invalid (family and code-replay revocation). */
  grantAlive: (grantId: string) => Promise<boolean>;
  /**
   * The revocation generation shared with the grant store and API keys (default: one over `store`). Liveness of a
   * verified token is confirmed again only when it has moved.
   */
  revocations?: Revocations;
  /** Most verified tokens remembered (default {@link DEFAULT_TOKEN_CACHE_SIZE}). */
  cacheSize?: number;
  now?: () => number;
}

/** Verified access tokens remembered per process by default: a few MB at most. */
export const DEFAULT_TOKEN_CACHE_SIZE = 10_000;

/** Clock skew accepted on `exp`, in seconds; the cache honours the same bound. */
const CLOCK_TOLERANCE_SECONDS = 5;

/**
 * RFC 9068 JWT access tokens: issuing, verifying (with revocation) and revoking. A token's signature and claims are
 * verified once per process and remembered (by hash, until its `exp`), and its liveness (grant not revoked, token not
 * revoked) is confirmed again whenever the revocation generation has moved, so revocation takes effect on the next
 * request while a steady stream of requests with one token costs a hash and one small storage read each.
 */
export interface AccessTokens {
  readonly ttlSeconds: number;
  issue(grant: Grant, scopes?: readonly string[]): Promise<string>;
  /**
   * Verifies signature, `typ`, issuer, audience, expiry and revocation. The token's `aud` must be one of `audience`
   * (each also accepted with a trailing slash). Throws `invalid_token`.
   */
  verify(token: string, audience: string | readonly string[]): Promise<AccessTokenClaims>;
  /** Verifies without the audience check, for introspection and revocation. `undefined` when invalid. */
  inspect(token: string): Promise<AccessTokenClaims | undefined>;
  /** Revokes one token until it would have expired anyway (RFC 7009). */
  revoke(claims: AccessTokenClaims): Promise<void>;
}

const REVOKED = 'auth:revoked-jti';

/** Creates the {@link AccessTokens} service. */
export function createAccessTokens(options: AccessTokensOptions): AccessTokens {
  const { keys, store, issuer } = options;
  const now = options.now ?? Date.now;
  const ttl = Math.min(options.ttlSeconds, 3600);
  const revocations = options.revocations ?? createRevocations({ store, now });
  const verified = createVerifiedCache<AccessTokenClaims>({ maxEntries: options.cacheSize ?? DEFAULT_TOKEN_CACHE_SIZE, now });

  async function verifySignature(token: string): Promise<AccessTokenClaims> {
    const { jwtVerify, errors: joseErrors } = await loadJose();
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const key = header.kid ? await keys.publicKey(header.kid) : undefined;
        if (!key) throw new joseErrors.JWKSNoMatchingKey();
        return key;
      },
      {
        issuer,
        typ: ACCESS_TOKEN_TYP,
        algorithms: [SIGNING_ALG],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(now()),
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'aud'],
      },
    );
    const claims = payload as JWTPayload & Partial<AccessTokenClaims>;
    if (typeof claims.gid !== 'string' || typeof claims.client_id !== 'string' || typeof claims.scope !== 'string') {
      throw new Error('missing claims');
    }
    return claims as AccessTokenClaims;
  }

  /** The signature-checked token, from the cache or verified now. Throws when the token is invalid or expired. */
  async function signed(key: string, token: string): Promise<VerifiedEntry<AccessTokenClaims>> {
    const cached = verified.get(key);
    if (cached) return cached;
    // Shared by every request presenting the token from now on: nobody may change it.
    const claims = Object.freeze(await verifySignature(token));
    // jose accepts a token while exp > now - tolerance (whole seconds): the entry ends at that same instant.
    return verified.set(key, claims, (claims.exp + CLOCK_TOLERANCE_SECONDS) * 1000);
  }

  async function live(claims: AccessTokenClaims): Promise<boolean> {
    if (!(await options.grantAlive(claims.gid))) return false;
    return (await store.get(REVOKED, claims.jti)) === undefined;
  }

  /** Whether the token is still live, asking storage only when something was revoked since the last confirmation. */
  async function stillLive(key: string, entry: VerifiedEntry<AccessTokenClaims>): Promise<boolean> {
    // Read before confirming: a revocation that lands during the confirmation moves the generation past the stamp.
    const generation = await revocations.generation();
    if (entry.liveAt === generation) return true;
    if (!(await live(entry.value))) {
      verified.delete(key);
      return false;
    }
    entry.liveAt = generation;
    return true;
  }

  return {
    ttlSeconds: ttl,
    async issue(grant, scopes = grant.scopes) {
      const key = await keys.active();
      const iat = Math.floor(now() / 1000);
      const { SignJWT } = await loadJose();
      return new SignJWT({ client_id: grant.clientId, scope: scopes.join(' '), gid: grant.id })
        .setProtectedHeader({ alg: SIGNING_ALG, typ: ACCESS_TOKEN_TYP, kid: key.kid })
        .setIssuer(issuer)
        .setSubject(grant.subject)
        .setAudience(grant.resource)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttl)
        .setJti(randomUUID())
        .sign(key.privateKey);
    },
    async verify(token, audience) {
      const key = hashToken(token);
      let entry: VerifiedEntry<AccessTokenClaims>;
      try {
        entry = await signed(key, token);
      } catch {
        throw new OAuthError(OAuthErrorCode.InvalidToken, 'The access token is invalid or expired');
      }
      const claims = entry.value;
      const audiences = Array.isArray(claims.aud) ? (claims.aud as string[]) : [claims.aud];
      const accepted = typeof audience === 'string' ? [audience] : audience;
      if (!audiences.some((aud) => accepted.some((wanted) => aud === wanted || aud === `${wanted}/`))) {
        throw new OAuthError(OAuthErrorCode.InvalidToken, 'The access token is not meant for this resource');
      }
      if (!(await stillLive(key, entry))) throw new OAuthError(OAuthErrorCode.InvalidToken, 'The access token was revoked');
      return claims;
    },
    async inspect(token) {
      const key = hashToken(token);
      try {
        const entry = await signed(key, token);
        return (await stillLive(key, entry)) ? entry.value : undefined;
      } catch {
        return undefined;
      }
    },
    async revoke(claims) {
      const remaining = claims.exp - Math.floor(now() / 1000) + 10;
      if (remaining > 0) {
        await store.set(REVOKED, claims.jti, true, remaining);
        await revocations.revoked();
      }
    },
  };
}
