import express, { type RequestHandler } from 'express';
import type { EventBus } from '../../../events/bus.js';
import { readCookie } from '../../middleware/oauth-request.js';
import { continueAsUser, cookieNames, pageHeaders, renderLogin, setCookie, type InteractionFlowOptions } from './interaction-flow.js';
import { errorPage } from './pages.js';

/** Options of {@link loginHandler}. */
export interface LoginOptions extends InteractionFlowOptions {
  events?: EventBus;
}

/**
 * `POST /oauth/login`: checks a local user's password (scrypt), then continues to consent. Needs the interaction's
 * browser cookie and CSRF field (403 otherwise).
 */
export function loginHandler(options: LoginOptions): RequestHandler[] {
  const { auth, secureCookies, events } = options;
  const names = cookieNames(secureCookies);
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
  const login: RequestHandler = async function login(req, res) {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const field = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : undefined);
    const interaction = await auth.interactions.resume(field('interaction') ?? '', readCookie(req, names.interaction), field('csrf'));
    if (!interaction) {
      pageHeaders(res);
      res
        .status(403)
        .send(errorPage('Sign-in expired or forged', 'This form is no longer valid. Start connecting again from your application.'));
      return;
    }
    const username = field('username') ?? '';
    const address = req.ip ?? '';
    const client = await auth.clients.get(interaction.request.clientId);
    if (await auth.loginThrottle.blocked(username, address)) {
      res.status(429);
      renderLogin(options, res, interaction, client!, 'Too many failed sign-ins. Wait 15 minutes and try again.');
      return;
    }
    const subject = await auth.users.verify(username, field('password') ?? '');
    events?.emit('auth.login', { subject: username, method: 'password', success: !!subject });
    if (!subject) {
      await auth.loginThrottle.failed(username, address);
      res.status(401);
      renderLogin(options, res, interaction, client!, 'Wrong username or password.');
      return;
    }
    const ttl = auth.settings.loginSessionTtlSeconds;
    setCookie(res, secureCookies, names.session, await auth.interactions.createSession(subject, ttl), ttl);
    await continueAsUser(options, res, interaction, subject, 303);
  };
  return [form, login];
}
