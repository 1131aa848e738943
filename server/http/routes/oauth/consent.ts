import express, { type RequestHandler } from 'express';
import { readCookie } from '../../middleware/oauth-request.js';
import { cookieNames, pageHeaders, setCookie, type InteractionFlowOptions } from './interaction-flow.js';
import { errorPage } from './pages.js';

/** Options of {@link consentHandler}. */
export type ConsentOptions = InteractionFlowOptions;

/**
 * `POST /oauth/consent`: Allow issues a code and 303-redirects to the client with `code`, `state` and `iss`; Deny
 * redirects with `access_denied`. Without the interaction cookie, the CSRF field and a signed-in browser: 403 and
 * no code (checklist F.35).
 */
export function consentHandler(options: ConsentOptions): RequestHandler[] {
  const { auth, secureCookies } = options;
  const names = cookieNames(secureCookies);
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
  const consent: RequestHandler = async function consent(req, res) {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const field = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : undefined);
    const interaction = await auth.interactions.resume(field('interaction') ?? '', readCookie(req, names.interaction), field('csrf'));
    const subject = await auth.interactions.sessionSubject(readCookie(req, names.session));
    const remember = field('remember') === '1' && auth.settings.consentTtlSeconds > 0;
    if (interaction && !subject && auth.upstream) {
      // Consent came first (checklist L.56); only now does the upstream leg start, with its own state and cookie.
      if (field('decision') !== 'allow') {
        res.redirect(303, await auth.authorize.deny(interaction));
        return;
      }
      const { url, browser } = await auth.upstream.start(interaction.id, remember);
      setCookie(res, secureCookies, names.upstream, browser, 600);
      res.redirect(303, url);
      return;
    }
    if (!interaction || !subject) {
      pageHeaders(res);
      res
        .status(403)
        .send(errorPage('Request expired or forged', 'This form is no longer valid. Start connecting again from your application.'));
      return;
    }
    const url =
      field('decision') === 'allow'
        ? await auth.authorize.approve(interaction, subject, remember)
        : await auth.authorize.deny(interaction, subject);
    res.redirect(303, url);
  };
  return [form, consent];
}
