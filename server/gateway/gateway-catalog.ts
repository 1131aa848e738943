import type { Prompt, Resource, ResourceTemplateType, ServerCapabilities, Tool } from '@modelcontextprotocol/client';
import { UriTemplate } from '@modelcontextprotocol/server';
import type { Logger } from '../logging/logger.js';
import { withoutTasksExtension } from '../tasks/task-protocol.js';
import type { Caller } from '../mcp/caller.js';
import { assignNames, exposedUri, SEPARATOR, upstreamUri, type NameCollision, type NameRequest } from './naming.js';
import type { GatewayRegistry } from './registry.js';
import type { UpstreamSupervisor } from './supervisor.js';

/** What the running upstreams offer, under the names and URIs one gateway endpoint exposes them with. */
export interface DesiredCatalog {
  /** Tools by exposed name. */
  tools: Map<string, { supervisor: UpstreamSupervisor; tool: Tool }>;
  /** Resources by exposed URI (`uri`); `resource.uri` is the upstream's own. The first upstream (name order) wins a URI. */
  resources: Map<string, { supervisor: UpstreamSupervisor; resource: Resource; uri: string }>;
  /** Resource templates by exposed URI template (`uriTemplate`); the first upstream (name order) wins a template. */
  templates: Map<string, { supervisor: UpstreamSupervisor; template: ResourceTemplateType; uriTemplate: string }>;
  /** Prompts by exposed name. */
  prompts: Map<string, { supervisor: UpstreamSupervisor; prompt: Prompt }>;
  /** Extensions and experimental capabilities the upstreams offer, first upstream (name order) first. */
  offered: Pick<ServerCapabilities, 'extensions' | 'experimental'>;
}

/** Options of {@link createGatewayCatalog}. */
export interface GatewayCatalogOptions {
  /** The upstreams; each of its changes drops the cached catalog. */
  registry: GatewayRegistry;
  /** Hears each resolved tool-name collision, once. */
  logger: Logger;
  /** Serve only this upstream, with its own (unprefixed) names and URIs: `/servers/{name}/mcp`. */
  only?: string;
  /** Whether a caller may use an aggregated name (`{prefix}__{name}`, or `{prefix}__*` for a whole server); default: all. */
  toolAccess?: (caller: Caller, toolName: string) => boolean;
}

/**
 * The upstreams as one gateway endpoint names them: aggregated (`{prefix}__{name}`, URIs per {@link exposedUri}) or,
 * with `only`, one upstream under its own names. Also the one home of the access-name rule: rules are checked with the
 * aggregated name on every endpoint, so a `gateway:<server>` scope or client pattern reads the same on both.
 */
export interface GatewayCatalog {
  /** The one upstream served unprefixed, if any. */
  readonly only: string | undefined;
  /** What the running upstreams offer, named; the same object until the registry changes. */
  desired(): DesiredCatalog;
  /**
   * Subscribes to registry changes; returns the unsubscribe function. The listener runs after this catalog has dropped
   * its cache, so {@link desired} inside it sees the change.
   */
  onChange(listener: () => void): () => void;
  /** The upstream an exposed tool name belongs to (the longest matching prefix), whether it runs or not. */
  ownerOf(name: string): UpstreamSupervisor | undefined;
  /** The upstream and its own URI behind an exposed resource URI ({@link exposedUri}, or the URI itself with `only`). */
  resolveUri(uri: string): { supervisor: UpstreamSupervisor; uri: string } | undefined;
  /** The URI an upstream's resource URI (or URI template) is served under here. */
  exposeUri(supervisor: UpstreamSupervisor, uri: string): string;
  /** The listed name of an upstream's resource or template: its own with `only`, else `{prefix}__{name}`. */
  resourceName(supervisor: UpstreamSupervisor, name: string): string;
  /** The aggregated name access rules are checked with for an item exposed here as `exposed`. */
  accessName(supervisor: UpstreamSupervisor, exposed: string): string;
  /** Whether `caller` may see and use the item exposed here as `exposed` (a tool or prompt name). */
  mayUse(caller: Caller, supervisor: UpstreamSupervisor, exposed: string): boolean;
  /** Whether `caller` may use `supervisor` at all (`{prefix}__*`): what decides whether its resources are listed. */
  mayUseServer(caller: Caller, supervisor: UpstreamSupervisor): boolean;
}

/**
 * Name prefix of an upstream in access names (`{prefix}__{name}`, what `gateway:<server>` scopes and client patterns
 * read): its `prefix` from the config file, or its name. Also its prefix in aggregated names and URIs, unless it
 * is served unprefixed there ({@link aggregatedPrefixOf}).
 */
function prefixOf(supervisor: UpstreamSupervisor): string {
  const { prefix } = supervisor.config;
  return typeof prefix === 'string' ? prefix : supervisor.name;
}

/** Prefix of an upstream's names and URIs on the aggregated endpoint; undefined for one served unprefixed (`prefix: false`). */
function aggregatedPrefixOf(supervisor: UpstreamSupervisor): string | undefined {
  return supervisor.config.prefix === false ? undefined : prefixOf(supervisor);
}

/** Glob match of the per-server `tools.allow/deny` lists (`*` any run of characters). */
function globMatches(patterns: readonly string[], name: string): boolean {
  return patterns.some((pattern) =>
    new RegExp(
      `^${pattern
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    ).test(name),
  );
}

/** Whether the server's `tools.allow/deny` lists let `tool` through. */
function toolExposed(supervisor: UpstreamSupervisor, tool: Tool): boolean {
  const filter = supervisor.config.tools;
  if (!filter) return true;
  if (filter.allow && !globMatches(filter.allow, tool.name)) return false;
  return !(filter.deny && globMatches(filter.deny, tool.name));
}

/** An item's request for a name: `normalizeNames` shows `-` as `_`; `original` finds the item again. */
function nameRequest(supervisor: UpstreamSupervisor, prefix: string | undefined, name: string): NameRequest {
  return { server: supervisor.name, prefix, name: supervisor.config.normalizeNames ? name.replaceAll('-', '_') : name, original: name };
}

/**
 * Tools and prompts under their assigned names ({@link assignNames}): prefixed unless `only`. Returns the tool-name
 * collisions too, for the caller to log.
 */
function namedItems(
  supervisors: readonly UpstreamSupervisor[],
  only: string | undefined,
): Pick<DesiredCatalog, 'tools' | 'prompts'> & { collisions: NameCollision[] } {
  const bySupervisor = new Map(supervisors.map((s) => [s.name, s]));
  const toolRequests: NameRequest[] = [];
  const promptRequests: NameRequest[] = [];
  for (const supervisor of supervisors) {
    const prefix = only ? undefined : aggregatedPrefixOf(supervisor);
    for (const tool of supervisor.catalog.tools)
      if (toolExposed(supervisor, tool)) toolRequests.push(nameRequest(supervisor, prefix, tool.name));
    for (const prompt of supervisor.catalog.prompts) promptRequests.push(nameRequest(supervisor, prefix, prompt.name));
  }
  const toolNames = assignNames(toolRequests);
  const tools: DesiredCatalog['tools'] = new Map();
  for (const [name, request] of toolNames.names) {
    const supervisor = bySupervisor.get(request.server)!;
    tools.set(name, { supervisor, tool: supervisor.catalog.tools.find((t) => t.name === (request.original ?? request.name))! });
  }
  const prompts: DesiredCatalog['prompts'] = new Map();
  for (const [name, request] of assignNames(promptRequests).names) {
    const supervisor = bySupervisor.get(request.server)!;
    prompts.set(name, { supervisor, prompt: supervisor.catalog.prompts.find((p) => p.name === (request.original ?? request.name))! });
  }
  return { tools, prompts, collisions: toolNames.collisions };
}

/** Resources and templates under their exposed URIs (`expose`); the first upstream (name order) wins a URI. */
function exposedResources(
  supervisors: readonly UpstreamSupervisor[],
  expose: (supervisor: UpstreamSupervisor, uri: string) => string,
): Pick<DesiredCatalog, 'resources' | 'templates'> {
  const resources: DesiredCatalog['resources'] = new Map();
  const templates: DesiredCatalog['templates'] = new Map();
  for (const supervisor of supervisors) {
    for (const resource of supervisor.catalog.resources) {
      const uri = expose(supervisor, resource.uri);
      if (!resources.has(uri)) resources.set(uri, { supervisor, resource, uri });
    }
    for (const template of supervisor.catalog.resourceTemplates) {
      const uriTemplate = expose(supervisor, template.uriTemplate);
      if (!templates.has(uriTemplate)) templates.set(uriTemplate, { supervisor, template, uriTemplate });
    }
  }
  return { resources, templates };
}

/**
 * What the upstreams offer beyond the core; the first upstream (name order) wins a key they share. Upstream tasks are
 * not relayed, so their extension is not offered.
 */
function offeredCapabilities(supervisors: readonly UpstreamSupervisor[]): DesiredCatalog['offered'] {
  const offered: DesiredCatalog['offered'] = {};
  for (const supervisor of supervisors) {
    const capabilities = supervisor.live?.client.getServerCapabilities();
    const extensions = withoutTasksExtension(capabilities?.extensions);
    const experimental = capabilities?.experimental;
    if (extensions) offered.extensions = { ...extensions, ...offered.extensions };
    if (experimental) offered.experimental = { ...experimental, ...offered.experimental };
  }
  return offered;
}

/**
 * Builds the {@link GatewayCatalog} of one endpoint. Its registry listener (the cache reset) is registered now, so it
 * runs before every listener added later, including those added through {@link GatewayCatalog.onChange}.
 */
export function createGatewayCatalog({ registry, logger, only, toolAccess }: GatewayCatalogOptions): GatewayCatalog {
  let cached: DesiredCatalog | undefined;
  const loggedCollisions = new Set<string>();
  registry.onChange(() => {
    cached = undefined;
  });

  const exposeUri = (supervisor: UpstreamSupervisor, uri: string) => {
    const prefix = only ? undefined : aggregatedPrefixOf(supervisor);
    return prefix === undefined ? uri : exposedUri(prefix, uri);
  };
  // An item exposed without its prefix is still named with it for the access rules.
  const accessName = (supervisor: UpstreamSupervisor, exposed: string) =>
    only || aggregatedPrefixOf(supervisor) === undefined ? `${prefixOf(supervisor)}${SEPARATOR}${exposed}` : exposed;

  function logCollisions(collisions: readonly NameCollision[]): void {
    for (const collision of collisions) {
      const id = `${collision.renamed.server}/${collision.renamed.name}`;
      if (loggedCollisions.has(id)) continue;
      loggedCollisions.add(id);
      logger.warn('gateway tool name collision resolved', {
        name: collision.name,
        kept: `${collision.kept.server}/${collision.kept.name}`,
        renamed: id,
        as: collision.as,
        category: 'gateway',
      });
    }
  }

  function desired(): DesiredCatalog {
    if (cached) return cached;
    const supervisors = registry.list().filter((s) => s.live && (!only || s.name === only));
    const { tools, prompts, collisions } = namedItems(supervisors, only);
    logCollisions(collisions);
    cached = { tools, ...exposedResources(supervisors, exposeUri), prompts, offered: offeredCapabilities(supervisors) };
    return cached;
  }

  return {
    only,
    desired,
    onChange: (listener) => registry.onChange(listener),
    ownerOf(name) {
      if (only) return registry.get(only);
      const listed = desired().tools.get(name)?.supervisor;
      if (listed) return listed;
      let owner: UpstreamSupervisor | undefined;
      for (const supervisor of registry.list()) {
        const prefix = aggregatedPrefixOf(supervisor);
        if (prefix === undefined) continue;
        const start = `${prefix}${SEPARATOR}`;
        if (name.startsWith(start) && start.length > (owner ? aggregatedPrefixOf(owner)!.length + SEPARATOR.length : 0)) owner = supervisor;
      }
      // A name no running upstream lists may still come with an unprefixed one that is starting: wait for that.
      return owner ?? registry.list().find((supervisor) => aggregatedPrefixOf(supervisor) === undefined && supervisor.comingUp);
    },
    resolveUri(uri) {
      if (only) {
        const supervisor = registry.get(only);
        return supervisor ? { supervisor, uri } : undefined;
      }
      const target = upstreamUri(uri);
      const supervisor = target && registry.list().find((candidate) => aggregatedPrefixOf(candidate) === target.prefix);
      if (supervisor && target) return { supervisor, uri: target.uri };
      // An unprefixed upstream's resource keeps its URI: the one listing it (or a template matching it) has it.
      const { resources, templates } = desired();
      const listed = resources.get(uri)?.supervisor;
      if (listed && aggregatedPrefixOf(listed) === undefined) return { supervisor: listed, uri };
      for (const { supervisor: candidate, uriTemplate } of templates.values())
        if (aggregatedPrefixOf(candidate) === undefined && new UriTemplate(uriTemplate).match(uri)) return { supervisor: candidate, uri };
      return undefined;
    },
    exposeUri,
    resourceName: (supervisor, name) => {
      const prefix = only ? undefined : aggregatedPrefixOf(supervisor);
      return prefix === undefined ? name : `${prefix}${SEPARATOR}${name}`;
    },
    accessName,
    mayUse: (caller, supervisor, exposed) => !toolAccess || toolAccess(caller, accessName(supervisor, exposed)),
    mayUseServer: (caller, supervisor) => !toolAccess || toolAccess(caller, `${prefixOf(supervisor)}${SEPARATOR}*`),
  };
}
