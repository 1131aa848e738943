/**
 * Rules of the storage port that every adapter applies the same way, so the contract suite cannot pass on one
 * adapter and fail on another because of argument handling: how values are serialised, how TTLs and delays are
 * validated, and in which order ids are listed.
 */

/**
 * Serialises a port value to JSON text.
 *
 * Every adapter stores JSON text (the memory one too) so a caller sees the same thing whichever adapter is
 * configured: a copy, with `undefined` members dropped and `Date`s turned into strings.
 *
 * @throws TypeError when the value has no JSON form (`undefined`, a function, a symbol).
 */
export function encodeValue(value: unknown): string {
  const json = JSON.stringify(value) as string | undefined;
  if (json === undefined) throw new TypeError('storage: value is not JSON-serialisable');
  return json;
}

/** Parses JSON text written by {@link encodeValue}. */
export function decodeValue<T>(json: string): T {
  return JSON.parse(json) as T;
}

/**
 * The lifetime in milliseconds for an optional `ttlSeconds`, or `undefined` for "never expires".
 *
 * A zero or negative TTL is rejected rather than read as "forever" or "already expired": both readings have
 * surprised someone, and the port says TTLs are > 0.
 *
 * @throws RangeError when `ttlSeconds` is given but not a positive finite number.
 */
export function ttlToMs(ttlSeconds: number | undefined): number | undefined {
  if (ttlSeconds === undefined) return undefined;
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new RangeError(`storage: ttlSeconds must be a positive number, got ${String(ttlSeconds)}`);
  }
  // Redis PX takes whole milliseconds; rounding up keeps a tiny TTL from becoming "no TTL".
  return Math.ceil(ttlSeconds * 1000);
}

/**
 * Validates a delay or lease duration in milliseconds (`>= 0`, or `> 0` when `positive`).
 *
 * @throws RangeError naming `name` when the value is out of range.
 */
export function checkDuration(name: string, ms: number, positive = false): number {
  if (!Number.isFinite(ms) || ms < 0 || (positive && ms === 0)) {
    throw new RangeError(`storage: ${name} must be a ${positive ? 'positive' : 'non-negative'} number, got ${String(ms)}`);
  }
  return Math.ceil(ms);
}

/**
 * Validates `claim`'s `max`.
 *
 * @throws RangeError when `max` is not a positive integer.
 */
export function checkClaimMax(max: number): number {
  if (!Number.isSafeInteger(max) || max <= 0) throw new RangeError(`storage: max must be a positive integer, got ${String(max)}`);
  return max;
}

/**
 * Validates `increment`'s step.
 *
 * @throws RangeError when `by` is not a safe integer.
 */
export function checkStep(by: number): number {
  if (!Number.isSafeInteger(by)) throw new RangeError(`storage: increment step must be an integer, got ${String(by)}`);
  return by;
}

/**
 * Orders ids by Unicode code point, which is the byte order of their UTF-8 form: the order SQLite (BINARY
 * collation) and Redis use. Plain `<` on JS strings compares UTF-16 code units and would put U+FFFD after
 * astral characters, so the memory adapter would disagree with the others.
 */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const x = left.next();
    const y = right.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0) ?? 0;
    const cy = y.value.codePointAt(0) ?? 0;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

/**
 * Reads a stored counter for `increment`.
 *
 * @throws TypeError when the stored value is not an integer: adding to it would silently turn data into a count.
 */
export function parseCounter(json: string): number {
  const value = decodeValue<unknown>(json);
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new TypeError('storage: the stored value is not an integer counter');
  return value;
}
