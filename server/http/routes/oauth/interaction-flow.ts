import type { Response } from 'express';
import type { AuthServer } from '../../../auth/auth-server.js';
import type { OAuthClient } from '../../../auth/clients.js';
import type { Interaction } from '../../../auth/interactions.js';
import { consentPage, loginPage } from './pages.js';
import { OAUTH_PATHS } from './metadata.js';

/** What the login, consent and authorize endpoints share. */
export interface InteractionFlowOptions {
  auth: Pick<AuthServer, 'authorize' | 'interactions' | 'users' | 'clients' | 'settings' | 'urls' | 'upstream' | 'loginThrottle'>;
  /** Issuer is https: cookies get `Secure` and the `__Host-` prefix (checklist F.35). */
  secureCookies: boolean;
}

/** Cookie names: `__Host-` prefixed over HTTPS. */
export function cookieNames(secure: boolean): { interaction: string; session: string; upstream: string } {
  const prefix = secure ? '__Host-' : '';
  return { interaction: `${prefix}ccm_interaction`, session: `${prefix}ccm_session`, upstream: `${prefix}ccm_upstream` };
}

/** Sets a path-wide, HttpOnly, SameSite=Lax cookie (`Secure` over HTTPS). */
export function setCookie(res: Response, secure: boolean, name: string, value: string, maxAgeSeconds: number): void {
  const attributes = [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAgeSeconds}`];
  if (secure) attributes.push('Secure');
  res.append('Set-Cookie', attributes.join('; '));
}

/** Headers of every login/consent/error page: no framing, no referrer leaks, no caching (checklist F.35). */
export function pageHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'");
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-store');
  res.type('html');
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The host (and port) people know this server by: the issuer's, which is the public URL. */
function hostOf(issuer: string): string {
  return new URL(issuer).host;
}

/**
 * After the user is known: a remembered consent redirects straight back with a code; otherwise the consent page.
 * `status` is the redirect status (302 after GET, 303 after a POST, checklist E.33).
 */
export async function continueAsUser(
  options: InteractionFlowOptions,
  res: Response,
  interaction: Interaction,
  subject: string,
  redirectStatus: 302 | 303,
): Promise<void> {
  const { auth } = options;
  if (await auth.authorize.hasConsent(subject, interaction.request)) {
    res.redirect(redirectStatus, await auth.authorize.approve(interaction, subject, false));
    return;
  }
  const client = (await auth.clients.get(interaction.request.clientId)) as OAuthClient;
  pageHeaders(res);
  res.send(
    consentPage({
      host: hostOf(auth.urls.issuer),
      action: OAUTH_PATHS.consent,
      interactionId: interaction.id,
      csrf: interaction.csrf,
      subject,
      ...consentFacts(client, interaction),
    }),
  );
}

/** What the consent UI shows about a request (checklist F.34). */
export function consentFacts(client: OAuthClient, interaction: Interaction) {
  const redirect = new URL(interaction.request.redirectUri);
  return {
    clientName: client.client_name ?? client.client_id,
    unverified: !client.static,
    redirectHost: redirect.host || redirect.protocol,
    loopbackRedirect: LOOPBACK.has(redirect.hostname),
    scopes: interaction.request.scopes,
    resource: interaction.request.resource,
  };
}

/** The sign-in page for an interaction, with the upstream-provider option when one is configured. */
export function renderLogin(
  options: InteractionFlowOptions,
  res: Response,
  interaction: Interaction,
  client: OAuthClient,
  error?: string,
): void {
  const { auth } = options;
  pageHeaders(res);
  res.send(
    loginPage({
      host: hostOf(auth.urls.issuer),
      action: OAUTH_PATHS.login,
      interactionId: interaction.id,
      csrf: interaction.csrf,
      clientName: client.client_name ?? client.client_id,
      error,
      upstream: auth.upstream
        ? { providerName: auth.settings.oidcProviderName, consentAction: OAUTH_PATHS.consent, details: consentFacts(client, interaction) }
        : undefined,
    }),
  );
}
