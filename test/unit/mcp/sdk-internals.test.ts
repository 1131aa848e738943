import { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { McpServer, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/server';
import {
  installMcpServerRequestHandlers,
  MissingSdkInternal,
  protocolMessageHandlers,
  replaceStdioReadBuffer,
  SDK_INTERNALS,
  serverRequestInternals,
  type SdkInternal,
} from '../../../server/mcp/sdk-internals.js';

const MODULE = 'server/mcp/sdk-internals.ts';

/** The installed version of an SDK package (its package.json is not in its exports, so read from node_modules). */
function installedVersion(sdkPackage: string): string {
  return (JSON.parse(readFileSync(path.resolve('node_modules', sdkPackage, 'package.json'), 'utf8')) as { version: string }).version;
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
} as JSONRPCMessage;

/** The SDK's real objects, as the server uses them. */
const real: { mcp?: McpServer; initialized?: McpServer; stdio?: StdioClientTransport; started?: StdioClientTransport } = {};

beforeAll(async () => {
  real.mcp = new McpServer({ name: 's', version: '1' }, { capabilities: { tools: {} } });
  real.initialized = new McpServer({ name: 's', version: '1' }, { capabilities: { tools: {} } });
  const transport: Transport = { async start() {}, async close() {}, async send() {} };
  await real.initialized.connect(transport);
  transport.onmessage!(INITIALIZE);
  await new Promise((resolve) => setTimeout(resolve, 20));
  real.stdio = new StdioClientTransport({ command: process.execPath, args: ['-e', 'process.stdin.resume()'] });
  real.started = new StdioClientTransport({ command: process.execPath, args: ['-e', 'process.stdin.resume()'] });
  await real.started.start();
});

afterAll(async () => {
  await real.initialized?.close();
  await real.started?.close();
});

const member = (target: unknown, name: string) => (target as Record<string, unknown>)[name];
const isFunction = (target: unknown, name: string) => typeof member(target, name) === 'function';

/** How each internal is probed on the real objects: what the accessors rely on, not only that a name exists. */
const PROBES: Record<string, () => boolean> = {
  'Protocol._onrequest': () => isFunction(real.mcp!.server, '_onrequest'),
  'Protocol._onnotification': () => isFunction(real.mcp!.server, '_onnotification'),
  'Protocol._onresponse': () => isFunction(real.mcp!.server, '_onresponse'),
  'Protocol._onerror': () => isFunction(real.mcp!.server, '_onerror'),
  'Server._requestHandlers': () => {
    const handlers = member(real.mcp!.server, '_requestHandlers');
    return handlers instanceof Map && typeof handlers.get('initialize') === 'function';
  },
  'Server._wrapHandler': () => isFunction(real.mcp!.server, '_wrapHandler'),
  'Server._servedModernEra': () => isFunction(real.mcp!.server, '_servedModernEra'),
  'Server._negotiatedProtocolVersion': () => member(real.initialized!.server, '_negotiatedProtocolVersion') === '2025-11-25',
  'McpServer.setPromptRequestHandlers': () => isFunction(real.mcp, 'setPromptRequestHandlers'),
  'McpServer.setResourceRequestHandlers': () => isFunction(real.mcp, 'setResourceRequestHandlers'),
  'McpServer.setCompletionRequestHandler': () => isFunction(real.mcp, 'setCompletionRequestHandler'),
  // A method the SDK's HTTP entry calls by name: it must still answer undefined for a tool nobody registered.
  'McpServer.toolInputSchemaJson': () =>
    isFunction(real.mcp, 'toolInputSchemaJson') &&
    (real.mcp as unknown as { toolInputSchemaJson(name: string): unknown }).toolInputSchemaJson('none') === undefined,
  'StdioClientTransport._process': () => '_process' in real.stdio! && member(real.started, '_process') instanceof ChildProcess,
  'StdioClientTransport._readBuffer': () => {
    const buffer = member(real.stdio, '_readBuffer');
    return ['append', 'readMessage', 'clear'].every((name) => isFunction(buffer, name));
  },
};

describe('SDK internals on the installed SDK', () => {
  it.each(SDK_INTERNALS.map((internal) => [`${internal.owner}.${internal.member}`, internal] as const))(
    '%s is there',
    (_name, internal: SdkInternal) => {
      const probe = PROBES[`${internal.owner}.${internal.member}`];
      if (!probe) throw new Error(`${MODULE} lists ${internal.owner}.${internal.member}: add a probe for it to this test`);
      if (!probe()) {
        throw new Error(
          `${internal.package} ${installedVersion(internal.package)}: ${internal.owner}.${internal.member} (${internal.kind}) is missing or has ` +
            `changed shape. ${MODULE} relies on it: rework the accessor that uses it for this SDK version.`,
        );
      }
    },
  );

  it('lists every internal it probes, and nothing it does not', () => {
    expect(Object.keys(PROBES).sort()).toEqual(SDK_INTERNALS.map((internal) => `${internal.owner}.${internal.member}`).sort());
  });

  it('lists every underscored member its own source touches', () => {
    const source = readFileSync(path.resolve(MODULE), 'utf8');
    const touched = new Set(source.match(/\b_[a-z][A-Za-z]+\b/g));
    const listed = new Set(SDK_INTERNALS.map((internal) => internal.member));
    expect([...touched].filter((name) => !listed.has(name))).toEqual([]);
  });

  it('is the only module of server/ that names them', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const file = path.join(dir, entry);
        if (statSync(file).isDirectory()) walk(file);
        else if (file.endsWith('.ts') && file !== path.resolve(MODULE)) files.push(file);
      }
    };
    walk(path.resolve('server'));
    const pattern = new RegExp(`\\b(${SDK_INTERNALS.map((internal) => internal.member).join('|')})\\b`);
    const offenders = files.filter((file) => pattern.test(readFileSync(file, 'utf8'))).map((file) => path.relative(process.cwd(), file));
    expect(offenders).toEqual([]);
  });
});

describe('SDK internals accessors', () => {
  it('give typed views of the real objects', () => {
    expect(protocolMessageHandlers(real.mcp!.server)).not.toBeInstanceOf(MissingSdkInternal);
    const server = serverRequestInternals(real.initialized!.server);
    if (server instanceof MissingSdkInternal) throw server;
    expect(server.negotiatedProtocolVersion()).toBe('2025-11-25');
    expect(server.servesModernEra()).toBe(false);
    expect(typeof server.storedHandler('initialize')).toBe('function');
    expect(installMcpServerRequestHandlers(new McpServer({ name: 's', version: '1' }))).toBeUndefined();
    const transport = new StdioClientTransport({ command: process.execPath });
    expect(replaceStdioReadBuffer(transport, { append() {}, readMessage: () => null, clear() {} })).toBeUndefined();
  });

  it('say what is missing, and change nothing, on objects without the members', () => {
    expect(protocolMessageHandlers({})).toEqual(
      expect.objectContaining({ owner: 'Protocol', member: '_onrequest, _onnotification, _onresponse, _onerror' }),
    );
    const partial = { _requestHandlers: new Map(), _wrapHandler() {} };
    expect(serverRequestInternals(partial)).toEqual(expect.objectContaining({ owner: 'Server', member: '_servedModernEra' }));
    const missing = installMcpServerRequestHandlers({} as McpServer);
    expect(missing?.message).toMatch(
      /@modelcontextprotocol\/server: McpServer\.setPromptRequestHandlers, setResourceRequestHandlers, setCompletionRequestHandler is missing/,
    );
    const bare = {} as StdioClientTransport;
    expect(replaceStdioReadBuffer(bare, { append() {}, readMessage: () => null, clear() {} })).toBeInstanceOf(MissingSdkInternal);
    expect(bare).toEqual({});
  });
});
