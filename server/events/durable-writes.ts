import type { ServerResponse } from 'node:http';
import { currentContext, runWithContext, type RequestContext } from '../logging/context.js';

/**
 * Writes an answer must wait for. An event about an operation (a client registered, a session opened, a tool call
 * finished) is stored in the webhook outbox before the client hears that the operation succeeded: a crash after the
 * acknowledgement can then never lose the event. The outbox registers each pending write here, in the request
 * context it was emitted in; whatever answers that request (Express's `res.end`, the MCP transports' `send`, the
 * web bridge) waits for {@link answerBarrier} first.
 *
 * Nothing is registered when no subscriber needs durability (no webhook endpoint wants the event), so the common
 * answer pays one property read.
 */

/** Longest an answer waits for the outbox; past it the answer goes out and the write stays the outbox's concern. */
export const ANSWER_WAIT_LIMIT_MS = 10_000;

/** Registers `write` as one the current request's answer must wait for. Outside a request it does nothing. */
export function holdAnswerFor(write: Promise<unknown>): void {
  const context = currentContext();
  if (!context) return;
  const held = (context.heldWrites ??= new Set());
  const entry: Promise<void> = write.then(
    () => void held.delete(entry),
    () => void held.delete(entry),
  );
  held.add(entry);
  if (context.response) gateEnd(context, context.response);
}

/**
 * Settles once every write registered so far in the current request context has (or {@link ANSWER_WAIT_LIMIT_MS}
 * passed); `undefined` when there is nothing to wait for, so callers skip the `await`.
 */
export function answerBarrier(): Promise<void> | undefined {
  const context = currentContext();
  return context ? barrierOf(context) : undefined;
}

function barrierOf(context: RequestContext): Promise<void> | undefined {
  const held = context.heldWrites;
  if (!held || held.size === 0) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ANSWER_WAIT_LIMIT_MS);
    timer.unref();
  });
  return Promise.race([Promise.all(held).then(() => undefined), limit]).finally(() => clearTimeout(timer));
}

/**
 * Makes `res.end` wait for the request's held writes: Express answers (a registration's 201, a 429) end with it.
 * Installed on the first held write only, so responses without one keep Node's own `end`.
 */
function gateEnd(context: RequestContext, res: ServerResponse): void {
  if (context.endGated) return;
  context.endGated = true;
  const end = res.end;
  res.end = function endAfterHeldWrites(this: ServerResponse, ...args: unknown[]) {
    const barrier = barrierOf(context);
    if (!barrier) return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    void barrier.then(() => (end as (...a: unknown[]) => ServerResponse).apply(this, args));
    return this;
  } as ServerResponse['end'];
}

/**
 * Runs `fn` (which emits events) and resolves once the writes it caused are stored: for work no client request
 * acknowledges, such as a background task whose record must not say "completed" before its event is stored.
 */
export async function durably<T>(fn: () => T): Promise<T> {
  const parent = currentContext();
  const context: RequestContext = parent?.requestId === undefined ? {} : { requestId: parent.requestId };
  const value = runWithContext(context, fn);
  const barrier = barrierOf(context);
  if (barrier) await barrier;
  return value;
}
