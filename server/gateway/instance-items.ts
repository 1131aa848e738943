import {
  completable,
  ProtocolError,
  ProtocolErrorCode,
  ResourceTemplate,
  specTypeSchemas,
  type McpServer,
  type ServerContext,
  type StandardSchemaWithJSON,
} from '@modelcontextprotocol/server';
import type { ClientCapabilities, Prompt, ReadResourceResult } from '@modelcontextprotocol/client';
import { z } from 'zod';
import type { Caller } from '../mcp/caller.js';
import type { RequestRounds, ToolProviderContext } from '../mcp/tool-provider.js';
import { installMcpServerRequestHandlers } from '../mcp/sdk-internals.js';
import { relayDuring, relayRequestOptions } from './call-relay.js';
import type { GatewayCatalog } from './gateway-catalog.js';
import { requestInRounds, upstreamCapabilities, type RoundsMethod } from './modern-relay.js';
import { upstreamUri } from './naming.js';
import type { UpstreamSupervisor } from './supervisor.js';
import type { InstanceConnections, UpstreamAccess } from './upstream-access.js';
import type { UpstreamConnection } from './upstream.js';

/** One prompt or resource registered on an instance, with what it was registered from. */
interface RegisteredItem {
  /** JSON of the upstream's name and the item as it listed it: a changed item is registered again. */
  key: string;
  /** Unregisters it (the SDK then sends `list_changed`). */
  handle: { remove(): void };
}

/** What one assembled MCP server instance currently has registered from the gateway. */
export interface InstanceState extends InstanceConnections {
  /** Resources by `r:{exposed URI}` and templates by `t:{exposed URI template}`. */
  resources: Map<string, RegisteredItem>;
  /** Prompts by exposed name. */
  prompts: Map<string, RegisteredItem>;
  /** Resource subscriptions of this instance by exposed URI, with the function that ends each. */
  subscriptions: Map<string, () => Promise<void>>;
  /** How a 2026-07-28 instance serves a prompt or read whose upstream asks the client mid-way; absent otherwise. */
  rounds?: RequestRounds;
}

/** A fresh, empty state for `server`. */
export function createInstanceState(server: McpServer, { era, caller, rounds }: ToolProviderContext): InstanceState {
  const state: InstanceState = {
    resources: new Map(),
    prompts: new Map(),
    subscriptions: new Map(),
    sessionConnections: new Map(),
    // Deprecated for 2026-07-28 requests, where the SDK still fills it in from each request's envelope.
    clientCapabilities: () => server.server.getClientCapabilities(),
    closed: false,
    relayOwner: caller.principalId,
    ...(rounds ? { rounds } : {}),
  };
  if (era === 'legacy') state.relayOwner = state;
  return state;
}

/** Completes one argument upstream; absent when the upstream does not offer completions. */
type ArgumentCompleter = (argument: string, value: string, context: Record<string, string> | undefined) => Promise<string[]>;

/** What a prompt completion or template completion refers to upstream (`completion/complete`'s `ref`). */
type CompletionRef = { type: 'ref/prompt'; name: string } | { type: 'ref/resource'; uri: string };

/** The zod shape the SDK lists and validates a prompt's arguments with: all strings, completed upstream when it can. */
function promptArgsSchema(prompt: Prompt, complete: ArgumentCompleter | undefined): StandardSchemaWithJSON | undefined {
  if (!prompt.arguments?.length) return undefined;
  const shape: Record<string, z.ZodType> = {};
  for (const argument of prompt.arguments) {
    let base: z.ZodType = argument.description ? z.string().describe(argument.description) : z.string();
    if (complete)
      base = completable(base as z.ZodString, (value, context) =>
        complete(argument.name, String(value ?? ''), context?.arguments),
      ) as unknown as z.ZodType;
    shape[argument.name] = argument.required ? base : base.optional();
  }
  return z.object(shape) as unknown as StandardSchemaWithJSON;
}

/** The variable names of an RFC 6570 URI template (`{a}`, `{+a}`, `{?a,b*}`, `{a:3}`). */
function templateVariables(uriTemplate: string): string[] {
  return [...uriTemplate.matchAll(/\{[+#./;?&]?([^}]+)\}/g)].flatMap((match) =>
    match[1]!.split(',').map((name) => name.replace(/\*$|:\d+$/, '')),
  );
}

/** Removes every registered item whose key is no longer the wanted one (or that is no longer wanted at all). */
function removeStale(registered: Map<string, RegisteredItem>, wantedKey: (id: string) => string | undefined): void {
  for (const [id, entry] of registered) {
    if (wantedKey(id) !== entry.key) {
      entry.handle.remove();
      registered.delete(id);
    }
  }
}

/** How one instance reaches one upstream: the upstream, and the connection its calls from this instance go to. */
interface UpstreamRoute {
  /** The upstream, for its capabilities, name and `timeoutMs`. */
  supervisor: UpstreamSupervisor;
  /** Whose requests go through this route, for relaying the upstream's requests meanwhile. */
  owner: object | string;
  /** See {@link InstanceState.rounds}. */
  rounds?: RequestRounds;
  /** {@link UpstreamAccess.connectionFor} of this instance. */
  connect(): Promise<UpstreamConnection>;
  /** The capabilities of the client this instance serves (see {@link InstanceConnections.clientCapabilities}). */
  clientCapabilities(): ClientCapabilities | undefined;
}

/**
 * Sends a prompt get or resource read to a 2026-07-28 upstream in the caller's name, its `input_required` rounds
 * served by that caller (`modern-relay.ts`).
 */
function inCallersName<T>(
  connection: UpstreamConnection,
  route: UpstreamRoute,
  ctx: ServerContext,
  request: { method: RoundsMethod; params: Record<string, unknown>; schema: { '~standard': object } },
): Promise<T> {
  const { timeoutMs, roots } = route.supervisor.config;
  return requestInRounds(connection, {
    ...request,
    schema: request.schema as never,
    options: relayRequestOptions(ctx, timeoutMs),
    capabilities: upstreamCapabilities(route.clientCapabilities(), { roots, withTasks: false }),
    ctx,
  });
}

/** Completion of prompt or template arguments, forwarded upstream when the upstream offers completions. */
function completerFor({ supervisor, connect }: UpstreamRoute, ref: CompletionRef): ArgumentCompleter | undefined {
  if (!supervisor.live?.client.getServerCapabilities()?.completions) return undefined;
  return async (argument, value, context) => {
    const connection = await connect();
    const result = await connection.client.complete(
      { ref, argument: { name: argument, value }, ...(context ? { context: { arguments: context } } : {}) },
      { timeout: supervisor.config.timeoutMs },
    );
    return result.completion.values;
  };
}

/** The SDK's per-variable completion callbacks of a template (its upstream URI template), each forwarded upstream. */
function templateCompletion(route: UpstreamRoute, uriTemplate: string) {
  const complete = completerFor(route, { type: 'ref/resource', uri: uriTemplate });
  if (!complete) return {};
  return {
    complete: Object.fromEntries(
      templateVariables(uriTemplate).map((variable) => [
        variable,
        (value: string, context?: { arguments?: Record<string, string> }) => complete(variable, value, context?.arguments),
      ]),
    ),
  };
}

/** An upstream prompt to register under the name this endpoint exposes it with. */
interface ExposedPrompt {
  /** The exposed name. */
  name: string;
  /** The prompt as the upstream listed it. */
  prompt: Prompt;
  /** Where getting and completing it go. */
  route: UpstreamRoute;
}

/** Registers one upstream prompt on `server`; getting it is forwarded to the upstream. */
function registerPrompt(server: McpServer, { name, prompt, route }: ExposedPrompt): RegisteredItem {
  const { supervisor } = route;
  const argsSchema = promptArgsSchema(prompt, completerFor(route, { type: 'ref/prompt', name: prompt.name }));
  const get = async (args: Record<string, string> | undefined, ctx: ServerContext) => {
    const connection = await route.connect();
    const params = { name: prompt.name, ...(args ? { arguments: args } : {}) };
    if (connection.era === 'modern')
      return inCallersName(connection, route, ctx, { method: 'prompts/get', params, schema: specTypeSchemas.GetPromptResult });
    return relayDuring(connection, route.owner, ctx, () =>
      connection.client.getPrompt(
        { name: prompt.name, ...(args ? { arguments: args } : {}) },
        relayRequestOptions(ctx, supervisor.config.timeoutMs),
      ),
    );
  };
  const forward = (args: Record<string, string> | undefined, ctx: ServerContext) =>
    route.rounds ? route.rounds(ctx, name, (requestContext) => get(args, requestContext)) : get(args, ctx);
  const meta = {
    ...(prompt.title ? { title: prompt.title } : {}),
    ...(prompt.description ? { description: prompt.description } : {}),
    ...(prompt.icons ? { icons: prompt.icons } : {}),
    ...(prompt._meta ? { _meta: prompt._meta } : {}),
  };
  const handle = argsSchema
    ? server.registerPrompt(name, { ...meta, argsSchema }, ((args: Record<string, string>, ctx: ServerContext) =>
        forward(args, ctx)) as never)
    : server.registerPrompt(name, meta, ((ctx: ServerContext) => forward(undefined, ctx)) as never);
  return { key: JSON.stringify([supervisor.name, prompt]), handle };
}

/** Options of {@link createInstanceItems}. */
export interface InstanceItemsOptions {
  /** Names, URIs and the access rule. */
  catalog: GatewayCatalog;
  /** Where reads, prompt gets, completions and subscriptions go. */
  access: Pick<UpstreamAccess, 'connectionFor' | 'release'>;
}

/** Answers `resources/subscribe` and `resources/unsubscribe` by subscribing upstream, per exposed URI. */
function installSubscriptionHandlers(server: McpServer, state: InstanceState, { catalog, access }: InstanceItemsOptions): void {
  server.server.setRequestHandler('resources/subscribe', async (request) => {
    const target = catalog.resolveUri(request.params.uri);
    if (!target) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown resource ${request.params.uri}`);
    if (state.subscriptions.has(request.params.uri)) return {};
    const connection = await access.connectionFor(state, target.supervisor);
    const exposed = request.params.uri;
    const unsubscribe = await connection.subscribe(
      target.uri,
      () => void server.server.sendResourceUpdated({ uri: exposed }).catch(() => undefined),
    );
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

/**
 * Installs every handler kind and the catalog's extra capabilities before the instance connects: the SDK cannot add
 * capabilities afterwards, and an upstream that is down when a session starts must still be able to bring its prompts
 * and resources in later.
 */
function prepareInstance(server: McpServer, state: InstanceState, options: InstanceItemsOptions): void {
  // What the upstreams running now offer beyond the core (MCP Apps and other extensions, experimental features) is
  // advertised as theirs: the SDK fixes an instance's capabilities when it connects.
  const { offered } = options.catalog.desired();
  server.server.registerCapabilities({
    prompts: { listChanged: true },
    resources: { listChanged: true, subscribe: true },
    completions: {},
    ...(offered.extensions ? { extensions: offered.extensions } : {}),
    ...(offered.experimental ? { experimental: offered.experimental } : {}),
  });
  const missing = installMcpServerRequestHandlers(server);
  if (missing) throw missing;
  installSubscriptionHandlers(server, state, options);
}

/**
 * The gateway's prompts and resources on each assembled instance. Unlike tools they are registered per instance, so
 * the SDK lists them and sends `list_changed`; {@link InstanceItems.sync} makes an instance match the catalog.
 */
export interface InstanceItems {
  /** Installs the handlers and capabilities; must run before the instance connects (see `prepareInstance`). */
  prepare(server: McpServer, state: InstanceState): void;
  /** Makes `server`'s prompts and resources match the catalog, as far as `caller` may see them. */
  sync(server: McpServer, state: InstanceState, caller: Caller): void;
  /** Ends the subscriptions and upstream connections of a closed instance. */
  release(state: InstanceState): void;
}

/** Builds the {@link InstanceItems} of one gateway endpoint. */
export function createInstanceItems(options: InstanceItemsOptions): InstanceItems {
  const { catalog, access } = options;
  const routeTo = (state: InstanceState, supervisor: UpstreamSupervisor): UpstreamRoute => ({
    supervisor,
    owner: state.relayOwner,
    ...(state.rounds ? { rounds: state.rounds } : {}),
    connect: () => access.connectionFor(state, supervisor),
    clientCapabilities: state.clientCapabilities,
  });

  /** Reads `uri` upstream; the contents keep their `_meta` and name their URIs as this endpoint exposes them. */
  function readUpstream(route: UpstreamRoute, uri: string, ctx: ServerContext) {
    return route.rounds ? route.rounds(ctx, uri, (requestContext) => read(route, uri, requestContext)) : read(route, uri, ctx);
  }

  async function read(route: UpstreamRoute, uri: string, ctx: ServerContext) {
    const { supervisor, connect, owner } = route;
    const connection = await connect();
    const result =
      connection.era === 'modern'
        ? await inCallersName<ReadResourceResult>(connection, route, ctx, {
            method: 'resources/read',
            params: { uri },
            schema: specTypeSchemas.ReadResourceResult,
          })
        : await relayDuring(connection, owner, ctx, () =>
            connection.client.readResource({ uri }, { ...relayRequestOptions(ctx, supervisor.config.timeoutMs), cacheMode: 'bypass' }),
          );
    if (catalog.only) return result;
    return { ...result, contents: result.contents.map((content) => ({ ...content, uri: catalog.exposeUri(supervisor, content.uri) })) };
  }

  /** Prompts the caller may use (checked with the access name of each), registered again when they changed. */
  function syncPrompts(server: McpServer, state: InstanceState, caller: Caller): void {
    const want = catalog.desired();
    removeStale(state.prompts, (name) => {
      const target = want.prompts.get(name);
      return target && JSON.stringify([target.supervisor.name, target.prompt]);
    });
    for (const [name, { supervisor, prompt }] of want.prompts) {
      if (state.prompts.has(name) || !catalog.mayUse(caller, supervisor, name)) continue;
      state.prompts.set(name, registerPrompt(server, { name, prompt, route: routeTo(state, supervisor) }));
    }
  }

  /**
   * Resources and templates, visible when the caller may use their server at all. Listed with everything the upstream
   * listed but its URI and name: `_meta` (an app's CSP and permissions), annotations, size, icons.
   */
  function syncResources(server: McpServer, state: InstanceState, caller: Caller): void {
    const want = catalog.desired();
    const wanted = new Map<string, string>();
    for (const [uri, entry] of want.resources) wanted.set(`r:${uri}`, JSON.stringify([entry.supervisor.name, entry.resource]));
    for (const [uriTemplate, entry] of want.templates)
      wanted.set(`t:${uriTemplate}`, JSON.stringify([entry.supervisor.name, entry.template]));
    removeStale(state.resources, (id) => wanted.get(id));
    for (const [uri, { supervisor, resource }] of want.resources) {
      const id = `r:${uri}`;
      if (state.resources.has(id) || !catalog.mayUseServer(caller, supervisor)) continue;
      const route = routeTo(state, supervisor);
      const { uri: _uri, name: _name, ...metadata } = resource;
      const handle = server.registerResource(catalog.resourceName(supervisor, resource.name), uri, metadata, async (_url, ctx) =>
        readUpstream(route, resource.uri, ctx),
      );
      state.resources.set(id, { key: wanted.get(id)!, handle });
    }
    for (const [uriTemplate, { supervisor, template }] of want.templates) {
      const id = `t:${uriTemplate}`;
      if (state.resources.has(id) || !catalog.mayUseServer(caller, supervisor)) continue;
      const route = routeTo(state, supervisor);
      const { uriTemplate: _uriTemplate, name: _name, ...metadata } = template;
      const handle = server.registerResource(
        catalog.resourceName(supervisor, template.name),
        new ResourceTemplate(uriTemplate, { list: undefined, ...templateCompletion(route, template.uriTemplate) }),
        metadata,
        async (url, _variables, ctx) => readUpstream(route, catalog.only ? url.href : (upstreamUri(url.href)?.uri ?? url.href), ctx),
      );
      state.resources.set(id, { key: wanted.get(id)!, handle });
    }
  }

  return {
    prepare: (server, state) => prepareInstance(server, state, options),
    sync(server, state, caller) {
      syncPrompts(server, state, caller);
      syncResources(server, state, caller);
    },
    release(state) {
      for (const end of state.subscriptions.values()) void end().catch(() => undefined);
      state.subscriptions.clear();
      access.release(state);
    },
  };
}
