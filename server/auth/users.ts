import type { KeyValueStore } from '../storage/types.js';
import { hashPassword, randomToken, verifyPassword } from './secrets.js';

/** A local user who can log in on the authorization page. The password is stored only as a scrypt hash. */
export interface LocalUser {
  username: string;
  passwordHash: string;
  createdAt: number;
}

/** Local users (`claude-code-mcp users add|list|remove`). */
export interface UserStore {
  /** Creates or replaces a user. */
  add(username: string, password: string): Promise<void>;
  remove(username: string): Promise<boolean>;
  /** Usernames and creation times (never hashes). */
  list(): Promise<Array<{ username: string; createdAt: number }>>;
  /** The username when the password is right, otherwise `undefined` (same time cost either way). */
  verify(username: string, password: string): Promise<string | undefined>;
  /**
   * First start with no way to log in: creates `admin` with a generated password and returns it, once.
   * Returns `undefined` when any user exists.
   */
  ensureInitialAdmin(): Promise<{ username: string; password: string } | undefined>;
}

const NS = 'auth:users';
/** Usernames: letters, digits and `._@-`, 1-64 characters. */
export const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;
// Compared against when the user does not exist, so timing does not reveal which usernames exist.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** Creates the {@link UserStore} over the storage port. */
export function createUserStore(store: KeyValueStore, now: () => number = Date.now): UserStore {
  const self: UserStore = {
    async add(username, password) {
      if (!USERNAME.test(username)) throw new Error('username: 1-64 letters, digits or ._@-');
      if (password.length < 8) throw new Error('password: at least 8 characters');
      await store.set<LocalUser>(NS, username, { username, passwordHash: await hashPassword(password), createdAt: now() });
    },
    remove: (username) => store.delete(NS, username),
    async list() {
      return (await store.list<LocalUser>(NS)).map(({ value }) => ({ username: value.username, createdAt: value.createdAt }));
    },
    async verify(username, password) {
      const user = USERNAME.test(username) ? await store.get<LocalUser>(NS, username) : undefined;
      const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
      return ok && user ? user.username : undefined;
    },
    async ensureInitialAdmin() {
      if ((await store.list(NS)).length > 0) return undefined;
      const password = randomToken(15);
      const user: LocalUser = { username: 'admin', passwordHash: await hashPassword(password), createdAt: now() };
      // setIfAbsent: two replicas starting together must not both print a (different) password.
      return (await store.setIfAbsent(NS, 'admin', user)) ? { username: 'admin', password } : undefined;
    },
  };
  return self;
}
