import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  createRequestStateCodec,
  inputRequired,
  ProtocolError,
  specTypeSchemas,
  type CallToolResult,
  type InputRequests,
  type InputRequiredResult,
  type RequestStateCodec,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { callerFromAuthInfo } from '../mcp/caller.js';
import { JsonRpcErrorCode } from '../mcp/jsonrpc-errors.js';
import type { ToolCall } from '../mcp/tool-provider.js';
import { detachCall, type ClientRequest, type DetachedHost, type ProgressFigures } from './detached-call.js';
import { declaredCapabilities, type DeclaredCapabilities } from './task-protocol.js';
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
  /** Makes each round's state differ from the last (answers to questions already answered are ignored). */
  round: number;
}

interface Question {
  request: ClientRequest;
  resolve(answer: unknown): void;
  reject(error: Error): void;
}

/** Whether `answer` is a well-formed answer to a request of `method`; a malformed one leaves the question open. */
function answers(method: ClientRequest['method'], answer: unknown): boolean {
  if (method === 'elicitation/create') return isElicitAnswer(answer);
  const schema = method === 'sampling/createMessage' ? specTypeSchemas.CreateMessageResult : specTypeSchemas.ListRootsResult;
  const checked = schema['~standard'].validate(answer);
  return !(checked instanceof Promise) && checked.issues === undefined;
}

/**
 * Questions arriving this close together share a round: an upstream's several requests come as separate messages,
 * and a client answers one round at a time.
 */
const GATHER_MS = 10;
const GATHER_MAX_MS = 100;

/** `request` as the client sees it: without its key, and without the progress token its sender gave it (it names nothing the client could follow). */
function withoutProgressToken({ method, params: sent }: ClientRequest): ClientRequest {
  const meta = sent?._meta as Record<string, unknown> | undefined;
  if (!meta || !('progressToken' in meta)) return { method, ...(sent ? { params: sent } : {}) };
  const { progressToken: _dropped, ...rest } = meta;
  const { _meta: _old, ...params } = sent!;
  return { method, params: Object.keys(rest).length > 0 ? { ...params, _meta: rest } : params };
}

/** The capability a client declares to be asked requests of `method`. */
const CAPABILITY = { 'elicitation/create': 'elicitation', 'sampling/createMessage': 'sampling', 'roots/list': 'roots' } as const;

/**
 * The answer given in the client's place to a request it did not declare it can answer, or cannot be asked now (no
 * more calls may be parked): an elicitation is declined (nobody was asked), roots are none (the client shares no
 * folders), sampling fails (there is no model to ask) saying `why`.
 */
function undeclaredAnswer(question: Question, why: string): void {
  const { method } = question.request;
  if (method === 'elicitation/create') question.resolve({ action: 'decline' });
  else if (method === 'roots/list') question.resolve({ roots: [] });
  else question.reject(new Error(why));
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
  serve(call: ToolCall, run: (call: ToolCall) => Promise<CallToolResult>): Promise<CallToolResult | InputRequiredResult> {
    return this.serveRequest(call.requestContext, call.caller.principalId, call.tool, (host) => run(detachCall(call, host)));
  }

  /**
   * Serves one round of any request that may answer `input_required` (`tools/call`, `prompts/get`,
   * `resources/read`): the first starts `start` with a host standing in for the request, a retry resumes it. `owner`
   * and `name` bind the park (a retry by another principal or for another name finds nothing).
   */
  async serveRequest<T>(
    ctx: ServerContext,
    owner: string,
    name: string,
    start: (host: DetachedHost) => Promise<T>,
  ): Promise<T | InputRequiredResult> {
    const state = ctx.mcpReq.requestState<ParkState>();
    let park: Park;
    if (state) {
      const found = this.parks.get(state.parkId);
      if (!found || found.owner !== owner || found.tool !== name) {
        throw new ProtocolError(
          JsonRpcErrorCode.InvalidParams,
          'no call is waiting for these answers: it finished, or was abandoned after waiting too long',
        );
      }
      park = found;
      park.deliver(ctx.mcpReq.inputResponses ?? {});
    } else {
      park = new Park(owner, name, start, () => this.parks.delete(park.id));
      this.parks.set(park.id, park);
    }
    return park.attach(ctx, {
      mint: (payload) => this.codec.mint(payload, ctx),
      mayPark: () => this.parkedCount < this.options.maxParked(),
      waitMs: this.options.waitMs,
      declared: declaredCapabilities(ctx) ?? {},
    }) as Promise<T | InputRequiredResult>;
  }
}

/** One call whose work runs apart from its requests. */
class Park {
  readonly id = newTaskId();
  private readonly controller = new AbortController();
  private readonly questions = new Map<string, Question>();
  private readonly outcome: Promise<unknown>;
  private seq = 0;
  private round = 0;
  private wake: (() => void) | undefined;
  private attached: { ctx: ServerContext; token: string | number | undefined; progress: number } | undefined;
  private expiry: NodeJS.Timeout | undefined;

  constructor(
    readonly owner: string,
    readonly tool: string,
    start: (host: DetachedHost) => Promise<unknown>,
    onEnd: () => void,
  ) {
    this.outcome = start({
      signal: this.controller.signal,
      progress: (message, figures) => this.progress(message, figures),
      request: (request, signal) => this.ask(request, signal),
    });
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
      if (answers(question.request.method, answer)) {
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
    round: { mint(payload: ParkState): Promise<string>; mayPark(): boolean; waitMs: number; declared: DeclaredCapabilities },
  ): Promise<unknown> {
    clearTimeout(this.expiry);
    const onAbort = () => this.controller.abort('the client cancelled the call');
    ctx.mcpReq.signal.addEventListener('abort', onAbort, { once: true });
    this.attached = { ctx, token: ctx.mcpReq._meta?.progressToken, progress: 0 };
    try {
      for (;;) {
        // Give questions asked together (parallel tool uses, an upstream's several requests) the same round.
        if (this.questions.size > 0) await this.gathered();
        if (this.questions.size > 0) {
          // What this request's client cannot answer is answered in its place, now.
          const mayPark = round.mayPark();
          for (const [key, question] of this.questions) {
            const declared = round.declared[CAPABILITY[question.request.method]] !== undefined;
            if (mayPark && declared) continue;
            this.questions.delete(key);
            undeclaredAnswer(
              question,
              declared
                ? 'no more calls may wait for answers: MAX_ASYNC_PROCESSES calls and tasks are alive'
                : `the client did not declare ${CAPABILITY[question.request.method]}`,
            );
          }
          if (this.questions.size === 0) continue;
          const inputRequests: InputRequests = {};
          for (const [key, { request }] of this.questions) inputRequests[key] = request as InputRequests[string];
          this.round += 1;
          const requestState = await round.mint({ parkId: this.id, tool: this.tool, round: this.round });
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

  /** Settles once no question has joined for {@link GATHER_MS} (at most {@link GATHER_MAX_MS}). */
  private async gathered(): Promise<void> {
    const deadline = Date.now() + GATHER_MAX_MS;
    let size = -1;
    while (this.questions.size !== size && Date.now() < deadline) {
      size = this.questions.size;
      await delay(GATHER_MS);
    }
  }

  private ask(request: ClientRequest, signal: AbortSignal): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Error('no answer came'));
      // The asker's own key while it is free (a 2026-07-28 upstream's), else one of ours.
      const key = request.key !== undefined && !this.questions.has(request.key) ? request.key : `input-${(this.seq += 1)}`;
      const onAbort = () => {
        this.questions.delete(key);
        reject(new Error('no answer came'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const settle =
        <T>(done: (value: T) => void) =>
        (value: T) => {
          signal.removeEventListener('abort', onAbort);
          done(value);
        };
      this.questions.set(key, { request: withoutProgressToken(request), resolve: settle(resolve), reject: settle(reject) });
      this.wake?.();
    });
  }

  /**
   * Progress of the work goes to the request attached now, on its own progress token: the work's own figures while
   * they increase (a relayed upstream's), else one step more than the last sent on that token.
   */
  private progress(message: string | undefined, figures?: ProgressFigures): void {
    const attached = this.attached;
    if (!attached || attached.token === undefined) return;
    attached.progress = figures && figures.progress > attached.progress ? figures.progress : attached.progress + 1;
    const params = {
      progressToken: attached.token,
      progress: attached.progress,
      ...(figures?.total !== undefined && figures.total >= attached.progress ? { total: figures.total } : {}),
      ...(message !== undefined ? { message } : {}),
    };
    attached.ctx.mcpReq.notify({ method: 'notifications/progress', params }).catch(() => undefined);
  }
}
