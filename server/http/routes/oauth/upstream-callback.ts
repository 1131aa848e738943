import type { RequestHandler } from 'express';
import { OAuthError } from '../../../auth/oauth-error.js';
import type { EventBus } from '../../../events/bus.js';
import { readCookie } from '../../middleware/oauth-request.js';
import { cookieNames, pageHeaders, setCookie, type InteractionFlowOptions } from './interaction-flow.js';
import { errorPage } from './pages.js';

/** Options of {@link upstreamCallbackHandler}. */
export interface UpstreamCallbackOptions extends InteractionFlowOptions {
  events?: EventBus;
}

/**
 * `GET /oauth/upstream/callback`: the OpenID Connect provider's redirect back to this server (never to the MCP
 * client, checklist L.59). A missing, mismatched or replayed `state` is a 400 and no MCP code is issued (L.57); an
 * upstream `access_denied` goes back to the client's callback with the client's `state` and this server's `iss`.
 */
export function upstreamCallbackHandler(options: UpstreamCallbackOptions): RequestHandler {
  const { auth, secureCookies, events } = options;
  const names = cookieNames(secureCookies);
  return async function upstreamCallback(req, res) {
    const refuse = (message: string) => {
      pageHeaders(res);
      res.status(400).send(errorPage('Sign-in failed', message));
    };
    if (!auth.upstream) return refuse('No identity provider is configured.');
    let outcome;
    try {
      outcome = await auth.upstream.finish(new URL(req.originalUrl, auth.urls.issuer), readCookie(req, names.upstream));
    } catch (error) {
      if (error instanceof OAuthError) return refuse(error.message);
      throw error;
    }
    setCookie(res, secureCookies, names.upstream, '', 0);
    const interaction = await auth.interactions.load(outcome.interactionId);
    if (!interaction) return refuse('This sign-in took too long. Start connecting again from your application.');
    if (outcome.kind === 'denied') {
      events?.emit('auth.login', { subject: '(upstream)', method: 'oidc', success: false });
      res.redirect(303, await auth.authorize.deny(interaction));
      return;
    }
    events?.emit('auth.login', { subject: outcome.subject, method: 'oidc', success: true });
    const ttl = auth.settings.loginSessionTtlSeconds;
    setCookie(res, secureCookies, names.session, await auth.interactions.createSession(outcome.subject, ttl), ttl);
    const { refreshToken } = outcome;
    const link =
      refreshToken && auth.upstream
        ? (grantId: string) => auth.upstream!.link(grantId, refreshToken, auth.settings.refreshTokenTtlSeconds)
        : undefined;
    res.redirect(303, await auth.authorize.approve(interaction, outcome.subject, outcome.remember, link));
  };
}
