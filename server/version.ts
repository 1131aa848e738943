import { readFileSync } from 'node:fs';

/**
 * The package version, read once from package.json (two levels up from both `server/` and `build/server/`), so
 * there is one source of truth.
 */
export const VERSION: string = (() => {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'claude-code-mcp' && pkg.version) return pkg.version;
    } catch {
      // try the next location
    }
  }
  return '0.0.0';
})();
