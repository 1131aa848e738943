/**
 * Keys whose values are never logged, whatever their nesting depth. `token` matches only as the end of a key
 * (`token`, `access_token`, `refreshToken`), so usage figures such as `input_tokens` or `maxTokens` stay readable.
 */
const SECRET_KEY = /authorization|cookie|token$|secret|password|passwd|credential|api[-_]?key|private[-_]?key|^key$|^auth$/i;

/** Inline credentials inside free text: bearer/basic headers, URL userinfo, `key=value` secrets. */
const SECRET_TEXT: Array<[RegExp, string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [REDACTED]'],
  // The user name may be empty: `redis://:password@host` is the usual form for a password-only Redis.
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*:[^\s/@]+@/gi, '$1[REDACTED]@'],
  [/\b((?:access_token|refresh_token|id_token|client_secret|password|api_key|code_verifier)=)[^&\s"]+/gi, '$1[REDACTED]'],
];

/**
 * What every {@link SECRET_TEXT} pattern needs somewhere in the text: `bearer`/`basic`, `://`, or `=`. Most logged
 * strings (ids, names, paths) have none, and one test of this is far cheaper than the three replacements.
 */
const MAY_HOLD_SECRET = /bearer|basic|:\/\/|=/i;

/** What a masked value is replaced with. */
export const REDACTED = '[REDACTED]';

/** Returns `text` with inline credentials replaced. */
export function redactText(text: string): string {
  if (!MAY_HOLD_SECRET.test(text)) return text;
  let out = text;
  for (const [pattern, replacement] of SECRET_TEXT) out = out.replace(pattern, replacement);
  return out;
}

/**
 * A deep copy of `value` with secret-looking keys masked and inline credentials removed from strings. Cycles and
 * depth beyond 8 are cut, so logging an arbitrary object can never hang or explode. A bigint becomes its decimal
 * string, so every JSON serialiser writes it the same, quoted.
 */
export function redact(value: unknown, depth = 0, seen?: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  // Created at the first object: most fields are scalars and need no cycle guard.
  seen ??= new WeakSet<object>();
  if (seen.has(value) || depth > 8) return '[Truncated]';
  if (value instanceof Error) {
    return { name: value.name, message: redactText(value.message), stack: value.stack && redactText(value.stack) };
  }
  // `seen` holds only the ancestors of the current value: an object referenced twice side by side is not a cycle and
  // is logged both times.
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1, seen));
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) out[key] = redactField(key, inner, depth + 1, seen);
    return out;
  } finally {
    seen.delete(value);
  }
}

/**
 * The value to log under `key`: masked when the key names a secret (empty values stay visible, so a missing header
 * can be diagnosed), otherwise {@link redact}ed. The logger uses it for top-level fields, whose keys `redact` never
 * sees.
 */
export function redactField(key: string, value: unknown, depth = 0, seen?: WeakSet<object>): unknown {
  return SECRET_KEY.test(key) && value !== undefined && value !== null && value !== '' ? REDACTED : redact(value, depth, seen);
}
