import { z } from 'zod';
import { fieldMeta, type FieldMeta } from './field-helpers.js';
import { authFields } from './fields/auth.js';
import { claudeFields } from './fields/claude.js';
import { coreFields, loggingFields } from './fields/core.js';
import { operationsFields } from './fields/operations.js';
import { taskFields } from './fields/tasks.js';

export { fieldMeta, type FieldMeta } from './field-helpers.js';

/**
 * The whole configuration. Every field has a default that starts a working single-box server with no external
 * services (SQLite under DATA_DIR). Layering: defaults < config file < environment (and `.env`) < CLI flags
 * (see `load.ts`). The parsed object is frozen.
 */
export const configSchema = z.object({
  ...coreFields,
  ...authFields,
  ...operationsFields,
  ...loggingFields,
  ...claudeFields,
  ...taskFields,
});

/** The validated, frozen configuration every module receives. */
export type Config = Readonly<z.infer<typeof configSchema>>;

/** Field names of {@link Config}. */
export type ConfigKey = keyof z.infer<typeof configSchema>;

/** The metadata of one field; every field is registered, so this never returns undefined for a real key. */
export function metaOf(key: ConfigKey): FieldMeta {
  const meta = fieldMeta.get(configSchema.shape[key]);
  if (!meta) throw new Error(`config field ${key} has no metadata`);
  return meta;
}
