import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { Config } from '../../server/config/schema.js';
import type { BusEvent } from '../../server/events/bus.js';
import { startMockAnthropicApi, type MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import { createClaudeSandbox, type ClaudeSandbox } from './claude-env.js';
import { startTestServer, type TestServer } from './test-server.js';

/** What a Claude tool test works with: the mock API, the sandbox, a real server and a connected v2 client. */
export interface ClaudeHarness {
  mock: MockAnthropicApi;
  sandbox: ClaudeSandbox;
  server: TestServer;
  client: Client;
  /** Every bus event the server emitted, in order. */
  events: BusEvent[];
  /** Closes the client, the server and the mock, and removes the sandbox. */
  stop(): Promise<void>;
}

/** Options of {@link startClaudeHarness}. */
export interface ClaudeHarnessOptions {
  /** Config overrides on top of `workspaceRoots: [sandbox.workspace]`. */
  config?: Partial<Config>;
  /** Extra variables in the server's environment for Claude (e.g. server secrets that must not reach the child). */
  extraEnvironment?: Record<string, string>;
  /** Runs after the sandbox exists and before the server starts (agent files, marketplaces, project folders). */
  prepare?: (sandbox: ClaudeSandbox) => void;
  clientName?: string;
}

/** Starts the mock Messages API, a sandbox for the binary, a real server on 127.0.0.1:0 and a client connected to it. */
export async function startClaudeHarness(options: ClaudeHarnessOptions = {}): Promise<ClaudeHarness> {
  const mock = await startMockAnthropicApi();
  const sandbox = createClaudeSandbox(mock.url);
  options.prepare?.(sandbox);
  const server = await startTestServer(
    { workspaceRoots: [sandbox.workspace], ...options.config },
    { claudeEnvironment: { ...sandbox.env, ...options.extraEnvironment } },
  );
  const events: BusEvent[] = [];
  server.container.events.onAny((event) => void events.push(event));
  const client = new Client({ name: options.clientName ?? 'claude-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.mcpUrl)));
  return {
    mock,
    sandbox,
    server,
    client,
    events,
    async stop() {
      await client.close();
      await server.stop();
      await mock.close();
      sandbox.remove();
    },
  };
}

/** A tool result as the Claude tool tests read it. */
export interface ToolResult {
  isError?: boolean;
  content?: Array<{ type: string; text?: string }>;
  structuredContent?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}

/**
 * What a Claude tool answered, success or failure: `structuredContent`, or for an error result the details the
 * server puts under `_meta["claude-code-mcp/error"]` (`{ error: { category, message }, ...partial figures }`).
 */
export function structuredOf(result: { structuredContent?: unknown; _meta?: unknown }): Record<string, unknown> {
  if (result.structuredContent) return result.structuredContent as Record<string, unknown>;
  const meta = result._meta as Record<string, unknown> | undefined;
  return (meta?.['claude-code-mcp/error'] as Record<string, unknown> | undefined) ?? {};
}

/** The structured result of claude_ask / claude_plan / claude_resume. */
export type RunStructured = {
  result: string;
  sessionId: string;
  isError: boolean;
  subtype: string;
  numTurns: number;
  costUsd: number;
  permissionDenials: Array<{ toolName: string }>;
  forkedFrom?: string;
  workingDirectory: string;
  error?: { category: string; message: string };
};
