import express, { type Router } from 'express';
import type { AuthServer, UpstreamNames } from '../../../auth/auth-server.js';
import type { EventBus } from '../../../events/bus.js';
import { publicCors } from '../../middleware/cors.js';
import { authorizationServerMetadataHandler } from './authorization-server-metadata.js';
import { authorizeHandler } from './authorize.js';
import { consentHandler } from './consent.js';
import { grantsHandlers } from './grants.js';
import { introspectHandler } from './introspect.js';
import { jwksHandler } from './jwks.js';
import { loginHandler } from './login.js';
import { OAUTH_PATHS } from './metadata.js';
import { protectedResourceRouter } from './resource-router.js';
import { registerHandler } from './register.js';
import { revokeHandler } from './revoke.js';
import { tokenHandler } from './token.js';
import { upstreamCallbackHandler } from './upstream-callback.js';

/** Options of {@link oauthRouter}. */
export interface OAuthRouterOptions {
  auth: AuthServer;
  events?: EventBus;
  /** Gateway upstreams, whose own endpoints get protected-resource metadata. */
  upstreams?: UpstreamNames;
}

/**
 * Every OAuth route of the built-in authorization server: discovery (RFC 9728, RFC 8414 and the OpenID paths),
 * JWKS, registration, authorization with login and consent, token, revocation and introspection. The endpoints sit
 * at the origin root (`/authorize`, `/token`, `/register`: checklist C.18) with `/oauth/*` aliases.
 */
export function oauthRouter({ auth, events, upstreams }: OAuthRouterOptions): Router {
  const router = express.Router();
  const { urls } = auth;
  const issuerPath = new URL(urls.issuer).pathname.replace(/\/+$/, '');
  const flow = { auth, secureCookies: urls.issuer.startsWith('https://') };
  const cors = publicCors();

  router.use(protectedResourceRouter({ urls, ...(upstreams ? { upstreams } : {}) }));
  const asm = authorizationServerMetadataHandler({ urls, clientIdMetadataDocuments: auth.settings.oauthCimdEnabled });
  router.get(
    [
      ...new Set([
        `/.well-known/oauth-authorization-server${issuerPath}`,
        `/.well-known/openid-configuration${issuerPath}`,
        `${issuerPath}/.well-known/openid-configuration`,
      ]),
    ],
    asm,
  );
  router.get([OAUTH_PATHS.jwks, '/oauth/jwks'], jwksHandler({ keys: auth.keys }));

  const api = (path: string) => [path, `/oauth${path}`];
  router.options(
    [...api(OAUTH_PATHS.register), ...api(OAUTH_PATHS.token), ...api(OAUTH_PATHS.revoke), ...api(OAUTH_PATHS.introspect)],
    cors,
  );
  router.post(api(OAUTH_PATHS.register), cors, ...registerHandler({ clients: auth.clients, events }));
  router.all(api(OAUTH_PATHS.token), cors, ...tokenHandler({ token: auth.token }));
  router.all(api(OAUTH_PATHS.revoke), cors, ...revokeHandler({ token: auth.token }));
  router.all(api(OAUTH_PATHS.introspect), cors, ...introspectHandler({ token: auth.token }));

  router.get(api(OAUTH_PATHS.authorize), authorizeHandler(flow));
  router.post(OAUTH_PATHS.login, ...loginHandler({ ...flow, events }));
  router.post(OAUTH_PATHS.consent, ...consentHandler(flow));
  const grants = grantsHandlers({ ...flow, grants: auth.grants, events });
  router.get(OAUTH_PATHS.grants, grants.page);
  router.post(OAUTH_PATHS.grants, ...grants.action);
  if (auth.upstream) router.get(OAUTH_PATHS.upstreamCallback, upstreamCallbackHandler({ ...flow, events }));
  return router;
}
