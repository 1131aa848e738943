import type { EventBus } from '../../events/bus.js';
import type { AuthorizationCodes } from '../authorization-codes.js';
import type { OAuthClient } from '../clients.js';
import type { GrantStore } from '../grants.js';
import { OAuthError, OAuthErrorCode } from '../oauth-error.js';
import { normaliseResource, type ProtectedResources } from '../resource.js';
import { OFFLINE_ACCESS } from '../scopes.js';
import type { GrantTypeHandler, IssueTokenResponse } from './grant-type.js';

/** What the `authorization_code` grant needs. */
export interface AuthorizationCodeGrantDependencies {
  /** The resources tokens may be requested for. */
  resources: ProtectedResources;
  codes: Pick<AuthorizationCodes, 'redeem'>;
  grants: Pick<GrantStore, 'create' | 'revoke' | 'issueRefreshToken'>;
  events?: Pick<EventBus, 'emit'>;
  issue: IssueTokenResponse;
}

/** A refresh token goes to clients registered for it or granted `offline_access` (checklist H.46). */
function wantsRefresh(client: OAuthClient, scopes: readonly string[]): boolean {
  return client.grant_types.includes('refresh_token') || scopes.includes(OFFLINE_ACCESS);
}

/**
 * `authorization_code` (OAuth 2.1 §4.1.3): redeems a code once, with its PKCE verifier and redirect URI, into a new
 * grant. A replayed code revokes whatever the first redemption issued.
 */
export const authorizationCodeGrant = {
  name: 'authorization_code',
  async handle({ resources, codes, grants, events, issue }, client, params) {
    if (!params.code) throw new OAuthError(OAuthErrorCode.InvalidRequest, 'code is required');
    const binding = await codes.redeem(
      params.code,
      { clientId: client.client_id, redirectUri: params.redirect_uri, codeVerifier: params.code_verifier },
      async (grantId) => {
        // Replay (OAuth 2.1 §4.1.3): whatever the first redemption issued dies with the grant.
        await grants.revoke(grantId);
        events?.emit('auth.revoked', { clientId: client.client_id, grantId, reason: 'code_replay' });
      },
    );
    if (params.resource !== undefined && normaliseResource(params.resource, resources) !== binding.resource) {
      throw new OAuthError(OAuthErrorCode.InvalidTarget, 'resource differs from the authorization request');
    }
    const grant = await grants.create({
      id: binding.grantId,
      clientId: client.client_id,
      subject: binding.subject,
      scopes: binding.scopes,
      resource: binding.resource,
      kind: 'authorization_code',
    });
    const refreshToken = wantsRefresh(client, grant.scopes) ? await grants.issueRefreshToken(grant) : undefined;
    return issue(grant, client, grant.scopes, refreshToken);
  },
} as const satisfies GrantTypeHandler<'authorization_code', AuthorizationCodeGrantDependencies>;
