import { randomUUID } from 'node:crypto';
import type { KeyValueStore } from '../storage/types.js';
import type { ClientMetadataDocuments } from './client-metadata-documents.js';
import { isGrantType, type GrantType } from './grant-types/registry.js';
import { OAuthError, OAuthErrorCode } from './oauth-error.js';
import { validateRedirectUri } from './redirect-uri.js';
import { isKnownScope, parseScope } from './scopes.js';
import { hashToken, randomToken, safeEqual } from './secrets.js';

/** Client authentication methods the token endpoint accepts (RFC 8414 `token_endpoint_auth_methods_supported`). */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['none', 'client_secret_post', 'client_secret_basic'] as const;
/** A {@link TOKEN_ENDPOINT_AUTH_METHODS} entry. */
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

/** A registered client as stored (RFC 7591 §2 metadata, secret as a hash). */
export interface OAuthClient {
  client_id: string;
  /** SHA-256 of the secret; absent for public (`none`) clients. */
  client_secret_hash?: string;
  client_id_issued_at: number;
  /** 0: the secret never expires, so it always outlives refresh tokens (checklist D.20, H.46). */
  client_secret_expires_at?: number;
  redirect_uris: string[];
  /** Each one a grant type of the registry (`grant-types/registry.ts`). */
  grant_types: GrantType[];
  response_types: string[];
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  /** Space-delimited scopes the client may request; absent means any known scope. */
  scope?: string;
  /** Pre-registered from configuration (shown as verified on the consent page). */
  static?: boolean;
  /** Last day the client was used (epoch seconds, rounded down to the day); keeps the record alive. */
  last_used_day?: number;
}

/** What {@link ClientRepository.register} returns: the stored client plus the secret, shown exactly once. */
export interface RegisteredClient {
  client: OAuthClient;
  clientSecret?: string;
}

/** A pre-registered client from configuration (OAUTH_STATIC_CLIENTS_PATH). */
export interface StaticClientConfig {
  client_id: string;
  client_secret?: string;
  redirect_uris?: string[];
  grant_types?: string[];
  token_endpoint_auth_method?: string;
  client_name?: string;
  scope?: string;
}

/** Options of {@link createClientRepository}. */
export interface ClientRepositoryOptions {
  store: KeyValueStore;
  staticClients?: readonly StaticClientConfig[];
  /** Accept private-use redirect schemes such as `cursor://` (RFC 8252 §7.1). */
  allowPrivateSchemes?: boolean;
  /** Client ID Metadata Documents: client ids that are URLs resolve through this (absent: CIMD off). */
  metadataDocuments?: ClientMetadataDocuments;
  /**
   * A registered client unused this long is forgotten (Claude.ai registers anew on every fresh connect, so records
   * would otherwise pile up). Each use extends it. Keep it longer than the refresh-token lifetime so a client's
   * credentials always outlive its refresh tokens. Absent: clients are kept forever.
   */
  inactiveTtlSeconds?: number;
  now?: () => number;
}

/** Registered OAuth clients: dynamic (RFC 7591) and static. */
export interface ClientRepository {
  /** Validates RFC 7591 metadata, stores the client and returns it with its secret (for secret-based methods). */
  register(metadata: unknown): Promise<RegisteredClient>;
  /**
   * The client, or `undefined` when unknown. A URL client id is resolved as a Client ID Metadata Document; a bad
   * document throws `invalid_client`.
   */
  get(clientId: string): Promise<OAuthClient | undefined>;
  /** True when `secret` is the client's secret (constant time). */
  checkSecret(client: OAuthClient, secret: string): boolean;
  /** Records a use of a registered client, extending its life (at most one write per client per day). */
  touch(client: OAuthClient): Promise<void>;
  /** Deletes a dynamic client; static ones cannot be deleted. */
  remove(clientId: string): Promise<boolean>;
  /** Every client, static first. */
  list(): Promise<OAuthClient[]>;
}

const NS = 'auth:clients';

function stringArray(value: unknown, field: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((entry) => typeof entry !== 'string')) {
    throw new OAuthError(OAuthErrorCode.InvalidClientMetadata, `${field} must be an array of strings`);
  }
  return value as string[];
}

function optionalString(value: unknown, field: string, max = 500): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > max) {
    throw new OAuthError(OAuthErrorCode.InvalidClientMetadata, `${field} must be a string of at most ${max} characters`);
  }
  return value;
}

/**
 * Checks RFC 7591 metadata and fills in defaults (RFC 7591 §2). Unknown fields are ignored (checklist D.19);
 * unsupported values are `invalid_client_metadata` (D.22) and bad redirect URIs `invalid_redirect_uri` (D.21).
 */
export function validateClientMetadata(
  raw: unknown,
  allowPrivateSchemes: boolean,
): Omit<OAuthClient, 'client_id' | 'client_id_issued_at' | 'client_secret_hash'> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new OAuthError(OAuthErrorCode.InvalidClientMetadata, 'the request body must be a JSON object');
  }
  const input = raw as Record<string, unknown>;
  const method = (input.token_endpoint_auth_method ?? 'client_secret_basic') as string;
  if (!TOKEN_ENDPOINT_AUTH_METHODS.includes(method as TokenEndpointAuthMethod)) {
    throw new OAuthError(
      OAuthErrorCode.InvalidClientMetadata,
      `token_endpoint_auth_method must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}`,
    );
  }
  const grantTypes: GrantType[] = [];
  for (const grant of stringArray(input.grant_types, 'grant_types') ?? ['authorization_code']) {
    if (!isGrantType(grant)) throw new OAuthError(OAuthErrorCode.InvalidClientMetadata, `grant type ${grant} is not supported`);
    grantTypes.push(grant);
  }
  if (grantTypes.includes('client_credentials') && method === 'none') {
    throw new OAuthError(OAuthErrorCode.InvalidClientMetadata, 'client_credentials requires a client secret');
  }
  const responseTypes = stringArray(input.response_types, 'response_types') ?? (grantTypes.includes('authorization_code') ? ['code'] : []);
  if (responseTypes.some((type) => type !== 'code')) {
    throw new OAuthError(OAuthErrorCode.InvalidClientMetadata, 'only the "code" response type is supported');
  }
  if (responseTypes.includes('code') !== grantTypes.includes('authorization_code')) {
    throw new OAuthError(OAuthErrorCode.InvalidClientMetadata, 'response_types "code" goes with grant_types "authorization_code"');
  }
  const redirectUris = stringArray(input.redirect_uris, 'redirect_uris') ?? [];
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
    throw new OAuthError(OAuthErrorCode.InvalidRedirectUri, 'redirect_uris must list at least one URI');
  }
  for (const uri of redirectUris) validateRedirectUri(uri, allowPrivateSchemes);
  const scope = optionalString(input.scope, 'scope');
  const unknownScopes = parseScope(scope).filter((entry) => !isKnownScope(entry));
  if (unknownScopes.length > 0) {
    throw new OAuthError(OAuthErrorCode.InvalidClientMetadata, `unknown scope: ${unknownScopes.join(' ')}`);
  }
  return {
    redirect_uris: [...new Set(redirectUris)],
    grant_types: [...new Set(grantTypes)],
    response_types: [...new Set(responseTypes)],
    token_endpoint_auth_method: method as TokenEndpointAuthMethod,
    client_name: optionalString(input.client_name, 'client_name', 200),
    client_uri: optionalString(input.client_uri, 'client_uri', 2000),
    logo_uri: optionalString(input.logo_uri, 'logo_uri', 2000),
    scope,
  };
}

/** Creates the client repository over the storage port (`auth:clients`). */
export function createClientRepository(options: ClientRepositoryOptions): ClientRepository {
  const { store } = options;
  const now = options.now ?? Date.now;
  const allowPrivate = options.allowPrivateSchemes ?? true;
  const statics = new Map<string, OAuthClient>();
  for (const entry of options.staticClients ?? []) {
    const metadata = validateClientMetadata(
      { ...entry, token_endpoint_auth_method: entry.token_endpoint_auth_method ?? (entry.client_secret ? 'client_secret_basic' : 'none') },
      allowPrivate,
    );
    if (metadata.token_endpoint_auth_method !== 'none' && !entry.client_secret) {
      throw new Error(`static client ${entry.client_id}: client_secret is required for ${metadata.token_endpoint_auth_method}`);
    }
    statics.set(entry.client_id, {
      ...metadata,
      client_id: entry.client_id,
      client_id_issued_at: 0,
      client_secret_expires_at: 0,
      client_secret_hash: entry.client_secret ? hashToken(entry.client_secret) : undefined,
      static: true,
    });
  }

  return {
    async register(raw) {
      const metadata = validateClientMetadata(raw, allowPrivate);
      const clientSecret = metadata.token_endpoint_auth_method === 'none' ? undefined : randomToken();
      const client: OAuthClient = {
        ...metadata,
        client_id: randomUUID(),
        client_id_issued_at: Math.floor(now() / 1000),
        ...(clientSecret ? { client_secret_hash: hashToken(clientSecret), client_secret_expires_at: 0 } : {}),
      };
      await store.set(NS, client.client_id, client, options.inactiveTtlSeconds);
      return { client, clientSecret };
    },
    async touch(client) {
      if (client.static || client.client_id_issued_at === 0 || !options.inactiveTtlSeconds) return;
      const today = Math.floor(now() / 86_400_000) * 86_400;
      if (client.last_used_day === today) return;
      await store.set(NS, client.client_id, { ...client, last_used_day: today }, options.inactiveTtlSeconds);
    },
    async get(clientId) {
      if (options.metadataDocuments?.isDocumentUrl(clientId)) return options.metadataDocuments.resolve(clientId);
      if (clientId.length === 0 || clientId.length > 200) return undefined;
      return statics.get(clientId) ?? (await store.get<OAuthClient>(NS, clientId));
    },
    checkSecret(client, secret) {
      return client.client_secret_hash !== undefined && safeEqual(client.client_secret_hash, hashToken(secret));
    },
    async remove(clientId) {
      if (statics.has(clientId)) return false;
      return store.delete(NS, clientId);
    },
    async list() {
      const dynamic = await store.list<OAuthClient>(NS);
      return [...statics.values(), ...dynamic.map((entry) => entry.value)];
    },
  };
}

/** The RFC 7591 §3.2.1 registration response for a client: stored metadata, never the secret hash. */
export function clientInformation(client: OAuthClient, clientSecret?: string): Record<string, unknown> {
  const { client_secret_hash: _hash, static: _static, last_used_day: _used, ...metadata } = client;
  return { ...metadata, ...(clientSecret ? { client_secret: clientSecret, client_secret_expires_at: 0 } : {}) };
}
