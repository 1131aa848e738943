/**
 * Generates docs/configuration.md and .env.example from the config schema, so the documentation cannot drift from
 * what the loader accepts.
 *
 *   npx tsx scripts/gen-config-docs.ts          write both files
 *   npx tsx scripts/gen-config-docs.ts --check  exit 1, naming the stale files, when the committed ones differ
 *
 * Output is deterministic (no timestamps, schema order) so `--check` can run in CI.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { kebab } from '../server/config/load.js';
import { configSchema, metaOf, type ConfigKey, type FieldMeta } from '../server/config/schema.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Settings that have a CLI flag. Mirrors FLAG_KEYS in server/main.ts, which cannot be imported here because importing
 * main.ts runs the CLI.
 */
const FLAG_KEYS: readonly ConfigKey[] = ['port', 'host', 'baseUrl', 'dataDir', 'storage', 'logLevel', 'logFormat', 'mcpPathPrefix'];

const GROUPS: readonly FieldMeta['group'][] = ['Server', 'HTTP', 'MCP', 'Sessions', 'Storage', 'Auth', 'Logging', 'Claude', 'Operations'];

/**
 * The example config file at the end of the docs. It is validated against the schema on every run, so the example
 * can never show a key or value the loader would reject. Secrets are deliberately absent: they belong in the
 * environment, not in a file that tends to get committed.
 */
const EXAMPLE_CONFIG_FILE = {
  port: 8080,
  host: '0.0.0.0',
  baseUrl: 'https://mcp.example.com',
  trustProxy: 1,
  allowedOrigins: ['https://app.example.com', 'http://localhost:*'],
  maxSessions: 200,
  storage: 'sqlite',
  dataDir: '/var/lib/claude-code-mcp',
  logFormat: 'json',
};

interface FieldInfo {
  key: ConfigKey;
  meta: FieldMeta;
  description: string;
  type: string;
  /** The default as an environment value; undefined when the field has none. */
  defaultValue: string | undefined;
}

type AnyDef = { type: string; innerType?: z.ZodType; defaultValue?: unknown } & Record<string, unknown>;

function unwrap(schema: z.ZodType): { inner: z.ZodType; defaultValue: unknown } {
  let current = schema;
  let defaultValue: unknown;
  for (;;) {
    const def = current.def as AnyDef;
    if (def.type === 'default') defaultValue = def.defaultValue;
    if ((def.type === 'default' || def.type === 'optional') && def.innerType) current = def.innerType;
    else return { inner: current, defaultValue };
  }
}

/** A reader-facing type name derived from the zod definition (the same shapes `coerce` in load.ts understands). */
function typeName(schema: z.ZodType): string {
  const def = schema.def as AnyDef;
  switch (def.type) {
    case 'number': {
      const number = schema as unknown as z.ZodNumber;
      const kind = number.isInt ? 'integer' : 'number';
      const min = number.minValue;
      const max = number.maxValue;
      const finite = (n: number | null) => n !== null && Number.isFinite(n) && Math.abs(n) < Number.MAX_SAFE_INTEGER;
      if (finite(min) && finite(max)) return `${kind} ${min}–${max}`;
      if (finite(min)) return `${kind} ≥ ${min}`;
      if (finite(max)) return `${kind} ≤ ${max}`;
      return kind;
    }
    case 'boolean':
      return 'boolean';
    case 'enum':
      return `one of ${Object.values(def.entries as Record<string, string>)
        .map((v) => `\`${v}\``)
        .join(', ')}`;
    case 'array':
      if ((def.element as z.ZodType).def.type === 'object') return 'list of objects (JSON array in env)';
      return `list of ${typeName(def.element as z.ZodType)} (comma-separated in env)`;
    case 'union':
      return (def.options as z.ZodType[]).map(typeName).join(' or ');
    case 'string':
      return def.format === 'url' ? 'URL' : 'string';
    default:
      throw new Error(`gen-config-docs: no type name for zod type "${def.type}"; extend typeName()`);
  }
}

/** Formats a value the way it is written in the environment (lists comma-separated). */
function envValue(value: unknown): string {
  return Array.isArray(value) ? value.map(String).join(',') : String(value);
}

function fields(): FieldInfo[] {
  return (Object.keys(configSchema.shape) as ConfigKey[]).map((key) => {
    const schema = configSchema.shape[key] as z.ZodType;
    const { inner, defaultValue } = unwrap(schema);
    if (!schema.description) throw new Error(`gen-config-docs: config field ${key} has no .describe() text`);
    return {
      key,
      meta: metaOf(key),
      description: schema.description,
      type: typeName(inner),
      defaultValue: defaultValue === undefined ? undefined : envValue(defaultValue),
    };
  });
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A code span that survives backticks inside the value. */
const code = (text: string) => (text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``);

function renderDefault(field: FieldInfo): string {
  if (field.defaultValue === undefined) return '_unset_';
  if (field.defaultValue === '') return '_empty_';
  return code(field.defaultValue);
}

function renderDescription(field: FieldInfo): string {
  let text = field.description;
  if (FLAG_KEYS.includes(field.key)) text += ` Flag: \`--${kebab(field.key)}\`.`;
  if (field.meta.secret) text += ` **Secret:** masked by \`config check\`; also read from \`${field.meta.env}_FILE\`.`;
  return cell(text);
}

/** Renders docs/configuration.md. */
function renderConfigurationDoc(): string {
  const all = fields();
  const lines: string[] = [
    '# Configuration',
    '',
    '<!-- Generated by scripts/gen-config-docs.ts from server/config/schema.ts. Do not edit: run `npm run docs:config`. -->',
    '',
    'Every setting has a default that starts a working single-machine server with no external services (SQLite under',
    '`DATA_DIR`). Settings are layered; a later layer overrides an earlier one:',
    '',
    '1. built-in defaults (below);',
    '2. the config file;',
    '3. a `.env` file in the working directory;',
    '4. real environment variables (they override `.env`);',
    '5. command-line flags.',
    '',
    'An environment variable set to the empty string counts as unset.',
    '',
    'Every **secret** setting can also be read from a file: `<VARIABLE>_FILE=/run/secrets/name` (the Docker and',
    'Kubernetes secrets convention; one trailing newline is dropped). The secret then never appears in the process',
    'environment. Setting both `<VARIABLE>` and `<VARIABLE>_FILE` is an error.',
    '',
    '## Config file',
    '',
    'The first of these files that exists is read (they are not merged):',
    '',
    '1. `./claude-mcp.config.json` (in the working directory)',
    '2. `~/.claude-mcp/config.json`',
    '3. `/etc/claude-mcp/config.json`',
    '',
    '`--config PATH` replaces the search; the file must then exist. The file is a JSON object whose keys are the',
    'camelCase field names in the tables below (the "Config-file key" column) with JSON values of the listed type:',
    'lists are JSON arrays, numbers and booleans unquoted. Unknown keys are rejected, so a typo cannot be silently',
    'ignored.',
    '',
    '## Environment and `.env`',
    '',
    'Each setting has an environment variable. A `.env` file in the working directory is read too, below the real',
    'environment; `.env.example` at the repository root lists every variable with its default. Booleans accept',
    '`true/false`, `1/0`, `yes/no`, `on/off`; lists are comma-separated (`ALLOWED_ORIGINS=https://a.example,http://localhost:*`).',
    '',
    '## Command-line flags',
    '',
    `These settings also have a flag, which wins over every other layer: ${FLAG_KEYS.map((key) => `\`--${kebab(key)}\``).join(', ')}.`,
    '',
    '## Checking',
    '',
    '`claude-code-mcp config check` validates the configuration and prints every effective value with its source',
    '(`default`, `file`, `env` or `flag`), secrets masked. Invalid configuration stops the server at start with one',
    'line per problem, each naming the setting and what it expects, for example',
    '`PORT: expected an integer 0-65535, got "abc"` or `REDIS_URL: required when STORAGE=redis`.',
    '',
  ];
  for (const group of GROUPS) {
    const inGroup = all.filter((field) => field.meta.group === group);
    if (inGroup.length === 0) continue;
    lines.push(`## ${group}`, '', '| Env variable | Config-file key | Type | Default | Description |', '| --- | --- | --- | --- | --- |');
    for (const field of inGroup) {
      lines.push(
        `| \`${field.meta.env}\` | \`${field.key}\` | ${cell(field.type)} | ${cell(renderDefault(field))} | ${renderDescription(field)} |`,
      );
    }
    lines.push('');
  }
  const example = configSchema.strict().safeParse(EXAMPLE_CONFIG_FILE);
  if (!example.success) throw new Error(`gen-config-docs: EXAMPLE_CONFIG_FILE is invalid: ${example.error.message}`);
  lines.push(
    '## Example config file',
    '',
    'Behind a reverse proxy on one machine; keep secrets such as `REDIS_URL` in the environment rather than in the file.',
    '',
    '```json',
    JSON.stringify(EXAMPLE_CONFIG_FILE, null, 2),
    '```',
    '',
  );
  return lines.join('\n');
}

/** Quotes a value when dotenv would otherwise cut it at `#` or trim its whitespace. */
function dotenvValue(value: string): string {
  // dotenv keeps single-quoted values literally (it would not unescape \" inside double quotes): JSON values use them.
  if (value.includes('"') && !value.includes("'")) return `'${value}'`;
  return /[#\s"'`]/.test(value) || value === '' ? JSON.stringify(value) : value;
}

/** Renders .env.example: every variable commented out, so the defaults apply until one is deliberately set. */
function renderEnvExample(): string {
  const all = fields();
  const lines: string[] = [
    '# claude-code-mcp environment variables.',
    '# Generated by scripts/gen-config-docs.ts from server/config/schema.ts; do not edit, run `npm run docs:config`.',
    '# Copy to .env and uncomment what you change. Real environment variables override .env;',
    '# see docs/configuration.md for the config file and CLI flags.',
  ];
  for (const group of GROUPS) {
    const inGroup = all.filter((field) => field.meta.group === group);
    if (inGroup.length === 0) continue;
    lines.push('', `# ── ${group} ${'─'.repeat(Math.max(3, 72 - group.length))}`);
    for (const field of inGroup) {
      lines.push('', `# ${field.description}`);
      lines.push(`# Type: ${field.type}.${field.meta.secret ? ` Secret: or ${field.meta.env}_FILE=<file holding it>.` : ''}`);
      const hasDefault = field.defaultValue !== undefined && field.defaultValue !== '';
      if (hasDefault) {
        lines.push(`# ${field.meta.env}=${dotenvValue(field.defaultValue!)}`);
        if (field.meta.example !== undefined) lines.push(`# Example: ${field.meta.env}=${dotenvValue(field.meta.example)}`);
      } else {
        lines.push(`# Default: ${field.defaultValue === '' ? 'empty' : 'unset'}.`);
        lines.push(`# ${field.meta.env}=${field.meta.example === undefined ? '' : dotenvValue(field.meta.example)}`);
      }
    }
  }
  lines.push('');
  return lines.join('\n');
}

const OUTPUTS: ReadonlyArray<{ file: string; render: () => string }> = [
  { file: 'docs/configuration.md', render: renderConfigurationDoc },
  { file: '.env.example', render: renderEnvExample },
];

function main(argv: readonly string[]): number {
  const check = argv.includes('--check');
  const stale: string[] = [];
  for (const { file, render } of OUTPUTS) {
    const target = path.join(ROOT, file);
    const wanted = render();
    const current = existsSync(target) ? readFileSync(target, 'utf8') : undefined;
    if (current === wanted) continue;
    if (check) {
      stale.push(current === undefined ? `${file} (missing)` : file);
    } else {
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, wanted);
      process.stdout.write(`wrote ${file}\n`);
    }
  }
  if (stale.length > 0) {
    process.stderr.write(
      `docs:check: out of date with server/config/schema.ts:\n  ${stale.join('\n  ')}\n` +
        'Run `npm run docs:config` and commit the result.\n',
    );
    return 1;
  }
  if (check) process.stdout.write('docs:check: docs/configuration.md and .env.example are up to date\n');
  return 0;
}

process.exitCode = main(process.argv.slice(2));
