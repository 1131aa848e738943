import type { RequestHandler } from 'express';
import { readCookie } from '../../middleware/oauth-request.js';
import { continueAsUser, cookieNames, pageHeaders, renderLogin, setCookie, type InteractionFlowOptions } from './interaction-flow.js';
import { errorPage } from './pages.js';

/** Options of {@link authorizeHandler}. */
export type AuthorizeOptions = InteractionFlowOptions;

/**
 * `GET /authorize` (OAuth 2.1 §4.1.1). A bad client or redirect URI gets a direct 400 page; other errors redirect
 * back with `error`, `state` and `iss`; a valid request shows the login page, or — for a browser already signed in —
 * the consent page (or a code at once when the user approved this client before).
 */
export function authorizeHandler(options: AuthorizeOptions): RequestHandler {
  const { auth, secureCookies } = options;
  const names = cookieNames(secureCookies);
  return async function authorize(req, res) {
    const outcome = await auth.authorize.authorize(req.query as Record<string, unknown>);
    if (outcome.kind === 'invalid') {
      pageHeaders(res);
      res.status(400).send(errorPage('This sign-in link is not valid', `${outcome.error.code}: ${outcome.error.message}`));
      return;
    }
    if (outcome.kind === 'redirect') {
      res.redirect(302, outcome.url);
      return;
    }
    const { interaction, binding, client } = outcome;
    setCookie(res, secureCookies, names.interaction, binding, 600);
    const subject = await auth.interactions.sessionSubject(readCookie(req, names.session));
    if (subject) {
      await continueAsUser(options, res, interaction, subject, 302);
      return;
    }
    renderLogin(options, res, interaction, client);
  };
}
