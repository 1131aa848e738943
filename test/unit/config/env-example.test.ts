import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../../server/config/load.js';
import { configSchema, metaOf, type ConfigKey } from '../../../server/config/schema.js';

/**
 * The committed .env.example and docs/configuration.md are what operators read; these tests fail when a setting is
 * added to the schema without regenerating them (`npm run docs:config`).
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const KEYS = Object.keys(configSchema.shape) as ConfigKey[];
const ENV_NAMES = KEYS.map((key) => metaOf(key).env);

const envExample = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
const docs = readFileSync(path.join(ROOT, 'docs', 'configuration.md'), 'utf8');

/** `VAR=value` assignments in .env.example, commented out (`# VAR=value`) or not. */
const ASSIGNMENT = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/;
const assignments = envExample
  .split('\n')
  .map((line) => ASSIGNMENT.exec(line))
  .filter((match): match is RegExpExecArray => match !== null)
  .map((match) => ({ commented: match[1] !== undefined, name: match[2]!, value: match[3]! }));

describe('.env.example', () => {
  it('lists every environment variable the schema reads', () => {
    const listed = new Set(assignments.map((a) => a.name));
    expect(ENV_NAMES.filter((name) => !listed.has(name))).toEqual([]);
  });

  it('lists no variable the schema does not read', () => {
    expect(assignments.map((a) => a.name).filter((name) => !ENV_NAMES.includes(name))).toEqual([]);
  });

  it('lists each variable once', () => {
    const names = assignments.map((a) => a.name);
    expect(names.filter((name, index) => names.indexOf(name) !== index)).toEqual([]);
  });

  it('sets nothing as shipped, so copying it to .env keeps the defaults', () => {
    expect(assignments.filter((a) => !a.commented).map((a) => a.name)).toEqual([]);
  });

  it('shows values the loader accepts when every line is uncommented', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'env-example-'));
    try {
      writeFileSync(path.join(dir, '.env'), assignments.map((a) => `${a.name}=${a.value}`).join('\n'));
      const { sources } = loadConfig({ env: {}, cwd: dir, home: dir, systemFile: path.join(dir, 'none.json') });
      const fromEnv = KEYS.filter((key) => sources[key] === 'env').map((key) => metaOf(key).env);
      expect(fromEnv.sort()).toEqual([...ENV_NAMES].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docs/configuration.md', () => {
  it('documents every setting with its environment variable and config-file key', () => {
    const missing = KEYS.filter((key) => !docs.includes(`| \`${metaOf(key).env}\` | \`${key}\` |`));
    expect(missing).toEqual([]);
  });
});
