import type { GrantStore } from '../grants.js';
import { OAuthError, OAuthErrorCode } from '../oauth-error.js';
import { normaliseResource, type ProtectedResources } from '../resource.js';
import { missingScopes, parseScope, resolveRequestedScopes } from '../scopes.js';
import type { GrantTypeHandler, IssueTokenResponse } from './grant-type.js';

/** What the `client_credentials` grant needs. */
export interface ClientCredentialsGrantDependencies {
  /** The resources tokens may be requested for. */
  resources: ProtectedResources;
  grants: Pick<GrantStore, 'create'>;
  /** Lifetime of an access token: the machine grant outlives its only token by a minute, then goes. */
  accessTokenTtlSeconds: number;
  issue: IssueTokenResponse;
}

/**
 * `client_credentials` (OAuth 2.1 §4.2): a confidential client gets an access token for itself (`sub` is its id),
 * within the scopes it registered for; no refresh token.
 */
export const clientCredentialsGrant = {
  name: 'client_credentials',
  async handle({ resources, grants, accessTokenTtlSeconds, issue }, client, params) {
    if (client.token_endpoint_auth_method === 'none') {
      throw new OAuthError(OAuthErrorCode.UnauthorizedClient, 'client_credentials needs a confidential client');
    }
    const resource = normaliseResource(params.resource, resources);
    const scopes = resolveRequestedScopes(params.scope ?? client.scope);
    if (client.scope && missingScopes(parseScope(client.scope), scopes).length > 0) {
      throw new OAuthError(OAuthErrorCode.InvalidScope, 'The client is not registered for every requested scope');
    }
    const grant = await grants.create(
      { clientId: client.client_id, subject: client.client_id, scopes, resource, kind: 'client_credentials' },
      accessTokenTtlSeconds + 60,
    );
    return issue(grant, client, scopes);
  },
} as const satisfies GrantTypeHandler<'client_credentials', ClientCredentialsGrantDependencies>;
