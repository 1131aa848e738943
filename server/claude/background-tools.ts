import type { ToolDefinition } from '../mcp/tool-provider.js';
import { backgroundView } from '../tasks/task-views.js';
import type { BackgroundTasks } from './background-tasks.js';
import { ClaudeError } from './errors.js';
import type { createToolHandler } from './tool-handler.js';
import { tasksOutputSchema, type claudeInputSchemas } from './tool-schemas.js';

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
        'Your tasks (claude_ask with backgroundTask: true, and Claude calls you made as MCP tasks): list them with status, ' +
        'timings and cost; stop one; read its transcript tail and summary (logs); or run it again (restart resumes its session).',
      input: schema,
      output: tasksOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    async (args, call) => {
      const owner = call.caller.principalId;
      if (args.action === 'list') {
        const list = (await tasks.list(owner)).map(backgroundView);
        const text =
          list.length === 0 ? 'no background tasks' : list.map((t) => `${t.taskId} ${t.status} ${t.prompt.slice(0, 60)}`).join('\n');
        return { content: [{ type: 'text', text }], structuredContent: { action: 'list', tasks: list } };
      }
      if (!args.taskId) throw new ClaudeError('invalid_input', `taskId: required for ${args.action}`);
      const task =
        args.action === 'stop'
          ? await tasks.stop(owner, args.taskId)
          : args.action === 'restart'
            ? await tasks.restart(call, args.taskId)
            : await tasks.get(owner, args.taskId);
      const view = backgroundView(task);
      if (args.action === 'logs') {
        const log = task.log.slice(-(args.lines ?? 50));
        const text = [`${task.taskId} ${view.status}`, ...log, ...(task.summary ? [`summary: ${task.summary}`] : [])].join('\n');
        return { content: [{ type: 'text', text }], structuredContent: { action: 'logs', task: view, log } };
      }
      return { content: [{ type: 'text', text: `${task.taskId} ${view.status}` }], structuredContent: { action: args.action, task: view } };
    },
  );
}
