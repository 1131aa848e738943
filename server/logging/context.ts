import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerResponse } from 'node:http';

/**
 * Per-request context carried implicitly through async calls, so every log line written while serving a request
 * carries its id without threading a logger through every function.
 */
export interface RequestContext {
  /** The request id: the client's `X-Request-Id` when well-formed, otherwise generated (absent outside requests). */
  requestId?: string;
  /** The caller's principal (`Caller.principalId`) once authenticated; logged as `clientId`. */
  principalId?: string;
  /** The MCP session, when the request belongs to one. */
  sessionId?: string;
  /** The response of the HTTP request, whose `end` waits for {@link heldWrites} (events/durable-writes.ts). */
  response?: ServerResponse;
  /** Outbox writes the answer to this request waits for (events/durable-writes.ts). */
  heldWrites?: Set<Promise<void>>;
  /** Whether {@link response}'s `end` already waits for them. */
  endGated?: boolean;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` with `context` as the current request context. */
export function runWithContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The current request context, if any. Mutable: later middleware may add `principalId`/`sessionId`. */
export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}
