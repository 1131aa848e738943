import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The gateway's upstream file (`MCP_CONFIG_PATH`): the `mcpServers` format of `claude_desktop_config.json`, so an
 * existing desktop file works unchanged, plus optional fields of ours. Published as `mcp_config.schema.json`
 * (generated from this schema by `npm run docs:config`).
 */

/** MCP server names become tool-name prefixes, URL path segments and subdomains: keep them to a safe alphabet. */
const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$/;

const positiveMs = (max: number) => z.number().int().min(1).max(max);

const common = {
  /** Set to `false` to keep an entry in the file without starting it. */
  enabled: z.boolean().default(true).describe('Start this server (false keeps the entry without running it).'),
  /** `shared`: one upstream connection for every client session; `session`: one per client session. */
  isolation: z
    .enum(['shared', 'session'])
    .default('shared')
    .describe('shared: one upstream for all sessions; session: one upstream per client session.'),
  /** Connect timeout and the default time limit of one forwarded request. */
  timeoutMs: positiveMs(3_600_000).default(30_000).describe('Connect timeout, and the time limit of one forwarded request, in ms.'),
  /** A start (spawn or connect, `initialize`, first listings) may take this long instead of `timeoutMs`. */
  startTimeoutMs: positiveMs(3_600_000)
    .optional()
    .describe(
      'Longest a start (spawn or connect, initialize, first listings) may take, in ms; default timeoutMs. Set it when calls get a short timeoutMs.',
    ),
  healthCheck: z
    .object({
      intervalMs: positiveMs(86_400_000).default(30_000).describe('Ping interval in ms.'),
      failures: z.number().int().min(1).max(100).default(3).describe('Consecutive failed pings that trigger a restart.'),
    })
    .default({ intervalMs: 30_000, failures: 3 })
    .describe('Health ping of a running upstream.'),
  restart: z
    .object({
      max: z.number().int().min(0).max(100).default(3).describe('Most restarts within windowMs before the server is marked failed.'),
      windowMs: positiveMs(86_400_000).default(300_000).describe('Window of the restart limit in ms.'),
      backoff: positiveMs(600_000).default(1_000).describe('First restart delay in ms; doubles with every restart in the window.'),
    })
    .default({ max: 3, windowMs: 300_000, backoff: 1_000 })
    .describe('Restart policy after a crash or failed health checks.'),
  tools: z
    .object({
      allow: z.array(z.string().min(1)).optional().describe('Glob patterns of upstream tool names to expose (default all).'),
      deny: z.array(z.string().min(1)).optional().describe('Glob patterns of upstream tool names to hide.'),
    })
    .optional()
    .describe('Which of the upstream tools are exposed (patterns match the upstream names, `*` any run of characters).'),
  /**
   * Replaces the server name in aggregated names (`{prefix}__{tool}`). `false`: the aggregated endpoint serves this
   * server's tools, prompts and resources under their own names and URIs (access rules still name them
   * `{server}__{tool}`; a name another tool already has stays with that tool).
   */
  prefix: z
    .union([
      z.string().regex(SERVER_NAME, { error: 'expected 1-48 characters of A-Za-z0-9_.- starting with a letter or digit' }),
      z.literal(false),
    ])
    .optional()
    .describe(
      "Prefix of this server's tools on the aggregated endpoint instead of its name; false: its own names and URIs there (access rules still use {server}__{tool}).",
    ),
  /** Tool and prompt names with hyphens become snake_case (`get-file` -> `get_file`); calls use the original name. */
  normalizeNames: z
    .boolean()
    .default(false)
    .describe('Expose tool and prompt names with hyphens as snake_case (calls are forwarded with the original names).'),
  /** Readiness (`/health/ready`) waits for it. */
  required: z.boolean().default(false).describe('Readiness waits until this server is up.'),
  /**
   * Declare the roots capability to this server and relay its `roots/list` to the client whose call is waiting. Off by
   * default: a shared upstream would see the roots of each caller in turn (set `isolation: "session"` where they
   * must stay apart).
   */
  roots: z
    .boolean()
    .default(false)
    .describe(
      "Declare roots to this server and relay its roots/list to the calling client (with isolation shared it sees each caller's roots in turn).",
    ),
  /**
   * `legacy`: the 2025-era `initialize` handshake, which every server speaks (2026-07-28 servers too). `auto`: ask
   * with `server/discover` first and speak 2026-07-28 when the server does: each request then carries its caller's
   * capabilities, and the server's `input_required` rounds and tasks reach the caller as the server shaped them.
   */
  protocol: z
    .enum(['legacy', 'auto'])
    .default('legacy')
    .describe(
      'legacy: the 2025-era initialize handshake. auto: probe with server/discover and speak 2026-07-28 to a server that does (falls back to legacy).',
    ),
};

const stdioServerSchema = z
  .object({
    command: z.string().min(1, { error: 'expected the executable to run' }).describe('Executable to start (no shell).'),
    args: z.array(z.string()).default([]).describe('Arguments, passed as an array (never through a shell).'),
    env: z.record(z.string(), z.string()).default({}).describe('Environment of the server, on top of the allow-listed base environment.'),
    cwd: z.string().min(1).optional().describe('Working directory.'),
    ...common,
  })
  .strict();

const remoteServerSchema = z
  .object({
    url: z
      .url({ protocol: /^https?$/, error: (issue) => `expected an absolute http(s) URL, got ${JSON.stringify(issue.input)}` })
      .describe('Endpoint of a remote MCP server.'),
    transport: z.enum(['http', 'sse']).default('http').describe('http: Streamable HTTP; sse: the 2024-11-05 HTTP+SSE transport.'),
    headers: z
      .record(z.string(), z.string())
      .default({})
      .describe("Headers sent to the upstream (its own credentials). A client's token is never forwarded."),
    ...common,
  })
  .strict();

/** One upstream server entry. */
export const upstreamServerSchema = z.union([stdioServerSchema, remoteServerSchema]);

/** The whole file. */
export const gatewayFileSchema = z
  .object({
    $schema: z.string().optional(),
    mcpServers: z
      .record(
        z.string().regex(SERVER_NAME, { error: 'server names are 1-48 characters of A-Za-z0-9_.- starting with a letter or digit' }),
        upstreamServerSchema,
      )
      .default({})
      .describe('Upstream MCP servers by name.'),
  })
  .describe('claude-code-mcp gateway configuration (claude_desktop_config.json mcpServers format plus optional fields).');

/** A stdio upstream after validation. */
export type StdioServerConfig = z.infer<typeof stdioServerSchema>;
/** A remote (Streamable HTTP or SSE) upstream after validation. */
export type RemoteServerConfig = z.infer<typeof remoteServerSchema>;
/** One upstream after validation. */
export type UpstreamServerConfig = StdioServerConfig | RemoteServerConfig;
/** The validated file. */
export type GatewayConfig = Readonly<{ mcpServers: Readonly<Record<string, UpstreamServerConfig>> }>;

/** True for stdio entries. */
export function isStdio(server: UpstreamServerConfig): server is StdioServerConfig {
  return 'command' in server;
}

/** The file is unreadable, not JSON, or does not validate; the message names the server and field. */
export class GatewayConfigError extends Error {
  override readonly name = 'GatewayConfigError';
}

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Expands `${VAR}` and `${VAR:-default}` in every string of `value` (keys are left alone). An unset variable without
 * a default is an error, so a missing secret is noticed at load rather than sent as an empty header.
 */
export function expandVariables(value: unknown, env: Readonly<Record<string, string | undefined>>, path: string[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(VARIABLE, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      throw new GatewayConfigError(
        `${describePath(path)}: environment variable ${name} is not set (use \${${name}:-default} for a default)`,
      );
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => expandVariables(item, env, [...path, String(index)]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, expandVariables(item, env, [...path, key])]));
  }
  return value;
}

function describePath(path: readonly (string | number | symbol)[]): string {
  const parts = path.map(String);
  if (parts[0] === 'mcpServers' && parts.length > 1) {
    const field = parts.slice(2).join('.');
    return `mcpServers.${parts[1]}${field ? `: ${field}` : ''}`;
  }
  return parts.join('.') || '(file)';
}

/** Validates an already-parsed document (after expansion). Errors name the server and field. */
export function parseGatewayConfig(document: unknown, env: Readonly<Record<string, string | undefined>> = {}): GatewayConfig {
  if (!document || typeof document !== 'object' || Array.isArray(document))
    throw new GatewayConfigError('expected a JSON object with "mcpServers"');
  const servers = (document as { mcpServers?: unknown }).mcpServers;
  // Union errors are unreadable ("invalid input"): pick the branch by its discriminating field for precise messages.
  if (servers && typeof servers === 'object' && !Array.isArray(servers)) {
    for (const [name, entry] of Object.entries(servers as Record<string, unknown>)) {
      if (!SERVER_NAME.test(name))
        throw new GatewayConfigError(
          `mcpServers.${name}: server names are 1-48 characters of A-Za-z0-9_.- starting with a letter or digit`,
        );
      if (!entry || typeof entry !== 'object' || Array.isArray(entry))
        throw new GatewayConfigError(`mcpServers.${name}: expected an object`);
      const hasCommand = 'command' in entry;
      const hasUrl = 'url' in entry;
      if (hasCommand === hasUrl)
        throw new GatewayConfigError(`mcpServers.${name}: expected exactly one of "command" (stdio) or "url" (remote)`);
      const schema = hasCommand ? stdioServerSchema : remoteServerSchema;
      const result = schema.safeParse(expandVariables(entry, env, ['mcpServers', name]));
      if (!result.success) throw new GatewayConfigError(formatIssues(result.error, ['mcpServers', name]));
    }
  }
  const expanded = expandVariables(document, env);
  const result = gatewayFileSchema.safeParse(expanded);
  if (!result.success) throw new GatewayConfigError(formatIssues(result.error, []));
  return Object.freeze({ mcpServers: Object.freeze(result.data.mcpServers) });
}

function formatIssues(error: z.ZodError, prefix: string[]): string {
  return error.issues
    .map((issue) => {
      const path = [...prefix, ...issue.path.map(String)];
      const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
      return `${describePath(path)}: ${message}`;
    })
    .join('; ');
}

/** Reads and validates `file`; a missing file means no upstreams. */
export function loadGatewayConfig(file: string, env: Readonly<Record<string, string | undefined>>): GatewayConfig {
  if (!existsSync(file)) return Object.freeze({ mcpServers: Object.freeze({}) });
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new GatewayConfigError(`${file}: ${(error as Error).message}`);
  }
  try {
    return parseGatewayConfig(document, env);
  } catch (error) {
    if (error instanceof GatewayConfigError) throw new GatewayConfigError(`${file}: ${error.message}`);
    throw error;
  }
}

/** The published JSON Schema of the file (`mcp_config.schema.json`). */
export function gatewayJsonSchema(): Record<string, unknown> {
  return {
    ...(z.toJSONSchema(gatewayFileSchema, { io: 'input' }) as Record<string, unknown>),
    $id: 'https://github.com/claude-code-mcp/claude-code-mcp/mcp_config.schema.json',
    title: 'claude-code-mcp mcp_config.json',
  };
}
