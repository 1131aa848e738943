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
   * REFRESH_REUSE_GRACE_SECONDS: for this long after a refresh token was first rotated, the same client presenting it
   * again gets another refresh token of the same grant instead of having the family revoked (clients send several
   * refreshes with one token at once). Default 0: every reuse revokes, as RFC 9700 §4.14.2 describes.
   */
  reuseGraceSeconds?: number;
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
   * Rotates a refresh token (single use): returns a new one for the same grant and slides the grant's lifetime. A
   * token presented again after it was rotated revokes the whole family (RFC 9700 §4.14.2), except when the same
   * client presents it within the reuse grace: then it gets a sibling refresh token of the same grant and nothing is
   * revoked. Never re-creates a revoked grant, and never returns a token of a grant revoked before it returned.
   * `onFailure` learns why a token was refused (audit). Throws `invalid_grant`.
   */
  rotate(refreshToken: string, clientId: string, onFailure?: (reason: RefreshFailure, grantId?: string) => void): Promise<Rotation>;
  /** The grant of a refresh token, without using it (revocation, introspection). */
  lookupRefreshToken(refreshToken: string): Promise<{ grantId: string; clientId: string } | undefined>;
}

const GRANTS = 'auth:grants';
const REFRESH = 'auth:refresh';
const REFRESH_USED = 'auth:refresh-used';

/** A live refresh token, stored under its hash. */
interface RefreshRecord {
  grantId: string;
  clientId: string;
}

/** What is kept of a rotated refresh token, under its hash, for as long as the token would have lived. */
interface RotatedRecord extends RefreshRecord {
  /**
   * When it was first rotated, epoch ms, by the clock of the process that rotated it (replicas' clocks only need to
   * agree to well within the grace). Markers written before the grace existed have none: they count as outside it.
   */
  rotatedAt?: number;
}

/** `rotate`'s audit callback. */
type FailureListener = (reason: RefreshFailure, grantId?: string) => void;

/** Creates the {@link GrantStore}. */
export function createGrantStore(options: GrantStoreOptions): GrantStore {
  const { store, refreshTokenTtlSeconds: ttl } = options;
  const graceMs = (options.reuseGraceSeconds ?? 0) * 1000;
  const now = options.now ?? Date.now;
  const revocations = options.revocations ?? createRevocations({ store, now });
  const invalid = () => new OAuthError(OAuthErrorCode.InvalidGrant, 'The refresh token is invalid, expired or revoked');

  /**
   * A token presented after it was rotated (or while a concurrent request rotates it). Within the grace, and from the
   * client it was issued to, this is a client's own concurrent refreshes: it gets a sibling token of the same grant.
   * Otherwise someone holds a stolen copy, and the family dies (RFC 9700 §4.14.2).
   *
   * Why a sibling rather than the successor the first rotation returned: only hashes are stored, so handing the
   * successor out again would mean keeping it in a readable form (or deriving it from a server secret), making a
   * storage read as good as a live token. A sibling needs nothing but its hash, and it is a full member of the family:
   * whichever of the tokens the concurrent responses carried the client ends up keeping, it works, and each dies with
   * the grant. The price is a few extra live refresh tokens per burst, each bounded by the refresh-token lifetime.
   */
  async function presentedAgain(id: string, clientId: string, onFailure?: FailureListener): Promise<Rotation> {
    const used = await store.get<RotatedRecord>(REFRESH_USED, id);
    if (!used) {
      onFailure?.('unknown');
      throw invalid();
    }
    // The window runs from the first rotation: presenting the token again does not extend it.
    const inGrace = graceMs > 0 && used.rotatedAt !== undefined && now() - used.rotatedAt < graceMs;
    if (inGrace && used.clientId === clientId) return successor(used.grantId, onFailure);
    await self.revoke(used.grantId);
    onFailure?.('reused', used.grantId);
    throw invalid();
  }

  /** Issues the next refresh token of a grant and slides the grant's lifetime, unless the grant was revoked. */
  async function successor(grantId: string, onFailure?: FailureListener): Promise<Rotation> {
    const grant = await self.get(grantId);
    if (!grant) {
      onFailure?.('grant_revoked', grantId);
      throw invalid();
    }
    const refreshToken = await self.issueRefreshToken(grant);
    // Last, and conditional: a revocation that landed anywhere in this rotation makes it fail, so the grant is not
    // re-created (a plain set would revive it) and the token just stored is withdrawn before anyone sees it. Grants
    // never change after creation, so writing back the value read above loses nothing.
    if (!(await store.setIfPresent(GRANTS, grant.id, grant, ttl))) {
      await store.delete(REFRESH, hashToken(refreshToken));
      onFailure?.('grant_revoked', grant.id);
      throw invalid();
    }
    return { grant, refreshToken };
  }

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
        .filter(
          (grant) => (!filter.subject || grant.subject === filter.subject) && (!filter.clientId || grant.clientId === filter.clientId),
        );
    },
    async issueRefreshToken(grant) {
      const token = randomToken();
      await store.set<RefreshRecord>(REFRESH, hashToken(token), { grantId: grant.id, clientId: grant.clientId }, ttl);
      return token;
    },
    async rotate(refreshToken, clientId, onFailure) {
      const id = hashToken(refreshToken);
      const record = await store.get<RefreshRecord>(REFRESH, id);
      if (!record) return presentedAgain(id, clientId, onFailure);
      if (record.clientId !== clientId) {
        onFailure?.('wrong_client', record.grantId);
        throw invalid();
      }
      // The marker goes in before the token is taken, so a concurrent presentation that finds the token gone always
      // finds the marker too, and is judged as a reuse (inside or outside the grace), never as an unknown token.
      await store.setIfAbsent<RotatedRecord>(REFRESH_USED, id, { ...record, rotatedAt: now() }, ttl);
      // take() is atomic: of several concurrent rotations of one token, exactly one proceeds on this path.
      const taken = await store.take<RefreshRecord>(REFRESH, id);
      if (!taken) return presentedAgain(id, clientId, onFailure);
      return successor(taken.grantId, onFailure);
    },
    async lookupRefreshToken(refreshToken) {
      return store.get<RefreshRecord>(REFRESH, hashToken(refreshToken));
    },
  };
  return self;
}
