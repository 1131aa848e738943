import * as oauth from 'oauth4webapi';
import type { KeyValueStore } from '../storage/types.js';
import { isLoopbackHost } from '../config/load.js';
import { OAuthError, OAuthErrorCode } from './oauth-error.js';
import { randomToken } from './secrets.js';

/** Settings of the upstream OpenID Connect login (a narrow view of `Config`). */
export interface UpstreamOidcSettings {
  oidcIssuer: string;
  oidcClientId: string;
  oidcClientSecret?: string;
  oidcScopes: readonly string[];
  /** Who may sign in: exact emails, `@domain` suffixes, or `*` for anyone the provider authenticates. */
  oidcAllowedUsers: readonly string[];
}

/** Options of {@link createUpstreamOidc}. */
export interface UpstreamOidcOptions {
  settings: UpstreamOidcSettings;
  store: KeyValueStore;
  /** This server's own callback (`{issuer}/oauth/upstream/callback`), registered at the provider. */
  callbackUrl: string;
}

/** The state of one upstream login, kept server-side (checklist L.57): single use, ≤ 10 minutes. */
interface UpstreamState {
  interactionId: string;
  /** The user's "remember this decision" choice on the consent form. */
  remember: boolean;
  verifier: string;
  nonce: string;
  /** The browser that started the login: its cookie value must equal this. */
  browser: string;
}

/** What the callback learned. */
export type UpstreamOutcome =
  | { kind: 'user'; interactionId: string; subject: string; remember: boolean; refreshToken?: string }
  | { kind: 'denied'; interactionId: string; error: string };

/**
 * Login through an upstream OpenID Connect provider (Google, GitHub via OIDC, Okta, Auth0, Keycloak...), via
 * oauth4webapi. The upstream leg is separate from the MCP client's flow (checklist L.57): our own callback, our own
 * `state` (random, single-use, 10 minutes), PKCE and nonce, and our static client id. Upstream tokens never leave
 * this module; the MCP client receives only this server's own code and tokens (L.58-59).
 */
export interface UpstreamOidc {
  /** Starts a login for an interaction: returns the provider URL and the browser-binding cookie value. */
  start(interactionId: string, remember: boolean): Promise<{ url: string; browser: string }>;
  /** Completes a login from the callback URL and the browser cookie. Throws `invalid_request` on a bad state. */
  finish(callbackUrl: URL, browser: string | undefined): Promise<UpstreamOutcome>;
  /**
   * Ties the provider's refresh token to one of our grants (server-side only, never sent to the client). Our refresh
   * then refreshes upstream first, so an upstream revocation ends our grant too (checklist L.58).
   */
  link(grantId: string, refreshToken: string, ttlSeconds: number): Promise<void>;
  /** Refreshes the provider grant tied to `grantId` (if any); `false` when the provider refuses (grant revoked there). */
  stillValid(grantId: string, ttlSeconds: number): Promise<boolean>;
  /**
   * Confirms with the provider every linked grant not confirmed for `maxAgeMs`, one at a time, and calls `revoke` for
   * each the provider refuses. A provider that cannot be reached counts as no answer (checked again next time).
   * Resolves to the number of grants revoked.
   */
  recheck(maxAgeMs: number, revoke: (grantId: string) => Promise<void>): Promise<number>;
}

/** A provider refresh token tied to one of our grants, with when the provider last confirmed it. */
interface UpstreamLink {
  refreshToken: string;
  /** Epoch ms of the link or of the last successful refresh. */
  checkedAt?: number;
  /** Epoch ms at which the link expires with its grant. */
  expiresAt?: number;
}

const NS = 'auth:upstream-state';
const LINKS = 'auth:upstream-grants';

/** Whether `email` is allowed by the OIDC_ALLOWED_USERS entries. */
export function upstreamUserAllowed(allowed: readonly string[], email: string | undefined, subject: string): boolean {
  if (allowed.includes('*')) return true;
  const id = (email ?? '').toLowerCase();
  return allowed.some((entry) => {
    const rule = entry.toLowerCase();
    return rule.startsWith('@') ? id.endsWith(rule) : rule === id || rule === subject.toLowerCase();
  });
}

/** Creates the upstream OIDC login. Provider metadata is discovered on first use and kept. */
export function createUpstreamOidc(options: UpstreamOidcOptions): UpstreamOidc {
  const { settings, store } = options;
  const issuer = new URL(settings.oidcIssuer);
  // Plain http only for a provider on this machine (tests, local Keycloak).
  const insecure = issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname) ? { [oauth.allowInsecureRequests]: true } : {};
  const client: oauth.Client = { client_id: settings.oidcClientId };
  const clientAuth = settings.oidcClientSecret ? oauth.ClientSecretPost(settings.oidcClientSecret) : oauth.None();
  let metadata: Promise<oauth.AuthorizationServer> | undefined;

  const discover = () =>
    (metadata ??= oauth
      .discoveryRequest(issuer, { algorithm: 'oidc', ...insecure })
      .then((response) => oauth.processDiscoveryResponse(issuer, response))
      .catch((error: unknown) => {
        metadata = undefined; // retry discovery next time
        throw error;
      }));

  const upstream: UpstreamOidc = {
    async start(interactionId, remember) {
      const as = await discover();
      const verifier = oauth.generateRandomCodeVerifier();
      const state = randomToken();
      const nonce = randomToken();
      const browser = randomToken();
      await store.set<UpstreamState>(NS, state, { interactionId, remember, verifier, nonce, browser }, 600);
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        response_type: 'code',
        client_id: settings.oidcClientId,
        redirect_uri: options.callbackUrl,
        scope: settings.oidcScopes.join(' '),
        state,
        nonce,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }).toString();
      return { url: url.toString(), browser };
    },

    async finish(callbackUrl, browser) {
      const stateParam = callbackUrl.searchParams.get('state');
      // take(): a replayed callback finds nothing (single use).
      const saved = stateParam ? await store.take<UpstreamState>(NS, stateParam) : undefined;
      if (!saved || !browser || saved.browser !== browser) {
        throw new OAuthError(OAuthErrorCode.InvalidRequest, 'Unknown, expired or replayed sign-in state');
      }
      const upstreamError = callbackUrl.searchParams.get('error');
      if (upstreamError) return { kind: 'denied', interactionId: saved.interactionId, error: upstreamError };
      const as = await discover();
      let claims: oauth.IDToken | undefined;
      let refreshToken: string | undefined;
      try {
        const params = oauth.validateAuthResponse(as, client, callbackUrl, stateParam!);
        const response = await oauth.authorizationCodeGrantRequest(
          as,
          client,
          clientAuth,
          params,
          options.callbackUrl,
          saved.verifier,
          insecure,
        );
        const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
          expectedNonce: saved.nonce,
          requireIdToken: true,
        });
        claims = oauth.getValidatedIdTokenClaims(result);
        refreshToken = result.refresh_token;
      } catch {
        throw new OAuthError(OAuthErrorCode.AccessDenied, 'The identity provider sign-in failed');
      }
      if (!claims) throw new OAuthError(OAuthErrorCode.AccessDenied, 'The identity provider returned no ID token');
      const email = typeof claims.email === 'string' && claims.email_verified !== false ? claims.email : undefined;
      if (!upstreamUserAllowed(settings.oidcAllowedUsers, email, claims.sub)) {
        return { kind: 'denied', interactionId: saved.interactionId, error: 'access_denied' };
      }
      return {
        kind: 'user',
        interactionId: saved.interactionId,
        subject: email ?? `${claims.iss}#${claims.sub}`,
        remember: saved.remember,
        refreshToken,
      };
    },

    async link(grantId, refreshToken, ttlSeconds) {
      const now = Date.now();
      await store.set<UpstreamLink>(LINKS, grantId, { refreshToken, checkedAt: now, expiresAt: now + ttlSeconds * 1000 }, ttlSeconds);
    },

    async stillValid(grantId, ttlSeconds) {
      const linked = await store.get<UpstreamLink>(LINKS, grantId);
      if (!linked) return true; // not an upstream sign-in, or the provider issued no refresh token
      try {
        const as = await discover();
        const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, linked.refreshToken, insecure);
        const result = await oauth.processRefreshTokenResponse(as, client, response);
        // Providers that rotate refresh tokens return a new one; keep whichever is current.
        const now = Date.now();
        await store.set<UpstreamLink>(
          LINKS,
          grantId,
          { refreshToken: result.refresh_token ?? linked.refreshToken, checkedAt: now, expiresAt: now + ttlSeconds * 1000 },
          ttlSeconds,
        );
        return true;
      } catch (error) {
        if (error instanceof oauth.ResponseBodyError) {
          await store.delete(LINKS, grantId);
          return false; // the provider answered: this grant is gone there
        }
        throw error; // network trouble: a transient failure, not a revocation
      }
    },

    async recheck(maxAgeMs, revoke) {
      const now = Date.now();
      let revoked = 0;
      for (const { id, value } of await store.list<UpstreamLink>(LINKS)) {
        if (now - (value.checkedAt ?? 0) < maxAgeMs) continue;
        // A re-check keeps the link's own lifetime (that of its grant), it does not extend it.
        const ttlSeconds = Math.max(1, Math.ceil(((value.expiresAt ?? now + maxAgeMs) - now) / 1000));
        const valid = await upstream.stillValid(id, ttlSeconds).catch(() => true);
        if (!valid) {
          await revoke(id);
          revoked += 1;
        }
      }
      return revoked;
    },
  };
  return upstream;
}
