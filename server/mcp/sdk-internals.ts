import type { ChildProcess } from 'node:child_process';
import type { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { JSONRPCMessage, JSONRPCRequest, McpServer, MessageExtraInfo, ServerContext } from '@modelcontextprotocol/server';

/**
 * The one module that touches members the MCP SDK does not export (the SDK version is pinned in package.json). Each
 * accessor checks that what it relies on is there and, when it is not, returns a {@link MissingSdkInternal} naming
 * it; the caller decides what that means (a speed-up left off, or a loud failure). Everything else in `server/`
 * goes through these accessors, never through a cast onto an SDK object.
 *
 * After an SDK upgrade, `test/unit/mcp/sdk-internals.test.ts` checks every entry of {@link SDK_INTERNALS} on the
 * installed SDK's real objects and names what went missing.
 */

/** One unexported SDK member this module relies on. */
export interface SdkInternal {
  /** The package whose class has it. */
  readonly package: '@modelcontextprotocol/server' | '@modelcontextprotocol/client';
  /** The class: `Protocol`, `Server` (a `Protocol`), `McpServer`, `StdioClientTransport`. */
  readonly owner: string;
  readonly member: string;
  /** `method`: a function on the instance; `field`: an instance property; `map`: an instance property holding a `Map`. */
  readonly kind: 'method' | 'field' | 'map';
}

const SERVER_PACKAGE = '@modelcontextprotocol/server';
const CLIENT_PACKAGE = '@modelcontextprotocol/client';

/** Every unexported SDK member used by the server: this module's accessors use these and nothing else. */
export const SDK_INTERNALS: readonly SdkInternal[] = Object.freeze([
  { package: SERVER_PACKAGE, owner: 'Protocol', member: '_onrequest', kind: 'method' },
  { package: SERVER_PACKAGE, owner: 'Protocol', member: '_onnotification', kind: 'method' },
  { package: SERVER_PACKAGE, owner: 'Protocol', member: '_onresponse', kind: 'method' },
  { package: SERVER_PACKAGE, owner: 'Protocol', member: '_onerror', kind: 'method' },
  { package: SERVER_PACKAGE, owner: 'Server', member: '_requestHandlers', kind: 'map' },
  { package: SERVER_PACKAGE, owner: 'Server', member: '_wrapHandler', kind: 'method' },
  { package: SERVER_PACKAGE, owner: 'Server', member: '_servedModernEra', kind: 'method' },
  // Set by `initialize` (and by a 2026-era transport on connect); absent before.
  { package: SERVER_PACKAGE, owner: 'Server', member: '_negotiatedProtocolVersion', kind: 'field' },
  { package: SERVER_PACKAGE, owner: 'McpServer', member: 'setPromptRequestHandlers', kind: 'method' },
  { package: SERVER_PACKAGE, owner: 'McpServer', member: 'setResourceRequestHandlers', kind: 'method' },
  { package: SERVER_PACKAGE, owner: 'McpServer', member: 'setCompletionRequestHandler', kind: 'method' },
  // Asked by the SDK's HTTP entry before dispatching a 2026-07-28 `tools/call` (its SEP-2243 `Mcp-Param-*` check).
  { package: SERVER_PACKAGE, owner: 'McpServer', member: 'toolInputSchemaJson', kind: 'method' },
  { package: CLIENT_PACKAGE, owner: 'StdioClientTransport', member: '_process', kind: 'field' },
  // Read through `append`, `readMessage` and `clear` by the transport's `start`, `close` and `processReadBuffer`.
  { package: CLIENT_PACKAGE, owner: 'StdioClientTransport', member: '_readBuffer', kind: 'field' },
] satisfies SdkInternal[]);

/** What an accessor returns when the installed SDK lacks a member it relies on. */
export class MissingSdkInternal extends Error {
  constructor(
    /** The SDK class, e.g. `Server`. */
    readonly owner: string,
    /** The member, e.g. `_wrapHandler` (several, comma-separated, when more than one is missing). */
    readonly member: string,
    sdkPackage: string = SERVER_PACKAGE,
  ) {
    super(
      `${sdkPackage}: ${owner}.${member} is missing or has changed shape (server/mcp/sdk-internals.ts relies on it; was the SDK upgraded?)`,
    );
    this.name = 'MissingSdkInternal';
  }
}

/** The names among `members` that are not functions on `target`. */
function missingMethods(target: Record<string, unknown>, members: readonly string[]): string[] {
  return members.filter((member) => typeof target[member] !== 'function');
}

// --- Protocol: message dispatch -----------------------------------------------------------------------------------

/** The `Protocol` methods its own `onmessage` hands each message to, by kind. */
interface ProtocolDispatchMembers {
  _onrequest(message: JSONRPCMessage, extra?: MessageExtraInfo): void;
  _onnotification(message: JSONRPCMessage, extra?: MessageExtraInfo): void;
  _onresponse(message: JSONRPCMessage): void;
  _onerror(error: Error): void;
}

/** Where a `Protocol` (a `Server` or `Client`) takes each kind of message its transport delivers. */
export interface ProtocolMessageHandlers {
  /** A request: its handler runs and its answer is sent. */
  request(message: JSONRPCMessage, extra?: MessageExtraInfo): void;
  /** A notification: its handler, if any, runs. */
  notification(message: JSONRPCMessage, extra?: MessageExtraInfo): void;
  /** A result or error response to one of the protocol's own requests. */
  response(message: JSONRPCMessage): void;
  /** Reported through the protocol's `onerror`, as its own dispatch reports a message of no known kind. */
  error(error: Error): void;
}

/** One object per protocol instance; its methods are shared, so a session costs one small object. */
class ProtocolDispatchView implements ProtocolMessageHandlers {
  constructor(private readonly target: ProtocolDispatchMembers) {}
  request(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    this.target._onrequest(message, extra);
  }
  notification(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    this.target._onnotification(message, extra);
  }
  response(message: JSONRPCMessage): void {
    this.target._onresponse(message);
  }
  error(error: Error): void {
    this.target._onerror(error);
  }
}

/** The message handlers of `protocol` (an SDK `Protocol`: `Server` or `Client`). */
export function protocolMessageHandlers(protocol: object): ProtocolMessageHandlers | MissingSdkInternal {
  const missing = missingMethods(protocol as Record<string, unknown>, ['_onrequest', '_onnotification', '_onresponse', '_onerror']);
  if (missing.length > 0) return new MissingSdkInternal('Protocol', missing.join(', '));
  return new ProtocolDispatchView(protocol as ProtocolDispatchMembers);
}

// --- Server: stored request handlers ------------------------------------------------------------------------------

/** A request handler as the SDK's `Protocol` stores and calls it (after `setRequestHandler`'s wrapping). */
export type StoredRequestHandler = (request: JSONRPCRequest, ctx: ServerContext) => Promise<unknown>;

interface ServerRequestMembers {
  _requestHandlers: Map<string, StoredRequestHandler>;
  _wrapHandler(method: string, handler: (request: JSONRPCRequest, ctx: ServerContext) => unknown): StoredRequestHandler;
  _servedModernEra(): boolean;
  _negotiatedProtocolVersion?: string;
}

/** A `Server`'s request handling below `setRequestHandler`. */
export interface ServerRequestInternals {
  /** The stored (wrapped) handler of `method`, if any. */
  storedHandler(method: string): StoredRequestHandler | undefined;
  /** Stores `handler` for `method` as it is: it runs in place of the wrapped one, with no params parse. */
  replaceStoredHandler(method: string, handler: StoredRequestHandler): void;
  /** Wraps `handler` as `setRequestHandler` does (params parse, result handling for the session's era). */
  wrapHandler(method: string, handler: (request: JSONRPCRequest, ctx: ServerContext) => unknown): StoredRequestHandler;
  /** The protocol version `initialize` settled on; `undefined` before it. */
  negotiatedProtocolVersion(): string | undefined;
  /** Whether the server speaks the 2026-era (stateless) protocol on this connection. */
  servesModernEra(): boolean;
}

class ServerRequestView implements ServerRequestInternals {
  constructor(private readonly target: ServerRequestMembers) {}
  storedHandler(method: string): StoredRequestHandler | undefined {
    return this.target._requestHandlers.get(method);
  }
  replaceStoredHandler(method: string, handler: StoredRequestHandler): void {
    this.target._requestHandlers.set(method, handler);
  }
  wrapHandler(method: string, handler: (request: JSONRPCRequest, ctx: ServerContext) => unknown): StoredRequestHandler {
    return this.target._wrapHandler(method, handler);
  }
  negotiatedProtocolVersion(): string | undefined {
    return this.target._negotiatedProtocolVersion;
  }
  servesModernEra(): boolean {
    return this.target._servedModernEra();
  }
}

/** The request-handling internals of `server` (an SDK `Server`, e.g. `McpServer.server`). */
export function serverRequestInternals(server: object): ServerRequestInternals | MissingSdkInternal {
  const target = server as Record<string, unknown>;
  const missing = missingMethods(target, ['_wrapHandler', '_servedModernEra']);
  if (!(target._requestHandlers instanceof Map)) missing.unshift('_requestHandlers');
  if (missing.length > 0) return new MissingSdkInternal('Server', missing.join(', '));
  return new ServerRequestView(server as ServerRequestMembers);
}

// --- McpServer: its own prompts, resources and completion handlers ------------------------------------------------

const MCP_SERVER_HANDLER_INSTALLERS = ['setPromptRequestHandlers', 'setResourceRequestHandlers', 'setCompletionRequestHandler'] as const;

/**
 * Installs `McpServer`'s own `prompts/*`, `resources/*` and `completion/complete` handlers (and their capabilities)
 * now, as its first `registerPrompt` / `registerResource` would. Returns what is missing instead when the SDK lacks
 * one of its installers; nothing is installed then.
 */
export function installMcpServerRequestHandlers(server: McpServer): MissingSdkInternal | undefined {
  const target = server as unknown as Record<(typeof MCP_SERVER_HANDLER_INSTALLERS)[number], () => void>;
  const missing = missingMethods(target, MCP_SERVER_HANDLER_INSTALLERS);
  if (missing.length > 0) return new MissingSdkInternal('McpServer', missing.join(', '));
  for (const installer of MCP_SERVER_HANDLER_INSTALLERS) target[installer]();
  return undefined;
}

/**
 * Makes `server` answer the question the SDK's HTTP entry asks before it dispatches a 2026-07-28 `tools/call` —
 * which JSON Schema does the named tool take, for its SEP-2243 `Mcp-Param-*` header check — from `lookup`: our tools
 * are served by our own `tools/call` handler, not registered with `registerTool`, so the SDK would find none and
 * check nothing. Returns what is missing, replacing nothing, when the SDK no longer asks through that method.
 */
export function serveToolInputSchemas(
  server: McpServer,
  lookup: (name: string) => Record<string, unknown> | undefined,
): MissingSdkInternal | undefined {
  const target = server as unknown as { toolInputSchemaJson?: unknown };
  if (typeof target.toolInputSchemaJson !== 'function') return new MissingSdkInternal('McpServer', 'toolInputSchemaJson');
  target.toolInputSchemaJson = lookup;
  return undefined;
}

// --- StdioClientTransport: child process and read buffer ----------------------------------------------------------

/** The SDK stdio transport's `ReadBuffer` contract: newline-delimited JSON-RPC from the child's stdout. */
export interface StdioReadBuffer {
  /** Bytes read from stdout; throws when too much is held without a newline (the transport then closes). */
  append(chunk: Buffer): void;
  /** The next complete message, or `null`; throws for a line that is not a message (reported through `onerror`). */
  readMessage(): JSONRPCMessage | null;
  /** Drops everything held (the transport is closing). */
  clear(): void;
}

interface StdioTransportMembers {
  _process?: ChildProcess;
  _readBuffer?: { append?: unknown; readMessage?: unknown; clear?: unknown } | StdioReadBuffer;
}

/**
 * Makes `transport` read its child's stdout through `buffer` instead of its own `ReadBuffer`. Returns what is
 * missing, replacing nothing, when the transport no longer reads through one.
 */
export function replaceStdioReadBuffer(transport: StdioClientTransport, buffer: StdioReadBuffer): MissingSdkInternal | undefined {
  const target = transport as unknown as StdioTransportMembers;
  const current = target._readBuffer as Record<string, unknown> | undefined;
  if (typeof current !== 'object' || current === null || missingMethods(current, ['append', 'readMessage', 'clear']).length > 0) {
    return new MissingSdkInternal('StdioClientTransport', '_readBuffer (append, readMessage, clear)', CLIENT_PACKAGE);
  }
  target._readBuffer = buffer;
  return undefined;
}

/** The child process of a started stdio transport (`undefined` before `start` and after the child closed). */
export function stdioChildProcess(transport: StdioClientTransport): ChildProcess | undefined {
  return (transport as unknown as StdioTransportMembers)._process;
}
