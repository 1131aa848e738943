import type { EventBus } from '../../events/bus.js';
import type { Grant, GrantStore } from '../grants.js';
import { OAuthError, OAuthErrorCode } from '../oauth-error.js';
import { normaliseResource, type ProtectedResources } from '../resource.js';
import { missingScopes, parseScope } from '../scopes.js';
import type { GrantTypeHandler, IssueTokenResponse } from './grant-type.js';

/** What the `refresh_token` grant needs. */
export interface RefreshTokenGrantDependencies {
  /** The resources tokens may be requested for. */
  resources: ProtectedResources;
  grants: Pick<GrantStore, 'lookupRefreshToken' | 'get' | 'rotate' | 'revoke'>;
  events?: Pick<EventBus, 'emit'>;
  /**
   * Checked before a refresh: `false` revokes the grant and answers `invalid_grant` (the upstream identity provider
   * revoked the user's sign-in, checklist L.58).
   */
  grantStillValid?: (grantId: string) => Promise<boolean>;
  issue: IssueTokenResponse;
}

/**
 * `refresh_token` (OAuth 2.1 §4.3): rotates the refresh token (RFC 9700 §4.14.2) and issues an access token of the
 * same grant, possibly narrower in scope, never wider and never for another resource.
 */
export const refreshTokenGrant = {
  name: 'refresh_token',
  async handle({ resources, grants, events, grantStillValid, issue }, client, params) {
    if (!params.refresh_token) throw new OAuthError(OAuthErrorCode.InvalidRequest, 'refresh_token is required');
    // A refresh may narrow the scope, never widen it, and the resource stays the grant's (OAuth 2.1 §4.3.1).
    const checkWithinGrant = (grant: Grant) => {
      if (params.resource !== undefined && normaliseResource(params.resource, resources) !== grant.resource) {
        throw new OAuthError(OAuthErrorCode.InvalidTarget, 'resource is outside the grant');
      }
      if (params.scope !== undefined && missingScopes(grant.scopes, parseScope(params.scope)).length > 0) {
        throw new OAuthError(OAuthErrorCode.InvalidScope, 'scope is broader than the grant');
      }
    };
    // Check the cheap bindings before rotating, so a bad request does not burn the caller's token.
    const known = await grants.lookupRefreshToken(params.refresh_token);
    const grant = known ? await grants.get(known.grantId) : undefined;
    if (grant && known?.clientId === client.client_id) checkWithinGrant(grant);
    const rotation = await grants.rotate(params.refresh_token, client.client_id, (reason, grantId) => {
      if (reason === 'reused') events?.emit('auth.refresh_reused', { clientId: client.client_id, grantId: grantId ?? '' });
    });
    // Again after: a token presented within the reuse grace was already rotated, so the lookup above did not find it.
    checkWithinGrant(rotation.grant);
    if (grantStillValid && !(await grantStillValid(rotation.grant.id))) {
      await grants.revoke(rotation.grant.id);
      events?.emit('auth.revoked', { clientId: client.client_id, grantId: rotation.grant.id, reason: 'upstream' });
      throw new OAuthError(OAuthErrorCode.InvalidGrant, 'The sign-in at the identity provider was revoked');
    }
    const scopes = params.scope !== undefined ? parseScope(params.scope) : rotation.grant.scopes;
    return issue(rotation.grant, client, scopes, rotation.refreshToken);
  },
} as const satisfies GrantTypeHandler<'refresh_token', RefreshTokenGrantDependencies>;
