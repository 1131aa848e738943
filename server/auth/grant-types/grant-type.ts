import type { OAuthClient } from '../clients.js';
import type { Grant } from '../grants.js';

/** The RFC 6749 §5.1 success response. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

/**
 * Issues an access token of `grant` with `scopes`, announces it (`auth.token_issued`) and builds the RFC 6749 §5.1
 * answer, with `refreshToken` when the grant type handed one out. The token service supplies it, so every grant type
 * answers the same way.
 */
export type IssueTokenResponse = (
  grant: Grant,
  client: OAuthClient,
  scopes: readonly string[],
  refreshToken?: string,
) => Promise<TokenResponse>;

/**
 * One grant type of the token endpoint (OAuth 2.1 §4): the `grant_type` value and the step that turns an authenticated
 * client's form fields into tokens. Each lives in its own file and declares the narrow dependencies it needs; the
 * registry (`registry.ts`) lists them, and everything that names grant types derives from that list.
 */
export interface GrantTypeHandler<Name extends string, Dependencies> {
  /** The `grant_type` form value (RFC 6749 §4), also the `grant_types` client metadata value (RFC 7591 §2). */
  readonly name: Name;
  /**
   * Runs the grant for `client`, already authenticated and registered for this grant type. Throws `OAuthError`s
   * the token endpoint answers with (RFC 6749 §5.2).
   */
  handle(dependencies: Dependencies, client: OAuthClient, params: Readonly<Record<string, string>>): Promise<TokenResponse>;
}
