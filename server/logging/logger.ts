import type { Writable } from 'node:stream';
import winston from 'winston';
import { currentContext } from './context.js';
import { LineBatcher } from './line-batcher.js';
import { redactField } from './redact.js';

/** The logger every module receives; winston's, narrowed to what we use. */
export type Logger = winston.Logger;

/**
 * Broad classes of failure, logged as `category` so operators can alert on server faults without paging on
 * client mistakes.
 */
export type ErrorCategory = 'client' | 'auth' | 'config' | 'storage' | 'upstream' | 'internal';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level: string;
  /** `auto` picks pretty on a TTY and JSON otherwise. */
  format: 'auto' | 'json' | 'pretty';
  /** Where lines go (default stdout). The stdio transport passes stderr: stdout carries the protocol there. */
  stream?: Writable & { isTTY?: boolean };
  /** Fields on every line (service name, version, pid...). */
  defaultMeta?: Record<string, unknown>;
}

const addContext = winston.format((info) => {
  const context = currentContext();
  if (context) {
    if (context.requestId) info.requestId ??= context.requestId;
    // Logs, webhooks and server_status name the principal `clientId`: their documented field name.
    if (context.principalId) info.clientId ??= context.principalId;
    if (context.sessionId) info.sessionId ??= context.sessionId;
  }
  return info;
});

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    // Per field rather than redact(info): the key of a top-level field (`logger.info('x', { token })`) must be
    // checked too, and info's symbol keys (winston's LEVEL/MESSAGE/SPLAT) must survive.
    (info as Record<string, unknown>)[key] = key === 'level' ? info[key] : redactField(key, info[key]);
  }
  return info;
});

/** Where winston's transports read the finished line (triple-beam's `MESSAGE`, a registered symbol). */
const MESSAGE = Symbol.for('message');

/**
 * The JSON line: `timestamp`, `level` and `message` first, then the fields as given. It runs after {@link redactFormat},
 * whose deep copies have no cycles, no bigints and no `toJSON`, so plain `JSON.stringify` cannot throw on them.
 * logform's `json()` configured safe-stable-stringify anew and ran a replacer over every key of every line: with the
 * redaction, most of what a tool-call line cost (docs/benchmarks.md, "Log lines off the call path").
 */
const jsonLine = winston.format((info) => {
  const { level, message, timestamp: _replaced, ...fields } = info;
  (info as Record<symbol, unknown>)[MESSAGE] = JSON.stringify({ timestamp: new Date().toISOString(), level, message, ...fields });
  return info;
});

/** Creates the process logger: request context added, secrets redacted, JSON or pretty. */
export function createLogger(options: LoggerOptions): Logger {
  const destination = options.stream ?? process.stdout;
  const pretty = options.format === 'pretty' || (options.format === 'auto' && destination.isTTY === true);
  const stream = destination === process.stdout || destination === process.stderr ? batcherFor(destination) : destination;
  const output = pretty
    ? winston.format.combine(
        winston.format.timestamp(),
        winston.format.colorize(),
        winston.format.printf(({ level, message, timestamp, ...rest }) => {
          const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
          return `${String(timestamp)} ${level} ${String(message)}${extra}`;
        }),
      )
    : jsonLine();
  return winston.createLogger({
    level: options.level,
    defaultMeta: options.defaultMeta,
    format: winston.format.combine(winston.format.errors({ stack: true }), addContext(), redactFormat(), output),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** One batcher per process stream, shared by every logger writing there so their lines keep one order. */
const batchers = new Map<NodeJS.WritableStream, LineBatcher>();

function batcherFor(stream: NodeJS.WritableStream & { isTTY?: boolean }): LineBatcher {
  let batcher = batchers.get(stream);
  if (!batcher) batchers.set(stream, (batcher = new LineBatcher(stream)));
  return batcher;
}

/** A logger that writes nothing, for tests and for code paths that take an optional logger. */
export function createSilentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
}
