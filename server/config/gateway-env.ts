/**
 * Environments of the gateway: the variables `${VAR}` in the upstream file expands from, and the allow-listed base
 * environment stdio upstreams start with (their own `env` entries are added on top). Lives in `config/` because this
 * is the one layer that reads `process.env`.
 */

/** Passed to every stdio upstream: what a program needs to run, never the server's secrets. */
const BASE = [
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
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'SYSTEMROOT',
  'APPDATA',
];
const BASE_PREFIXES = ['LC_'];

/** This process's environment, for `${VAR}` expansion in the upstream file. */
export function gatewayVariables(): Readonly<Record<string, string | undefined>> {
  return { ...process.env };
}

/** The base environment of stdio upstreams: the allow-list plus operator-chosen names (`PREFIX_*` for prefixes). */
export function upstreamBaseEnvironment(
  extra: readonly string[] = [],
  source: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string> {
  const exact = new Set([...BASE, ...extra.filter((name) => !name.endsWith('*'))]);
  const prefixes = [...BASE_PREFIXES, ...extra.filter((name) => name.endsWith('*')).map((name) => name.slice(0, -1))];
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (exact.has(name) || prefixes.some((prefix) => name.startsWith(prefix))) env[name] = value;
  }
  return env;
}
