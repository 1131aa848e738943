import { AppError, AppErrorCode } from '../errors/app-error.js';
import type { Caller } from '../mcp/caller.js';
import type { AccessTokenClaims, AccessTokens } from './access-tokens.js';
import type { ApiKeyStore } from './api-keys.js';
import { OAuthError, OAuthErrorCode } from './oauth-error.js';
import { missingScopes, stepUpScopes } from './scopes.js';

/** Where a request carried credentials, as the HTTP layer sees it (RFC 6750 §2). */
export interface PresentedBearer {
  /** The `Authorization` header, if any. */
  authorization?: string;
  /** True when the query string or form body has an `access_token` (never accepted, checklist B.13). */
  tokenInQuery: boolean;
}

/** Options of {@link createBearerAuthenticator}. */
export interface BearerAuthenticatorOptions {
  /** The resource(s) tokens must be audienced to: `R`, or for an upstream's endpoint that endpoint and `R`. */
  resource: string | readonly string[];
  /** Absolute URL of the protected-resource metadata (RFC 9728 §5.1). */
  resourceMetadataUrl: string;
  /** Scopes every MCP request needs (a token without them gets 403 `insufficient_scope`). */
  requiredScopes: readonly string[];
  /**
   * The scopes the 401 challenge names: what a client that follows MCP's scope selection asks for (basic use). Default:
   * `requiredScopes`.
   */
  challengeScopes?: readonly string[];
  /** JWT access tokens of the built-in AS; absent in external mode. */
  tokens?: Pick<AccessTokens, 'verify'>;
  /** External-AS verification (external mode); returns the caller or throws `invalid_token`. */
  external?: (token: string) => Promise<Caller>;
  apiKeys: Pick<ApiKeyStore, 'find'>;
}

/** Resolves the caller of a request from its bearer credential, or throws an {@link OAuthError} carrying the challenge. */
export type BearerAuthenticator = ((presented: PresentedBearer) => Promise<Caller>) & {
  /**
   * The step-up refusal for an operation that needs `needed` beyond what `caller` has: 403 `insufficient_scope` whose
   * challenge names the caller's scopes plus `needed` (MCP-Auth "Runtime Insufficient Scope Errors", checklist B.12).
   */
  stepUp(caller: Caller, needed: readonly string[]): OAuthError;
};

/**
 * The owning principal of an OAuth caller: the client alone for machine tokens (`sub` = the client), else the client
 * and the user, so two users of one client stay apart.
 */
export function principalId(clientId: string, subject: string | undefined): string {
  return subject === undefined || subject === clientId ? clientId : `${clientId}#${subject}`;
}

const quote = (value: string) => `"${value.replace(/["\\]/g, '')}"`;

/**
 * Bearer authentication for the MCP endpoints (RFC 6750; MCP-Auth "Token Handling"): JWT access tokens of this
 * server, or API keys. No credential → 401 with `resource_metadata` and `scope` but no `error` (checklist B.8);
 * a bad one → 401 `invalid_token` (J.50); too few scopes → 403 `insufficient_scope` listing all needed (B.12).
 */
export function createBearerAuthenticator(options: BearerAuthenticatorOptions): BearerAuthenticator {
  const basic = (options.challengeScopes ?? options.requiredScopes).join(' ');
  const challenge = (scope: string, error?: OAuthErrorCode, description?: string) =>
    [
      `Bearer resource_metadata=${quote(options.resourceMetadataUrl)}`,
      `scope=${quote(scope)}`,
      ...(error ? [`error=${quote(error)}`] : []),
      ...(description ? [`error_description=${quote(description)}`] : []),
    ].join(', ');
  const refuse = (code: OAuthErrorCode, message: string, withError = true, scope = basic) =>
    new OAuthError(code, message, challenge(scope, withError ? code : undefined, withError ? message : undefined));
  // Verified claims are remembered by the token service (one object per token), so their caller is built once too.
  const callers = new WeakMap<AccessTokenClaims, Caller>();
  const callerOf = (claims: AccessTokenClaims): Caller => {
    let caller = callers.get(claims);
    if (!caller) {
      caller = Object.freeze({
        principalId: principalId(claims.client_id, claims.sub),
        oauthClientId: claims.client_id,
        subject: claims.sub,
        scopes: Object.freeze(claims.scope.split(' ').filter(Boolean)),
        method: 'oauth' as const,
      });
      callers.set(claims, caller);
    }
    return caller;
  };

  const authenticateBearer = async function authenticateBearer({ authorization, tokenInQuery }: PresentedBearer): Promise<Caller> {
    if (authorization && tokenInQuery) {
      throw refuse(OAuthErrorCode.InvalidRequest, 'Send the token in the Authorization header only');
    }
    const match = authorization ? /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(authorization) : null;
    if (!match) {
      if (authorization) throw refuse(OAuthErrorCode.InvalidRequest, 'Use the Bearer authentication scheme', true);
      throw refuse(OAuthErrorCode.InvalidToken, 'Authentication required', false);
    }
    const token = match[1]!;
    const verify = async (): Promise<Caller> => {
      if (token.split('.').length !== 3) {
        const key = await options.apiKeys.find(token);
        if (key) return { principalId: key.clientId, scopes: key.scopes, method: 'api-key' };
        // Opaque tokens of an external AS go to its introspection endpoint.
        if (options.external) return options.external(token);
        throw new OAuthError(OAuthErrorCode.InvalidToken, 'The access token is invalid or expired');
      }
      if (options.external) return options.external(token);
      if (!options.tokens) throw new OAuthError(OAuthErrorCode.InvalidToken, 'The access token is invalid');
      return callerOf(await options.tokens.verify(token, options.resource));
    };
    let caller: Caller;
    try {
      caller = await verify();
    } catch (error) {
      if (error instanceof OAuthError) throw refuse(OAuthErrorCode.InvalidToken, error.message);
      if (error instanceof AppError) throw error;
      // Not a verdict on the token: the storage (revocations, API keys) did not answer. A 401 would make the client
      // throw its tokens away and sign the user in again; a 503 has it retry.
      const unavailable = new AppError(AppErrorCode.ServiceUnavailable, 'Credentials cannot be checked right now; retry shortly', {
        retryAfter: 5,
      });
      unavailable.cause = error; // logged, never sent
      throw unavailable;
    }
    if (missingScopes(caller.scopes, options.requiredScopes).length > 0) {
      throw refuse(
        OAuthErrorCode.InsufficientScope,
        'The token lacks a scope this endpoint needs',
        true,
        stepUpScopes(caller.scopes, options.requiredScopes).join(' '),
      );
    }
    return caller;
  };
  return Object.assign(authenticateBearer, {
    stepUp: (caller: Caller, needed: readonly string[]) =>
      refuse(
        OAuthErrorCode.InsufficientScope,
        `This operation needs the scope ${needed.join(' ')}`,
        true,
        stepUpScopes(caller.scopes, needed).join(' '),
      ),
  });
}
