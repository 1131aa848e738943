import type { EventBus } from '../events/bus.js';
import type { AccessTokens } from './access-tokens.js';
import type { AuthorizationCodes } from './authorization-codes.js';
import type { ClientRepository, OAuthClient } from './clients.js';
import type { IssueTokenResponse, TokenResponse } from './grant-types/grant-type.js';
import { grantTypeHandler, type GrantTypeDependencies } from './grant-types/registry.js';
import type { GrantStore } from './grants.js';
import { OAuthError, OAuthErrorCode } from './oauth-error.js';
import type { ProtectedResources } from './resource.js';

/** Client credentials as presented at the token, revocation or introspection endpoint (RFC 6749 §2.3.1). */
export interface PresentedClientCredentials {
  /** From `Authorization: Basic` (already URL-decoded). */
  basic?: { clientId: string; secret: string };
  /** `client_id` form field. */
  clientId?: string;
  /** `client_secret` form field. */
  clientSecret?: string;
}

/** The RFC 7662 §2.2 introspection response. */
export type IntrospectionResponse = { active: false } | ({ active: true } & Record<string, unknown>);

/** Options of {@link createTokenService}. */
export interface TokenServiceOptions {
  issuer: string;
  /** The resources tokens may be requested for: `R`, and each gateway upstream's endpoint. */
  resources: ProtectedResources;
  clients: ClientRepository;
  codes: AuthorizationCodes;
  grants: GrantStore;
  tokens: AccessTokens;
  events?: EventBus;
  /**
   * Checked before a refresh: `false` revokes the grant and answers `invalid_grant` (the upstream identity provider
   * revoked the user's sign-in, checklist L.58).
   */
  grantStillValid?: (grantId: string) => Promise<boolean>;
}

/** The token, revocation and introspection endpoints' logic (OAuth 2.1 §3.2, §4; RFC 7009; RFC 7662). */
export interface TokenService {
  /** Authenticates the client per its registered method (checklist I.47-48). Throws `invalid_client`/`invalid_request`. */
  authenticateClient(credentials: PresentedClientCredentials): Promise<OAuthClient>;
  /**
   * Runs one grant for an authenticated client, dispatched through the grant-type registry. `params` are the form
   * fields.
   */
  grant(client: OAuthClient, params: Record<string, string>): Promise<TokenResponse>;
  /** RFC 7009: revokes a refresh or access token of `client`; unknown tokens are fine. */
  revoke(client: OAuthClient, token: string, hint?: string): Promise<void>;
  /** RFC 7662: describes a token. */
  introspect(token: string): Promise<IntrospectionResponse>;
}

/** Creates the {@link TokenService}. */
export function createTokenService(options: TokenServiceOptions): TokenService {
  const { clients, codes, grants, tokens, events } = options;

  const issue: IssueTokenResponse = async (grant, client, scopes, refreshToken) => {
    const accessToken = await tokens.issue(grant, scopes);
    events?.emit('auth.token_issued', {
      clientId: client.client_id,
      subject: grant.subject,
      grantId: grant.id,
      scopes: [...scopes],
      refresh: !!refreshToken,
    });
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: tokens.ttlSeconds,
      scope: scopes.join(' '),
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
    };
  };
  const grantDependencies: GrantTypeDependencies = {
    resources: options.resources,
    codes,
    grants,
    events,
    grantStillValid: options.grantStillValid,
    accessTokenTtlSeconds: tokens.ttlSeconds,
    issue,
  };

  return {
    async authenticateClient({ basic, clientId, clientSecret }) {
      if (basic && clientSecret !== undefined) {
        throw new OAuthError(OAuthErrorCode.InvalidRequest, 'Use one client authentication method, not both');
      }
      if (basic && clientId !== undefined && clientId !== basic.clientId) {
        throw new OAuthError(OAuthErrorCode.InvalidRequest, 'client_id differs from the Basic credentials');
      }
      const id = basic?.clientId ?? clientId;
      const secret = basic?.secret ?? clientSecret;
      // Always 401 (RFC 6749 §5.2), with a Basic challenge when Basic credentials were tried.
      const invalid = (message: string) => new OAuthError(OAuthErrorCode.InvalidClient, message, basic ? 'Basic realm="token"' : undefined);
      if (!id) throw invalid('Client authentication is required (client_id)');
      const client = await clients.get(id);
      if (!client) throw invalid('Unknown client');
      if (client.token_endpoint_auth_method === 'none') {
        if (secret !== undefined && secret !== '') throw invalid('This client is public and has no secret');
      } else if (!secret || !clients.checkSecret(client, secret)) {
        throw invalid('Client authentication failed');
      }
      await clients.touch(client);
      return client;
    },

    async grant(client, params) {
      const type = params.grant_type;
      if (!type) throw new OAuthError(OAuthErrorCode.InvalidRequest, 'grant_type is required');
      const handler = grantTypeHandler(type);
      if (!handler) throw new OAuthError(OAuthErrorCode.UnsupportedGrantType, `grant_type ${type} is not supported`);
      if (!client.grant_types.includes(handler.name)) {
        throw new OAuthError(OAuthErrorCode.UnauthorizedClient, `This client is not registered for ${type}`);
      }
      return handler.handle(grantDependencies, client, params);
    },

    async revoke(client, token, hint) {
      const tryRefresh = async () => {
        const found = await grants.lookupRefreshToken(token);
        if (!found) return false;
        if (found.clientId !== client.client_id) throw new OAuthError(OAuthErrorCode.InvalidClient, 'The token belongs to another client');
        await grants.revoke(found.grantId);
        events?.emit('auth.revoked', { clientId: client.client_id, grantId: found.grantId, reason: 'revocation_endpoint' });
        return true;
      };
      const tryAccess = async () => {
        const claims = await tokens.inspect(token);
        if (!claims) return false;
        if (claims.client_id !== client.client_id)
          throw new OAuthError(OAuthErrorCode.InvalidClient, 'The token belongs to another client');
        await tokens.revoke(claims);
        events?.emit('auth.revoked', { clientId: client.client_id, grantId: claims.gid, reason: 'revocation_endpoint' });
        return true;
      };
      // The hint is only an optimisation (RFC 7009 §2.1): fall back to the other kind.
      if (hint === 'access_token') {
        if (!(await tryAccess())) await tryRefresh();
      } else if (!(await tryRefresh())) await tryAccess();
    },

    async introspect(token) {
      const claims = await tokens.inspect(token);
      if (claims) {
        return {
          active: true,
          token_type: 'Bearer',
          iss: claims.iss,
          sub: claims.sub,
          aud: claims.aud,
          client_id: claims.client_id,
          scope: claims.scope,
          exp: claims.exp,
          iat: claims.iat,
          jti: claims.jti,
        };
      }
      const refresh = await grants.lookupRefreshToken(token);
      const grant = refresh ? await grants.get(refresh.grantId) : undefined;
      if (grant) {
        return {
          active: true,
          token_type: 'refresh_token',
          iss: options.issuer,
          sub: grant.subject,
          aud: grant.resource,
          client_id: grant.clientId,
          scope: grant.scopes.join(' '),
        };
      }
      return { active: false };
    },
  };
}
