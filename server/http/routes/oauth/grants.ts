import express, { type Request, type RequestHandler, type Response } from 'express';
import { randomToken, safeEqual } from '../../../auth/secrets.js';
import type { EventBus } from '../../../events/bus.js';
import { readCookie } from '../../middleware/oauth-request.js';
import { cookieNames, pageHeaders, setCookie, type InteractionFlowOptions } from './interaction-flow.js';
import { OAUTH_PATHS } from './metadata.js';
import { grantsLoginPage, grantsPage } from './pages.js';

/** Options of {@link grantsHandlers}. */
export interface GrantsOptions extends InteractionFlowOptions {
  grants: {
    list(filter: {
      subject: string;
    }): Promise<Array<{ id: string; clientId: string; scopes: string[]; createdAt: number; subject: string }>>;
    revoke(id: string): Promise<boolean>;
  };
  events?: EventBus;
}

/**
 * `GET/POST /oauth/grants`: a signed-in user lists the applications they approved and revokes any of them (its
 * tokens fail on the next request and the remembered consent is forgotten). Forms carry a CSRF token bound to the
 * browser session (or, before sign-in, a double-submit cookie).
 */
export function grantsHandlers(options: GrantsOptions): { page: RequestHandler; action: RequestHandler[] } {
  const { auth, secureCookies, grants, events } = options;
  const names = cookieNames(secureCookies);
  const loginCsrfCookie = `${secureCookies ? '__Host-' : ''}ccm_grants_csrf`;

  async function render(req: Request, res: Response, notice?: string, status = 200): Promise<void> {
    pageHeaders(res);
    const session = await auth.interactions.session(readCookie(req, names.session));
    if (!session) {
      const csrf = randomToken();
      setCookie(res, secureCookies, loginCsrfCookie, csrf, 600);
      res.status(status).send(grantsLoginPage({ action: OAUTH_PATHS.grants, csrf, error: notice }));
      return;
    }
    const rows = [];
    for (const grant of await grants.list({ subject: session.subject })) {
      const client = await auth.clients.get(grant.clientId).catch(() => undefined);
      rows.push({ id: grant.id, clientName: client?.client_name ?? grant.clientId, scopes: grant.scopes, createdAt: grant.createdAt });
    }
    res.status(status).send(grantsPage({ action: OAUTH_PATHS.grants, subject: session.subject, csrf: session.csrf, grants: rows, notice }));
  }

  const page: RequestHandler = async function showGrants(req, res) {
    await render(req, res);
  };

  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
  const act: RequestHandler = async function grantAction(req, res) {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const field = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : '');
    if (field('action') === 'login') {
      const expected = readCookie(req, loginCsrfCookie);
      if (!expected || !safeEqual(expected, field('csrf'))) return render(req, res, 'The form expired; try again.', 403);
      if (await auth.loginThrottle.blocked(field('username'), req.ip ?? '')) {
        return render(req, res, 'Too many failed sign-ins. Wait 15 minutes and try again.', 429);
      }
      const subject = await auth.users.verify(field('username'), field('password'));
      events?.emit('auth.login', { subject: field('username'), method: 'password', success: !!subject });
      if (!subject) {
        await auth.loginThrottle.failed(field('username'), req.ip ?? '');
        return render(req, res, 'Wrong username or password.', 401);
      }
      const ttl = auth.settings.loginSessionTtlSeconds;
      setCookie(res, secureCookies, names.session, await auth.interactions.createSession(subject, ttl), ttl);
      res.redirect(303, OAUTH_PATHS.grants);
      return;
    }
    const session = await auth.interactions.session(readCookie(req, names.session));
    if (!session || !safeEqual(session.csrf, field('csrf'))) return render(req, res, 'The form expired; try again.', 403);
    const grant = (await grants.list({ subject: session.subject })).find((candidate) => candidate.id === field('grant'));
    if (grant) {
      await grants.revoke(grant.id);
      await auth.authorize.forgetConsent(session.subject, grant.clientId);
      events?.emit('auth.revoked', { clientId: grant.clientId, grantId: grant.id, reason: 'user' });
    }
    res.redirect(303, OAUTH_PATHS.grants);
  };
  return { page, action: [form, act] };
}
