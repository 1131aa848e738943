import { forgetConsents } from '../auth/authorize-service.js';
import { API_KEY_DEFAULT_SCOPES, createApiKeyStore } from '../auth/api-keys.js';
import { createClientRepository } from '../auth/clients.js';
import { createGrantStore } from '../auth/grants.js';
import { isKnownScope } from '../auth/scopes.js';
import { randomToken } from '../auth/secrets.js';
import { createUserStore } from '../auth/users.js';
import type { Config } from '../config/schema.js';
import type { Storage } from '../storage/types.js';
import type { CommandResult } from './background.js';

/**
 * The operator commands on auth state (`keys`, `users`, `clients`): they work on the configured storage directly,
 * so they run while the server runs (SQLite or Redis) and take effect on the server's next request.
 */
export interface AuthCommandContext {
  config: Config;
  storage: Storage;
}

const ok = (message: string): CommandResult => ({ code: 0, message });
const fail = (message: string): CommandResult => ({ code: 1, message });
const time = (ms: number) => (ms ? new Date(ms).toISOString() : '-');

/** Refuses to "persist" into memory storage, where the change would vanish with this process. */
export function requireDurableStorage(config: Config): CommandResult | undefined {
  return config.storage === 'memory' ? fail('STORAGE=memory: nothing this command stores would survive; use sqlite or redis') : undefined;
}

/** `keys create <client_id> [--scopes a,b]`: prints the key once; only its hash is stored. */
export async function keysCreate({ storage }: AuthCommandContext, clientId: string, scopes?: string): Promise<CommandResult> {
  const list = scopes ? scopes.split(/[ ,]+/).filter(Boolean) : API_KEY_DEFAULT_SCOPES;
  const unknown = list.filter((scope) => scope !== '*' && !isKnownScope(scope));
  if (unknown.length > 0) return fail(`unknown scope: ${unknown.join(', ')}`);
  const { key, record } = await createApiKeyStore(storage).create(clientId, list);
  return ok(`${key}\n\nAPI key ${record.id} for client "${clientId}" (scopes: ${list.join(' ')}). This is the only time the key is shown.`);
}

/** `keys list`: ids, clients, scopes, creation time; never the keys. */
export async function keysList({ storage, config }: AuthCommandContext): Promise<CommandResult> {
  const { configuredApiKeys } = await import('../auth/auth-server.js');
  const records = await createApiKeyStore(storage, configuredApiKeys(config)).list();
  if (records.length === 0) return ok('no API keys');
  return ok(records.map((r) => `${r.id}\t${r.clientId}\t${r.scopes.join(' ')}\t${time(r.createdAt)}\t${r.source}`).join('\n'));
}

/** `keys revoke <id>`. */
export async function keysRevoke({ storage }: AuthCommandContext, id: string): Promise<CommandResult> {
  return (await createApiKeyStore(storage).revoke(id)) ? ok(`revoked API key ${id}`) : fail(`no stored API key with id ${id}`);
}

/** `users add <name> [--password p]`: generates a password when none is given and prints it once. */
export async function usersAdd({ storage }: AuthCommandContext, username: string, password?: string): Promise<CommandResult> {
  const chosen = password ?? randomToken(15);
  try {
    await createUserStore(storage).add(username, chosen);
  } catch (error) {
    return fail((error as Error).message);
  }
  return ok(password ? `user ${username} saved` : `user ${username} saved with the generated password:\n${chosen}`);
}

/** `users list`. */
export async function usersList({ storage }: AuthCommandContext): Promise<CommandResult> {
  const users = await createUserStore(storage).list();
  return ok(users.length ? users.map((u) => `${u.username}\t${time(u.createdAt)}`).join('\n') : 'no users');
}

/** `users remove <name>`: also revokes every grant the user approved (their tokens stop working at once). */
export async function usersRemove({ storage, config }: AuthCommandContext, username: string): Promise<CommandResult> {
  if (!(await createUserStore(storage).remove(username))) return fail(`no user ${username}`);
  const grants = createGrantStore({ store: storage, refreshTokenTtlSeconds: config.refreshTokenTtlSeconds });
  const owned = await grants.list({ subject: username });
  for (const grant of owned) await grants.revoke(grant.id);
  await forgetConsents(storage, { subject: username });
  return ok(`removed user ${username} and revoked ${owned.length} grant(s)`);
}

/** `clients list`: registered OAuth clients and how many live grants each has. */
export async function clientsList({ storage, config }: AuthCommandContext): Promise<CommandResult> {
  const clients = await createClientRepository({ store: storage }).list();
  const grants = await createGrantStore({ store: storage, refreshTokenTtlSeconds: config.refreshTokenTtlSeconds }).list();
  if (clients.length === 0) return ok('no clients');
  return ok(
    clients
      .map((c) => {
        const count = grants.filter((g) => g.clientId === c.client_id).length;
        return `${c.client_id}\t${c.client_name ?? '-'}\t${c.token_endpoint_auth_method}\t${c.static ? 'static' : time(c.client_id_issued_at * 1000)}\t${count} grants`;
      })
      .join('\n'),
  );
}

/** `clients revoke <client_id>`: deletes a dynamic client and revokes every grant (and so every token) it holds. */
export async function clientsRevoke({ storage, config }: AuthCommandContext, clientId: string): Promise<CommandResult> {
  const grants = createGrantStore({ store: storage, refreshTokenTtlSeconds: config.refreshTokenTtlSeconds });
  const owned = await grants.list({ clientId });
  for (const grant of owned) await grants.revoke(grant.id);
  const removed = await createClientRepository({ store: storage }).remove(clientId);
  await forgetConsents(storage, { clientId });
  if (!removed && owned.length === 0) return fail(`no client ${clientId}`);
  return ok(`revoked ${owned.length} grant(s)${removed ? ` and removed client ${clientId}` : ''}`);
}
