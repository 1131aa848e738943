import type { SDKMessage } from '@anthropic-ai/claude-agent-sdk';

/** Sends one progress notification; resolves when handed to the transport. */
export type ProgressSink = (progress: number, message: string) => Promise<void>;

/** Progress lines going out on one request, numbered, with keep-alives. */
export interface ProgressChannel {
  /** Sends `line` as the next progress notification. */
  send(line: string): void;
  /** Stops the keep-alives. */
  stop(): void;
}

/**
 * Numbers progress lines for `sink` and, while nothing else is sent, repeats the last line every `intervalMs`
 * (PROGRESS_INTERVAL_MS): a client that resets its request timeout on progress (`resetTimeoutOnProgress`) then keeps
 * waiting for a run that is queued, thinking or running a long command. Progress is best effort: a failed
 * notification (client gone) never affects the run.
 */
export function progressChannel(sink: ProgressSink, intervalMs: number): ProgressChannel {
  let count = 0;
  let last = 'working';
  const emit = (line: string) => {
    count += 1;
    sink(count, line).catch(() => undefined);
  };
  const keepAlive = setInterval(() => emit(last), intervalMs);
  keepAlive.unref();
  return {
    send(line) {
      last = line;
      keepAlive.refresh();
      emit(line);
    },
    stop: () => clearInterval(keepAlive),
  };
}

/**
 * Turns the SDK's message stream into short progress lines for `send`: text as it is written, each tool use,
 * subagents starting and finishing, the end of the run.
 */
export function progressObserver(send: (line: string) => void, runId: string): (message: SDKMessage) => void {
  let pendingText = '';
  let flushTimer: NodeJS.Timeout | undefined;
  const flush = () => {
    flushTimer = undefined;
    if (pendingText) send(`text: ${pendingText}`);
    pendingText = '';
  };
  send(`run ${runId} started`);
  return function onMessage(message) {
    switch (message.type) {
      case 'stream_event': {
        const event = message.event as { type: string; delta?: { type: string; text?: string } };
        if (event.type === 'content_block_delta' && event.delta?.type === 'text_delta' && event.delta.text) {
          pendingText += event.delta.text;
          // Coalesce deltas: one notification per 100 ms is plenty for a human and cheap for the client.
          flushTimer ??= setTimeout(flush, 100);
        }
        return;
      }
      case 'assistant':
        for (const block of message.message.content) {
          if (block.type === 'tool_use') send(`tool: ${block.name}${describeInput(block.input)}`);
          else if (block.type === 'text' && !message.parent_tool_use_id && pendingText === '' && !flushTimer)
            send(`text: ${block.text.slice(0, 500)}`);
        }
        return;
      case 'system':
        if (message.subtype === 'task_started') send(`subagent started: ${message.subagent_type ?? message.description}`);
        else if (message.subtype === 'task_notification') send(`subagent ${message.status}: ${message.summary ?? ''}`.trim());
        else if (message.subtype === 'permission_denied') send(`permission denied: ${message.tool_name}`);
        return;
      case 'result':
        if (flushTimer) {
          clearTimeout(flushTimer);
          flush();
        }
        send(`finished: ${message.subtype}${message.is_error ? ' (error)' : ''}`);
        return;
      default:
        return;
    }
  };
}

function describeInput(input: unknown): string {
  if (!input || typeof input !== 'object') return '';
  const record = input as Record<string, unknown>;
  const detail = record.file_path ?? record.command ?? record.pattern ?? record.description ?? record.path;
  return typeof detail === 'string' ? ` ${detail.slice(0, 200)}` : '';
}
