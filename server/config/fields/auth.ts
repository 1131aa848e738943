import { z } from 'zod';
import { bool, enumOf, fieldMeta, httpUrl, int } from '../field-helpers.js';

/** Authentication: AUTH_MODE, the OAuth authorization server, external verification, API keys; see docs/oauth.md. */
export const authFields = {
  // ── Auth ──────────────────────────────────────────────────────────────────
  /**
   * How MCP requests are authenticated: `oauth` (the built-in OAuth 2.1 authorization server, plus API keys),
   * `external` (resource server only: tokens of AUTH_EXTERNAL_ISSUER, plus API keys) or `none` (every request is the
   * local owner; refused on a non-loopback HOST unless MCP_DISABLE_AUTH=true).
   */
  authMode: enumOf(['oauth', 'external', 'none'] as const)
    .default('oauth')
    .describe(
      '`oauth` (built-in OAuth 2.1 server plus API keys), `external` (tokens of AUTH_EXTERNAL_ISSUER) or `none` (loopback HOST only, unless MCP_DISABLE_AUTH).',
    )
    .register(fieldMeta, { env: 'AUTH_MODE', group: 'Auth' }),
  /** Turns authentication off even on a public interface. The server then warns at start and in /health. */
  mcpDisableAuth: bool()
    .default(false)
    .describe('Serve without authentication even on a non-loopback HOST (dangerous; warns at start and in /health).')
    .register(fieldMeta, { env: 'MCP_DISABLE_AUTH', group: 'Auth' }),
  /** Lifetime of access tokens (RFC 9068 JWTs), at most one hour. */
  accessTokenTtlSeconds: int(60, 3600)
    .default(3600)
    .describe('Lifetime of OAuth access tokens in seconds (60-3600).')
    .register(fieldMeta, { env: 'ACCESS_TOKEN_TTL_SECONDS', group: 'Auth' }),
  /** Lifetime of a refresh token; each rotation starts a new one. Client secrets never expire, so they outlive it. */
  refreshTokenTtlSeconds: int(3600, 365 * 86_400)
    .default(30 * 86_400)
    .describe('Lifetime of refresh tokens in seconds; every refresh rotates the token and restarts it.')
    .register(fieldMeta, { env: 'REFRESH_TOKEN_TTL_SECONDS', group: 'Auth' }),
  /**
   * How long after a refresh token was rotated the same client may present it again and get another working token
   * pair of the same grant (connectors send several refreshes with one token at once). Reuse later, or by another
   * client, still revokes the whole family (RFC 9700 §4.14.2); 0 treats every second presentation as theft.
   */
  refreshReuseGraceSeconds: int(0, 3600)
    .default(60)
    .describe(
      'Seconds after a refresh token was rotated during which the same client may present it again (concurrent refreshes) without revoking its grant; 0 disables.',
    )
    .register(fieldMeta, { env: 'REFRESH_REUSE_GRACE_SECONDS', group: 'Auth' }),
  /** Lifetime of authorization codes (OAuth 2.1: at most 10 minutes). */
  authCodeTtlSeconds: int(10, 600)
    .default(300)
    .describe('Lifetime of authorization codes in seconds (10-600).')
    .register(fieldMeta, { env: 'AUTH_CODE_TTL_SECONDS', group: 'Auth' }),
  /** Age at which a new signing key takes over; the old one stays in the JWKS until its tokens expired. */
  signingKeyRotationSeconds: int(3600, 365 * 86_400)
    .default(30 * 86_400)
    .describe('Age in seconds after which a new token-signing key (ES256) takes over; the old one is published until its tokens expire.')
    .register(fieldMeta, { env: 'SIGNING_KEY_ROTATION_SECONDS', group: 'Auth' }),
  /**
   * How long a process may reuse its last reading of the shared revocation generation (a storage key every
   * revocation moves). 0 reads it on every authenticated request, so a revocation made anywhere (another replica, the
   * `clients`/`keys`/`users` commands) takes effect on the very next request (RFC 7009 §2, checklist J.52). A
   * positive value saves that read (a Redis round trip) at the price of revocations made by another process taking
   * up to this long to reach this one; revocations made by this process take effect at once either way.
   */
  authRevocationCheckMs: int(0, 60_000)
    .default(0)
    .describe('How long (ms) a replica may reuse its last check for revocations made by other processes; 0 checks on every request.')
    .register(fieldMeta, { env: 'AUTH_REVOCATION_CHECK_MS', group: 'Auth' }),
  /** How long a user's consent to a client is remembered. */
  consentTtlSeconds: int(0, 365 * 86_400)
    .default(90 * 86_400)
    .describe('How long a consent (user, client, scopes) is remembered, in seconds.')
    .register(fieldMeta, { env: 'CONSENT_TTL_SECONDS', group: 'Auth' }),
  /** How long a browser stays logged in to the authorization pages. */
  loginSessionTtlSeconds: int(60, 30 * 86_400)
    .default(8 * 3600)
    .describe('How long a browser stays logged in to the login/consent pages, in seconds.')
    .register(fieldMeta, { env: 'LOGIN_SESSION_TTL_SECONDS', group: 'Auth' }),
  /** Create an `admin` user with a generated password (printed once) when no user exists, so a newcomer can log in. */
  authInitialAdmin: bool()
    .default(true)
    .describe('On first start with no users, create `admin` with a generated password and print it once.')
    .register(fieldMeta, { env: 'AUTH_INITIAL_ADMIN', group: 'Auth' }),
  /** JSON file of pre-registered OAuth clients: `[{client_id, client_secret?, redirect_uris, grant_types?, ...}]`. */
  oauthStaticClientsPath: z
    .string()
    .min(1)
    .optional()
    .describe('JSON file listing pre-registered OAuth clients (`client_id`, `client_secret`, `redirect_uris`, ...).')
    .register(fieldMeta, { env: 'OAUTH_STATIC_CLIENTS_PATH', group: 'Auth', example: './oauth-clients.json' }),
  /** Accept private-use redirect schemes (`cursor://...`) at registration, for native apps (RFC 8252 §7.1). */
  oauthAllowPrivateSchemes: bool()
    .default(true)
    .describe('Accept private-use redirect URI schemes such as `cursor://` for native apps (RFC 8252 §7.1).')
    .register(fieldMeta, { env: 'OAUTH_ALLOW_PRIVATE_REDIRECT_SCHEMES', group: 'Auth' }),
  /** Sign users in through this OpenID Connect provider (in addition to local users). Register `{BASE_URL}/oauth/upstream/callback` there. */
  oidcIssuer: httpUrl()
    .optional()
    .describe('Issuer of an OpenID Connect provider users sign in with (register `BASE_URL/oauth/upstream/callback` there).')
    .register(fieldMeta, { env: 'OIDC_ISSUER', group: 'Auth', example: 'https://accounts.google.com' }),
  /** This server's client id at the provider. */
  oidcClientId: z
    .string()
    .min(1)
    .optional()
    .describe('Client id of this server at the OpenID Connect provider.')
    .register(fieldMeta, { env: 'OIDC_CLIENT_ID', group: 'Auth', example: 'claude-code-mcp' }),
  /** This server's client secret at the provider (absent: a public client with PKCE). */
  oidcClientSecret: z
    .string()
    .min(1)
    .optional()
    .describe('Client secret of this server at the OpenID Connect provider.')
    .register(fieldMeta, { env: 'OIDC_CLIENT_SECRET', group: 'Auth', secret: true, example: 'change-me' }),
  /** Scopes requested from the provider. */
  oidcScopes: z
    .array(z.string().min(1))
    .default(['openid', 'email', 'profile'])
    .describe('Comma list of scopes requested from the OpenID Connect provider.')
    .register(fieldMeta, { env: 'OIDC_SCOPES', group: 'Auth' }),
  /** Who may sign in through the provider: emails, `@domain` suffixes, or `*` for anyone it authenticates. Required with OIDC_ISSUER. */
  oidcAllowedUsers: z
    .array(z.string().min(1))
    .default([])
    .describe('Comma list of who may sign in via OIDC: emails, `@example.com` domains, or `*` for anyone the provider accepts.')
    .register(fieldMeta, { env: 'OIDC_ALLOWED_USERS', group: 'Auth', example: '@example.com,alice@gmail.com' }),
  /** Name on the sign-in button. */
  oidcProviderName: z
    .string()
    .min(1)
    .default('your identity provider')
    .describe('Name of the OpenID Connect provider shown on the sign-in button.')
    .register(fieldMeta, { env: 'OIDC_PROVIDER_NAME', group: 'Auth' }),
  /**
   * How often each provider sign-in is confirmed with the provider (a refresh of its token) while its grant lives. A
   * sign-in the provider revoked ends the grant, and its access tokens fail on their next request; 0 confirms only
   * when the client refreshes.
   */
  oidcRecheckMs: z.coerce
    .number()
    .int()
    .min(0)
    .default(300_000)
    .describe(
      'How often (ms) each OIDC sign-in is confirmed with the provider; one it revoked then ends its grant and tokens. 0: only at refresh.',
    )
    .register(fieldMeta, { env: 'OIDC_RECHECK_MS', group: 'Auth' }),
  /** Accept Client ID Metadata Documents: an https URL as client_id, fetched with SSRF protection and cached. */
  oauthCimdEnabled: bool()
    .default(true)
    .describe('Accept Client ID Metadata Documents (an https URL as `client_id`, as Claude and ChatGPT use).')
    .register(fieldMeta, { env: 'OAUTH_CIMD_ENABLED', group: 'Auth' }),
  /** Test and closed-network use only: let metadata-document fetches reach http and private/loopback addresses. */
  oauthCimdAllowPrivate: bool()
    .default(false)
    .describe('Let metadata-document fetches use http and private/loopback addresses (tests and closed networks only).')
    .register(fieldMeta, { env: 'OAUTH_CIMD_ALLOW_PRIVATE', group: 'Auth' }),
  /** API keys as `key:client_id` pairs; each key acts as that client with every scope. */
  apiKeys: z
    .array(z.string().min(1))
    .default([])
    .describe('Comma list of `key:client_id` API keys, sent as `Authorization: Bearer <key>`.')
    .register(fieldMeta, { env: 'MCP_API_KEYS', group: 'Auth', secret: true, example: 'key1:client1,key2:client2' }),
  /** JSON file of API keys: `{"<key>": {"client_id": "...", "scopes": ["mcp:tools", ...]}}`. */
  apiKeysPath: z
    .string()
    .min(1)
    .optional()
    .describe('JSON file of API keys: `{"<key>": {"client_id": "...", "scopes": [...]}}`.')
    .register(fieldMeta, { env: 'MCP_API_KEYS_PATH', group: 'Auth', example: './api-keys.json' }),

  /** Per-client tool allow/deny lists: `{"<client_id>" or "*": {"allow": [patterns], "deny": [patterns]}}`. */
  toolPolicyPath: z
    .string()
    .min(1)
    .optional()
    .describe(
      'JSON file of per-client tool allow/deny patterns (`{"client": {"allow": ["claude_*"], "deny": [...]}}`); `*` applies to all.',
    )
    .register(fieldMeta, { env: 'MCP_TOOL_POLICY_PATH', group: 'Auth', example: './tool-policy.json' }),
  /** AUTH_MODE=external: the trusted authorization server's issuer, exactly as in its metadata. */
  authExternalIssuer: httpUrl()
    .optional()
    .describe('External mode: issuer of the external authorization server, exactly as in its metadata.')
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_ISSUER', group: 'Auth', example: 'https://auth.example.com/realms/mcp' }),
  /** AUTH_MODE=external: JWKS URL; discovered from the issuer's metadata when unset. */
  authExternalJwksUri: httpUrl()
    .optional()
    .describe("External mode: JWKS URL of the issuer (default: `jwks_uri` from the issuer's metadata).")
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_JWKS_URI', group: 'Auth', example: 'https://auth.example.com/jwks' }),
  /** AUTH_MODE=external: accepted JWS algorithms. `none` and HMAC algorithms are always refused. */
  authExternalAlgorithms: z
    .array(z.string().min(1))
    .default(['RS256', 'PS256', 'ES256', 'EdDSA'])
    .describe('External mode: comma list of accepted JWS algorithms (`none` and HS* are always refused).')
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_ALGORITHMS', group: 'Auth' }),
  /** AUTH_MODE=external: require RFC 9068 `typ: at+jwt` (when the issuer emits it). */
  authExternalRequireAtJwt: bool()
    .default(false)
    .describe('External mode: require `typ: at+jwt` (RFC 9068) on access tokens.')
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_REQUIRE_AT_JWT', group: 'Auth' }),
  /**
   * AUTH_MODE=external: the longest lifetime an access token may claim (`exp` minus `iat`, or minus now without
   * `iat`). A token issued for years is a token that can never be taken back; refused like an invalid one.
   */
  authExternalMaxTokenLifetimeSeconds: int(60, 30 * 24 * 3600)
    .default(24 * 3600)
    .describe('External mode: longest lifetime an access token may claim (exp − iat); longer ones are refused.')
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_MAX_TOKEN_LIFETIME_SECONDS', group: 'Auth' }),
  /** AUTH_MODE=external: RFC 7662 endpoint for opaque access tokens. */
  authExternalIntrospectionUrl: httpUrl()
    .optional()
    .describe('External mode: RFC 7662 introspection endpoint for opaque tokens (needs the client id and secret).')
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_INTROSPECTION_URL', group: 'Auth', example: 'https://auth.example.com/introspect' }),
  /** Client id this server introspects with. */
  authExternalClientId: z
    .string()
    .min(1)
    .optional()
    .describe('External mode: client id for introspection.')
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_CLIENT_ID', group: 'Auth', example: 'claude-code-mcp' }),
  /** Client secret this server introspects with. */
  authExternalClientSecret: z
    .string()
    .min(1)
    .optional()
    .describe('External mode: client secret for introspection.')
    .register(fieldMeta, { env: 'AUTH_EXTERNAL_CLIENT_SECRET', group: 'Auth', secret: true, example: 'change-me' }),
};
