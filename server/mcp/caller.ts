import type { AuthInfo } from '@modelcontextprotocol/server';

/**
 * Who is calling: the identity every session, tool call, limit and log line is attributed to. Built by the HTTP
 * layer's authentication step; with authentication off every request is the {@link LOCAL_CALLER}.
 */
export interface Caller {
  /**
   * The owning principal: owns sessions and their state, keys logs and limits. The API-key client id, `local` when
   * authentication is off, the OAuth client id for machine (client_credentials) tokens, and `<client_id>#<sub>` for
   * a user's OAuth token, so users sharing one client (a static client, or a metadata-document client such as
   * Claude Code's) never reach each other's sessions (checklist B.14). Logs, webhooks and `server_status` name it
   * `clientId`.
   */
  principalId: string;
  /** The OAuth client id itself (without the user), for OAuth and external callers; per-client tool policies use it. */
  oauthClientId?: string;
  /** The end user (OAuth `sub`), when known. */
  subject?: string;
  /** Granted scopes; `*` grants everything. */
  scopes: readonly string[];
  /** How the caller was authenticated. */
  method: 'none' | 'oauth' | 'api-key' | 'external';
}

/** The single owner used when authentication is off (local use, stdio). */
export const LOCAL_CALLER: Caller = Object.freeze({ principalId: 'local', scopes: Object.freeze(['*']), method: 'none' });

/**
 * The SDK carries per-request identity as `AuthInfo` (`req.auth` -> `ctx.http.authInfo`, and the factory context of
 * stateless serving). The caller rides in `extra` so nothing is lost in the round trip.
 */
export function toAuthInfo(caller: Caller, token = ''): AuthInfo {
  return { token, clientId: caller.principalId, scopes: [...caller.scopes], extra: { caller } };
}

/** The caller carried by {@link toAuthInfo}; the local caller when there is none (stdio). */
export function callerFromAuthInfo(authInfo: AuthInfo | undefined): Caller {
  const caller = authInfo?.extra?.caller as Caller | undefined;
  return caller ?? LOCAL_CALLER;
}
