import type { RequestHandler } from 'express';
import type { TokenService } from '../../../auth/token-service.js';
import { basicCredentials, formFields, noStore, onlyMethods, parseOAuthForm } from '../../middleware/oauth-request.js';

/** Options of {@link tokenHandler}. */
export interface TokenOptions {
  token: Pick<TokenService, 'authenticateClient' | 'grant'>;
}

/**
 * `POST /token` (OAuth 2.1 §3.2): every grant type of the registry (`auth/grant-types/registry.ts`), with client
 * authentication `none`, `client_secret_post` or `client_secret_basic`. Every answer is JSON with
 * `Cache-Control: no-store`; errors follow RFC 6749 §5.2 (checklist G-I).
 */
export function tokenHandler({ token }: TokenOptions): RequestHandler[] {
  const authenticateClient: RequestHandler = async function authenticateClient(req, res, next) {
    const fields = formFields(req);
    res.locals.client = await token.authenticateClient({
      basic: basicCredentials(req),
      clientId: fields.client_id,
      clientSecret: fields.client_secret,
    });
    next();
  };
  const grant: RequestHandler = async function runGrant(req, res) {
    res.json(await token.grant(res.locals.client, formFields(req)));
  };
  return [onlyMethods('POST'), noStore, ...parseOAuthForm(), authenticateClient, grant];
}
