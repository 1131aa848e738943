import type { AuthUrls } from '../../../auth/auth-server.js';
import { TOKEN_ENDPOINT_AUTH_METHODS } from '../../../auth/clients.js';
import { GRANT_TYPES } from '../../../auth/grant-types/registry.js';
import { DEFAULT_SCOPES, OFFLINE_ACCESS, SUPPORTED_SCOPES } from '../../../auth/scopes.js';
import { SIGNING_ALG } from '../../../auth/signing-keys.js';

/** Where each endpoint lives, relative to the issuer (the root aliases of checklist C.18 are the canonical ones). */
export const OAUTH_PATHS = {
  authorize: '/authorize',
  token: '/token',
  register: '/register',
  revoke: '/revoke',
  introspect: '/introspect',
  jwks: '/.well-known/jwks.json',
  login: '/oauth/login',
  consent: '/oauth/consent',
  upstreamCallback: '/oauth/upstream/callback',
  grants: '/oauth/grants',
} as const;

/** RFC 9728 §2 protected-resource metadata of `R`. `resource` is byte-identical to `R` (checklist B.9). */
export function protectedResourceMetadata(urls: AuthUrls): Record<string, unknown> {
  return {
    resource: urls.resource,
    authorization_servers: [urls.issuer],
    // Basic use only (checklist B.11): a client that falls back to these asks for what a default sign-in gets, not for
    // administrative scopes. Every scope is listed in the authorization-server metadata; step-up names the rest.
    scopes_supported: [...DEFAULT_SCOPES],
    bearer_methods_supported: ['header'],
    resource_name: 'claude-code-mcp',
    resource_documentation: 'https://github.com/claude-code-mcp/claude-code-mcp/blob/main/docs/oauth.md',
  };
}

/** RFC 9728 §2 metadata of a gateway upstream's own endpoint: its URL as `resource`, that upstream's basic scopes. */
export function serverResourceMetadata(urls: AuthUrls, name: string, scopes: readonly string[]): Record<string, unknown> {
  return {
    resource: urls.serverResource(name),
    authorization_servers: [urls.issuer],
    scopes_supported: [...scopes],
    bearer_methods_supported: ['header'],
    resource_name: `claude-code-mcp: ${name}`,
    resource_documentation: 'https://github.com/claude-code-mcp/claude-code-mcp/blob/main/docs/gateway.md',
  };
}

/** RFC 8414 §2 authorization-server metadata, with every field the checklist (C.15) requires explicitly. */
export function authorizationServerMetadata(urls: AuthUrls, features: { clientIdMetadataDocuments: boolean }): Record<string, unknown> {
  const at = (path: string) => `${urls.issuer}${path}`;
  return {
    issuer: urls.issuer,
    authorization_endpoint: at(OAUTH_PATHS.authorize),
    token_endpoint: at(OAUTH_PATHS.token),
    registration_endpoint: at(OAUTH_PATHS.register),
    revocation_endpoint: at(OAUTH_PATHS.revoke),
    introspection_endpoint: at(OAUTH_PATHS.introspect),
    jwks_uri: at(OAUTH_PATHS.jwks),
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: [...GRANT_TYPES],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: [...TOKEN_ENDPOINT_AUTH_METHODS],
    revocation_endpoint_auth_methods_supported: [...TOKEN_ENDPOINT_AUTH_METHODS],
    introspection_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    scopes_supported: [...SUPPORTED_SCOPES, OFFLINE_ACCESS],
    authorization_response_iss_parameter_supported: true,
    ...(features.clientIdMetadataDocuments ? { client_id_metadata_document_supported: true } : {}),
    access_token_signing_alg_values_supported: [SIGNING_ALG],
    service_documentation: 'https://github.com/claude-code-mcp/claude-code-mcp/blob/main/docs/oauth.md',
  };
}
