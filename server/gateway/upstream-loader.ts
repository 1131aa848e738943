import type * as UpstreamModule from './upstream.js';

let loading: Promise<typeof UpstreamModule> | undefined;

/**
 * The upstream connection module, loaded on the first connection: it brings the MCP client SDK (a large share of
 * start-up's module loading, docs/benchmarks.md), which a server without upstreams never needs, so start-up does not
 * pay for it.
 */
export function loadUpstreamModule(): Promise<typeof UpstreamModule> {
  loading ??= import('./upstream.js');
  return loading;
}
