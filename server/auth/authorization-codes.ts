import { createHash } from 'node:crypto';
import type { KeyValueStore } from '../storage/types.js';
import { OAuthError, OAuthErrorCode } from './oauth-error.js';
import { hashToken, randomToken, safeEqual } from './secrets.js';

/** What a code is bound to (OAuth 2.1 §4.1.3; checklist G.37-42). */
export interface CodeBinding {
  clientId: string;
  redirectUri: string;
  /** PKCE S256 challenge (RFC 7636 §4.2). */
  codeChallenge: string;
  resource: string;
  scopes: string[];
  subject: string;
  /** The grant the redemption will create; a replayed code revokes it (checklist G.39). */
  grantId: string;
}

/** Options of {@link createAuthorizationCodes}. */
export interface AuthorizationCodesOptions {
  store: KeyValueStore;
  /** Code lifetime; at most 600 s (OAuth 2.1 §4.1.2). */
  ttlSeconds: number;
}

/** Authorization codes: 256-bit, single-use through the storage port's atomic `take`, short-lived. */
export interface AuthorizationCodes {
  issue(binding: CodeBinding): Promise<string>;
  /**
   * Redeems a code once. A second redemption throws `invalid_grant` and calls `onReplay` with the grant the first
   * one created, so the caller revokes it. Checks client, redirect URI (when sent) and PKCE verifier.
   */
  redeem(
    code: string,
    check: { clientId: string; redirectUri?: string; codeVerifier?: string },
    onReplay: (grantId: string) => Promise<void>,
  ): Promise<CodeBinding>;
}

const CODES = 'auth:codes';
const USED = 'auth:codes-used';

/** RFC 7636 §4.1: 43-128 characters of the unreserved set. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** A base64url SHA-256: exactly 43 characters. */
export const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** Creates the {@link AuthorizationCodes} service. */
export function createAuthorizationCodes(options: AuthorizationCodesOptions): AuthorizationCodes {
  const { store } = options;
  const ttl = Math.min(options.ttlSeconds, 600);
  return {
    async issue(binding) {
      const code = randomToken();
      await store.set(CODES, hashToken(code), binding, ttl);
      return code;
    },
    async redeem(code, check, onReplay) {
      const id = hashToken(code);
      const binding = await store.take<CodeBinding>(CODES, id);
      if (!binding) {
        const grantId = await store.get<string>(USED, id);
        if (grantId) {
          await onReplay(grantId);
          throw new OAuthError(OAuthErrorCode.InvalidGrant, 'The authorization code was already used; its tokens are revoked');
        }
        throw new OAuthError(OAuthErrorCode.InvalidGrant, 'The authorization code is invalid or expired');
      }
      await store.set(USED, id, binding.grantId, ttl * 2);
      if (binding.clientId !== check.clientId) {
        throw new OAuthError(OAuthErrorCode.InvalidGrant, 'The authorization code was issued to another client');
      }
      if (check.redirectUri !== undefined && check.redirectUri !== binding.redirectUri) {
        throw new OAuthError(OAuthErrorCode.InvalidGrant, 'redirect_uri differs from the authorization request');
      }
      if (check.codeVerifier === undefined) {
        throw new OAuthError(OAuthErrorCode.InvalidRequest, 'code_verifier is required');
      }
      if (!VERIFIER.test(check.codeVerifier)) throw new OAuthError(OAuthErrorCode.InvalidGrant, 'code_verifier is malformed');
      const computed = createHash('sha256').update(check.codeVerifier).digest('base64url');
      if (!safeEqual(computed, binding.codeChallenge)) {
        throw new OAuthError(OAuthErrorCode.InvalidGrant, 'code_verifier does not match the code_challenge');
      }
      return binding;
    },
  };
}
