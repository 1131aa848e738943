import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { createApp } from './app.js';
import { answerClientError } from './http/client-error.js';
import { expressReadyClasses } from './http/direct-routes.js';
import type { AuthServer } from './auth/auth-server.js';
import { publicBaseUrl } from './config/load.js';
import type { Config } from './config/schema.js';
import { composeServing, createContainer, type Container, type ContainerOptions, type Serving } from './container.js';
import { LOCAL_CALLER } from './mcp/caller.js';
import { JsonRpcErrorCode, type JsonRpcErrorObject } from './mcp/jsonrpc-errors.js';
import type { SseEndpoint } from './mcp/sse-endpoint.js';
import type { StreamableEndpoint } from './mcp/streamable-endpoint.js';

/** Requests held while the server finishes starting; more are answered 503. */
const MAX_EARLY_REQUESTS = 1_000;

/** A listening HTTP server and how to stop it. */
export interface RunningHttpServer {
  /** Public base URL (BASE_URL, or derived from the bound address). */
  url: string;
  port: number;
  container: Container;
  http: Server;
  /** The MCP endpoints, for diagnostics and tests. */
  endpoints: { streamable: StreamableEndpoint; sse: SseEndpoint };
  /** The built-in OAuth server when AUTH_MODE=oauth. */
  auth?: AuthServer;
  /**
   * Graceful stop: readiness fails, no new connections, every session and stream closed, storage closed.
   * Idempotent; resolves when done.
   */
  close(reason?: string): Promise<void>;
}

/** Options of {@link startHttpServer}. */
export type StartOptions = Omit<ContainerOptions, 'transports'> & {
  /**
   * Where one-time secrets for the operator go (the generated first-start admin password): a terminal, not the log
   * stream. Defaults to a log warning.
   */
  announce?: (text: string) => void;
};

/** Builds everything from `config`, listens, and announces `server.started`. Used by `serve` and by tests. */
export async function startHttpServer(config: Config, options: StartOptions): Promise<RunningHttpServer> {
  const container = await createContainer(config, { ...options, transports: ['streamable-http', 'sse'] });
  const { logger, sessions, events } = container;
  const classes = expressReadyClasses();
  const http = createServer({ IncomingMessage: classes.IncomingMessage, ServerResponse: classes.ServerResponse });
  http.keepAliveTimeout = 65_000; // longer than common load-balancer idle timeouts, so they close first
  http.on('clientError', answerClientError);
  // The socket listens before the app exists (its port, when 0, names every URL the app serves). Requests that arrive
  // in between wait for the app instead of being dropped with no answer; past a bound they get 503.
  const serving: { app?: RequestListener } = {};
  const early: Array<[IncomingMessage, ServerResponse]> = [];
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (serving.app) return serving.app(req, res);
    if (early.length < MAX_EARLY_REQUESTS) return void early.push([req, res]);
    res
      .writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '1' })
      .end(JSON.stringify({ error: 'starting', message: 'The server is starting; retry shortly' }));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(config.port, config.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await container.close();
    throw error;
  }
  const port = (http.address() as AddressInfo).port;
  const url = publicBaseUrl(config, port);
  // Requests other replicas forward here are replayed against this listener, over loopback when it listens on all
  // addresses.
  await container.cluster?.listen(`http://${localHost(config.host)}:${port}`);
  let draining = false;
  const parts = composeServing(container, url);
  for (const warning of parts.authWarnings) logger.warn(warning.toUpperCase(), { host: config.host });
  const ready = createApp({ ...parts.app, classes, draining: () => draining });
  serving.app = ready;
  for (const [req, res] of early.splice(0)) ready(req, res);
  // Created once the app serves (a password hash is ~40 ms): nobody can sign in with it before it is printed below.
  // With an identity provider configured, people sign in there: no generated local account is needed.
  const { auth } = parts;
  if (auth && config.authInitialAdmin && !config.oidcIssuer) {
    const admin = await auth.users.ensureInitialAdmin();
    const announce = options.announce ?? ((text: string) => logger.warn(text));
    if (admin) {
      announce(
        `First start: no users existed, so user "${admin.username}" was created with the one-time password ${admin.password} ` +
          `(shown only now). Sign in with it when an MCP client opens ${url}/authorize, and add your own users with ` +
          '`claude-code-mcp users add <name>`.',
      );
    }
  }
  sessions.start();
  events.emit('server.started', { version: container.version, url, transports: [...container.transports], pid: process.pid });
  logger.info('listening', { url: `${url}${config.mcpPathPrefix}/mcp`, host: config.host, port, storage: container.storage.kind });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    container,
    http,
    endpoints: { streamable: parts.streamable, sse: parts.sse },
    auth,
    close(reason = 'shutdown') {
      closing ??= (async () => {
        // Readiness fails and new work is refused with 503 shutting_down and Retry-After (http/middleware/drain.ts);
        // every answer from now on closes its connection. The listener stays open through the drain: a load balancer
        // that has not yet seen readiness fail gets an answer it can retry elsewhere, not a refused connection.
        draining = true;
        events.emit('server.shutdown', { reason, uptimeSeconds: Math.round((Date.now() - container.startedAt) / 1000) });
        await drain(container, parts, config);
        const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
        await parts.close();
        await container.close();
        // Sessions are closed, so remaining sockets are idle keep-alives or half-done requests.
        http.closeAllConnections();
        await stopped;
        logger.info('stopped', { reason });
      })();
      return closing;
    },
  };
}

/** Where this process reaches its own listener bound to `host`. */
function localHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Kept of SHUTDOWN_TIMEOUT_MS for what follows the drain: interrupting runs, answering, closing storage. */
const SHUTDOWN_RESERVE_MS = 2_000;

/** The last word to a request still open when the server closes: retry it (elsewhere). */
const SHUTDOWN_ERROR: JsonRpcErrorObject = {
  code: JsonRpcErrorCode.ServerError,
  message: 'server shutting down',
  data: { error: 'shutting_down', retryable: true, retryAfter: 1 },
};

/**
 * The graceful part of a shutdown. Tool calls in flight get until SHUTDOWN_TIMEOUT_MS less the runs' interrupt grace
 * and a reserve to finish; Claude runs still going then are interrupted, so their calls end with a result naming the
 * session to resume (and background tasks are recorded as interrupted); whatever request is still open after that
 * is answered with a retryable JSON-RPC error (-32000 "server shutting down") before its stream closes.
 */
async function drain(container: Container, serving: Serving, config: Config): Promise<void> {
  const { activity, logger } = container;
  const budget = Math.max(0, config.shutdownTimeoutMs - config.runInterruptGraceMs - SHUTDOWN_RESERVE_MS);
  if (!(await activity.idle(Date.now() + budget))) {
    logger.warn('shutdown: tool calls still running at the drain deadline', { inFlight: activity.inFlight(), waitedMs: budget });
  }
  await container.claude.shutdown();
  // The interrupted runs' calls answer now; give those answers a moment to go out.
  await activity.idle(Date.now() + 1_000);
  const answered = (await serving.answerPending(SHUTDOWN_ERROR)) + (await container.sessions.answerPending(SHUTDOWN_ERROR));
  if (answered > 0) logger.warn('shutdown: open requests answered with a retryable error', { answered });
}

/** A running stdio server. */
export interface RunningStdioServer {
  container: Container;
  /** Resolves when stdin ends or {@link RunningStdioServer.close} is called. */
  closed: Promise<void>;
  close(reason?: string): Promise<void>;
}

/**
 * Serves the same tools over stdin/stdout (for Claude Desktop and other local hosts). stdout carries only protocol
 * messages; the caller must have pointed the logger at stderr.
 */
export async function startStdioServer(
  config: Config,
  options: StartOptions & { stdin?: NodeJS.ReadableStream },
): Promise<RunningStdioServer> {
  const container = await createContainer(config, { ...options, transports: ['stdio'] });
  const { factory, sessions, events, logger } = container;
  // The client's initialize waits in the pipe until upstreams that are starting are up (bounded by
  // GATEWAY_STARTUP_WAIT_MS): a stdio session is one client, so its capabilities and first lists are then complete.
  await container.gateway.started();
  const sessionId = `stdio-${process.pid}`;
  sessions.add({ id: sessionId, transport: 'stdio', ownerId: LOCAL_CALLER.principalId, close: async () => undefined });
  const handle = serveStdio((ctx) => factory({ caller: LOCAL_CALLER, era: ctx.era, mode: 'stdio' }), {
    onerror: (error) => logger.debug('stdio transport error', { error: error.message }),
  });
  events.emit('server.started', { version: container.version, url: 'stdio:', transports: ['stdio'], pid: process.pid });
  logger.info('serving on stdio', { storage: container.storage.kind });

  let closing: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const close = (reason = 'shutdown') => {
    closing ??= (async () => {
      events.emit('server.shutdown', { reason, uptimeSeconds: Math.round((Date.now() - container.startedAt) / 1000) });
      await handle.close();
      await container.close();
      logger.info('stopped', { reason });
      resolveClosed();
    })();
    return closing;
  };
  (options.stdin ?? process.stdin).once('end', () => void close('stdin closed'));
  return { container, closed, close };
}
