import { createHash } from 'node:crypto';

/** MCP tool-name rules (2025-11-25 "Tool names"): 1-64 characters of `A-Za-z0-9_.-`. */
export const MAX_NAME_LENGTH = 64;
const INVALID = /[^A-Za-z0-9_.-]/g;

/** Separator of the aggregated names; `server/auth/tool-access.ts` reads the server from it for `gateway:<server>`. */
export const SEPARATOR = '__';

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/**
 * A valid name for `raw`: invalid characters become `_`; a name over 64 characters keeps its first 55 and gains `_`
 * plus 8 hex digits of the SHA-256 of `raw`, so the same input always shortens the same way and the server prefix
 * (which decides the `gateway:<server>` scope) survives.
 */
export function validName(raw: string): string {
  const clean = raw.replace(INVALID, '_') || '_';
  if (clean.length <= MAX_NAME_LENGTH) return clean;
  return `${clean.slice(0, MAX_NAME_LENGTH - 9)}_${shortHash(raw)}`;
}

/** One item to name: the upstream it comes from and its name there. */
export interface NameRequest {
  server: string;
  /** Name prefix of the server in aggregated names (its `prefix`, or its name). */
  prefix: string | undefined;
  name: string;
  /** The upstream's own name when `name` was normalised for display. */
  original?: string;
}

/** A collision that was resolved by renaming `renamed`. */
export interface NameCollision {
  name: string;
  kept: NameRequest;
  renamed: NameRequest;
  as: string;
}

/**
 * Assigns every request a unique valid name: `{prefix}__{name}` (just `{name}` without a prefix). When two requests
 * land on the same name (sanitising or shortening can merge them, and an unprefixed upstream may list a name that
 * looks prefixed), the one first in (prefixed before unprefixed, server, name) order keeps it and the other gets a
 * hash suffix — deterministic whatever order upstreams report in, and an unprefixed upstream never takes a name from
 * the server its prefix names. Collisions are returned so the caller can log them.
 */
export function assignNames(requests: readonly NameRequest[]): { names: Map<string, NameRequest>; collisions: NameCollision[] } {
  const unprefixed = (request: NameRequest) => (request.prefix ? 0 : 1);
  const compare = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  const sorted = [...requests].sort((a, b) => unprefixed(a) - unprefixed(b) || compare(a.server, b.server) || compare(a.name, b.name));
  const names = new Map<string, NameRequest>();
  const collisions: NameCollision[] = [];
  for (const request of sorted) {
    const raw = request.prefix ? `${request.prefix}${SEPARATOR}${request.name}` : request.name;
    let name = validName(raw);
    const kept = names.get(name);
    if (kept) {
      const suffix = `_${shortHash(`${request.server}\u0000${request.name}`)}`;
      name = `${name.slice(0, MAX_NAME_LENGTH - suffix.length)}${suffix}`;
      collisions.push({ name: validName(raw), kept, renamed: request, as: name });
    }
    names.set(name, request);
  }
  return { names, collisions };
}

/** The MCP Apps scheme (`ui://`): hosts render a tool's app only from a resource of this scheme, so it must survive. */
const UI_SCHEME = 'ui://';

/**
 * The URI (or URI template) under which the aggregated endpoint serves an upstream resource, so that resources of
 * different upstreams stay distinct and every exposed URI leads back to one upstream:
 *
 * - `ui://{rest}` (MCP Apps) becomes `ui://{prefix}/{rest}`: the server name goes in front of the authority, so the
 *   scheme hosts look for stays `ui://` (`ui://get-time/app.html` of `clock` is `ui://clock/get-time/app.html`);
 * - any other URI gains the server name as a scheme prefix: `fixture://note` of `fx` is `fx+fixture://note`.
 *
 * `prefix` is a server name or `prefix` of the config file (`A-Za-z0-9_.-`): valid in a URI scheme and authority.
 */
export function exposedUri(prefix: string, uri: string): string {
  return uri.startsWith(UI_SCHEME) ? `${UI_SCHEME}${prefix}/${uri.slice(UI_SCHEME.length)}` : `${prefix}+${uri}`;
}

/** The server prefix and upstream URI behind an {@link exposedUri}; undefined for a URI no upstream could expose. */
export function upstreamUri(exposed: string): { prefix: string; uri: string } | undefined {
  if (exposed.startsWith(UI_SCHEME)) {
    const slash = exposed.indexOf('/', UI_SCHEME.length);
    if (slash <= UI_SCHEME.length) return undefined;
    return { prefix: exposed.slice(UI_SCHEME.length, slash), uri: `${UI_SCHEME}${exposed.slice(slash + 1)}` };
  }
  const plus = exposed.indexOf('+');
  return plus > 0 ? { prefix: exposed.slice(0, plus), uri: exposed.slice(plus + 1) } : undefined;
}
