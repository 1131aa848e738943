import { randomUUID } from 'node:crypto';
import type { KeyValueStore } from '../storage/types.js';
import { OAuthError, OAuthErrorCode } from './oauth-error.js';
import { createRevocations, type Revocations } from './revocations.js';
import { hashToken, randomToken } from './secrets.js';

/**
 * A grant: what one user approved for one client (or what a machine client got), and the refresh-token family
 * hanging off it. Every access token names its grant (`gid`), so deleting the grant revokes the family and every
 * token it issued on the very next request (checklist H.44, J.52).
 */
export interface Grant {
  id: string;
  clientId: string;
  /** The user (`sub`); the client id itself for client_credentials. */
  subject: string;
  scopes: string[];
  /** The resource (RFC 8707) tokens of this grant are audienced to. */
  resource: string;
  kind: 'authorization_code' | 'client_credentials';
  createdAt: number;
}

/** Options of {@link createGrantStore}. */
export interface GrantStoreOptions {
  store: KeyValueStore;
  /** Lifetime of a refresh token (and of an idle grant): each rotation extends the grant this long. */
  refreshTokenTtlSeconds: number;
  /**
   * Told of every revoked grant, so caches of verified access tokens in every process sharing the storage confirm
   * their grant again (default: one over `store`; the server passes the one its access tokens read).
   */
  revocations?: Revocations;
  now?: () => number;
}

/** Result of a refresh-token rotation. */
export interface Rotation {
  grant: Grant;
  refreshToken: string;
}

/** Why a refresh token was refused, for the audit log. */
export type RefreshFailure = 'unknown' | 'reused' | 'wrong_client' | 'grant_revoked';

/** Grants and refresh-token families (OAuth 2.1 §4.3, RFC 9700 §4.14.2). */
export interface GrantStore {
  /** Stores a new grant for `ttlSeconds` (default: the refresh-token lifetime). */
  create(grant: Omit<Grant, 'id' | 'createdAt'> & { id?: string }, ttlSeconds?: number): Promise<Grant>;
  get(id: string): Promise<Grant | undefined>;
  /** Deletes the grant: its refresh tokens stop working and its access tokens fail verification. */
  revoke(id: string): Promise<boolean>;
  /** Every live grant, optionally of one subject or client. */
  list(filter?: { subject?: string; clientId?: string }): Promise<Grant[]>;
  /** Issues a refresh token of the grant's family. */
  issueRefreshToken(grant: Grant): Promise<string>;
  /**
   * Rotates a refresh token (single use): returns a new one for the same grant. A reused token revokes the whole
   * family. `onFailure` learns why a token was refused (audit). Throws `invalid_grant`.
   */
  rotate(refreshToken: string, clientId: string, onFailure?: (reason: RefreshFailure, grantId?: string) => void): Promise<Rotation>;
  /** The grant of a refresh token, without using it (revocation, introspection). */
  lookupRefreshToken(refreshToken: string): Promise<{ grantId: string; clientId: string } | undefined>;
}

const GRANTS = 'auth:grants';
const REFRESH = 'auth:refresh';
const REFRESH_USED = 'auth:refresh-used';

interface RefreshRecord {
  grantId: string;
  clientId: string;
}

/** Creates the {@link GrantStore}. */
export function createGrantStore(options: GrantStoreOptions): GrantStore {
  const { store, refreshTokenTtlSeconds: ttl } = options;
  const now = options.now ?? Date.now;
  const revocations = options.revocations ?? createRevocations({ store, now });
  const invalid = () => new OAuthError(OAuthErrorCode.InvalidGrant, 'The refresh token is invalid, expired or revoked');

  const self: GrantStore = {
    async create(input, ttlSeconds = ttl) {
      const grant: Grant = { ...input, id: input.id ?? randomUUID(), createdAt: now() };
      await store.set(GRANTS, grant.id, grant, ttlSeconds);
      return grant;
    },
    get: (id) => store.get<Grant>(GRANTS, id),
    async revoke(id) {
      const removed = await store.delete(GRANTS, id);
      if (removed) await revocations.revoked();
      return removed;
    },
    async list(filter = {}) {
      const entries = await store.list<Grant>(GRANTS);
      return entries
        .map((entry) => entry.value)
        .filter((grant) => (!filter.subject || grant.subject === filter.subject) && (!filter.clientId || grant.clientId === filter.clientId));
    },
    async issueRefreshToken(grant) {
      const token = randomToken();
      await store.set<RefreshRecord>(REFRESH, hashToken(token), { grantId: grant.id, clientId: grant.clientId }, ttl);
      return token;
    },
    async rotate(refreshToken, clientId, onFailure) {
      const id = hashToken(refreshToken);
      const record = await store.get<RefreshRecord>(REFRESH, id);
      if (!record) {
        const used = await store.get<RefreshRecord>(REFRESH_USED, id);
        if (used) {
          // Reuse after rotation: someone holds a stolen copy. Kill the family (RFC 9700 §4.14.2).
          await self.revoke(used.grantId);
          onFailure?.('reused', used.grantId);
        } else onFailure?.('unknown');
        throw invalid();
      }
      if (record.clientId !== clientId) {
        onFailure?.('wrong_client', record.grantId);
        throw invalid();
      }
      // take() is atomic: of two concurrent rotations of one token, exactly one proceeds.
      const taken = await store.take<RefreshRecord>(REFRESH, id);
      if (!taken) throw invalid();
      await store.set(REFRESH_USED, id, taken, ttl);
      const grant = await self.get(taken.grantId);
      if (!grant) {
        onFailure?.('grant_revoked', taken.grantId);
        throw invalid();
      }
      await store.set(GRANTS, grant.id, grant, ttl); // sliding lifetime
      return { grant, refreshToken: await self.issueRefreshToken(grant) };
    },
    async lookupRefreshToken(refreshToken) {
      return store.get<RefreshRecord>(REFRESH, hashToken(refreshToken));
    },
  };
  return self;
}
