import type { RequestHandler } from 'express';
import { OAuthError, OAuthErrorCode } from '../../../auth/oauth-error.js';
import type { TokenService } from '../../../auth/token-service.js';
import { basicCredentials, formFields, noStore, onlyMethods, parseOAuthForm } from '../../middleware/oauth-request.js';

/** Options of {@link introspectHandler}. */
export interface IntrospectOptions {
  token: Pick<TokenService, 'authenticateClient' | 'introspect'>;
}

/**
 * `POST /introspect` (RFC 7662): for resource servers holding confidential-client credentials. Public clients are
 * refused (401), so the endpoint cannot be used to probe tokens anonymously (RFC 7662 §4).
 */
export function introspectHandler({ token }: IntrospectOptions): RequestHandler[] {
  const introspect: RequestHandler = async function introspectToken(req, res) {
    const fields = formFields(req);
    const client = await token.authenticateClient({
      basic: basicCredentials(req),
      clientId: fields.client_id,
      clientSecret: fields.client_secret,
    });
    if (client.token_endpoint_auth_method === 'none') {
      throw new OAuthError(OAuthErrorCode.InvalidClient, 'Introspection needs confidential client credentials');
    }
    if (!fields.token) throw new OAuthError(OAuthErrorCode.InvalidRequest, 'token is required');
    res.json(await token.introspect(fields.token));
  };
  return [onlyMethods('POST'), noStore, ...parseOAuthForm(), introspect];
}
