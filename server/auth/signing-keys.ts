import { randomUUID } from 'node:crypto';
import type { CryptoKey, JWK } from 'jose';
import { loadJose } from './jose.js';
import type { KeyValueStore } from '../storage/types.js';

/** Algorithm of every access token this server signs (RFC 9068 §2.1 requires an asymmetric one; ES256 is compact). */
export const SIGNING_ALG = 'ES256';

const NS = 'auth:signing-keys';

/** One stored key pair. The private half never leaves storage and this module. */
interface StoredKey {
  kid: string;
  createdAt: number;
  privateJwk: JWK;
  publicJwk: JWK;
}

/** A key ready to sign with. */
export interface ActiveKey {
  kid: string;
  privateKey: CryptoKey;
}

/** Options of {@link createSigningKeys}. */
export interface SigningKeysOptions {
  store: KeyValueStore;
  /** Age after which a new key becomes the signing key. */
  rotateAfterSeconds: number;
  /**
   * How long a replaced key stays published in the JWKS, so tokens it signed keep verifying until they expire.
   * Must be at least the access-token lifetime.
   */
  overlapSeconds: number;
  now?: () => number;
}

/** Signing keys: ES256 pairs stored durably through the storage port, rotated with overlap, published as a JWKS. */
export interface SigningKeys {
  /** The newest key; creates one when there is none or the newest is due for rotation. */
  active(): Promise<ActiveKey>;
  /** Public keys of every key still inside its validity window (RFC 7517 JWK Set). */
  jwks(): Promise<{ keys: JWK[] }>;
  /** The public key for `kid`, when it is still published. */
  publicKey(kid: string): Promise<CryptoKey | undefined>;
  /** Forces a new signing key now (operators, tests). Returns its kid. */
  rotate(): Promise<string>;
}

/** Creates the {@link SigningKeys} service. Keys are cached in memory for a few seconds so replicas pick up rotations. */
export function createSigningKeys(options: SigningKeysOptions): SigningKeys {
  const { store } = options;
  const now = options.now ?? Date.now;
  const imported = new Map<string, CryptoKey>();
  let cache: { at: number; keys: StoredKey[] } | undefined;

  async function load(): Promise<StoredKey[]> {
    if (cache && now() - cache.at < 5000) return cache.keys;
    const entries = await store.list<StoredKey>(NS);
    const keys = entries.map((entry) => entry.value).sort((a, b) => b.createdAt - a.createdAt);
    cache = { at: now(), keys };
    return keys;
  }

  async function create(): Promise<StoredKey> {
    const { exportJWK, generateKeyPair } = await loadJose();
    const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
    const kid = randomUUID();
    const key: StoredKey = {
      kid,
      createdAt: now(),
      privateJwk: await exportJWK(privateKey),
      publicJwk: { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: 'sig' },
    };
    // A key lives for its rotation period plus the overlap in which it only verifies.
    await store.set(NS, kid, key, options.rotateAfterSeconds + options.overlapSeconds);
    cache = undefined;
    return key;
  }

  async function importKey(jwk: JWK, cacheKey: string): Promise<CryptoKey> {
    let key = imported.get(cacheKey);
    if (!key) {
      key = (await (await loadJose()).importJWK(jwk, SIGNING_ALG)) as CryptoKey;
      imported.set(cacheKey, key);
    }
    return key;
  }

  return {
    async active() {
      const [newest] = await load();
      const current = newest && now() - newest.createdAt < options.rotateAfterSeconds * 1000 ? newest : await create();
      return { kid: current.kid, privateKey: await importKey(current.privateJwk, `private:${current.kid}`) };
    },
    async jwks() {
      const keys = await load();
      return { keys: keys.map((key) => key.publicJwk) };
    },
    async publicKey(kid) {
      let key = (await load()).find((candidate) => candidate.kid === kid);
      // Another replica may have rotated a moment ago; refetch at most once a second so random kids cost nothing.
      if (!key && cache && now() - cache.at > 1000) {
        cache = undefined;
        key = (await load()).find((candidate) => candidate.kid === kid);
      }
      return key ? importKey(key.publicJwk, `public:${kid}`) : undefined;
    },
    async rotate() {
      return (await create()).kid;
    },
  };
}
