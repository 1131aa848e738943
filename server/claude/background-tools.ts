import type { ToolDefinition } from '../mcp/tool-provider.js';
import type { BackgroundTasks, TaskRecord } from './background-tasks.js';
import { ClaudeError } from './errors.js';
import type { createToolHandler } from './tool-handler.js';
import { tasksOutputSchema, type claudeInputSchemas } from './tool-schemas.js';

/** The public view of a task (no stored request). */
export function taskView(task: TaskRecord) {
  return {
    taskId: task.taskId,
    status: task.status,
    prompt: task.promptPreview,
    ...(task.sessionId ? { sessionId: task.sessionId } : {}),
    createdAt: task.createdAt,
    ...(task.startedAt ? { startedAt: task.startedAt } : {}),
    ...(task.endedAt ? { endedAt: task.endedAt } : {}),
    ...(task.durationMs !== undefined ? { durationMs: task.durationMs } : {}),
    ...(task.costUsd !== undefined ? { costUsd: task.costUsd } : {}),
    ...(task.numTurns !== undefined ? { numTurns: task.numTurns } : {}),
    attempts: task.attempts,
    ...(task.summary ? { summary: task.summary.slice(0, 4000) } : {}),
    ...(task.error ? { error: task.error as { category: never; message: string } } : {}),
  };
}

/** `claude_background_tasks` (list | stop | logs | restart), over only the calling client's own tasks. */
export function backgroundTasksTool(
  tasks: BackgroundTasks,
  schema: ReturnType<typeof claudeInputSchemas>['tasks'],
  claudeTool: ReturnType<typeof createToolHandler>,
): ToolDefinition {
  return claudeTool(
    'claude_background_tasks',
    {
      title: 'Background Claude tasks',
      description:
        'Your background tasks (claude_ask with backgroundTask: true): list them with status, timings and cost; stop one; ' +
        'read its transcript tail and summary (logs); or run it again (restart resumes its session).',
      input: schema,
      output: tasksOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    async (args, { caller }) => {
      const owner = caller.principalId;
      if (args.action === 'list') {
        const list = (await tasks.list(owner)).map(taskView);
        const text = list.length === 0 ? 'no background tasks' : list.map((t) => `${t.taskId} ${t.status} ${t.prompt.slice(0, 60)}`).join('\n');
        return { content: [{ type: 'text', text }], structuredContent: { action: 'list', tasks: list } };
      }
      if (!args.taskId) throw new ClaudeError('invalid_input', `taskId: required for ${args.action}`);
      const task =
        args.action === 'stop'
          ? await tasks.stop(owner, args.taskId)
          : args.action === 'restart'
            ? await tasks.restart(owner, args.taskId)
            : await tasks.get(owner, args.taskId);
      const view = taskView(task);
      if (args.action === 'logs') {
        const log = task.log.slice(-(args.lines ?? 50));
        const text = [`${task.taskId} ${task.status}`, ...log, ...(task.summary ? [`summary: ${task.summary}`] : [])].join('\n');
        return { content: [{ type: 'text', text }], structuredContent: { action: 'logs', task: view, log } };
      }
      return { content: [{ type: 'text', text: `${task.taskId} ${task.status}` }], structuredContent: { action: args.action, task: view } };
    },
  );
}
