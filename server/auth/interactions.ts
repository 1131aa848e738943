import type { KeyValueStore } from '../storage/types.js';
import { hashToken, randomToken, safeEqual } from './secrets.js';

/** A validated authorization request (OAuth 2.1 §4.1.1) waiting for login and consent. */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  state?: string;
  codeChallenge: string;
  resource: string;
  scopes: string[];
}

/**
 * One browser's pass through login and consent. The browser holds `binding` in a cookie and the page holds `csrf`
 * in a hidden field; a POST needs both (checklist F.35), so another site can neither forge nor replay it.
 */
export interface Interaction {
  id: string;
  csrf: string;
  /** SHA-256 of the browser-binding cookie value. */
  bindingHash: string;
  request: AuthorizationRequest;
}

/** Options of {@link createInteractions}. */
export interface InteractionsOptions {
  store: KeyValueStore;
  /** How long a login/consent page stays usable (≤ 600 s). */
  ttlSeconds: number;
}

/** Pending interactions and logged-in browser sessions. */
export interface Interactions {
  /** Starts an interaction; returns it and the cookie value binding it to this browser. */
  start(request: AuthorizationRequest): Promise<{ interaction: Interaction; binding: string }>;
  /** The interaction when `binding` and `csrf` both match; `undefined` otherwise (→ 403). */
  resume(id: string, binding: string | undefined, csrf: string | undefined): Promise<Interaction | undefined>;
  /** The interaction by id alone, for the upstream-login callback (its own state check stands in for the CSRF token). */
  load(id: string): Promise<Interaction | undefined>;
  /** Ends an interaction (single use: approving twice cannot mint two codes). */
  finish(id: string): Promise<Interaction | undefined>;
  /** Creates a browser login session for `subject`; returns the cookie value. */
  createSession(subject: string, ttlSeconds: number): Promise<string>;
  /** The subject of a browser session cookie. */
  sessionSubject(cookie: string | undefined): Promise<string | undefined>;
  /** The subject and the session's CSRF token (for the grants page's forms). */
  session(cookie: string | undefined): Promise<{ subject: string; csrf: string } | undefined>;
}

const INTERACTIONS = 'auth:interactions';
const SESSIONS = 'auth:browser-sessions';

/** Creates the {@link Interactions} store. */
export function createInteractions(options: InteractionsOptions): Interactions {
  const { store } = options;
  const ttl = Math.min(options.ttlSeconds, 600);
  return {
    async start(request) {
      const binding = randomToken();
      const interaction: Interaction = { id: randomToken(18), csrf: randomToken(), bindingHash: hashToken(binding), request };
      await store.set(INTERACTIONS, interaction.id, interaction, ttl);
      return { interaction, binding };
    },
    async resume(id, binding, csrf) {
      if (!id || !binding || !csrf) return undefined;
      const interaction = await store.get<Interaction>(INTERACTIONS, id);
      if (!interaction) return undefined;
      if (!safeEqual(interaction.bindingHash, hashToken(binding)) || !safeEqual(interaction.csrf, csrf)) return undefined;
      return interaction;
    },
    load: (id) => store.get<Interaction>(INTERACTIONS, id),
    finish: (id) => store.take<Interaction>(INTERACTIONS, id),
    async createSession(subject, ttlSeconds) {
      const cookie = randomToken();
      await store.set(SESSIONS, hashToken(cookie), { subject, csrf: randomToken() }, ttlSeconds);
      return cookie;
    },
    async sessionSubject(cookie) {
      if (!cookie) return undefined;
      return (await store.get<{ subject: string }>(SESSIONS, hashToken(cookie)))?.subject;
    },
    async session(cookie) {
      if (!cookie) return undefined;
      return store.get<{ subject: string; csrf: string }>(SESSIONS, hashToken(cookie));
    },
  };
}
