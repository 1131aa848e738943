import { randomBytes } from 'node:crypto';
import {
  createRequestStateCodec,
  inputRequired,
  ProtocolError,
  type CallToolResult,
  type ElicitRequestFormParams,
  type ElicitResult,
  type InputRequests,
  type InputRequiredResult,
  type RequestStateCodec,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { callerFromAuthInfo } from '../mcp/caller.js';
import { JsonRpcErrorCode } from '../mcp/jsonrpc-errors.js';
import type { ToolCall } from '../mcp/tool-provider.js';
import { detachCall } from './detached-call.js';
import { isElicitAnswer, newTaskId } from './task-record.js';

/** Options of {@link ParkedCalls}. */
export interface ParkedCallsOptions {
  /** PERMISSION_PROMPT_TIMEOUT_MS: how long a parked call waits for the client's retry before its work is stopped. */
  waitMs: number;
  /** Calls parked at once (MAX_ASYNC_PROCESSES, shared with tasks); beyond it a question is declined. */
  maxParked: () => number;
}

/** What the signed `requestState` of a round carries. */
interface ParkState {
  parkId: string;
  tool: string;
}

interface Question {
  params: ElicitRequestFormParams;
  resolve(answer: ElicitResult): void;
}

/**
 * 2026-07-28 calls that need the person mid-run (multi round-trip requests, `input_required`). The protocol has no
 * server-to-client requests: a question ends the request with an `input_required` result, and the client answers by
 * retrying the call. A Claude run cannot stop and resume at a permission prompt, so the call's work runs apart from
 * its request and is *parked* between rounds: each question answers the current round with `inputRequests` and a
 * signed `requestState` naming the park; the retry finds it, hands over the answers, and waits for the next
 * question or the result. A park not retried within `waitMs` is abandoned and its work stopped.
 *
 * Parks live in this process: the retry must reach the replica that answered the round (the `requestState` is
 * signed with a key of this process, so another replica refuses it as invalid).
 */
export class ParkedCalls {
  private readonly parks = new Map<string, Park>();
  private readonly codec: RequestStateCodec<ParkState>;

  constructor(private readonly options: ParkedCallsOptions) {
    this.codec = createRequestStateCodec<ParkState>({
      key: randomBytes(32),
      ttlSeconds: Math.ceil(options.waitMs / 1000),
      // A round's state is good only for the same method and the same principal.
      bind: (ctx) => `${ctx.mcpReq.method}\0${callerFromAuthInfo(ctx.http?.authInfo).principalId}`,
    });
  }

  /** For `ServerOptions.requestState.verify`: refuses (-32602) a state this process did not sign for this caller. */
  readonly verify = (state: string, ctx: ServerContext): Promise<ParkState> => this.codec.verify(state, ctx);

  /** Calls parked now (waiting for a retry). */
  get parkedCount(): number {
    let count = 0;
    for (const park of this.parks.values()) if (park.parked) count += 1;
    return count;
  }

  /**
   * Serves one round of `call`: the first starts its work (through `run`), a retry (verified `requestState`) resumes
   * it. Resolves with the call's result, or with an `input_required` result when the work has a question.
   */
  async serve(call: ToolCall, run: (call: ToolCall) => Promise<CallToolResult>): Promise<CallToolResult | InputRequiredResult> {
    const ctx = call.requestContext;
    const state = ctx.mcpReq.requestState<ParkState>();
    let park: Park;
    if (state) {
      const found = this.parks.get(state.parkId);
      if (!found || found.owner !== call.caller.principalId || found.tool !== call.tool) {
        throw new ProtocolError(
          JsonRpcErrorCode.InvalidParams,
          'no call is waiting for these answers: it finished, or was abandoned after waiting too long',
        );
      }
      park = found;
      park.deliver(ctx.mcpReq.inputResponses ?? {});
    } else {
      park = new Park(call, run, () => this.parks.delete(park.id));
      this.parks.set(park.id, park);
    }
    return park.attach(ctx, {
      mint: (payload) => this.codec.mint(payload, ctx),
      mayPark: () => this.parkedCount < this.options.maxParked(),
      waitMs: this.options.waitMs,
    });
  }
}

/** One call whose work runs apart from its requests. */
class Park {
  readonly id = newTaskId();
  readonly owner: string;
  readonly tool: string;
  private readonly controller = new AbortController();
  private readonly questions = new Map<string, Question>();
  private readonly outcome: Promise<CallToolResult>;
  private seq = 0;
  private wake: (() => void) | undefined;
  private attached: { ctx: ServerContext; token: string | number | undefined; progress: number } | undefined;
  private expiry: NodeJS.Timeout | undefined;

  constructor(call: ToolCall, run: (call: ToolCall) => Promise<CallToolResult>, onEnd: () => void) {
    this.owner = call.caller.principalId;
    this.tool = call.tool;
    const detached = detachCall(call, {
      signal: this.controller.signal,
      progress: (message) => this.progress(message),
      ask: (params, signal) => this.ask(params, signal),
    });
    this.outcome = run(detached);
    this.outcome
      .catch(() => undefined)
      .finally(() => {
        clearTimeout(this.expiry);
        onEnd();
      });
  }

  /** Waiting for a retry (no request attached). */
  get parked(): boolean {
    return this.attached === undefined && this.questions.size > 0;
  }

  /** Hands the answers of a retry to the questions they answer; unknown keys and malformed answers are ignored. */
  deliver(responses: Record<string, unknown>): void {
    for (const [key, question] of this.questions) {
      const answer = responses[key];
      if (isElicitAnswer(answer)) {
        this.questions.delete(key);
        question.resolve(answer);
      }
    }
  }

  /**
   * Serves one request: waits for the work's result or its next question. A client cancelling the request stops the
   * work; a question ends the request with `input_required` and parks the work until the retry.
   */
  async attach(
    ctx: ServerContext,
    round: { mint(payload: ParkState): Promise<string>; mayPark(): boolean; waitMs: number },
  ): Promise<CallToolResult | InputRequiredResult> {
    clearTimeout(this.expiry);
    const onAbort = () => this.controller.abort('the client cancelled the call');
    ctx.mcpReq.signal.addEventListener('abort', onAbort, { once: true });
    this.attached = { ctx, token: ctx.mcpReq._meta?.progressToken, progress: 0 };
    try {
      for (;;) {
        // Give questions asked together (parallel tool uses) the same round.
        if (this.questions.size > 0) await new Promise((resolve) => setImmediate(resolve));
        if (this.questions.size > 0) {
          if (!round.mayPark()) {
            for (const [key, question] of this.questions) {
              this.questions.delete(key);
              question.resolve({ action: 'decline' });
            }
            continue;
          }
          const inputRequests: InputRequests = {};
          for (const [key, question] of this.questions) inputRequests[key] = { method: 'elicitation/create', params: question.params };
          const requestState = await round.mint({ parkId: this.id, tool: this.tool });
          this.expiry = setTimeout(() => this.controller.abort('no retry came'), round.waitMs);
          this.expiry.unref();
          return inputRequired({ inputRequests, requestState });
        }
        const next = await Promise.race([
          this.outcome.then((result) => ({ result })),
          new Promise<undefined>((resolve) => (this.wake = () => resolve(undefined))),
        ]);
        this.wake = undefined;
        if (next) return next.result;
      }
    } finally {
      ctx.mcpReq.signal.removeEventListener('abort', onAbort);
      this.attached = undefined;
    }
  }

  private ask(params: ElicitRequestFormParams, signal: AbortSignal): Promise<ElicitResult> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Error('no answer came'));
      const key = `input-${(this.seq += 1)}`;
      const onAbort = () => {
        this.questions.delete(key);
        reject(new Error('no answer came'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.questions.set(key, {
        params,
        resolve: (answer) => {
          signal.removeEventListener('abort', onAbort);
          resolve(answer);
        },
      });
      this.wake?.();
    });
  }

  /** Progress of the work goes to the request attached now, on its own progress token. */
  private progress(message: string): void {
    const attached = this.attached;
    if (!attached || attached.token === undefined) return;
    attached.progress += 1;
    attached.ctx.mcpReq
      .notify({ method: 'notifications/progress', params: { progressToken: attached.token, progress: attached.progress, message } })
      .catch(() => undefined);
  }
}
