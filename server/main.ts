#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import {
  clientsList,
  clientsRevoke,
  keysCreate,
  keysList,
  keysRevoke,
  requireDurableStorage,
  usersAdd,
  usersList,
  usersRemove,
  type AuthCommandContext,
} from './cli/auth-commands.js';
import { backgroundStatus, startInBackground, stopBackground, type CommandResult } from './cli/background.js';
import { webhooksDlq, webhooksList, webhooksReplay } from './cli/webhook-commands.js';
import { clearState, processFiles, writeState } from './cli/process-files.js';
import { describeConfig } from './config/describe.js';
import { claudeChildEnvironment } from './config/child-env.js';
import { probeSandbox } from './claude/sandbox.js';
import { gatewayVariables } from './config/gateway-env.js';
import { ConfigError, kebab, loadConfig, type LoadedConfig } from './config/load.js';
import type { ConfigKey } from './config/schema.js';
import { buildStorage } from './container.js';
import { GatewayConfigError, isStdio, loadGatewayConfig } from './gateway/config.js';
import { createLogger, type Logger } from './logging/logger.js';
import { startHttpServer, startStdioServer } from './runtime.js';
import { VERSION } from './version.js';

/** Settings that have a CLI flag (highest precedence). Every other setting comes from the file or environment. */
const FLAG_KEYS: ConfigKey[] = ['port', 'host', 'baseUrl', 'dataDir', 'storage', 'logLevel', 'logFormat', 'mcpPathPrefix'];

interface GlobalOptions extends Partial<Record<ConfigKey, string>> {
  config?: string;
}

function load(options: GlobalOptions): LoadedConfig {
  const flags: Partial<Record<ConfigKey, string>> = {};
  for (const key of FLAG_KEYS) if (options[key] !== undefined) flags[key] = options[key];
  return loadConfig({ configPath: options.config, flags });
}

/** Flags to hand to a background `serve`, so it sees the same configuration. */
function passThrough(options: GlobalOptions): string[] {
  const args: string[] = [];
  if (options.config) args.push('--config', options.config);
  for (const key of FLAG_KEYS) if (options[key] !== undefined) args.push(`--${kebab(key)}`, options[key]!);
  return args;
}

/**
 * Installs SIGINT/SIGTERM handling once: the first signal starts a graceful stop bounded by SHUTDOWN_TIMEOUT_MS,
 * a second one exits at once.
 */
function onShutdownSignals(logger: Logger, timeoutMs: number, stop: (reason: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn('second signal: exiting now', { signal });
      process.exit(130);
    }
    stopping = true;
    logger.info('shutting down', { signal });
    const force = setTimeout(() => {
      logger.error('shutdown timed out; exiting', { timeoutMs, category: 'internal' });
      process.exit(1);
    }, timeoutMs);
    force.unref();
    stop(signal).then(
      () => logger.end(() => process.exit(0)),
      (error: unknown) => {
        logger.error('shutdown failed', { error, category: 'internal' });
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: with the listener gone a repeated signal would kill the process by default, unlogged.
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

async function serve(options: GlobalOptions): Promise<void> {
  const { config } = load(options);
  if (config.transport === 'stdio') return stdio(options);
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, defaultMeta: { service: 'claude-code-mcp' } });
  // The first-start admin password goes to the terminal, not into log files that get shipped elsewhere.
  const running = await startHttpServer(config, { logger, announce: (text) => process.stderr.write(`\n${text}\n\n`) });
  const files = processFiles(config.dataDir);
  writeState(files, {
    pid: process.pid,
    url: running.url,
    mcpUrl: `${running.url}${config.mcpPathPrefix}/mcp`,
    version: VERSION,
    startedAt: new Date().toISOString(),
  });
  onShutdownSignals(logger, config.shutdownTimeoutMs, async (reason) => {
    await running.close(reason);
    clearState(files, process.pid);
  });
  // SIGHUP re-reads MCP_CONFIG_PATH (never exits): only changed upstreams are started, stopped or restarted.
  process.on('SIGHUP', () => void running.container.gateway.reload('SIGHUP'));
}

async function stdio(options: GlobalOptions): Promise<void> {
  const { config } = load(options);
  // stdout carries the protocol: every log line goes to stderr.
  const logger = createLogger({
    level: config.logLevel,
    format: config.logFormat === 'auto' ? 'json' : config.logFormat,
    stream: process.stderr,
    defaultMeta: { service: 'claude-code-mcp' },
  });
  const running = await startStdioServer(config, { logger });
  onShutdownSignals(logger, config.shutdownTimeoutMs, (reason) => running.close(reason));
  await running.closed;
  logger.end(() => process.exit(0));
}

/** Runs an auth command against the configured storage, closing it afterwards. */
async function withAuthStorage(options: GlobalOptions, run: (context: AuthCommandContext) => Promise<CommandResult>): Promise<void> {
  const { config } = load(options);
  const refused = requireDurableStorage(config);
  if (refused) return report(refused);
  const storage = await buildStorage(config);
  try {
    report(await run({ config, storage }));
  } finally {
    await storage.close();
  }
}

function report(result: CommandResult): void {
  (result.code === 0 ? process.stdout : process.stderr).write(`${result.message}\n`);
  process.exitCode = result.code;
}

function buildProgram(): Command {
  const program = new Command('claude-code-mcp')
    .description('Claude Code and other MCP servers behind one endpoint, for every MCP client.')
    .version(VERSION)
    .option(
      '-c, --config <path>',
      'config file (default: ./claude-mcp.config.json, ~/.claude-mcp/config.json, /etc/claude-mcp/config.json)',
    )
    .option('-p, --port <port>', 'TCP port (PORT)')
    .option('--host <host>', 'interface to bind (HOST)')
    .option('--base-url <url>', 'public URL (BASE_URL)')
    .option('--data-dir <dir>', 'state directory (DATA_DIR)')
    .option('--storage <kind>', 'sqlite | redis | memory (STORAGE)')
    .option('--log-level <level>', 'log level (LOG_LEVEL)')
    .option('--log-format <format>', 'auto | json | pretty (LOG_FORMAT)')
    .option('--mcp-path-prefix <prefix>', 'prefix for MCP routes (MCP_PATH_PREFIX)')
    // Global flags are accepted after the subcommand too (`start --port 4000`) and listed in its help.
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError();
  const opts = () => program.opts<GlobalOptions>();
  const entry = fileURLToPath(import.meta.url);

  program
    .command('serve', { isDefault: true })
    .description('run the server in the foreground')
    .action(() => serve(opts()));
  program
    .command('stdio')
    .description('serve the MCP tools over stdin/stdout (Claude Desktop); logs go to stderr')
    .action(() => stdio(opts()));
  program
    .command('start')
    .description('run the server in the background (PID and log files under DATA_DIR)')
    .action(async () => {
      const { config } = load(opts());
      report(
        await startInBackground({
          dataDir: config.dataDir,
          entry,
          serveArgs: passThrough(opts()),
          stopTimeoutMs: config.shutdownTimeoutMs,
        }),
      );
    });
  program
    .command('stop')
    .description('stop the background server (SIGTERM, then SIGKILL after SHUTDOWN_TIMEOUT_MS)')
    .action(async () => {
      const { config } = load(opts());
      report(await stopBackground({ dataDir: config.dataDir, stopTimeoutMs: config.shutdownTimeoutMs + 2000 }));
    });
  program
    .command('status')
    .description('show whether the background server runs, where, and how many sessions it has')
    .action(async () => {
      const { config } = load(opts());
      report(await backgroundStatus({ dataDir: config.dataDir }));
    });
  const keys = program.command('keys').description('API keys (sent as `Authorization: Bearer <key>`); only hashes are stored');
  keys
    .command('create <client_id>')
    .description('create a key acting as <client_id>; printed once')
    .option('--scopes <scopes>', 'comma list of scopes (default: all)')
    .action((clientId: string, cmd: { scopes?: string }) => withAuthStorage(opts(), (ctx) => keysCreate(ctx, clientId, cmd.scopes)));
  keys
    .command('list')
    .description('list keys (ids, clients, scopes; never the keys)')
    .action(() => withAuthStorage(opts(), keysList));
  keys
    .command('revoke <id>')
    .description('revoke a stored key by id')
    .action((id: string) => withAuthStorage(opts(), (ctx) => keysRevoke(ctx, id)));
  const users = program.command('users').description('local users who sign in on the authorization page (scrypt-hashed passwords)');
  users
    .command('add <username>')
    .description('add or update a user; without --password one is generated and printed')
    .option('--password <password>', 'the password (at least 8 characters)')
    .action((username: string, cmd: { password?: string }) => withAuthStorage(opts(), (ctx) => usersAdd(ctx, username, cmd.password)));
  users
    .command('list')
    .description('list users')
    .action(() => withAuthStorage(opts(), usersList));
  users
    .command('remove <username>')
    .description('remove a user')
    .action((username: string) => withAuthStorage(opts(), (ctx) => usersRemove(ctx, username)));
  const clients = program.command('clients').description('registered OAuth clients');
  clients
    .command('list')
    .description('list clients and their live grants')
    .action(() => withAuthStorage(opts(), clientsList));
  clients
    .command('revoke <client_id>')
    .description('revoke every grant of a client (its tokens stop working at once) and remove it')
    .action((clientId: string) => withAuthStorage(opts(), (ctx) => clientsRevoke(ctx, clientId)));
  const webhooks = program.command('webhooks').description('webhook endpoints, outbox and dead letters (on the configured storage)');
  webhooks
    .command('list')
    .description('endpoints with their state and queued events')
    .action(() => withAuthStorage(opts(), webhooksList));
  webhooks
    .command('dlq')
    .description('dead-lettered deliveries, newest first')
    .action(() => withAuthStorage(opts(), webhooksDlq));
  webhooks
    .command('replay <id>')
    .description('put the dead letters of an event id back in the outbox (the running server delivers them)')
    .action((id: string) => withAuthStorage(opts(), (ctx) => webhooksReplay(ctx, id)));
  const configCommand = program.command('config').description('configuration tools');
  configCommand
    .command('check')
    .description("validate the configuration, probe Claude's sandbox, and print the effective values (secrets masked) with their sources")
    .action(async () => {
      const loaded = load(opts());
      const gateway = checkGatewayConfig(loaded.config.mcpConfigPath);
      // The same probe the server runs at start: can bubblewrap create the sandbox with the PATH Claude gets?
      const sandbox = await probeSandbox({
        mode: loaded.config.claudeSandbox,
        searchPath: claudeChildEnvironment(loaded.config.claudeEnvAllow).PATH ?? '/usr/bin:/bin',
      });
      const summary = { file: loaded.file ?? null, dotenv: loaded.dotenvFile ?? null, settings: describeConfig(loaded), gateway, sandbox };
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      if (!sandbox.ready) {
        throw new ConfigError([
          `CLAUDE_SANDBOX: required, but the sandbox cannot run: ${sandbox.problem}. ` +
            'Install bubblewrap and socat (docs/security.md), or set CLAUDE_SANDBOX=off for a trusted single-user setup.',
        ]);
      }
      if (sandbox.mode === 'off') process.stdout.write('warning: CLAUDE_SANDBOX=off: Claude runs are not sandboxed\n');
      process.stdout.write('configuration OK\n');
    });
  // `--version` everywhere, not only on the root.
  const withVersion = (command: Command): void => {
    for (const sub of command.commands) {
      sub.version(VERSION);
      withVersion(sub);
    }
  };
  withVersion(program);
  return program;
}

/** `config check` for the gateway file: its upstreams, or the validation problem as a configuration error. */
function checkGatewayConfig(file: string): { file: string; servers: Record<string, string> } {
  try {
    const gateway = loadGatewayConfig(file, gatewayVariables());
    const servers = Object.fromEntries(
      Object.entries(gateway.mcpServers).map(([name, server]) => [
        name,
        `${isStdio(server) ? `stdio ${server.command}` : `${server.transport} ${server.url}`}${server.enabled ? '' : ' (disabled)'}`,
      ]),
    );
    return { file, servers };
  } catch (error) {
    if (error instanceof GatewayConfigError) throw new ConfigError([`MCP_CONFIG_PATH ${error.message}`]);
    throw error;
  }
}

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`claude-code-mcp: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
