import { z } from 'zod';

/**
 * What the docs generator and the loader need to know about a field beyond its type:
 * the environment variable that sets it, whether it is a secret (masked in `config check`), and its doc group.
 */
export interface FieldMeta {
  /** Environment variable name (also accepted in `.env`). */
  env: string;
  /** Section heading in docs/configuration.md and .env.example. */
  group: 'Server' | 'HTTP' | 'MCP' | 'Sessions' | 'Storage' | 'Logging' | 'Auth' | 'Claude' | 'Operations';
  /** Masked as `***` by `config check` and in logs. */
  secret?: boolean;
  /** Example value shown in .env.example when the default is empty. */
  example?: string;
}

/** zod registry carrying {@link FieldMeta} for every top-level config field. */
export const fieldMeta = z.registry<FieldMeta>();

export const int = (min: number, max: number) =>
  z
    .number({ error: (issue) => `expected an integer ${min}-${max}, got ${JSON.stringify(issue.input)}` })
    .int({ error: (issue) => `expected an integer ${min}-${max}, got ${JSON.stringify(issue.input)}` })
    .min(min, { error: `expected an integer ${min}-${max}` })
    .max(max, { error: `expected an integer ${min}-${max}` });

export const bool = () => z.boolean({ error: (issue) => `expected true or false, got ${JSON.stringify(issue.input)}` });

export const enumOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: (issue) => `expected one of ${values.join(' | ')}, got ${JSON.stringify(issue.input)}` });

export const httpUrl = () =>
  z.url({ protocol: /^https?$/, error: (issue) => `expected an absolute http(s) URL, got ${JSON.stringify(issue.input)}` });
