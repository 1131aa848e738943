import { describe, expect, it } from '@jest/globals';
import { clientInformation, createClientRepository } from '../../../server/auth/clients.js';
import { createMemoryStorage } from '../../../server/storage/memory/memory-storage.js';
import type { KeyValueStore } from '../../../server/storage/types.js';

/** The memory store, recording the TTL of every write. */
function recordingStore(): { store: KeyValueStore; ttls: Array<number | undefined> } {
  const inner = createMemoryStorage();
  const ttls: Array<number | undefined> = [];
  const store: KeyValueStore = Object.assign(Object.create(inner) as KeyValueStore, {
    set: (ns: string, id: string, value: unknown, ttl?: number) => {
      ttls.push(ttl);
      return inner.set(ns, id, value, ttl);
    },
  });
  return { store, ttls };
}

describe('client repository', () => {
  it('forgets unused registered clients after the inactivity TTL; each day of use extends it once', async () => {
    const { store, ttls } = recordingStore();
    const now = { t: Date.UTC(2026, 0, 1, 12) };
    const clients = createClientRepository({ store, inactiveTtlSeconds: 5000, now: () => now.t });
    const { client } = await clients.register({ redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' });
    expect(ttls).toEqual([5000]);
    const stored = (await clients.get(client.client_id))!;
    await clients.touch(stored);
    const touched = (await clients.get(client.client_id))!;
    expect(touched.last_used_day).toBeDefined();
    expect(clientInformation(touched)).not.toHaveProperty('last_used_day');
    await clients.touch(touched); // same day: no second write
    expect(ttls).toEqual([5000, 5000]);
    now.t += 86_400_000;
    await clients.touch(touched);
    expect(ttls).toEqual([5000, 5000, 5000]);
  });

  it('never expires static clients, and checks their secrets', async () => {
    const { store, ttls } = recordingStore();
    const clients = createClientRepository({
      store,
      inactiveTtlSeconds: 5000,
      staticClients: [
        { client_id: 'chatgpt', client_secret: 's3cret', redirect_uris: ['https://chatgpt.com/connector_platform_oauth_redirect'] },
      ],
    });
    const fixed = (await clients.get('chatgpt'))!;
    await clients.touch(fixed);
    expect(ttls).toEqual([]);
    expect(clients.checkSecret(fixed, 's3cret')).toBe(true);
    expect(clients.checkSecret(fixed, 'nope')).toBe(false);
  });
});
