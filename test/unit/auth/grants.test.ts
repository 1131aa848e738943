/**
 * Refresh-token rotation: single use, the reuse grace for a client's own concurrent refreshes, family revocation on
 * reuse (RFC 9700 §4.14.2), and rotations that race a revocation.
 */
import { describe, expect, it } from '@jest/globals';
import { createAccessTokens } from '../../../server/auth/access-tokens.js';
import { createGrantStore, type RefreshFailure } from '../../../server/auth/grants.js';
import { createSigningKeys } from '../../../server/auth/signing-keys.js';
import { createMemoryStorage } from '../../../server/storage/memory/memory-storage.js';
import type { KeyValueStore } from '../../../server/storage/types.js';

const R = 'https://mcp.example.com/mcp';
const GRACE_SECONDS = 60;

/** A grant store (and access tokens) over `store`, on a clock the test moves. */
async function setup(options: { graceSeconds?: number; store?: KeyValueStore } = {}) {
  const now = { t: Date.now() };
  const store = options.store ?? createMemoryStorage();
  const grants = createGrantStore({
    store,
    refreshTokenTtlSeconds: 86_400,
    reuseGraceSeconds: options.graceSeconds ?? GRACE_SECONDS,
    now: () => now.t,
  });
  const keys = createSigningKeys({ store, rotateAfterSeconds: 3600, overlapSeconds: 3900, now: () => now.t });
  const tokens = createAccessTokens({
    keys,
    store,
    issuer: 'https://mcp.example.com',
    ttlSeconds: 600,
    grantAlive: async (id) => (await grants.get(id)) !== undefined,
    now: () => now.t,
  });
  const grant = await grants.create({
    clientId: 'c',
    subject: 'u',
    scopes: ['mcp:tools', 'claude:ask'],
    resource: R,
    kind: 'authorization_code',
  });
  const reasons: RefreshFailure[] = [];
  const audit = (reason: RefreshFailure) => void reasons.push(reason);
  /** Whether an access token issued now for the rotation's grant is accepted. */
  const accessWorks = async (grantId: string) => {
    const current = await grants.get(grantId);
    if (!current) return false;
    const token = await tokens.issue(current);
    return tokens.verify(token, R).then(
      () => true,
      () => false,
    );
  };
  return { now, store, grants, grant, tokens, reasons, audit, accessWorks, firstToken: await grants.issueRefreshToken(grant) };
}

describe('refresh-token rotation', () => {
  it('is single use on the normal path: each token rotates once, to a new token of the same grant', async () => {
    const { grants, grant, firstToken, audit, reasons } = await setup();
    const first = await grants.rotate(firstToken, 'c', audit);
    expect(first.grant).toEqual(grant);
    expect(first.refreshToken).not.toBe(firstToken);
    expect(await grants.lookupRefreshToken(firstToken)).toBeUndefined();
    const second = await grants.rotate(first.refreshToken, 'c', audit);
    expect(second.grant.id).toBe(grant.id);
    expect(reasons).toEqual([]);
  });

  it('within the grace, the same client presenting a rotated token gets a sibling token of the same grant; nothing is revoked', async () => {
    const { now, grants, grant, firstToken, audit, reasons, accessWorks } = await setup();
    const winner = await grants.rotate(firstToken, 'c', audit);
    now.t += (GRACE_SECONDS - 1) * 1000;
    const late = await grants.rotate(firstToken, 'c', audit);
    expect(late.grant).toEqual(winner.grant);
    expect(late.grant).toMatchObject({ id: grant.id, scopes: grant.scopes, resource: grant.resource });
    expect(late.refreshToken).not.toBe(winner.refreshToken);
    expect(reasons).toEqual([]);
    expect(await accessWorks(grant.id)).toBe(true);
    // Whichever of the two the client kept works, and both are live members of the family.
    expect(await grants.lookupRefreshToken(winner.refreshToken)).toEqual({ grantId: grant.id, clientId: 'c' });
    expect(await grants.lookupRefreshToken(late.refreshToken)).toEqual({ grantId: grant.id, clientId: 'c' });
    const fromWinner = await grants.rotate(winner.refreshToken, 'c', audit);
    const fromLate = await grants.rotate(late.refreshToken, 'c', audit);
    expect([fromWinner.grant.id, fromLate.grant.id]).toEqual([grant.id, grant.id]);
    expect(reasons).toEqual([]);
  });

  it('every one of five concurrent rotations of one token succeeds, each with its own working token', async () => {
    const { grants, grant, firstToken, audit, reasons } = await setup();
    const rotations = await Promise.all(Array.from({ length: 5 }, () => grants.rotate(firstToken, 'c', audit)));
    expect(rotations.map((rotation) => rotation.grant.id)).toEqual(Array(5).fill(grant.id));
    expect(new Set(rotations.map((rotation) => rotation.refreshToken)).size).toBe(5);
    for (const rotation of rotations)
      await expect(grants.rotate(rotation.refreshToken, 'c', audit)).resolves.toMatchObject({ grant: { id: grant.id } });
    expect(reasons).toEqual([]);
    expect(await grants.get(grant.id)).toBeDefined();
  });

  it('the window runs from the first rotation: a presentation after it revokes the family, successors included', async () => {
    const { now, grants, grant, firstToken, audit, reasons, accessWorks } = await setup();
    const winner = await grants.rotate(firstToken, 'c', audit);
    now.t += (GRACE_SECONDS / 2) * 1000;
    const sibling = await grants.rotate(firstToken, 'c', audit); // does not restart the window
    now.t += (GRACE_SECONDS / 2) * 1000;
    await expect(grants.rotate(firstToken, 'c', audit)).rejects.toMatchObject({ code: 'invalid_grant' });
    expect(reasons).toEqual(['reused']);
    expect(await grants.get(grant.id)).toBeUndefined();
    expect(await accessWorks(grant.id)).toBe(false);
    await expect(grants.rotate(winner.refreshToken, 'c')).rejects.toMatchObject({ code: 'invalid_grant' });
    await expect(grants.rotate(sibling.refreshToken, 'c')).rejects.toMatchObject({ code: 'invalid_grant' });
  });

  it('another client presenting a rotated token within the grace revokes the family', async () => {
    const { grants, grant, firstToken, audit, reasons } = await setup();
    const winner = await grants.rotate(firstToken, 'c', audit);
    await expect(grants.rotate(firstToken, 'mallory', audit)).rejects.toMatchObject({ code: 'invalid_grant' });
    expect(reasons).toEqual(['reused']);
    expect(await grants.get(grant.id)).toBeUndefined();
    await expect(grants.rotate(winner.refreshToken, 'c')).rejects.toMatchObject({ code: 'invalid_grant' });
    // A live token presented by another client is refused without using it up.
    const other = await setup();
    await expect(other.grants.rotate(other.firstToken, 'mallory', other.audit)).rejects.toMatchObject({ code: 'invalid_grant' });
    expect(other.reasons).toEqual(['wrong_client']);
    await expect(other.grants.rotate(other.firstToken, 'c')).resolves.toMatchObject({ grant: { id: other.grant.id } });
  });

  it('with a grace of 0 every second presentation revokes the family, concurrent ones included', async () => {
    const strict = await setup({ graceSeconds: 0 });
    const winner = await strict.grants.rotate(strict.firstToken, 'c', strict.audit);
    await expect(strict.grants.rotate(strict.firstToken, 'c', strict.audit)).rejects.toMatchObject({ code: 'invalid_grant' });
    expect(strict.reasons).toEqual(['reused']);
    expect(await strict.grants.get(strict.grant.id)).toBeUndefined();
    await expect(strict.grants.rotate(winner.refreshToken, 'c')).rejects.toMatchObject({ code: 'invalid_grant' });

    const racing = await setup({ graceSeconds: 0 });
    const outcomes = await Promise.allSettled(Array.from({ length: 3 }, () => racing.grants.rotate(racing.firstToken, 'c', racing.audit)));
    expect(outcomes.filter((outcome) => outcome.status === 'rejected').length).toBeGreaterThanOrEqual(2);
    expect(racing.reasons).toContain('reused');
    expect(await racing.grants.get(racing.grant.id)).toBeUndefined();
    // The one rotation that took the token either lost to the revocation or handed out a token that died with it.
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled')
        await expect(racing.grants.rotate(outcome.value.refreshToken, 'c')).rejects.toMatchObject({ code: 'invalid_grant' });
    }
  });

  it('an unknown token is refused as unknown and revokes nothing', async () => {
    const { grants, grant, audit, reasons } = await setup();
    await expect(grants.rotate('not-a-token', 'c', audit)).rejects.toMatchObject({ code: 'invalid_grant' });
    expect(reasons).toEqual(['unknown']);
    expect(await grants.get(grant.id)).toBeDefined();
  });
});

/**
 * A store that stops before its n-th operation (counted from `stopBefore`) until told to go on, so a revocation can
 * land between any two storage steps of a rotation.
 */
function steppedStore(inner: KeyValueStore) {
  let steps = 0;
  let stop: { at: number; reached: (resume: () => void) => void } | undefined;
  const store = new Proxy(inner, {
    get(target, property) {
      const member = Reflect.get(target, property) as unknown;
      if (typeof member !== 'function') return member;
      return async (...args: unknown[]) => {
        steps += 1;
        if (stop && steps === stop.at) {
          const { reached } = stop;
          stop = undefined;
          await new Promise<void>((resume) => reached(resume));
        }
        return (member as (...params: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
  return {
    store,
    /** Operations run so far. */
    steps: () => steps,
    /** Resolves, with the function that lets it continue, once the store is about to run the `n`-th operation from now. */
    stopBefore: (n: number) => new Promise<() => void>((reached) => (stop = { at: steps + n, reached })),
  };
}

describe('a revocation racing a rotation', () => {
  const scenarios = [
    { name: 'a first rotation', graceUse: false },
    { name: 'a presentation within the grace', graceUse: true },
  ];

  it.each(scenarios)('landing before any storage step of $name, leaves the grant revoked and hands out no token', async ({ graceUse }) => {
    const prepared = async () => {
      const stepped = steppedStore(createMemoryStorage());
      const context = await setup({ store: stepped.store });
      if (graceUse) await context.grants.rotate(context.firstToken, 'c');
      return { ...stepped, ...context };
    };

    // How many storage steps an undisturbed rotation takes.
    const probe = await prepared();
    const before = probe.steps();
    await probe.grants.rotate(probe.firstToken, 'c');
    const total = probe.steps() - before;
    expect(total).toBeGreaterThanOrEqual(4);

    for (let step = 1; step <= total; step += 1) {
      const { grants, grant, firstToken, audit, reasons, stopBefore, accessWorks } = await prepared();
      const stopped = stopBefore(step);
      const rotation = grants.rotate(firstToken, 'c', audit);
      const resume = await stopped;
      expect(await grants.revoke(grant.id)).toBe(true);
      resume();
      await expect(rotation).rejects.toMatchObject({ code: 'invalid_grant' });
      expect(reasons).toEqual(['grant_revoked']);
      expect(await grants.get(grant.id)).toBeUndefined();
      expect(await grants.list()).toEqual([]);
      expect(await accessWorks(grant.id)).toBe(false);
    }
  });
});
