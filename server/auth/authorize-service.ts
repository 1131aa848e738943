import { randomUUID } from 'node:crypto';
import type { EventBus } from '../events/bus.js';
import type { KeyValueStore } from '../storage/types.js';
import type { AuthorizationCodes } from './authorization-codes.js';
import { S256_CHALLENGE } from './authorization-codes.js';
import type { ClientRepository, OAuthClient } from './clients.js';
import type { AuthorizationRequest, Interaction, Interactions } from './interactions.js';
import { OAuthError, OAuthErrorCode } from './oauth-error.js';
import { redirectUriMatches } from './redirect-uri.js';
import { normaliseResource, type ProtectedResources } from './resource.js';
import { missingScopes, parseScope, resolveRequestedScopes } from './scopes.js';

/**
 * The outcome of `GET /authorize` (domain functions return data, never touch `res`):
 * - `invalid`: a bad client or redirect URI; answer with a direct 400 page, never redirect (checklist E.28-29);
 * - `redirect`: go to the client's redirect URI (an error redirect, or a code when consent is remembered);
 * - `interaction`: show the login or consent page.
 */
export type AuthorizeOutcome =
  | { kind: 'invalid'; error: OAuthError }
  | { kind: 'redirect'; url: string }
  | { kind: 'interaction'; interaction: Interaction; binding: string; client: OAuthClient };

/** Options of {@link createAuthorizeService}. */
export interface AuthorizeServiceOptions {
  issuer: string;
  /** The resources tokens may be requested for: `R`, and each gateway upstream's endpoint. */
  resources: ProtectedResources;
  clients: ClientRepository;
  codes: AuthorizationCodes;
  interactions: Interactions;
  store: KeyValueStore;
  events?: EventBus;
  /** How long a remembered consent lasts. */
  consentTtlSeconds: number;
}

/** The authorization endpoint's logic: request validation, consent memory, code issuance (OAuth 2.1 §4.1). */
export interface AuthorizeService {
  /** Validates a `GET /authorize` query and starts an interaction. */
  authorize(query: Record<string, unknown>): Promise<AuthorizeOutcome>;
  /** True when `subject` already approved at least these scopes and this resource for the client. */
  hasConsent(subject: string, request: AuthorizationRequest): Promise<boolean>;
  /**
   * Approves: remembers consent when asked, issues a code and returns the redirect URL with `code`, `state`, `iss`.
   * `onGrant` learns the id of the grant the code will create (to tie upstream tokens to it).
   */
  approve(interaction: Interaction, subject: string, remember: boolean, onGrant?: (grantId: string) => Promise<void>): Promise<string>;
  /** The user said no: the `access_denied` redirect (checklist E.30). */
  deny(interaction: Interaction, subject?: string): Promise<string>;
  /** Forgets a remembered consent (the grants page, `clients revoke`). */
  forgetConsent(subject: string, clientId: string): Promise<void>;
}

/** Forgets every remembered consent of a client or of a user (operators removing a client or a user). */
export async function forgetConsents(store: KeyValueStore, match: { clientId?: string; subject?: string }): Promise<number> {
  let removed = 0;
  for (const { id } of await store.list(CONSENTS)) {
    const [subject, clientId] = id.split('\n');
    if ((match.clientId && clientId === match.clientId) || (match.subject && subject === match.subject)) {
      if (await store.delete(CONSENTS, id)) removed += 1;
    }
  }
  return removed;
}

const CONSENTS = 'auth:consents';

/** Builds a redirect URL with OAuth response parameters, keeping the redirect URI's own query (RFC 6749 §3.1.2). */
export function buildRedirect(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.append(key, value);
  return url.toString();
}

/** Creates the {@link AuthorizeService}. */
export function createAuthorizeService(options: AuthorizeServiceOptions): AuthorizeService {
  const { issuer, clients, codes, interactions, store, events } = options;

  const errorRedirect = (redirectUri: string, state: string | undefined, code: OAuthErrorCode, description: string) =>
    buildRedirect(redirectUri, { error: code, error_description: description, state, iss: issuer });

  const consentId = (subject: string, clientId: string) => `${subject}\n${clientId}`;

  const self: AuthorizeService = {
    async authorize(query) {
      const duplicated = Object.entries(query)
        .filter(([, value]) => typeof value !== 'string')
        .map(([key]) => key);
      const single = (name: string) => (typeof query[name] === 'string' ? (query[name] as string) : undefined);

      const clientId = single('client_id');
      let client: OAuthClient | undefined;
      try {
        client = clientId && !duplicated.includes('client_id') ? await clients.get(clientId) : undefined;
      } catch (error) {
        if (error instanceof OAuthError) return { kind: 'invalid', error }; // a bad metadata document: never redirect
        throw error;
      }
      if (!client) return { kind: 'invalid', error: new OAuthError(OAuthErrorCode.InvalidClient, 'Unknown or missing client_id') };
      if (!client.grant_types.includes('authorization_code')) {
        return {
          kind: 'invalid',
          error: new OAuthError(OAuthErrorCode.UnauthorizedClient, 'This client may not use the authorization code flow'),
        };
      }
      if (duplicated.includes('redirect_uri')) {
        return { kind: 'invalid', error: new OAuthError(OAuthErrorCode.InvalidRequest, 'redirect_uri is duplicated') };
      }
      const requested = single('redirect_uri');
      let redirectUri: string | undefined;
      if (requested === undefined) {
        if (client.redirect_uris.length === 1) redirectUri = client.redirect_uris[0];
      } else if (client.redirect_uris.some((registered) => redirectUriMatches(registered, requested))) {
        redirectUri = requested;
      }
      if (!redirectUri) {
        return {
          kind: 'invalid',
          error: new OAuthError(OAuthErrorCode.InvalidRequest, 'redirect_uri is missing or not registered for this client'),
        };
      }

      // From here on errors go back to the client (OAuth 2.1 §4.1.2.1), with state and iss (RFC 9207).
      const state = duplicated.includes('state') ? undefined : single('state');
      const fail = (code: OAuthErrorCode, description: string): AuthorizeOutcome => ({
        kind: 'redirect',
        url: errorRedirect(redirectUri, state, code, description),
      });
      if (duplicated.length > 0) return fail(OAuthErrorCode.InvalidRequest, `Duplicated parameter: ${duplicated.join(', ')}`);
      if (single('response_type') !== 'code') {
        return fail(OAuthErrorCode.UnsupportedResponseType, 'Only response_type=code is supported');
      }
      const challenge = single('code_challenge');
      if (single('code_challenge_method') !== 'S256') {
        return fail(OAuthErrorCode.InvalidRequest, 'PKCE with code_challenge_method=S256 is required');
      }
      if (!challenge || !S256_CHALLENGE.test(challenge)) {
        return fail(OAuthErrorCode.InvalidRequest, 'code_challenge must be a base64url SHA-256 (43 characters)');
      }
      let resource: string;
      let scopes: string[];
      try {
        resource = normaliseResource(single('resource'), options.resources);
        scopes = resolveRequestedScopes(single('scope') ?? client.scope);
        if (
          client.scope &&
          missingScopes(
            parseScope(client.scope),
            scopes.filter((scope) => scope !== 'offline_access'),
          ).length > 0
        ) {
          throw new OAuthError(OAuthErrorCode.InvalidScope, 'The client is not registered for every requested scope');
        }
      } catch (error) {
        if (error instanceof OAuthError) return fail(error.code, error.message);
        throw error;
      }
      const request: AuthorizationRequest = { clientId: client.client_id, redirectUri, state, codeChallenge: challenge, resource, scopes };
      const { interaction, binding } = await interactions.start(request);
      return { kind: 'interaction', interaction, binding, client };
    },

    async hasConsent(subject, request) {
      const stored = await store.get<{ scopes: string[]; resource: string }>(CONSENTS, consentId(subject, request.clientId));
      return !!stored && stored.resource === request.resource && request.scopes.every((scope) => stored.scopes.includes(scope));
    },

    async approve(interaction, subject, remember, onGrant) {
      const finished = await interactions.finish(interaction.id);
      if (!finished) throw new OAuthError(OAuthErrorCode.InvalidRequest, 'This authorization request was already completed');
      const { request } = finished;
      if (remember) {
        await store.set(
          CONSENTS,
          consentId(subject, request.clientId),
          { scopes: request.scopes, resource: request.resource },
          options.consentTtlSeconds,
        );
      }
      const grantId = randomUUID();
      await onGrant?.(grantId);
      const code = await codes.issue({
        clientId: request.clientId,
        redirectUri: request.redirectUri,
        codeChallenge: request.codeChallenge,
        resource: request.resource,
        scopes: request.scopes,
        subject,
        grantId,
      });
      events?.emit('auth.consent', { clientId: request.clientId, subject, scopes: request.scopes, remembered: remember });
      return buildRedirect(request.redirectUri, { code, state: request.state, iss: issuer });
    },

    async deny(interaction, subject) {
      await interactions.finish(interaction.id);
      events?.emit('auth.denied', { clientId: interaction.request.clientId, subject, reason: 'consent refused' });
      return errorRedirect(
        interaction.request.redirectUri,
        interaction.request.state,
        OAuthErrorCode.AccessDenied,
        'The user denied access',
      );
    },

    async forgetConsent(subject, clientId) {
      await store.delete(CONSENTS, consentId(subject, clientId));
    },
  };
  return self;
}
