import type * as Jose from 'jose';

let loading: Promise<typeof Jose> | undefined;

/**
 * jose, loaded with the first key generated or token signed or verified: start-up (and `/health`) does not wait for
 * it. Every caller is already asynchronous.
 */
export function loadJose(): Promise<typeof Jose> {
  loading ??= import('jose');
  return loading;
}
