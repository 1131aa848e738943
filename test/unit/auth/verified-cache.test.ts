import { describe, expect, it } from '@jest/globals';
import { createVerifiedCache } from '../../../server/auth/verified-cache.js';

describe('verified-credential cache', () => {
  it('holds at most maxEntries, dropping the least recently used', () => {
    const cache = createVerifiedCache<string>({ maxEntries: 2 });
    cache.set('a', 'A', Number.POSITIVE_INFINITY);
    cache.set('b', 'B', Number.POSITIVE_INFINITY);
    expect(cache.get('a')?.value).toBe('A'); // a is now the most recent
    cache.set('c', 'C', Number.POSITIVE_INFINITY);
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.value).toBe('A');
    expect(cache.get('c')?.value).toBe('C');
  });

  it('never returns an entry at or after its expiry, and forgets it', () => {
    const now = { t: 1_000 };
    const cache = createVerifiedCache<string>({ maxEntries: 10, now: () => now.t });
    cache.set('token', 'claims', 2_000);
    now.t = 1_999;
    expect(cache.get('token')?.value).toBe('claims');
    now.t = 2_000;
    expect(cache.get('token')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('replacing an entry resets its liveness stamp', () => {
    const cache = createVerifiedCache<string>({ maxEntries: 10 });
    cache.set('k', 'v', Number.POSITIVE_INFINITY).liveAt = 3;
    expect(cache.get('k')?.liveAt).toBe(3);
    expect(cache.set('k', 'v2', Number.POSITIVE_INFINITY).liveAt).toBeUndefined();
    cache.delete('k');
    expect(cache.get('k')).toBeUndefined();
  });
});
