import { authorizationCodeGrant, type AuthorizationCodeGrantDependencies } from './authorization-code.js';
import { clientCredentialsGrant, type ClientCredentialsGrantDependencies } from './client-credentials.js';
import type { GrantTypeHandler } from './grant-type.js';
import { refreshTokenGrant, type RefreshTokenGrantDependencies } from './refresh-token.js';

/**
 * Every grant type the token endpoint implements, one file each, in the order the authorization-server metadata
 * lists them. This is the only list: the token endpoint dispatches through it, and `grant_types_supported` (RFC 8414
 * §2), the client registration check of `grant_types` (RFC 7591 §2) and the `grant_type` label of
 * `oauth_tokens_issued_total` derive from it. A new grant type is a new file plus one entry here.
 */
export const GRANT_TYPE_HANDLERS = [authorizationCodeGrant, refreshTokenGrant, clientCredentialsGrant] as const;

/** A grant type this server implements (a {@link GRANT_TYPE_HANDLERS} name). */
export type GrantType = (typeof GRANT_TYPE_HANDLERS)[number]['name'];

/** The names of {@link GRANT_TYPE_HANDLERS}, in order. */
export const GRANT_TYPES: readonly GrantType[] = Object.freeze(GRANT_TYPE_HANDLERS.map((handler) => handler.name));

/** Everything any grant type needs; the token service builds it once. */
export type GrantTypeDependencies = AuthorizationCodeGrantDependencies & RefreshTokenGrantDependencies & ClientCredentialsGrantDependencies;

const byName: ReadonlyMap<string, GrantTypeHandler<GrantType, GrantTypeDependencies>> = new Map(
  GRANT_TYPE_HANDLERS.map((handler) => [handler.name, handler]),
);

/** True when `value` names a grant type this server implements. */
export function isGrantType(value: string): value is GrantType {
  return byName.has(value);
}

/** The handler of grant type `name`, or `undefined` when the server does not implement it (`unsupported_grant_type`). */
export function grantTypeHandler(name: string): GrantTypeHandler<GrantType, GrantTypeDependencies> | undefined {
  return byName.get(name);
}
