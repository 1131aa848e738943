/**
 * The environment a Claude Code child process receives: an allow-list over the server's own environment, so server
 * secrets (OAuth signing keys, webhook secrets, API keys, REDIS_URL...) never reach Claude or the commands it runs.
 * Lives in `config/` because this is the one layer that reads `process.env`.
 */

/** Names passed through as they are. */
const EXACT = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'TERM',
  'TZ',
  'LANG',
  'TMPDIR',
  'TMP',
  'TEMP',
  'IS_SANDBOX',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'all_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];

/** Prefixes passed through: Claude Code's own settings and credentials, locale. */
const PREFIXES = ['ANTHROPIC_', 'CLAUDE_CODE_', 'DISABLE_', 'LC_'];

/**
 * Picks the allowed variables from `source`. `extra` adds operator-chosen names; an entry ending in `*` is a prefix.
 * Variables of the server's own configuration that merely share a prefix are still excluded when they are secrets,
 * because none of ours start with an allowed prefix except CLAUDE_CLI_PATH, which is harmless.
 */
export function claudeChildEnvironment(
  extra: readonly string[] = [],
  source: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string> {
  const exact = new Set([...EXACT, ...extra.filter((name) => !name.endsWith('*'))]);
  const prefixes = [...PREFIXES, ...extra.filter((name) => name.endsWith('*')).map((name) => name.slice(0, -1))];
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (exact.has(name) || prefixes.some((prefix) => name.startsWith(prefix))) env[name] = value;
  }
  return env;
}
