/** Keys whose values are never logged, whatever their nesting depth. */
const SECRET_KEY = /authorization|cookie|token|secret|password|passwd|api[-_]?key|client[-_]?secret|private[-_]?key|^key$/i;

/** Inline credentials inside free text: bearer/basic headers, URL userinfo, `key=value` secrets. */
const SECRET_TEXT: Array<[RegExp, string]> = [
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, '$1 [REDACTED]'],
  // The user name may be empty: `redis://:password@host` is the usual form for a password-only Redis.
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*:[^\s/@]+@/gi, '$1[REDACTED]@'],
  [/\b((?:access_token|refresh_token|id_token|client_secret|password|api_key|code_verifier)=)[^&\s"]+/gi, '$1[REDACTED]'],
];

/** What a masked value is replaced with. */
export const REDACTED = '[REDACTED]';

/** Returns `text` with inline credentials replaced. */
export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_TEXT) out = out.replace(pattern, replacement);
  return out;
}

/**
 * A deep copy of `value` with secret-looking keys masked and inline credentials removed from strings. Cycles and
 * depth beyond 8 are cut, so logging an arbitrary object can never hang or explode.
 */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
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
    for (const [key, inner] of Object.entries(value)) {
      out[key] = SECRET_KEY.test(key) && inner !== undefined && inner !== null && inner !== '' ? REDACTED : redact(inner, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}
