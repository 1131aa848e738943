import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { KeyValueStore } from '../storage/types.js';
import type { Grant } from './grants.js';
import { OAuthError, OAuthErrorCode } from './oauth-error.js';
import { SIGNING_ALG, type SigningKeys } from './signing-keys.js';

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
  now?: () => number;
}

/** RFC 9068 JWT access tokens: issuing, verifying (with revocation) and revoking. */
export interface AccessTokens {
  readonly ttlSeconds: number;
  issue(grant: Grant, scopes?: readonly string[]): Promise<string>;
  /**
   * Verifies signature, `typ`, issuer, audience (`R` or `R/`), expiry and revocation, for resource `audience`.
   * Throws `invalid_token`.
   */
  verify(token: string, audience: string): Promise<AccessTokenClaims>;
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

  async function verifySignature(token: string): Promise<AccessTokenClaims> {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const key = header.kid ? await keys.publicKey(header.kid) : undefined;
        if (!key) throw new joseErrors.JWKSNoMatchingKey();
        return key;
      },
      { issuer, typ: ACCESS_TOKEN_TYP, algorithms: [SIGNING_ALG], clockTolerance: 5, currentDate: new Date(now()), requiredClaims: ['exp', 'iat', 'jti', 'sub', 'aud'] },
    );
    const claims = payload as JWTPayload & Partial<AccessTokenClaims>;
    if (typeof claims.gid !== 'string' || typeof claims.client_id !== 'string' || typeof claims.scope !== 'string') {
      throw new Error('missing claims');
    }
    return claims as AccessTokenClaims;
  }

  async function live(claims: AccessTokenClaims): Promise<boolean> {
    if (!(await options.grantAlive(claims.gid))) return false;
    return (await store.get(REVOKED, claims.jti)) === undefined;
  }

  return {
    ttlSeconds: ttl,
    async issue(grant, scopes = grant.scopes) {
      const key = await keys.active();
      const iat = Math.floor(now() / 1000);
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
      let claims: AccessTokenClaims;
      try {
        claims = await verifySignature(token);
      } catch {
        throw new OAuthError(OAuthErrorCode.InvalidToken, 'The access token is invalid or expired');
      }
      const audiences = Array.isArray(claims.aud) ? (claims.aud as string[]) : [claims.aud];
      if (!audiences.some((aud) => aud === audience || aud === `${audience}/`)) {
        throw new OAuthError(OAuthErrorCode.InvalidToken, 'The access token is not meant for this resource');
      }
      if (!(await live(claims))) throw new OAuthError(OAuthErrorCode.InvalidToken, 'The access token was revoked');
      return claims;
    },
    async inspect(token) {
      try {
        const claims = await verifySignature(token);
        return (await live(claims)) ? claims : undefined;
      } catch {
        return undefined;
      }
    },
    async revoke(claims) {
      const remaining = claims.exp - Math.floor(now() / 1000) + 10;
      if (remaining > 0) await store.set(REVOKED, claims.jti, true, remaining);
    },
  };
}
