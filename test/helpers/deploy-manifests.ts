import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { claudeChildEnvironment } from '../../server/config/child-env.js';
import { loadConfig } from '../../server/config/load.js';
import { configSchema, metaOf, type Config, type ConfigKey } from '../../server/config/schema.js';

/**
 * What the deployment tests (test/deploy) share: the repository root, YAML reading, and the server's own list of
 * environment variables, so a manifest is checked against what the loader reads rather than against a copy of it.
 */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const KEYS = Object.keys(configSchema.shape) as ConfigKey[];

/** Every environment variable the config schema reads, and the `<NAME>_FILE` form of each secret one. */
export const SERVER_VARIABLES: ReadonlySet<string> = new Set(
  KEYS.flatMap((key) => {
    const meta = metaOf(key);
    return meta.secret ? [meta.env, `${meta.env}_FILE`] : [meta.env];
  }),
);

/**
 * Whether the server does something with a variable of this name: a setting (or a secret's `_FILE`), or one it hands
 * to the Claude Code processes (`ANTHROPIC_*`, `CLAUDE_CODE_*`, proxies...), asked of the allow-list itself.
 */
export function isServerVariable(name: string): boolean {
  return SERVER_VARIABLES.has(name) || name in claudeChildEnvironment([], { [name]: 'x' });
}

/**
 * The YAML documents of a file as plain values; throws on a syntax error or a duplicate key. Kubernetes reads YAML 1.1
 * (`on`/`yes` are booleans, `0440` is octal), so pass `{ version: '1.1' }` for its manifests.
 */
export function readYamlDocuments(file: string, options: { version?: '1.1' | '1.2' } = {}): unknown[] {
  const documents = parseAllDocuments(readFileSync(file, 'utf8'), { version: options.version ?? '1.2' });
  const list = Array.isArray(documents) ? documents : [documents];
  const problems = list.flatMap((document) => document.errors.map((error) => error.message));
  if (problems.length > 0) throw new Error(`${path.relative(ROOT, file)}: ${problems.join('; ')}`);
  return list.map((document) => document.toJS() as unknown).filter((value) => value !== null && value !== undefined);
}

/** The environment the runtime stage of the Dockerfile sets (`ENV A=1 B=2`), the layer every deployment starts from. */
export function imageEnvironment(): Record<string, string> {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const line of runtimeStage.split('\n').filter((text) => text.startsWith('ENV '))) {
    for (const pair of line.slice(4).trim().split(/\s+/)) {
      const [name, ...value] = pair.split('=');
      if (name) env[name] = value.join('=');
    }
  }
  return env;
}

/**
 * Loads the configuration a deployment's environment produces, exactly as the server would at start (no config file,
 * no `.env`). Variables naming secret files (`*_FILE`) are pointed at a temporary file holding `secretValue`, since the
 * mounted secret only exists in the real container. Throws the loader's ConfigError when the environment is refused.
 */
export function configFromEnvironment(env: Record<string, string>, secretValue = 'redis://placeholder:6379'): Config {
  const dir = mkdtempSync(path.join(tmpdir(), 'ccm-deploy-'));
  try {
    const resolved: Record<string, string> = {};
    for (const [name, value] of Object.entries(env)) {
      if (name.endsWith('_FILE') && SERVER_VARIABLES.has(name)) {
        const file = path.join(dir, name);
        writeFileSync(file, `${secretValue}\n`);
        resolved[name] = file;
      } else {
        resolved[name] = value;
      }
    }
    return loadConfig({ env: resolved, cwd: dir, home: dir, systemFile: path.join(dir, 'none.json') }).config;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
