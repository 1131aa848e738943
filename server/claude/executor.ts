import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type {
  CanUseTool,
  EffortLevel,
  Options,
  PermissionMode,
  SDKMessage,
  SDKResultMessage,
  SDKUserMessage,
  SessionStore as AgentSessionStore,
} from '@anthropic-ai/claude-agent-sdk';
import type * as AgentSdkModule from '@anthropic-ai/claude-agent-sdk';
import type { Logger } from '../logging/logger.js';
import { bundledClaudePath } from './claude-cli.js';
import { requireCli, type ClaudeCli } from './cli-path.js';
import type { RunDirectory } from './cluster-runs.js';
import { spawnChild, waitForExit } from './child-process.js';
import { ClaudeError, sandboxUnavailable } from './errors.js';
import { classify, partial, stopError, toOutcome } from './run-outcome.js';
import { RunQueue, type RunPriority } from './run-queue.js';
import type { RunIsolation, SandboxStatus } from './sandbox.js';

type AgentSdk = typeof AgentSdkModule;
let agentSdk: Promise<AgentSdk> | undefined;

/** The Agent SDK, loaded by the first run: a server that never runs Claude does not pay its start-up cost. */
function loadAgentSdk(): Promise<AgentSdk> {
  agentSdk ??= import('@anthropic-ai/claude-agent-sdk');
  return agentSdk;
}

/** Everything one run needs, already validated and clamped by the caller (the tool layer). */
export interface RunRequest {
  /** `Caller.principalId`; recorded on the live run so only its owner can abort it. */
  owner: string;
  prompt: string;
  /** Real path inside a workspace root. */
  cwd: string;
  /** Further working directories (real paths inside the caller's workspace). */
  additionalDirectories?: readonly string[];
  priority: RunPriority;
  permissionMode: PermissionMode;
  allowedTools: readonly string[];
  disallowedTools: readonly string[];
  maxTurns: number;
  maxBudgetUsd: number;
  model?: string;
  /** Resume this session (continue it), or fork it when `forkSession`. */
  resume?: string;
  forkSession?: boolean;
  /** With `resume` + `forkSession`: keep the conversation only up to this transcript entry (checkpoint restore). */
  resumeSessionAt?: string;
  /** Main-thread agent (a subagent definition) to run as. */
  agent?: string;
  appendSystemPrompt?: string;
  effort?: EffortLevel;
  thinkingBudgetTokens?: number;
  /** Shell commands run as Claude Code hooks, by hook event (`PreToolUse`, `PostToolUse`, `SessionStart`...). */
  hookCommands?: Readonly<Record<string, readonly string[]>>;
  /** JSON schema of the structured answer wanted. */
  outputSchema?: Record<string, unknown>;
  /** Asked about tools that are neither allowed nor disallowed. Without it, such tools are denied. */
  canUseTool?: CanUseTool;
  /** Sees every SDK message as it arrives (progress). Must not throw. */
  onMessage?: (message: SDKMessage) => void;
  /** Stream partial text (`stream_event`) to `onMessage`. */
  includePartialMessages?: boolean;
  /** Aborting it interrupts the run (MCP cancellation). */
  signal?: AbortSignal;
  /** Time limit of this run; RUN_TIMEOUT_MS when absent. */
  timeoutMs?: number;
  /** The task this run works for, if any: recorded with the run so `claude_abort` on a session finds the task. */
  taskId?: string;
}

/** How a run ended, for `structuredContent`. */
export interface RunOutcome {
  result: string;
  sessionId: string;
  isError: boolean;
  subtype: string;
  numTurns: number;
  costUsd: number;
  usage: { inputTokens: number; outputTokens: number; cacheReadInputTokens: number; cacheCreationInputTokens: number };
  durationMs: number;
  permissionDenials: Array<{ toolName: string; toolUseId: string; toolInput: Record<string, unknown> }>;
  structuredOutput?: unknown;
}

/** Why a live run is being stopped. */
export type StopReason = 'aborted' | 'timeout' | 'shutdown';

/** A run the executor knows about, queued or running. */
export interface LiveRun {
  id: string;
  owner: string;
  /** Known once Claude Code reports it (`system/init`), or at once when resuming. */
  sessionId?: string;
  pid?: number;
  priority: RunPriority;
  status: 'queued' | 'running' | 'stopping';
  /** Epoch ms of enqueueing and of start. */
  queuedAt: number;
  startedAt?: number;
}

/** Options of {@link createClaudeExecutor}. */
export interface ClaudeExecutorOptions {
  cli: ClaudeCli;
  /** The allow-listed environment of every child (see config/child-env.ts). */
  env: Readonly<Record<string, string>>;
  /**
   * A folder to put first on the child's PATH, known a little after start-up (the `npm` stand-in of
   * npm-root-shim.ts): a run waits for it, start-up does not.
   */
  pathPrefix?: Promise<string | undefined>;
  maxConcurrentRuns: number;
  maxQueuedRuns: number;
  runTimeoutMs: number;
  /** Between interrupting a run and killing its process. */
  interruptGraceMs: number;
  /** The confinement of every run (sandbox.ts). */
  isolation: RunIsolation;
  /** What the start-up probe found: with the sandbox required and not working, no run starts. */
  sandbox: SandboxStatus;
  /** With several replicas: where runs are recorded for the others, and the cluster-wide run limit. */
  directory?: RunDirectory;
  /**
   * With several replicas: the shared transcript store (transcript-store.ts) every run mirrors its transcript to, and
   * a resumed or forked run starts from, whichever replica ran the session before.
   */
  transcripts?: AgentSessionStore;
  logger: Logger;
}

/** Runs Claude Code through the Agent SDK, queued, time-limited and tracked. */
export interface ClaudeExecutor {
  /** Queues, runs and returns the outcome; throws {@link ClaudeError} for every failure. */
  run(request: RunRequest, hooks?: { onQueued?: (run: LiveRun) => void }): Promise<RunOutcome>;
  /** Live runs (queued and running), optionally of one owner. */
  live(owner?: string): LiveRun[];
  /** Stops the live run of `owner` working on `sessionId`; false when there is none (or it is someone else's). */
  stopSession(owner: string, sessionId: string, reason?: StopReason): boolean;
  /** Stops a live run by id, checking the owner. */
  stopRun(owner: string, runId: string, reason?: StopReason): boolean;
  /** Queue figures. */
  stats(): { running: number; queued: number };
  /**
   * Shutdown: refuses new runs, fails queued ones, interrupts running ones, kills what is still alive after the
   * grace period, and resolves when every child process has exited.
   */
  shutdown(): Promise<void>;
}

interface Tracked extends LiveRun {
  stop(reason: StopReason): void;
  stopReason?: StopReason;
  child?: ChildProcess;
  settled: Promise<void>;
}

/** Creates the executor. */
export function createClaudeExecutor(options: ClaudeExecutorOptions): ClaudeExecutor {
  const { logger } = options;
  const queue = new RunQueue({ maxConcurrent: options.maxConcurrentRuns, maxQueued: options.maxQueuedRuns });
  const runs = new Map<string, Tracked>();
  let shuttingDown = false;
  // Named for the SDK when CLAUDE_CLI_PATH is unset: left to itself it picks between its glibc and musl builds on every
  // query with process.report.getReport(), which blocks the event loop for milliseconds (docs/benchmarks.md, "Claude
  // tools"). Unset when the package is missing (a musl system), where the SDK's own lookup applies.
  const bundled = bundledClaudePath();

  const publicView = (run: Tracked): LiveRun => ({
    id: run.id,
    owner: run.owner,
    ...(run.sessionId ? { sessionId: run.sessionId } : {}),
    ...(run.pid ? { pid: run.pid } : {}),
    priority: run.priority,
    status: run.status,
    queuedAt: run.queuedAt,
    ...(run.startedAt ? { startedAt: run.startedAt } : {}),
  });

  async function run(request: RunRequest, hooks: { onQueued?: (run: LiveRun) => void } = {}): Promise<RunOutcome> {
    if (shuttingDown) throw new ClaudeError('busy', 'the server is shutting down');
    if (!options.sandbox.ready) throw sandboxUnavailable(options.sandbox.problem);
    const executable = requireCli(options.cli) ?? bundled;
    const queueAbort = new AbortController();
    let resolveSettled!: () => void;
    const tracked: Tracked = {
      id: randomUUID(),
      owner: request.owner,
      ...(request.resume && !request.forkSession ? { sessionId: request.resume } : {}),
      priority: request.priority,
      status: 'queued',
      queuedAt: Date.now(),
      settled: new Promise<void>((resolve) => (resolveSettled = resolve)),
      stop: (reason) => {
        tracked.stopReason ??= reason;
        queueAbort.abort();
      },
    };
    runs.set(tracked.id, tracked);
    const onCallerAbort = () => tracked.stop('aborted');
    request.signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (request.signal?.aborted) tracked.stop('aborted');
    hooks.onQueued?.(publicView(tracked));
    try {
      return await queue.schedule(request.priority, () => execute(request, tracked, executable), queueAbort.signal);
    } catch (error) {
      if (error instanceof ClaudeError && error.category === 'aborted' && tracked.stopReason && tracked.status === 'queued') {
        throw stopError(tracked.stopReason, 'before it started');
      }
      throw error;
    } finally {
      request.signal?.removeEventListener('abort', onCallerAbort);
      runs.delete(tracked.id);
      // Released before the caller hears the outcome: its next run, on any replica, finds the cluster-wide slot free.
      await options.directory
        ?.release({ runId: tracked.id, owner: tracked.owner })
        .catch((error: unknown) => logger.warn('cluster: run not released', { runId: tracked.id, error, category: 'cluster' }));
      resolveSettled();
    }
  }

  async function execute(request: RunRequest, tracked: Tracked, executable: string | undefined): Promise<RunOutcome> {
    const { query } = await loadAgentSdk();
    if (tracked.stopReason) throw stopError(tracked.stopReason, 'before it started');
    const claim = {
      runId: tracked.id,
      owner: tracked.owner,
      ...(tracked.sessionId ? { sessionId: tracked.sessionId } : {}),
      ...(request.taskId ? { taskId: request.taskId } : {}),
    };
    if (options.directory && !(await options.directory.claim(claim))) {
      throw new ClaudeError(
        'busy',
        'the Claude runs of every replica are at the cluster-wide limit (CLUSTER_MAX_CONCURRENT_RUNS); retry later',
      );
    }
    if (tracked.stopReason) throw stopError(tracked.stopReason, 'before it started');
    tracked.status = 'running';
    tracked.startedAt = Date.now();
    const abortController = new AbortController();
    let resolveInputDone!: () => void;
    const inputDone = new Promise<void>((resolve) => (resolveInputDone = resolve));
    // Streaming-input mode keeps the control channel open, which `interrupt()` needs; the input ends after the result.
    async function* input(): AsyncGenerator<SDKUserMessage> {
      yield { type: 'user', message: { role: 'user', content: request.prompt }, parent_tool_use_id: null };
      await inputDone;
    }
    const stderrTail: string[] = [];
    // A folder of this run's own for Claude Code's scratch files and the sandbox's proxy sockets: the sandbox lets
    // commands read it, so it must hold nothing of other runs.
    const prefix = await options.pathPrefix;
    const env = prefix ? { ...options.env, PATH: `${prefix}${path.delimiter}${options.env.PATH ?? ''}` } : options.env;
    const tmpDir = mkdtempSync(path.join(env.TMPDIR ?? tmpdir(), 'ccm-run-'));
    const isolation = options.isolation.optionsFor({
      cwd: request.cwd,
      additionalDirectories: request.additionalDirectories ?? [],
      tmpDir,
    });
    if (options.isolation.mode === 'off') {
      logger.warn("claude run without a sandbox (CLAUDE_SANDBOX=off): its commands have the server's rights", {
        runId: tracked.id,
        owner: request.owner,
        cwd: request.cwd,
      });
    }
    const sdkOptions: Options = {
      cwd: request.cwd,
      env: { ...env, TMPDIR: tmpDir, CLAUDE_CODE_TMPDIR: tmpDir, CLAUDE_AGENT_SDK_CLIENT_APP: 'claude-code-mcp' },
      ...(request.additionalDirectories?.length ? { additionalDirectories: [...request.additionalDirectories] } : {}),
      abortController,
      permissionMode: request.permissionMode,
      ...(request.permissionMode === 'bypassPermissions' ? { allowDangerouslySkipPermissions: true } : {}),
      allowedTools: [...request.allowedTools],
      disallowedTools: [...request.disallowedTools],
      maxTurns: request.maxTurns,
      maxBudgetUsd: request.maxBudgetUsd,
      ...(request.model ? { model: request.model } : {}),
      ...(request.resume ? { resume: request.resume } : {}),
      ...(request.forkSession ? { forkSession: true } : {}),
      ...(request.resumeSessionAt ? { resumeSessionAt: request.resumeSessionAt } : {}),
      ...(request.agent ? { agent: request.agent } : {}),
      systemPrompt: {
        type: 'preset',
        preset: 'claude_code',
        ...(request.appendSystemPrompt ? { append: request.appendSystemPrompt } : {}),
      },
      ...(request.effort ? { effort: request.effort } : {}),
      ...(request.thinkingBudgetTokens ? { thinking: { type: 'enabled', budgetTokens: request.thinkingBudgetTokens } } : {}),
      ...(request.outputSchema ? { outputFormat: { type: 'json_schema', schema: request.outputSchema } } : {}),
      ...(request.canUseTool ? { canUseTool: request.canUseTool } : {}),
      ...(request.includePartialMessages ? { includePartialMessages: true } : {}),
      ...(executable ? { pathToClaudeCodeExecutable: executable } : {}),
      settingSources: ['user', 'project', 'local'],
      // We spawn the process ourselves; stating the delivery keeps the SDK from warning once per process. `argv`
      // also works with an older system binary (CLAUDE_CLI_PATH); we pass no MCP servers today anyway.
      mcpServersDelivery: 'argv',
      settings: { ...isolation.settings, ...(request.hookCommands ? { hooks: hookSettings(request.hookCommands) } : {}) },
      ...(isolation.sandbox ? { sandbox: isolation.sandbox } : {}),
      ...(isolation.strictMcpConfig ? { strictMcpConfig: true } : {}),
      ...(isolation.hooks ? { hooks: isolation.hooks } : {}),
      persistSession: true,
      ...(options.transcripts ? { sessionStore: options.transcripts } : {}),
      spawnClaudeCodeProcess: (spawnOptions) =>
        spawnChild(spawnOptions, tracked, options.interruptGraceMs, logger, (data) => {
          stderrTail.push(data);
          if (stderrTail.length > 20) stderrTail.shift();
        }),
    };

    const q = query({ prompt: input(), options: sdkOptions });
    let killTimer: NodeJS.Timeout | undefined;
    tracked.stop = (reason) => {
      if (tracked.stopReason && tracked.status === 'stopping') return;
      tracked.stopReason ??= reason;
      tracked.status = 'stopping';
      logger.debug('interrupting claude run', { runId: tracked.id, reason });
      q.interrupt().catch(() => undefined);
      // A run that does not end its turn within the grace period is aborted (the SDK closes stdin, then kills).
      killTimer = setTimeout(() => {
        abortController.abort();
        resolveInputDone();
      }, options.interruptGraceMs);
      killTimer.unref();
    };
    if (request.signal?.aborted) tracked.stop('aborted');
    const timeout = setTimeout(() => tracked.stop('timeout'), request.timeoutMs ?? options.runTimeoutMs);
    timeout.unref();

    let result: SDKResultMessage | undefined;
    let apiErrorStatus: number | undefined;
    try {
      for await (const message of q) {
        if (message.type === 'system' && message.subtype === 'init') {
          tracked.sessionId = message.session_id;
          options.directory?.update({ runId: tracked.id, owner: tracked.owner, sessionId: message.session_id }).catch(() => undefined);
        }
        if (message.type === 'system' && message.subtype === 'mirror_error') {
          // The SDK gave up storing part of the transcript: another replica resuming the session would miss it.
          logger.warn('claude transcript not stored in shared storage', {
            runId: tracked.id,
            sessionId: message.session_id,
            error: message.error,
            category: 'cluster',
          });
        }
        if (message.type === 'assistant' && 'api_error_status' in message) {
          apiErrorStatus = (message as { api_error_status?: number }).api_error_status;
        }
        try {
          request.onMessage?.(message);
        } catch (error) {
          logger.warn('run message observer failed', { error });
        }
        if (message.type === 'result') {
          // The answer to our prompt. Claude Code may start another turn on its own (a finished subagent posts a
          // notification), which would cost money and replace this result; the run is over, so stop reading.
          result = message;
          resolveInputDone();
          break;
        }
      }
    } catch (error) {
      if (tracked.stopReason) throw stopError(tracked.stopReason, 'while running', partial(result, tracked.sessionId));
      if ((error as { startupFailureReason?: string }).startupFailureReason === 'sandbox_required_unavailable') {
        logger.error('claude refused to start: its sandbox cannot run', { runId: tracked.id, error, category: 'sandbox_unavailable' });
        throw sandboxUnavailable();
      }
      // After an error result the SDK also throws ("Claude Code returned an error result"); the result says more.
      if (!result) {
        logger.warn('claude run failed', { runId: tracked.id, error, stderr: stderrTail.join('').slice(-2000) });
        throw new ClaudeError('internal', 'Claude Code ended unexpectedly');
      }
    } finally {
      clearTimeout(timeout);
      resolveInputDone();
      if (killTimer) clearTimeout(killTimer);
      q.close();
      await waitForExit(tracked.child, options.interruptGraceMs + 3000);
      rmSync(tmpDir, { recursive: true, force: true });
    }
    if (!result) {
      if (tracked.stopReason) throw stopError(tracked.stopReason, 'while running');
      throw new ClaudeError('internal', 'Claude Code ended without a result');
    }
    const outcome = toOutcome(result);
    if (tracked.stopReason) throw stopError(tracked.stopReason, 'while running', outcome as unknown as Record<string, unknown>);
    classify(result, outcome, apiErrorStatus ?? (result as { api_error_status?: number }).api_error_status);
    return outcome;
  }

  function find(owner: string, predicate: (run: Tracked) => boolean): Tracked | undefined {
    for (const run of runs.values()) if (run.owner === owner && predicate(run)) return run;
    return undefined;
  }

  return {
    run,
    live: (owner) => [...runs.values()].filter((r) => owner === undefined || r.owner === owner).map(publicView),
    stopSession(owner, sessionId, reason = 'aborted') {
      const target = find(owner, (r) => r.sessionId === sessionId);
      target?.stop(reason);
      return Boolean(target);
    },
    stopRun(owner, runId, reason = 'aborted') {
      const target = find(owner, (r) => r.id === runId);
      target?.stop(reason);
      return Boolean(target);
    },
    stats: () => ({ running: queue.active, queued: queue.queued }),
    async shutdown() {
      shuttingDown = true;
      queue.close(new ClaudeError('aborted', 'the server is shutting down'));
      const all = [...runs.values()];
      for (const run of all) run.stop('shutdown');
      await Promise.race([
        Promise.all(all.map((r) => r.settled)),
        new Promise((resolve) => setTimeout(resolve, options.interruptGraceMs + 5000).unref()),
      ]);
      // Anything still alive now is killed outright: no orphan claude processes survive the server.
      for (const run of all) if (run.child && run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
      await Promise.all(all.map((r) => waitForExit(r.child, 2000)));
    },
  };
}

/** `{ PreToolUse: ['cmd'] }` -> the settings shape Claude Code reads (`matcher: '*'`, command hooks). */
function hookSettings(commands: Readonly<Record<string, readonly string[]>>) {
  return Object.fromEntries(
    Object.entries(commands).map(([event, list]) => [
      event,
      [{ matcher: '*', hooks: list.map((command) => ({ type: 'command' as const, command })) }],
    ]),
  );
}
