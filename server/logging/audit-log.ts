import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { BusEvent, EventBus } from '../events/bus.js';
import { createLogger, type Logger } from './logger.js';

/** Security events: every `auth.*` event (logins, consents, tokens, refresh reuse, revocations, denials, registrations) and OAuth abuse-ceiling refusals. */
export function isAuditEvent(event: BusEvent): boolean {
  return event.type.startsWith('auth.') || (event.type === 'rate_limit.exceeded' && (event.data as { scope: string }).scope === 'oauth');
}

/** Options of {@link observeAudit}. */
export interface AuditLogOptions {
  events: EventBus;
  /** The main log: audit lines go here too, marked `channel: "audit"`. */
  logger: Logger;
  /** AUDIT_LOG_PATH: a separate append-only JSON-lines file of audit events only (for retention and shipping apart). */
  file?: string;
}

/**
 * The audit channel: one structured line per security event, `message: "audit"`, `channel: "audit"`, the event type
 * and its data (ids, never secrets), in the main log and, when configured, in a file of its own.
 * Returns a function that stops it and closes the file.
 */
export function observeAudit({ events, logger, file }: AuditLogOptions): () => Promise<void> {
  let stream: WriteStream | undefined;
  let audit: Logger | undefined;
  if (file) {
    mkdirSync(path.dirname(file), { recursive: true });
    stream = createWriteStream(file, { flags: 'a', mode: 0o600 });
    audit = createLogger({ level: 'info', format: 'json', stream });
  }
  const off = events.onAny((event) => {
    if (!isAuditEvent(event)) return;
    const line = { event: event.type, ...event.data, channel: 'audit', category: 'audit' };
    logger.info('audit', line);
    audit?.info('audit', line);
  });
  return async () => {
    off();
    if (!audit || !stream) return;
    const finished = new Promise<void>((resolve) => stream!.once('finish', () => resolve()));
    audit.end();
    await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  };
}
