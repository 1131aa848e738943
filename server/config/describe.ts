import type { LoadedConfig } from './load.js';
import { configSchema, metaOf, type ConfigKey } from './schema.js';

/** The mask shown in place of secrets. */
export const MASK = '***';

/**
 * The effective configuration as `config check` prints it: every field with its value (secrets masked, but their
 * presence shown) and where the value came from.
 */
export function describeConfig(loaded: LoadedConfig): Record<string, { value: unknown; source: string; env: string }> {
  const out: Record<string, { value: unknown; source: string; env: string }> = {};
  for (const key of Object.keys(configSchema.shape) as ConfigKey[]) {
    const meta = metaOf(key);
    const value = loaded.config[key];
    out[key] = {
      value: meta.secret && value !== undefined ? maskSecret(String(value)) : value,
      source: loaded.sources[key],
      env: meta.env,
    };
  }
  return out;
}

/** Masks a secret; for URLs only the credentials are masked, so the operator can still see where it points. */
export function maskSecret(value: string): string {
  try {
    const url = new URL(value);
    if (url.password || url.username) {
      if (url.password) url.password = MASK;
      else url.username = MASK;
      return url.toString();
    }
    return value.includes('://') ? value : MASK;
  } catch {
    return MASK;
  }
}
