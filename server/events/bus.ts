import type { Logger } from '../logging/logger.js';
import { holdAnswerFor } from './durable-writes.js';

/** Transports a session can arrive on. */
export type SessionTransport = 'streamable-http' | 'sse' | 'stdio';

/**
 * Every event the server emits, by type. Metrics, the webhook outbox and the audit log subscribe to these; later
 * capabilities add their own entries here so the map stays the single catalogue.
 */
export interface EventMap {
  'server.started': { version: string; url: string; transports: string[]; pid: number };
  'server.shutdown': { reason: string; uptimeSeconds: number };
  'session.started': { sessionId: string; transport: SessionTransport; protocolVersion?: string; clientId?: string };
  'session.ended': {
    sessionId: string;
    transport: SessionTransport;
    reason: 'closed' | 'deleted' | 'idle' | 'shutdown' | 'disconnected';
    durationMs: number;
    clientId?: string;
  };
  /** Audit: a user logged in on the authorization page (`method`: local password). */
  'auth.login': { subject: string; method: 'password' | 'oidc'; success: boolean };
  /** Audit: a user approved a client (remembered or not). */
  'auth.consent': { clientId: string; subject: string; scopes: string[]; remembered: boolean };
  /** Audit: access refused (consent denied, bad login, missing scope). */
  'auth.denied': { clientId?: string; subject?: string; reason: string };
  /** Audit: the token endpoint issued an access token. */
  'auth.token_issued': { clientId: string; subject: string; grantId: string; scopes: string[]; refresh: boolean };
  /** Audit: a rotated refresh token was used again; its whole family was revoked (RFC 9700 §4.14.2). */
  'auth.refresh_reused': { clientId: string; grantId: string };
  /** Audit: a grant or token was revoked. */
  'auth.revoked': { clientId: string; grantId: string; reason: 'code_replay' | 'revocation_endpoint' | 'operator' | 'user' | 'upstream' };
  /** A new OAuth client registered (RFC 7591). */
  'auth.client_registered': { clientId: string; clientName?: string; authMethod: string };
  /** A Claude tool call began (`owner` is the caller's client id). */
  'tool.called': { tool: string; owner: string; sessionId?: string };
  /** A Claude tool call returned a result. */
  'tool.completed': {
    tool: string;
    owner: string;
    durationMs: number;
    sessionId?: string;
    costUsd?: number;
    numTurns?: number;
    /** The model the caller asked for (absent: the configured default). */
    model?: string;
    /** Token usage of the run, as Claude Code reported it. */
    usage?: { inputTokens: number; outputTokens: number; cacheReadInputTokens: number; cacheCreationInputTokens: number };
  };
  /** A Claude tool call failed; `category` is the error category returned to the client. */
  'tool.error': {
    tool: string;
    owner: string;
    durationMs: number;
    category: string;
    message: string;
    sessionId?: string;
    costUsd?: number;
    model?: string;
  };
  /** A background Claude task started (or restarted). */
  'background_task.started': { taskId: string; owner: string };
  /** A background task finished successfully. */
  'background_task.completed': { taskId: string; owner: string; costUsd: number; durationMs: number };
  /** A background task failed, was aborted, or was interrupted by a shutdown. */
  'background_task.failed': { taskId: string; owner: string; category: string; status: string };
  /** A checkpoint of a Claude session's working tree was taken. */
  'checkpoint.created': { checkpointId: string; sessionId: string; owner: string; files: number };
  /** A checkpoint was restored (files written and removed). */
  'checkpoint.restored': { checkpointId: string; sessionId: string; owner: string; written: number; removed: number };
  /** A gateway upstream is up and serving (after start or restart); `tools` is how many it offers. */
  'upstream.up': { server: string; tools: number; pid?: number };
  /** A running gateway upstream went away (crash, closed connection, failed health checks). */
  'upstream.down': { server: string; reason: string };
  /** A rate limit refused a request (`clientId` absent for unauthenticated callers, whose key is their address). */
  'rate_limit.exceeded': { scope: 'client' | 'tool' | 'global' | 'oauth'; retryAfterSeconds: number; clientId?: string; tool?: string };
  /** A gateway upstream came back after a restart (automatic or operator). */
  'upstream.restarted': { server: string; restartCount: number };
}

/** An event type. */
export type EventType = keyof EventMap;

/** An emitted event: its type, payload and emission time. */
export interface BusEvent<K extends EventType = EventType> {
  type: K;
  data: EventMap[K];
  /** Epoch milliseconds. */
  timestamp: number;
}

/** A subscriber; may be async. Its failures are logged and never reach the emitter. */
export type EventHandler<K extends EventType> = (event: BusEvent<K>) => void | Promise<void>;

/** The typed in-process event bus. */
export interface EventBus {
  /** Subscribes to one type; returns an unsubscribe function. */
  on<K extends EventType>(type: K, handler: EventHandler<K>): () => void;
  /**
   * Subscribes to every type (webhooks, audit). A `durable` subscriber's returned promise is a write the answer to
   * the request that emitted the event waits for (events/durable-writes.ts): the webhook outbox is one.
   */
  onAny(handler: (event: BusEvent) => void | Promise<void>, options?: { durable?: boolean }): () => void;
  /**
   * Emits synchronously to every subscriber. A subscriber that throws or rejects is logged and the others still run:
   * an observer never breaks the operation it observes.
   */
  emit<K extends EventType>(type: K, data: EventMap[K]): void;
  /** Number of subscribers, for leak checks. */
  listenerCount(): number;
}

/** Creates an event bus that reports subscriber failures to `logger`. */
export function createEventBus(logger?: Logger): EventBus {
  const byType = new Map<EventType, Set<EventHandler<EventType>>>();
  const any = new Set<(event: BusEvent) => void | Promise<void>>();

  const report = (type: EventType, error: unknown) =>
    logger?.error('event subscriber failed', { event: type, error, category: 'internal' });

  const durable = new Set<(event: BusEvent) => void | Promise<void>>();

  const call = (type: EventType, handler: (event: BusEvent) => void | Promise<void>, event: BusEvent) => {
    try {
      const result = handler(event);
      if (result && typeof (result as Promise<void>).catch === 'function') {
        const settled = (result as Promise<void>).catch((error: unknown) => report(type, error));
        if (durable.has(handler)) holdAnswerFor(settled);
      }
    } catch (error) {
      report(type, error);
    }
  };

  return {
    on(type, handler) {
      let set = byType.get(type);
      if (!set) byType.set(type, (set = new Set()));
      set.add(handler as EventHandler<EventType>);
      return () => void set.delete(handler as EventHandler<EventType>);
    },
    onAny(handler, options) {
      any.add(handler);
      if (options?.durable) durable.add(handler);
      return () => {
        any.delete(handler);
        durable.delete(handler);
      };
    },
    emit(type, data) {
      const event: BusEvent = { type, data, timestamp: Date.now() };
      for (const handler of byType.get(type) ?? []) call(type, handler as (event: BusEvent) => void, event);
      for (const handler of any) call(type, handler, event);
    },
    listenerCount() {
      let count = any.size;
      for (const set of byType.values()) count += set.size;
      return count;
    },
  };
}
