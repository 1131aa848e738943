import { randomUUID } from 'node:crypto';
import type { KeyValueStore } from '../storage/types.js';
import { createRevocations, type Revocations } from './revocations.js';
import { hashToken, randomToken } from './secrets.js';
import { createVerifiedCache } from './verified-cache.js';

/** An API key as stored: only its SHA-256 is kept; the key itself is shown once at creation. */
export interface ApiKeyRecord {
  /** Public identifier (for list/revoke); not the key. */
  id: string;
  clientId: string;
  scopes: string[];
  createdAt: number;
  /** Where it came from: created with the CLI, or configured (MCP_API_KEYS / MCP_API_KEYS_PATH). */
  source: 'store' | 'config';
}

/** A configured key: `MCP_API_KEYS="key:client"` or an MCP_API_KEYS_PATH entry `{key: {client_id, scopes}}`. */
export interface ConfiguredApiKey {
  key: string;
  clientId: string;
  scopes?: string[];
}

/** API keys (seed 004): sent as `Authorization: Bearer <key>`, each mapped to a client id and scopes. */
export interface ApiKeyStore {
  /** Creates a key for `clientId`; returns the key (shown once) and its record. */
  create(clientId: string, scopes: readonly string[]): Promise<{ key: string; record: ApiKeyRecord }>;
  /** Stored and configured keys (never the keys themselves). */
  list(): Promise<ApiKeyRecord[]>;
  /** Revokes a stored key by its id. */
  revoke(id: string): Promise<boolean>;
  /** The record of a presented key, or `undefined`. */
  find(key: string): Promise<ApiKeyRecord | undefined>;
}

const NS = 'auth:api-keys';
/** Prefix of generated keys, so they are recognisable in logs and secret scanners. */
export const API_KEY_PREFIX = 'ccm_';
/** Scopes a key gets when none are given: everything. */
export const API_KEY_DEFAULT_SCOPES = ['*'];

/** Stored keys remembered per process after a successful lookup. */
const KEY_CACHE_SIZE = 1000;

/**
 * Creates the {@link ApiKeyStore}: configured keys (hashed in memory) plus keys stored through the storage port.
 * A stored key found once is remembered and trusted while the revocation generation stands still (a revoke moves
 * it); when `revocations` reuses its reading for a while, such a request needs no storage round trip at all.
 */
export function createApiKeyStore(
  store: KeyValueStore,
  configured: readonly ConfiguredApiKey[] = [],
  now: () => number = Date.now,
  revocations: Revocations = createRevocations({ store, now }),
): ApiKeyStore {
  const found = createVerifiedCache<ApiKeyRecord>({ maxEntries: KEY_CACHE_SIZE, now });
  const fromConfig = new Map<string, ApiKeyRecord>();
  for (const entry of configured) {
    const hash = hashToken(entry.key);
    fromConfig.set(hash, {
      id: `config-${hash.slice(0, 8)}`,
      clientId: entry.clientId,
      scopes: entry.scopes ?? API_KEY_DEFAULT_SCOPES,
      createdAt: 0,
      source: 'config',
    });
  }
  return {
    async create(clientId, scopes) {
      const key = `${API_KEY_PREFIX}${randomToken()}`;
      const record: ApiKeyRecord = { id: randomUUID(), clientId, scopes: [...scopes], createdAt: now(), source: 'store' };
      await store.set(NS, hashToken(key), record);
      return { key, record };
    },
    async list() {
      return [...fromConfig.values(), ...(await store.list<ApiKeyRecord>(NS)).map((entry) => entry.value)];
    },
    async revoke(id) {
      for (const entry of await store.list<ApiKeyRecord>(NS)) {
        if (entry.value.id !== id) continue;
        const removed = await store.delete(NS, entry.id);
        if (removed) await revocations.revoked();
        return removed;
      }
      return false;
    },
    async find(key) {
      const hash = hashToken(key);
      const configuredKey = fromConfig.get(hash);
      if (configuredKey) return configuredKey;
      const cached = found.get(hash);
      // Only a remembered key needs the generation (unknown keys cost one read, as before). It is read before the
      // lookup that confirms the key, so a revocation racing the lookup moves it past the stamp.
      const generation = cached ? await revocations.generation() : undefined;
      if (cached && cached.liveAt === generation) return cached.value;
      const record = await store.get<ApiKeyRecord>(NS, hash);
      if (!record) {
        found.delete(hash);
        return undefined;
      }
      found.set(hash, record, Number.POSITIVE_INFINITY).liveAt = generation;
      return record;
    },
  };
}

/** Parses `MCP_API_KEYS` (`key1:client1,key2:client2`). */
export function parseApiKeyList(entries: readonly string[]): ConfiguredApiKey[] {
  return entries.map((entry) => {
    const at = entry.lastIndexOf(':');
    if (at <= 0 || at === entry.length - 1) throw new Error('MCP_API_KEYS: expected key:client_id pairs separated by commas');
    return { key: entry.slice(0, at), clientId: entry.slice(at + 1) };
  });
}

/** Parses the MCP_API_KEYS_PATH document `{ "<key>": { "client_id": "...", "scopes": [...] } }`. */
export function parseApiKeyFile(document: unknown, file: string): ConfiguredApiKey[] {
  if (!document || typeof document !== 'object' || Array.isArray(document)) throw new Error(`${file}: expected a JSON object`);
  return Object.entries(document as Record<string, unknown>).map(([key, value]) => {
    const entry = value as { client_id?: unknown; scopes?: unknown };
    if (!entry || typeof entry.client_id !== 'string') throw new Error(`${file}: every key needs a "client_id" string`);
    const scopes = Array.isArray(entry.scopes) ? entry.scopes.filter((scope): scope is string => typeof scope === 'string') : undefined;
    return { key, clientId: entry.client_id, scopes };
  });
}
