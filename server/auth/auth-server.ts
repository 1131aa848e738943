import { readFileSync } from 'node:fs';
import type { EventBus } from '../events/bus.js';
import type { Logger } from '../logging/logger.js';
import type { Storage } from '../storage/types.js';
import { createAccessTokens, type AccessTokens } from './access-tokens.js';
import { createApiKeyStore, parseApiKeyFile, parseApiKeyList, type ApiKeyStore, type ConfiguredApiKey } from './api-keys.js';
import { createAuthorizationCodes } from './authorization-codes.js';
import { createAuthorizeService, type AuthorizeService } from './authorize-service.js';
import { createBearerAuthenticator, type BearerAuthenticator } from './bearer-authenticator.js';
import { createClientMetadataDocuments } from './client-metadata-documents.js';
import { createClientRepository, type ClientRepository, type StaticClientConfig } from './clients.js';
import { createExternalVerifier } from './external-verifier.js';
import { createGrantStore, type GrantStore } from './grants.js';
import { createInteractions, type Interactions } from './interactions.js';
import { createRevocations } from './revocations.js';
import { DEFAULT_SCOPES, MCP_ENDPOINT_SCOPES } from './scopes.js';
import type { ProtectedResources } from './resource.js';
import { createSigningKeys, type SigningKeys } from './signing-keys.js';
import { createTokenService, type TokenService } from './token-service.js';
import { createLoginThrottle, type LoginThrottle } from './login-throttle.js';
import { createUpstreamOidc, type UpstreamOidc } from './upstream-oidc.js';
import { createUserStore, type UserStore } from './users.js';

/** The settings the auth module reads (a narrow view of `Config`). */
export interface AuthSettings {
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** REFRESH_REUSE_GRACE_SECONDS: how long the same client may present a just-rotated refresh token again (0: never). */
  refreshReuseGraceSeconds: number;
  authCodeTtlSeconds: number;
  signingKeyRotationSeconds: number;
  /** AUTH_REVOCATION_CHECK_MS: how long a reading of the revocation generation may be reused (0: never). */
  authRevocationCheckMs: number;
  consentTtlSeconds: number;
  loginSessionTtlSeconds: number;
  oauthStaticClientsPath?: string;
  oauthAllowPrivateSchemes: boolean;
  apiKeys: readonly string[];
  apiKeysPath?: string;
  oauthCimdEnabled: boolean;
  oauthCimdAllowPrivate: boolean;
  oidcIssuer?: string;
  oidcClientId?: string;
  oidcClientSecret?: string;
  oidcScopes: readonly string[];
  oidcAllowedUsers: readonly string[];
  oidcProviderName: string;
}

/** The URLs every part of the auth module must agree on, byte for byte (checklist C.17, B.9). */
export interface AuthUrls {
  /** The one issuer string: the public base URL, no trailing slash. */
  issuer: string;
  /** The canonical MCP resource `R`. */
  resource: string;
  /** RFC 9728 metadata URL of `R` (path-suffixed form). */
  resourceMetadataUrl: string;
  /** Where the gateway upstreams' own endpoints start: `{origin}{prefix}/servers/`. */
  serversBase: string;
  /** The resource of the gateway upstream `name`'s own endpoint, `{serversBase}{name}/mcp`. */
  serverResource(name: string): string;
  /** RFC 9728 metadata URL of {@link serverResource} (path-suffixed form). */
  serverResourceMetadataUrl(name: string): string;
}

/** The gateway's upstream names, for the resources `/servers/{name}/mcp` (absent: only `R` is protected). */
export interface UpstreamNames {
  has(name: string): boolean;
}

/** Options of {@link createAuthServer}. */
export interface AuthServerOptions {
  settings: AuthSettings;
  storage: Storage;
  events?: EventBus;
  logger?: Logger;
  /** Public base URL, no trailing slash. */
  publicUrl: string;
  /** MCP_PATH_PREFIX. */
  mcpPathPrefix: string;
  /** Gateway upstreams: each `/servers/{name}/mcp` is a protected resource of its own. */
  upstreams?: UpstreamNames;
}

/** The built-in authorization server and resource-server pieces, wired over the storage port. */
export interface AuthServer {
  urls: AuthUrls;
  settings: AuthSettings;
  clients: ClientRepository;
  grants: GrantStore;
  tokens: AccessTokens;
  keys: SigningKeys;
  users: UserStore;
  apiKeys: ApiKeyStore;
  interactions: Interactions;
  /** Brake on password guessing for the sign-in forms. */
  loginThrottle: LoginThrottle;
  /** Sign-in through an upstream OpenID Connect provider, when OIDC_ISSUER is set. */
  upstream?: UpstreamOidc;
  authorize: AuthorizeService;
  token: TokenService;
  authenticate: BearerAuthenticator;
  /**
   * Authentication for `/servers/{name}/mcp`: tokens audienced to that endpoint, or to `R` (the whole server, which
   * includes every upstream's endpoint); challenges name the endpoint's own metadata and scopes.
   */
  authenticateServer(name: string): BearerAuthenticator;
  /**
   * Confirms provider sign-ins not confirmed for `maxAgeMs` and revokes the grants whose sign-in the provider
   * revoked (checklist L.58); resolves to how many. Nothing to do without OIDC_ISSUER.
   */
  recheckUpstream(maxAgeMs: number): Promise<number>;
}

/** `R` and friends from the public URL: scheme and host lower-cased by URL parsing, no trailing slash. */
export function authUrls(publicUrl: string, mcpPathPrefix: string): AuthUrls {
  const base = new URL(publicUrl);
  const issuer = `${base.protocol}//${base.host}${base.pathname.replace(/\/+$/, '')}`;
  const root = `${base.pathname.replace(/\/+$/, '')}${mcpPathPrefix}`;
  const origin = `${base.protocol}//${base.host}`;
  const serverPath = (name: string) => `${root}/servers/${encodeURIComponent(name)}/mcp`;
  return {
    issuer,
    resource: `${origin}${root}/mcp`,
    resourceMetadataUrl: `${origin}/.well-known/oauth-protected-resource${root}/mcp`,
    serversBase: `${origin}${root}/servers/`,
    serverResource: (name) => `${origin}${serverPath(name)}`,
    serverResourceMetadataUrl: (name) => `${origin}/.well-known/oauth-protected-resource${serverPath(name)}`,
  };
}

/** `R`, plus `/servers/{name}/mcp` for every upstream `name` there is. */
export function protectedResources(urls: AuthUrls, upstreams: UpstreamNames | undefined): ProtectedResources {
  return {
    canonical: urls.resource,
    served(url) {
      if (!upstreams || !url.startsWith(urls.serversBase) || !url.endsWith('/mcp')) return false;
      const encoded = url.slice(urls.serversBase.length, -'/mcp'.length);
      if (!encoded || encoded.includes('/')) return false;
      try {
        const name = decodeURIComponent(encoded);
        return upstreams.has(name) && urls.serverResource(name) === url;
      } catch {
        return false;
      }
    },
  };
}

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Configured API keys from MCP_API_KEYS and MCP_API_KEYS_PATH. */
export function configuredApiKeys(settings: Pick<AuthSettings, 'apiKeys' | 'apiKeysPath'>): ConfiguredApiKey[] {
  const keys = parseApiKeyList(settings.apiKeys);
  if (settings.apiKeysPath) keys.push(...parseApiKeyFile(readJson(settings.apiKeysPath), settings.apiKeysPath));
  return keys;
}

/** Builds every auth service. Reads the static-clients and API-key files once. */
export function createAuthServer(options: AuthServerOptions): AuthServer {
  const { settings, storage, events } = options;
  const urls = authUrls(options.publicUrl, options.mcpPathPrefix);
  const resources = protectedResources(urls, options.upstreams);
  const serverAuthenticators = new Map<string, BearerAuthenticator>();
  const staticClients = settings.oauthStaticClientsPath ? (readJson(settings.oauthStaticClientsPath) as StaticClientConfig[]) : [];
  if (!Array.isArray(staticClients)) throw new Error(`${settings.oauthStaticClientsPath}: expected a JSON array of clients`);

  const keys = createSigningKeys({
    store: storage,
    rotateAfterSeconds: settings.signingKeyRotationSeconds,
    overlapSeconds: settings.accessTokenTtlSeconds + 300,
  });
  const clients = createClientRepository({
    store: storage,
    staticClients,
    allowPrivateSchemes: settings.oauthAllowPrivateSchemes,
    inactiveTtlSeconds: settings.refreshTokenTtlSeconds * 2,
    metadataDocuments: settings.oauthCimdEnabled
      ? createClientMetadataDocuments({ allowPrivate: settings.oauthCimdAllowPrivate })
      : undefined,
  });
  // One generation for every credential kind: what this process revokes, its caches see at once whatever the interval.
  const revocations = createRevocations({ store: storage, checkIntervalMs: settings.authRevocationCheckMs });
  const grants = createGrantStore({
    store: storage,
    refreshTokenTtlSeconds: settings.refreshTokenTtlSeconds,
    reuseGraceSeconds: settings.refreshReuseGraceSeconds,
    revocations,
  });
  const tokens = createAccessTokens({
    keys,
    store: storage,
    issuer: urls.issuer,
    ttlSeconds: settings.accessTokenTtlSeconds,
    grantAlive: async (grantId) => (await grants.get(grantId)) !== undefined,
    revocations,
  });
  const codes = createAuthorizationCodes({ store: storage, ttlSeconds: settings.authCodeTtlSeconds });
  const interactions = createInteractions({ store: storage, ttlSeconds: 600 });
  const apiKeys = createApiKeyStore(storage, configuredApiKeys(settings), Date.now, revocations);
  const upstream = settings.oidcIssuer
    ? createUpstreamOidc({
        settings: { ...settings, oidcIssuer: settings.oidcIssuer, oidcClientId: settings.oidcClientId! },
        store: storage,
        callbackUrl: `${urls.issuer}/oauth/upstream/callback`,
      })
    : undefined;
  return {
    urls,
    settings,
    clients,
    grants,
    tokens,
    keys,
    users: createUserStore(storage),
    apiKeys,
    interactions,
    loginThrottle: createLoginThrottle({ store: storage, maxFailuresPerUser: 10, maxFailuresPerAddress: 100, windowSeconds: 900 }),
    upstream,
    authorize: createAuthorizeService({
      issuer: urls.issuer,
      resources,
      clients,
      codes,
      interactions,
      store: storage,
      events,
      consentTtlSeconds: settings.consentTtlSeconds,
    }),
    token: createTokenService({
      issuer: urls.issuer,
      resources,
      clients,
      codes,
      grants,
      tokens,
      events,
      grantStillValid: upstream ? (grantId) => upstream.stillValid(grantId, settings.refreshTokenTtlSeconds) : undefined,
    }),
    async recheckUpstream(maxAgeMs) {
      if (!upstream) return 0;
      return upstream.recheck(maxAgeMs, async (grantId) => {
        const grant = await grants.get(grantId);
        if (!(await grants.revoke(grantId))) return;
        events?.emit('auth.revoked', { clientId: grant?.clientId ?? '', grantId, reason: 'upstream' });
        options.logger?.info('grant revoked: the identity provider no longer accepts the sign-in', { grantId, category: 'auth' });
      });
    },
    authenticate: createBearerAuthenticator({
      resource: urls.resource,
      resourceMetadataUrl: urls.resourceMetadataUrl,
      requiredScopes: MCP_ENDPOINT_SCOPES,
      challengeScopes: DEFAULT_SCOPES,
      tokens,
      apiKeys,
    }),
    authenticateServer: (name) => {
      let authenticator = serverAuthenticators.get(name);
      if (!authenticator) {
        if (serverAuthenticators.size >= 1_000) serverAuthenticators.clear();
        authenticator = createBearerAuthenticator({
          resource: [urls.serverResource(name), urls.resource],
          resourceMetadataUrl: urls.serverResourceMetadataUrl(name),
          requiredScopes: MCP_ENDPOINT_SCOPES,
          challengeScopes: serverScopes(name),
          tokens,
          apiKeys,
        });
        serverAuthenticators.set(name, authenticator);
      }
      return authenticator;
    },
  };
}

/** Basic use of one upstream's own endpoint: connect, and that upstream's tools. */
export function serverScopes(name: string): string[] {
  return [...MCP_ENDPOINT_SCOPES, `gateway:${name}`];
}

/** What protects the MCP routes in every mode but `none`: the URLs for discovery and the bearer authenticator. */
export interface ProtectedResource {
  urls: AuthUrls;
  authenticate: BearerAuthenticator;
}

/** Settings of external-AS mode (a narrow view of `Config`). */
export interface ExternalSettings {
  authExternalIssuer?: string;
  authExternalJwksUri?: string;
  authExternalAlgorithms: readonly string[];
  authExternalRequireAtJwt: boolean;
  authExternalMaxTokenLifetimeSeconds: number;
  authExternalIntrospectionUrl?: string;
  authExternalClientId?: string;
  authExternalClientSecret?: string;
  apiKeys: readonly string[];
  apiKeysPath?: string;
  /** AUTH_REVOCATION_CHECK_MS, for API keys. */
  authRevocationCheckMs: number;
}

/**
 * External-AS mode (checklist M): this server is only a resource server. Its PRM names the external issuer, and no
 * look-alike AS metadata is served on this origin (checklist C.18). API keys keep working.
 */
export function createExternalResourceServer(options: {
  settings: ExternalSettings;
  storage: Storage;
  publicUrl: string;
  mcpPathPrefix: string;
}): ProtectedResource {
  const { settings } = options;
  const own = authUrls(options.publicUrl, options.mcpPathPrefix);
  const issuer = settings.authExternalIssuer!;
  const urls: AuthUrls = { ...own, issuer };
  const external = createExternalVerifier({
    issuer,
    resource: own.resource,
    jwksUri: settings.authExternalJwksUri,
    algorithms: settings.authExternalAlgorithms,
    requireAtJwt: settings.authExternalRequireAtJwt,
    maxLifetimeSeconds: settings.authExternalMaxTokenLifetimeSeconds,
    introspection: settings.authExternalIntrospectionUrl
      ? {
          url: settings.authExternalIntrospectionUrl,
          clientId: settings.authExternalClientId!,
          clientSecret: settings.authExternalClientSecret!,
        }
      : undefined,
  });
  return {
    urls,
    authenticate: createBearerAuthenticator({
      resource: own.resource,
      resourceMetadataUrl: own.resourceMetadataUrl,
      requiredScopes: MCP_ENDPOINT_SCOPES,
      challengeScopes: DEFAULT_SCOPES,
      external,
      apiKeys: createApiKeyStore(
        options.storage,
        configuredApiKeys(settings),
        Date.now,
        createRevocations({ store: options.storage, checkIntervalMs: settings.authRevocationCheckMs }),
      ),
    }),
  };
}
