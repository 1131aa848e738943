import { completable, ProtocolError, ProtocolErrorCode, ResourceTemplate, type McpServer, type ServerContext, type StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import type { ClientCapabilities, Prompt, Resource, ResourceTemplateType, ServerCapabilities, Tool } from '@modelcontextprotocol/client';
import { z } from 'zod';
import type { Logger } from '../logging/logger.js';
import type { Caller } from '../mcp/caller.js';
import { installMcpServerRequestHandlers } from '../mcp/sdk-internals.js';
import type { ToolDefinition, ToolProvider } from '../mcp/tool-provider.js';
import { renameAppResources } from './apps-extension.js';
import { relayRequestOptions, relayToolCall } from './call-relay.js';
import { createErrorResultGuard } from './error-result.js';
import { assignNames, exposedUri, SEPARATOR, upstreamUri, type NameRequest } from './naming.js';
import type { GatewayRegistry } from './registry.js';
import type { UpstreamConnection } from './upstream.js';
import type { UpstreamSupervisor } from './supervisor.js';

/** Options of {@link createGatewayProvider}. */
export interface GatewayProviderOptions {
  registry: GatewayRegistry;
  logger: Logger;
  /**
   * Whether a caller may see and use a prompt (asked with its aggregated name `{prefix}__{prompt}`) or a server's
   * resources (asked with `{prefix}__*`), so `gateway:<server>` scopes and per-client patterns apply on every
   * endpoint. Tools are checked by the server factory's tool catalog with each definition's `accessName`.
   * Default: everything.
   */
  toolAccess?: (caller: Caller, toolName: string) => boolean;
  /** Serve only this upstream, with its own (unprefixed) names: `/servers/{name}/mcp`. */
  only?: string;
  /**
   * How long `tools/list` waits for an upstream in its first start, counted from when that start began
   * (`GATEWAY_STARTUP_WAIT_MS`); 0 never waits. A call to an upstream on its way up waits up to its own `timeoutMs`.
   */
  startupWaitMs?: number;
}

/** Completes one argument upstream; absent when the upstream does not offer completions. */
type ArgumentCompleter = (argument: string, value: string, context: Record<string, string> | undefined) => Promise<string[]>;

function promptArgsSchema(prompt: Prompt, complete: ArgumentCompleter | undefined): StandardSchemaWithJSON | undefined {
  if (!prompt.arguments?.length) return undefined;
  const shape: Record<string, z.ZodType> = {};
  for (const argument of prompt.arguments) {
    let base: z.ZodType = argument.description ? z.string().describe(argument.description) : z.string();
    if (complete) base = completable(base as z.ZodString, (value, context) => complete(argument.name, String(value ?? ''), context?.arguments)) as unknown as z.ZodType;
    shape[argument.name] = argument.required ? base : base.optional();
  }
  return z.object(shape) as unknown as StandardSchemaWithJSON;
}

/** Glob match of the per-server `tools.allow/deny` lists (`*` any run of characters). */
function globMatches(patterns: readonly string[], name: string): boolean {
  return patterns.some((pattern) => new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(name));
}

function toolExposed(supervisor: UpstreamSupervisor, tool: Tool): boolean {
  const filter = supervisor.config.tools;
  if (!filter) return true;
  if (filter.allow && !globMatches(filter.allow, tool.name)) return false;
  return !(filter.deny && globMatches(filter.deny, tool.name));
}

/** What one assembled MCP server instance currently has registered from the gateway, by exposed name. */
interface InstanceState {
  resources: Map<string, { key: string; handle: { remove(): void } }>;
  prompts: Map<string, { key: string; handle: { remove(): void } }>;
  /** Resource subscriptions of this instance by exposed URI, with the function that ends each. */
  subscriptions: Map<string, () => Promise<void>>;
  /** Per-session upstream connections (`isolation: "session"`), opened on first use. */
  sessionConnections: Map<string, Promise<UpstreamConnection>>;
  /** What the instance's client declared (its extension support goes to its per-session upstreams). */
  clientCapabilities(): ClientCapabilities | undefined;
  closed: boolean;
}

interface Desired {
  tools: Map<string, { supervisor: UpstreamSupervisor; tool: Tool }>;
  resources: Map<string, { supervisor: UpstreamSupervisor; resource: Resource; uri: string }>;
  templates: Map<string, { supervisor: UpstreamSupervisor; template: ResourceTemplateType; uriTemplate: string }>;
  prompts: Map<string, { supervisor: UpstreamSupervisor; prompt: Prompt }>;
  /** Extensions and experimental capabilities the upstreams offer, first upstream (name order) first. */
  offered: Pick<ServerCapabilities, 'extensions' | 'experimental'>;
}

/**
 * The gateway as a {@link ToolProvider}: every running upstream's tools as `{server}__{tool}`, its prompts as
 * `{server}__{prompt}`, and its resources under {@link exposedUri} (`{server}+{uri}`, and `ui://{server}/...` for MCP
 * Apps, whose tools' `_meta.ui.resourceUri` follow). With `only`, one upstream with its own names and URIs.
 *
 * Tools are shared definitions (`tools()`), rebuilt when the registry changes; listeners hear only real changes of
 * the tool set, and the server factory sends `tools/list_changed` to live sessions. Prompts and resources are
 * registered per instance and follow the registry the same way: when an upstream goes down its items are removed,
 * when it is up again they come back, and the SDK sends `list_changed` for each change.
 */
export function createGatewayProvider({ registry, logger, toolAccess, only, startupWaitMs = 0 }: GatewayProviderOptions): ToolProvider {
  let cachedDesired: Desired | undefined;
  const loggedCollisions = new Set<string>();
  registry.onChange(() => {
    cachedDesired = undefined;
  });

  const prefixOf = (supervisor: UpstreamSupervisor): string => supervisor.config.prefix ?? supervisor.name;

  /** The catalog of the running upstreams, named; cached until the registry changes. */
  function desired(): Desired {
    if (cachedDesired) return cachedDesired;
    const supervisors = registry.list().filter((s) => s.live && (!only || s.name === only));
    const tools = new Map<string, { supervisor: UpstreamSupervisor; tool: Tool }>();
    const prompts = new Map<string, { supervisor: UpstreamSupervisor; prompt: Prompt }>();
    const toolRequests: NameRequest[] = [];
    const promptRequests: NameRequest[] = [];
    const bySupervisor = new Map(supervisors.map((s) => [s.name, s]));
    for (const supervisor of supervisors) {
      const prefix = only ? undefined : prefixOf(supervisor);
      const display = (name: string) => (supervisor.config.normalizeNames ? name.replaceAll('-', '_') : name);
      for (const tool of supervisor.catalog.tools) if (toolExposed(supervisor, tool)) toolRequests.push({ server: supervisor.name, prefix, name: display(tool.name), original: tool.name });
      for (const prompt of supervisor.catalog.prompts) promptRequests.push({ server: supervisor.name, prefix, name: display(prompt.name), original: prompt.name });
    }
    const toolNames = assignNames(toolRequests);
    for (const collision of toolNames.collisions) {
      const id = `${collision.renamed.server}/${collision.renamed.name}`;
      if (!loggedCollisions.has(id)) {
        loggedCollisions.add(id);
        logger.warn('gateway tool name collision resolved', { name: collision.name, kept: `${collision.kept.server}/${collision.kept.name}`, renamed: id, as: collision.as, category: 'gateway' });
      }
    }
    for (const [name, request] of toolNames.names) {
      const supervisor = bySupervisor.get(request.server)!;
      tools.set(name, { supervisor, tool: supervisor.catalog.tools.find((t) => t.name === (request.original ?? request.name))! });
    }
    for (const [name, request] of assignNames(promptRequests).names) {
      const supervisor = bySupervisor.get(request.server)!;
      prompts.set(name, { supervisor, prompt: supervisor.catalog.prompts.find((p) => p.name === (request.original ?? request.name))! });
    }
    const resources = new Map<string, { supervisor: UpstreamSupervisor; resource: Resource; uri: string }>();
    const templates = new Map<string, { supervisor: UpstreamSupervisor; template: ResourceTemplateType; uriTemplate: string }>();
    const offered: Desired['offered'] = {};
    for (const supervisor of supervisors) {
      const expose = (uri: string) => (only ? uri : exposedUri(prefixOf(supervisor), uri));
      for (const resource of supervisor.catalog.resources) {
        const uri = expose(resource.uri);
        if (!resources.has(uri)) resources.set(uri, { supervisor, resource, uri });
      }
      for (const template of supervisor.catalog.resourceTemplates) {
        const uriTemplate = expose(template.uriTemplate);
        if (!templates.has(uriTemplate)) templates.set(uriTemplate, { supervisor, template, uriTemplate });
      }
      const { extensions, experimental } = supervisor.live?.client.getServerCapabilities() ?? {};
      if (extensions) offered.extensions = { ...extensions, ...offered.extensions };
      if (experimental) offered.experimental = { ...experimental, ...offered.experimental };
    }
    cachedDesired = { tools, resources, templates, prompts, offered };
    return cachedDesired;
  }

  /** The upstream an exposed tool name belongs to (the longest matching prefix), whether it runs or not. */
  function ownerOf(name: string): UpstreamSupervisor | undefined {
    if (only) return registry.get(only);
    let owner: UpstreamSupervisor | undefined;
    for (const supervisor of registry.list()) {
      const prefix = `${prefixOf(supervisor)}${SEPARATOR}`;
      if (name.startsWith(prefix) && prefix.length > (owner ? prefixOf(owner).length + SEPARATOR.length : 0)) owner = supervisor;
    }
    return owner;
  }

  /** Why a call cannot reach `supervisor` now; "retry" when it is on its way up. */
  function unavailable(supervisor: UpstreamSupervisor): string {
    return supervisor.comingUp
      ? `upstream ${supervisor.name} is ${supervisor.status} and not ready yet; retry the call in a few seconds`
      : `upstream ${supervisor.name} is ${supervisor.status}`;
  }

  /**
   * Waits, up to the upstream's `timeoutMs` (its time limit of one request), until the upstream `name` belongs to is
   * no longer on its way up; rejects with a "retry" error when it still is by then. The supervisor is looked up
   * again after each attempt: a reload may have replaced it.
   */
  async function arrival(name: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const supervisor = ownerOf(name);
      if (!supervisor || supervisor.status === 'running') return;
      // It gave up (restart limit) or was stopped while the call waited: say so rather than "not found".
      if (!supervisor.comingUp) throw new Error(unavailable(supervisor));
      const left = deadline - Date.now();
      if (left <= 0 || signal.aborted) throw new Error(unavailable(supervisor));
      await supervisor.settled(left, signal);
    }
  }

  /** The connection a call of `supervisor` goes to for this instance. */
  async function connectionFor(state: InstanceState, supervisor: UpstreamSupervisor): Promise<UpstreamConnection> {
    if (supervisor.config.isolation === 'session') {
      let pending = state.sessionConnections.get(supervisor.name);
      if (!pending) {
        const forget = () => state.sessionConnections.delete(supervisor.name);
        const { extensions, experimental } = state.clientCapabilities() ?? {};
        pending = registry.openSessionConnection(supervisor.name, forget, () => undefined, { ...(extensions ? { extensions } : {}), ...(experimental ? { experimental } : {}) });
        pending.catch(forget);
        state.sessionConnections.set(supervisor.name, pending);
      }
      const connection = await pending;
      if (state.closed) {
        await registry.closeSessionConnection(connection);
        throw new ProtocolError(ProtocolErrorCode.InternalError, `${supervisor.name}: session closed`);
      }
      return connection;
    }
    const live = supervisor.live;
    if (!live) throw new ProtocolError(ProtocolErrorCode.InternalError, unavailable(supervisor));
    return live;
  }

  /** Completion of prompt or template arguments, forwarded upstream when the upstream offers completions. */
  function completerFor(
    state: InstanceState,
    supervisor: UpstreamSupervisor,
    ref: { type: 'ref/prompt'; name: string } | { type: 'ref/resource'; uri: string },
  ): ArgumentCompleter | undefined {
    if (!supervisor.live?.client.getServerCapabilities()?.completions) return undefined;
    return async (argument, value, context) => {
      const connection = await connectionFor(state, supervisor);
      const result = await connection.client.complete(
        { ref, argument: { name: argument, value }, ...(context ? { context: { arguments: context } } : {}) },
        { timeout: supervisor.config.timeoutMs },
      );
      return result.completion.values;
    };
  }

  function templateCompletion(state: InstanceState, supervisor: UpstreamSupervisor, uriTemplate: string) {
    const complete = completerFor(state, supervisor, { type: 'ref/resource', uri: uriTemplate });
    if (!complete) return {};
    const variables = [...uriTemplate.matchAll(/\{[+#./;?&]?([^}]+)\}/g)].flatMap((match) => match[1]!.split(',').map((name) => name.replace(/\*$|:\d+$/, '')));
    return {
      complete: Object.fromEntries(
        variables.map((variable) => [variable, (value: string, context?: { arguments?: Record<string, string> }) => complete(variable, value, context?.arguments)]),
      ),
    };
  }

  /** The upstream and its own URI behind an exposed resource URI ({@link exposedUri}, or the URI itself with `only`). */
  function resolveUri(uri: string): { supervisor: UpstreamSupervisor; uri: string } | undefined {
    if (only) {
      const supervisor = registry.get(only);
      return supervisor ? { supervisor, uri } : undefined;
    }
    const target = upstreamUri(uri);
    const supervisor = target && registry.list().find((candidate) => prefixOf(candidate) === target.prefix);
    return supervisor && target ? { supervisor, uri: target.uri } : undefined;
  }

  /**
   * Every handler kind is installed before the instance connects: the SDK cannot add capabilities afterwards, and an
   * upstream that is down when a session starts must still be able to bring its prompts and resources in later.
   */
  function prepare(server: McpServer, state: InstanceState): void {
    // What the upstreams running now offer beyond the core (MCP Apps and other extensions, experimental features) is
    // advertised as theirs: the SDK fixes an instance's capabilities when it connects.
    const { offered } = desired();
    server.server.registerCapabilities({
      prompts: { listChanged: true },
      resources: { listChanged: true, subscribe: true },
      completions: {},
      ...(offered.extensions ? { extensions: offered.extensions } : {}),
      ...(offered.experimental ? { experimental: offered.experimental } : {}),
    });
    const missing = installMcpServerRequestHandlers(server);
    if (missing) throw missing;
    server.server.setRequestHandler('resources/subscribe', async (request) => {
      const target = resolveUri(request.params.uri);
      if (!target) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown resource ${request.params.uri}`);
      if (state.subscriptions.has(request.params.uri)) return {};
      const connection = await connectionFor(state, target.supervisor);
      const exposed = request.params.uri;
      const unsubscribe = await connection.subscribe(target.uri, () => void server.server.sendResourceUpdated({ uri: exposed }).catch(() => undefined));
      state.subscriptions.set(exposed, unsubscribe);
      return {};
    });
    server.server.setRequestHandler('resources/unsubscribe', async (request) => {
      const unsubscribe = state.subscriptions.get(request.params.uri);
      state.subscriptions.delete(request.params.uri);
      await unsubscribe?.();
      return {};
    });
  }

  function sync(server: McpServer, state: InstanceState, caller: Caller): void {
    const want = desired();
    // Access is decided on the aggregated name (`{prefix}__{name}`) on every endpoint, so rules read the same on both.
    const accessName = (supervisor: UpstreamSupervisor, exposed: string) => (only ? `${prefixOf(supervisor)}${SEPARATOR}${exposed}` : exposed);
    // Prompts
    for (const [name, entry] of state.prompts) {
      const target = want.prompts.get(name);
      if (!target || JSON.stringify([target.supervisor.name, target.prompt]) !== entry.key) {
        entry.handle.remove();
        state.prompts.delete(name);
      }
    }
    for (const [name, { supervisor, prompt }] of want.prompts) {
      if (state.prompts.has(name)) continue;
      if (toolAccess && !toolAccess(caller, accessName(supervisor, name))) continue;
      const argsSchema = promptArgsSchema(prompt, completerFor(state, supervisor, { type: 'ref/prompt', name: prompt.name }));
      const forward = async (args: Record<string, string> | undefined, ctx: ServerContext) => {
        const connection = await connectionFor(state, supervisor);
        return connection.client.getPrompt({ name: prompt.name, ...(args ? { arguments: args } : {}) }, relayRequestOptions(ctx, supervisor.config.timeoutMs));
      };
      const meta = {
        ...(prompt.title ? { title: prompt.title } : {}),
        ...(prompt.description ? { description: prompt.description } : {}),
        ...(prompt.icons ? { icons: prompt.icons } : {}),
        ...(prompt._meta ? { _meta: prompt._meta } : {}),
      };
      const handle = argsSchema
        ? server.registerPrompt(name, { ...meta, argsSchema }, ((args: Record<string, string>, ctx: ServerContext) => forward(args, ctx)) as never)
        : server.registerPrompt(name, meta, ((ctx: ServerContext) => forward(undefined, ctx)) as never);
      state.prompts.set(name, { key: JSON.stringify([supervisor.name, prompt]), handle });
    }
    // Resources and templates (visible when the caller may use the server at all)
    const mayUseServer = (supervisor: UpstreamSupervisor) => !toolAccess || toolAccess(caller, `${prefixOf(supervisor)}${SEPARATOR}*`);
    const wantedResources = new Map<string, string>();
    for (const [uri, entry] of want.resources) wantedResources.set(`r:${uri}`, JSON.stringify([entry.supervisor.name, entry.resource]));
    for (const [uriTemplate, entry] of want.templates) wantedResources.set(`t:${uriTemplate}`, JSON.stringify([entry.supervisor.name, entry.template]));
    for (const [id, entry] of state.resources) {
      if (wantedResources.get(id) !== entry.key) {
        entry.handle.remove();
        state.resources.delete(id);
      }
    }
    // Listed with everything the upstream listed but its URI and name: `_meta` (an app's CSP and permissions),
    // annotations, size, icons.
    for (const [uri, { supervisor, resource }] of want.resources) {
      const id = `r:${uri}`;
      if (state.resources.has(id) || !mayUseServer(supervisor)) continue;
      const { uri: _uri, name: _name, ...metadata } = resource;
      const handle = server.registerResource(
        only ? resource.name : `${prefixOf(supervisor)}${SEPARATOR}${resource.name}`,
        uri,
        metadata,
        async (_url, ctx) => readUpstream(state, supervisor, resource.uri, ctx),
      );
      state.resources.set(id, { key: wantedResources.get(id)!, handle });
    }
    for (const [uriTemplate, { supervisor, template }] of want.templates) {
      const id = `t:${uriTemplate}`;
      if (state.resources.has(id) || !mayUseServer(supervisor)) continue;
      const { uriTemplate: _uriTemplate, name: _name, ...metadata } = template;
      const handle = server.registerResource(
        only ? template.name : `${prefixOf(supervisor)}${SEPARATOR}${template.name}`,
        new ResourceTemplate(uriTemplate, { list: undefined, ...templateCompletion(state, supervisor, template.uriTemplate) }),
        metadata,
        async (url, _variables, ctx) => readUpstream(state, supervisor, only ? url.href : (upstreamUri(url.href)?.uri ?? url.href), ctx),
      );
      state.resources.set(id, { key: wantedResources.get(id)!, handle });
    }
  }

  /** A gateway tool: listed with the upstream's own schemas (the upstream validates its arguments), called through it. */
  function toolDefinition(name: string, supervisor: UpstreamSupervisor, tool: Tool): ToolDefinition {
    const mirrorsHeaders = JSON.stringify(tool.inputSchema).includes('"x-mcp-header"');
    const guardError = createErrorResultGuard(tool.outputSchema);
    // An app's resource is served under its exposed URI here, so the tool must name it so (MCP Apps).
    const meta = tool._meta && !only ? renameAppResources(tool._meta, (uri) => exposedUri(prefixOf(supervisor), uri)) : tool._meta;
    return {
      tool: {
        name,
        ...(tool.title ? { title: tool.title } : {}),
        ...(tool.description ? { description: tool.description } : {}),
        inputSchema: tool.inputSchema,
        ...(tool.outputSchema ? { outputSchema: tool.outputSchema } : {}),
        ...(tool.annotations ? { annotations: tool.annotations } : {}),
        ...(tool.icons ? { icons: tool.icons } : {}),
        ...(meta ? { _meta: meta } : {}),
      },
      // Access is decided on the aggregated name (`{prefix}__{name}`) on every endpoint, so rules read the same on both.
      accessName: only ? `${prefixOf(supervisor)}${SEPARATOR}${name}` : name,
      async call({ args, requestContext: ctx, server }) {
        const state = states.get(server);
        if (!state) throw new Error(`${name}: this server instance has no gateway state`);
        let connection: UpstreamConnection;
        try {
          connection = await connectionFor(state, supervisor);
        } catch (error) {
          // An upstream that is down or restarting is a tool error the model can read, not a protocol failure.
          throw new Error((error as Error).message);
        }
        // An error the upstream answered (a JSON-RPC error with its code) propagates as such to the client.
        const result = relayToolCall(connection, { owner: state, ctx, name: tool.name, args, timeoutMs: supervisor.config.timeoutMs, mirrorsHeaders });
        return guardError ? result.then(guardError) : result;
      },
    };
  }

  /** Definitions by `name + upstream + tool` key: an unchanged tool keeps its definition across catalog changes. */
  let builtTools = new Map<string, ToolDefinition>();
  let toolList: ToolDefinition[] | undefined;
  const toolListeners = new Set<() => void>();

  function tools(): ToolDefinition[] {
    if (toolList) return toolList;
    const next = new Map<string, ToolDefinition>();
    for (const [name, { supervisor, tool }] of desired().tools) {
      const key = JSON.stringify([name, supervisor.name, tool]);
      next.set(key, builtTools.get(key) ?? toolDefinition(name, supervisor, tool));
    }
    builtTools = next;
    toolList = [...next.values()];
    return toolList;
  }

  // Registered after the catalog-cache reset above, so `tools()` here sees the new catalog. Listeners hear only real
  // changes of the tool set (a health check that changes nothing sends no list_changed).
  registry.onChange(() => {
    const before = toolList;
    toolList = undefined;
    const after = tools();
    if (before && before.length === after.length && before.every((definition, index) => definition === after[index])) return;
    for (const listener of toolListeners) listener();
  });

  /** Reads `uri` upstream; the contents keep their `_meta` and name their URIs as this endpoint exposes them. */
  async function readUpstream(state: InstanceState, supervisor: UpstreamSupervisor, uri: string, ctx: ServerContext) {
    const connection = await connectionFor(state, supervisor);
    const result = await connection.client.readResource({ uri }, { ...relayRequestOptions(ctx, supervisor.config.timeoutMs), cacheMode: 'bypass' });
    if (only) return result;
    const prefix = prefixOf(supervisor);
    return { ...result, contents: result.contents.map((content) => ({ ...content, uri: exposedUri(prefix, content.uri) })) };
  }

  const states = new WeakMap<McpServer, InstanceState>();
  const cleanup = new FinalizationRegistry<() => void>((unsubscribe) => unsubscribe());

  return {
    name: only ? `gateway:${only}` : 'gateway',
    tools,
    onToolsChanged(listener) {
      toolListeners.add(listener);
      return () => toolListeners.delete(listener);
    },
    settling() {
      return startupWaitMs > 0 ? registry.starting(startupWaitMs, only) : undefined;
    },
    awaitTool(name, { caller, signal }) {
      const supervisor = ownerOf(name);
      if (!supervisor?.comingUp) return undefined;
      // A caller that may not use the tool learns nothing of it: unknown, as ever.
      if (toolAccess && !toolAccess(caller, only ? `${prefixOf(supervisor)}${SEPARATOR}${name}` : name)) return undefined;
      return arrival(name, supervisor.config.timeoutMs, signal);
    },
    register(server, { caller }) {
      const state: InstanceState = {
        resources: new Map(),
        prompts: new Map(),
        subscriptions: new Map(),
        sessionConnections: new Map(),
        // Deprecated for 2026-07-28 requests, where the SDK still fills it in from each request's envelope.
        clientCapabilities: () => server.server.getClientCapabilities(),
        closed: false,
      };
      states.set(server, state);
      prepare(server, state);
      sync(server, state, caller);
      // The listener reaches the instance only weakly (state lives in a WeakMap keyed by it): a per-request
      // (stateless) instance that is never closed is still collected, and the finalizer unsubscribes.
      const ref = new WeakRef(server);
      const unsubscribe = registry.onChange(() => {
        const live = ref.deref();
        const current = live && states.get(live);
        if (!live || !current || current.closed) {
          unsubscribe();
          return;
        }
        try {
          sync(live, current, caller);
        } catch (error) {
          logger.warn('gateway catalog update failed', { error: (error as Error).message, category: 'gateway' });
        }
      });
      cleanup.register(server, unsubscribe);
      const previous = server.server.onclose;
      server.server.onclose = () => {
        previous?.();
        state.closed = true;
        unsubscribe();
        for (const end of state.subscriptions.values()) void end().catch(() => undefined);
        state.subscriptions.clear();
        for (const pending of state.sessionConnections.values()) void pending.then((c) => registry.closeSessionConnection(c), () => undefined);
        state.sessionConnections.clear();
      };
    },
  };
}
