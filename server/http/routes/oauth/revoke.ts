import type { RequestHandler } from 'express';
import { OAuthError, OAuthErrorCode } from '../../../auth/oauth-error.js';
import type { TokenService } from '../../../auth/token-service.js';
import { basicCredentials, formFields, noStore, onlyMethods, parseOAuthForm } from '../../middleware/oauth-request.js';

/** Options of {@link revokeHandler}. */
export interface RevokeOptions {
  token: Pick<TokenService, 'authenticateClient' | 'revoke'>;
}

/**
 * `POST /revoke` (RFC 7009 §2): revokes a refresh token (and its whole family) or an access token of the calling
 * client. Unknown tokens are a 200 too (§2.2); another client's token is refused and left alone (checklist K.54).
 */
export function revokeHandler({ token }: RevokeOptions): RequestHandler[] {
  const revoke: RequestHandler = async function revokeToken(req, res) {
    const fields = formFields(req);
    const client = await token.authenticateClient({
      basic: basicCredentials(req),
      clientId: fields.client_id,
      clientSecret: fields.client_secret,
    });
    if (!fields.token) throw new OAuthError(OAuthErrorCode.InvalidRequest, 'token is required');
    await token.revoke(client, fields.token, fields.token_type_hint);
    res.status(200).json({});
  };
  return [onlyMethods('POST'), noStore, ...parseOAuthForm(), revoke];
}
