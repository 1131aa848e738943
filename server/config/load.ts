import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import type { z } from 'zod';
import { configSchema, metaOf, type Config, type ConfigKey } from './schema.js';

/** Where a configuration value came from, for `config check` and error messages. */
export type ConfigSource = 'default' | 'file' | 'env' | 'flag';

/** The loaded configuration plus provenance. */
export interface LoadedConfig {
  config: Config;
  /** The config file that was read, if any. */
  file?: string;
  /** The `.env` file that was read, if any. */
  dotenvFile?: string;
  /** Source of every field's effective value. */
  sources: Readonly<Record<ConfigKey, ConfigSource>>;
}

/** Inputs of {@link loadConfig}; everything is injectable so tests never touch the real environment. */
export interface LoadConfigOptions {
  /** Environment variables (default: `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** CLI flag values by field name, as strings (coerced like environment values). */
  flags?: Partial<Record<ConfigKey, string>>;
  /** Explicit config file (`--config PATH`); must exist. */
  configPath?: string;
  /** Directory searched for `claude-mcp.config.json` and `.env` (default: `process.cwd()`). */
  cwd?: string;
  /** Home directory for `~/.claude-mcp/config.json` (default: `os.homedir()`). */
  home?: string;
  /** System config file location (default `/etc/claude-mcp/config.json`). */
  systemFile?: string;
}

/** Thrown when configuration is invalid. `problems` holds one line per problem, each naming the setting and the fix. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const KEYS = Object.keys(configSchema.shape) as ConfigKey[];

/**
 * Builds the configuration: defaults < config file < environment (`.env` below real variables) < CLI flags.
 * Throws {@link ConfigError} listing every problem at once. The result is deeply frozen.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const problems: string[] = [];

  const dotenvPath = path.join(cwd, '.env');
  const dotenvValues = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath)) : {};
  const mergedEnv: NodeJS.ProcessEnv = { ...dotenvValues, ...env };

  const file = options.configPath
    ? path.resolve(cwd, options.configPath)
    : [
        path.join(cwd, 'claude-mcp.config.json'),
        path.join(options.home ?? homedir(), '.claude-mcp', 'config.json'),
        options.systemFile ?? '/etc/claude-mcp/config.json',
      ].find((candidate) => existsSync(candidate));
  const fileValues = file ? readConfigFile(file, problems) : {};

  const raw: Record<string, unknown> = {};
  const sources = {} as Record<ConfigKey, ConfigSource>;
  const labels = {} as Record<ConfigKey, string>;
  for (const key of KEYS) {
    const meta = metaOf(key);
    sources[key] = 'default';
    labels[key] = meta.env;
    if (key in fileValues) {
      raw[key] = fileValues[key];
      sources[key] = 'file';
      labels[key] = `${path.basename(file ?? '')}: ${key}`;
    }
    let envValue = mergedEnv[meta.env];
    const fileVariable = `${meta.env}_FILE`;
    const secretFile = meta.secret ? mergedEnv[fileVariable] : undefined;
    if (secretFile !== undefined && secretFile !== '') {
      // The Docker/Kubernetes secrets convention: the value lives in a mounted file, never in the environment, so no
      // process that can read this one's environment (/proc/<pid>/environ) learns it.
      if (envValue !== undefined && envValue !== '') problems.push(`${meta.env}: set either ${meta.env} or ${fileVariable}, not both`);
      else envValue = readSecretFile(fileVariable, path.resolve(cwd, secretFile), problems);
    }
    if (envValue !== undefined && envValue !== '') {
      raw[key] = coerce(configSchema.shape[key], envValue);
      sources[key] = 'env';
      labels[key] = secretFile ? fileVariable : meta.env;
    }
    const flagValue = options.flags?.[key];
    if (flagValue !== undefined) {
      raw[key] = coerce(configSchema.shape[key], flagValue);
      sources[key] = 'flag';
      labels[key] = `--${kebab(key)}`;
    }
  }
  for (const key of Object.keys(fileValues)) {
    if (!KEYS.includes(key as ConfigKey)) problems.push(`${file}: unknown setting "${key}" (see docs/configuration.md)`);
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path[0] as ConfigKey | undefined;
      const label = key ? labels[key] : 'config';
      problems.push(`${label}${issue.path.length > 1 ? `[${issue.path.slice(1).join('.')}]` : ''}: ${issue.message}`);
    }
  } else {
    problems.push(...crossFieldProblems(parsed.data));
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const config = deepFreeze(parsed.data!) as Config;
  return { config, file, dotenvFile: existsSync(dotenvPath) ? dotenvPath : undefined, sources: Object.freeze(sources) };
}

/** The public base URL: BASE_URL, or `http://host:port` (with a bracketed IPv6 host). Never ends with `/`. */
export function publicBaseUrl(config: Pick<Config, 'baseUrl' | 'host' | 'port'>, boundPort?: number): string {
  if (config.baseUrl) return config.baseUrl.replace(/\/+$/, '');
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${shown}:${boundPort ?? config.port}`;
}

/** The SQLite file: SQLITE_PATH, or `DATA_DIR/claude-code-mcp.db`. */
export function sqliteFile(config: Pick<Config, 'sqlitePath' | 'dataDir'>): string {
  return config.sqlitePath ?? path.join(config.dataDir, 'claude-code-mcp.db');
}

function crossFieldProblems(config: z.infer<typeof configSchema>): string[] {
  const problems: string[] = [];
  if (config.storage === 'redis' && !config.redisUrl) problems.push('REDIS_URL: required when STORAGE=redis');
  if (config.webhookUrl && config.webhookSecret.length === 0)
    problems.push('WEBHOOK_SECRET: required when WEBHOOK_URL is set (a whsec_<base64> secret)');
  if (config.baseUrl && /[?#]/.test(config.baseUrl)) problems.push('BASE_URL: must not contain a query or fragment');
  if (config.authMode === 'none' && !config.mcpDisableAuth && !isLoopbackHost(config.host)) {
    problems.push(
      `AUTH_MODE: none is only allowed on a loopback HOST (got ${config.host}); use AUTH_MODE=oauth, or set MCP_DISABLE_AUTH=true to serve without authentication anyway`,
    );
  }
  if (config.oidcIssuer && !config.oidcClientId) problems.push('OIDC_CLIENT_ID: required when OIDC_ISSUER is set');
  if (config.oidcIssuer && config.oidcAllowedUsers.length === 0) {
    problems.push('OIDC_ALLOWED_USERS: required when OIDC_ISSUER is set (emails, @domain, or * for anyone the provider accepts)');
  }
  if (effectiveAuthMode(config) === 'external') {
    if (!config.authExternalIssuer) problems.push('AUTH_EXTERNAL_ISSUER: required when AUTH_MODE=external');
    if (config.authExternalIntrospectionUrl && !(config.authExternalClientId && config.authExternalClientSecret)) {
      problems.push('AUTH_EXTERNAL_CLIENT_ID and AUTH_EXTERNAL_CLIENT_SECRET: required with AUTH_EXTERNAL_INTROSPECTION_URL');
    }
  }
  if (effectiveAuthMode(config) !== 'none' && config.baseUrl) {
    const { protocol, hostname } = new URL(config.baseUrl);
    if (protocol !== 'https:' && !isLoopbackHost(hostname)) {
      problems.push('BASE_URL: must be https:// when AUTH_MODE=oauth (OAuth 2.1 §1.5); plain http is allowed only for loopback hosts');
    }
  }
  return problems;
}

/** True for loopback interface names and addresses (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

/**
 * Problems /health reports on every answer (and the server logs at start): authentication switched off on an
 * interface others can reach.
 */
export function authWarnings(config: Pick<Config, 'authMode' | 'mcpDisableAuth' | 'host'>): string[] {
  if (effectiveAuthMode(config) !== 'none' || isLoopbackHost(config.host)) return [];
  return ['authentication is disabled (MCP_DISABLE_AUTH=true) on a non-loopback interface: anyone who can reach this server can use it'];
}

/** The authentication mode in force: MCP_DISABLE_AUTH=true switches it off whatever AUTH_MODE says. */
export function effectiveAuthMode(config: Pick<Config, 'authMode' | 'mcpDisableAuth'>): Config['authMode'] {
  return config.mcpDisableAuth ? 'none' : config.authMode;
}

/** A secret's file (`*_FILE`): its content without the trailing newline editors and `echo` add. */
function readSecretFile(variable: string, file: string, problems: string[]): string | undefined {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    problems.push(`${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    return undefined;
  }
}

function readConfigFile(file: string, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    problems.push(`${file}: cannot read config file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    return {};
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    problems.push(`${file}: expected a JSON object at the top level`);
  } catch (error) {
    problems.push(`${file}: not valid JSON (${(error as Error).message})`);
  }
  return {};
}

/** The zod type name under default/optional wrappers, which decides how an env string is read. */
function baseType(schema: z.ZodType): string {
  let def = schema.def as { type: string; innerType?: z.ZodType };
  while ((def.type === 'default' || def.type === 'optional') && def.innerType) {
    def = def.innerType.def as typeof def;
  }
  return def.type;
}

/**
 * Turns an environment/flag string into the type the field expects. Strings that do not look like that type are
 * passed through unchanged, so the schema reports them with the original text (`got "abc"`).
 */
function coerce(schema: z.ZodType, value: string): unknown {
  const trimmed = value.trim();
  switch (baseType(schema)) {
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
    case 'boolean':
      return parseBoolean(trimmed) ?? trimmed;
    case 'array':
      // A JSON array (lists of objects, such as WEBHOOK_ENDPOINTS); plain lists are comma-separated.
      if (trimmed.startsWith('[')) {
        try {
          return JSON.parse(trimmed) as unknown;
        } catch {
          return trimmed;
        }
      }
      return trimmed
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part.length > 0);
    case 'union':
      // TRUST_PROXY: digits are a hop count, not a boolean. Read as `true`, `1` would trust every proxy in the
      // chain and let any client spoof X-Forwarded-For.
      return /^\d+$/.test(trimmed) ? Number(trimmed) : (parseBoolean(trimmed) ?? trimmed);
    default:
      return trimmed;
  }
}

function parseBoolean(value: string): boolean | undefined {
  if (/^(true|1|yes|on)$/i.test(value)) return true;
  if (/^(false|0|no|off)$/i.test(value)) return false;
  return undefined;
}

/** camelCase -> kebab-case, for flag names. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
