import { z } from 'zod';
import type { EventBus } from '../events/bus.js';
import type { Caller } from '../mcp/caller.js';
import type { ToolCall, ToolDefinition } from '../mcp/tool-provider.js';
import type { CheckpointRecord, CheckpointStore } from './checkpoints.js';
import { ClaudeError } from './errors.js';
import type { RunOutcome } from './executor.js';
import type { SessionRecord } from './session-store.js';
import type { createToolHandler } from './tool-handler.js';

/** What claude_checkpoint needs. */
export interface CheckpointToolDeps {
  checkpoints: CheckpointStore;
  /** The caller's session, or `session_not_found`. */
  owned(caller: Caller, sessionId: string): Promise<SessionRecord>;
  /** The last user or assistant entry of a session's transcript (where a restore can continue the conversation). */
  lastMessage(sessionId: string): Promise<string | undefined>;
  events: EventBus;
  claudeTool: ReturnType<typeof createToolHandler>;
  /** Forks `sessionId` at `atMessage` and asks `query` there (restore + continue). */
  fork(call: ToolCall, record: SessionRecord, atMessage: string, query: string): Promise<RunOutcome>;
}

const input = z.object({
  action: z.enum(['create', 'list', 'restore', 'compare', 'delete']),
  sessionId: z
    .string()
    .regex(/^[A-Za-z0-9-]{8,100}$/, { error: 'expected a session id' })
    .describe('Your session whose working tree is checkpointed.'),
  label: z.string().max(200).optional().describe('create: a name for the checkpoint.'),
  checkpointId: z.string().uuid().optional().describe('restore, compare, delete: the checkpoint.'),
  compareWith: z.string().uuid().optional().describe('compare: a second checkpoint (default: the working tree now).'),
  query: z
    .string()
    .min(1)
    .max(100_000)
    .optional()
    .describe('restore: continue the conversation from the checkpoint with this message (a fork).'),
});

const view = z.object({
  checkpointId: z.string(),
  sessionId: z.string(),
  label: z.string().optional(),
  createdAt: z.string(),
  files: z.number().int(),
});
const output = z.object({
  action: z.string(),
  checkpoint: view.optional(),
  checkpoints: z.array(view).optional(),
  written: z.array(z.string()).optional(),
  removed: z.array(z.string()).optional(),
  added: z.array(z.string()).optional(),
  changed: z.array(z.string()).optional(),
  diff: z.string().optional(),
  truncated: z.boolean().optional(),
  fork: z.object({ sessionId: z.string(), result: z.string(), costUsd: z.number() }).optional(),
});

const toView = (c: CheckpointRecord) => ({
  checkpointId: c.checkpointId,
  sessionId: c.sessionId,
  ...(c.label ? { label: c.label } : {}),
  createdAt: c.createdAt,
  files: Object.keys(c.files).length,
});

/** claude_checkpoint: checkpoints of the calling client's own sessions only. */
export function checkpointTool(deps: CheckpointToolDeps): ToolDefinition {
  const { checkpoints, events, claudeTool } = deps;
  return claudeTool(
    'claude_checkpoint',
    {
      title: 'Checkpoints of a Claude session',
      description:
        "Snapshots of a session's working tree and conversation position. create; list; restore (files exactly as they were — " +
        'later files removed — and optionally continue the conversation from there with `query`, as a fork); compare (files ' +
        'added/changed/removed and a unified diff, against another checkpoint or now); delete. `.git` is never touched.',
      input: input,
      output,
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
      // `restore` with a `query` runs Claude.
      taskSupport: 'optional',
    },
    async (args, call) => {
      const { caller } = call;
      const owner = caller.principalId;
      const session = await deps.owned(caller, args.sessionId);
      const needId = () => {
        if (!args.checkpointId) throw new ClaudeError('invalid_input', `checkpointId: required for ${args.action}`);
        return args.checkpointId;
      };
      const ofSession = async (id: string) => {
        const record = await checkpoints.get(owner, id);
        if (record.sessionId !== session.sessionId)
          throw new ClaudeError('not_found', `no checkpoint ${id} in session ${session.sessionId}`);
        return record;
      };
      switch (args.action) {
        case 'create': {
          const record = await checkpoints.create(
            owner,
            session.sessionId,
            session.cwd,
            args.label,
            await deps.lastMessage(session.sessionId),
          );
          events.emit('checkpoint.created', {
            checkpointId: record.checkpointId,
            sessionId: record.sessionId,
            owner,
            files: Object.keys(record.files).length,
          });
          return {
            content: [{ type: 'text', text: `checkpoint ${record.checkpointId} (${Object.keys(record.files).length} files)` }],
            structuredContent: { action: 'create', checkpoint: toView(record) },
          };
        }
        case 'list': {
          const list = (await checkpoints.list(owner, session.sessionId)).map(toView);
          const text =
            list.length === 0 ? 'no checkpoints' : list.map((c) => `${c.checkpointId} ${c.createdAt} ${c.label ?? ''}`).join('\n');
          return { content: [{ type: 'text', text }], structuredContent: { action: 'list', checkpoints: list } };
        }
        case 'delete': {
          const record = await ofSession(needId());
          await checkpoints.delete(owner, record.checkpointId);
          return {
            content: [{ type: 'text', text: `deleted ${record.checkpointId}` }],
            structuredContent: { action: 'delete', checkpoint: toView(record) },
          };
        }
        case 'compare': {
          const from = await ofSession(needId());
          const to = args.compareWith ? await ofSession(args.compareWith) : undefined;
          const diff = await checkpoints.compare(from, to);
          const text = `added ${diff.added.length}, changed ${diff.changed.length}, removed ${diff.removed.length}\n${diff.diff}`;
          return { content: [{ type: 'text', text }], structuredContent: { action: 'compare', checkpoint: toView(from), ...diff } };
        }
        case 'restore': {
          const record = await ofSession(needId());
          const changes = await checkpoints.restore(record);
          events.emit('checkpoint.restored', {
            checkpointId: record.checkpointId,
            sessionId: record.sessionId,
            owner,
            written: changes.written.length,
            removed: changes.removed.length,
          });
          let fork: { sessionId: string; result: string; costUsd: number } | undefined;
          if (args.query) {
            if (!record.messageUuid)
              throw new ClaudeError('invalid_input', 'this checkpoint has no conversation position to continue from');
            const outcome = await deps.fork(call, session, record.messageUuid, args.query);
            fork = { sessionId: outcome.sessionId, result: outcome.result, costUsd: outcome.costUsd };
          }
          const text = `restored ${record.checkpointId}: ${changes.written.length} written, ${changes.removed.length} removed${fork ? `; continued in ${fork.sessionId}` : ''}`;
          return {
            content: [{ type: 'text', text }],
            structuredContent: { action: 'restore', checkpoint: toView(record), ...changes, ...(fork ? { fork } : {}) },
          };
        }
      }
    },
  );
}
