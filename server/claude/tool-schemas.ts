import { z } from 'zod';
import { PERMISSION_MODES } from './policy.js';

/** Limits the schemas need from config. */
export interface SchemaLimits {
  maxPromptLength: number;
}

const toolName = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z_][A-Za-z0-9_:.-]*(\(.*\))?$/, { error: 'expected a tool name such as Read, Bash(git *) or mcp__server__tool' });
const sessionId = z.string().regex(/^[A-Za-z0-9-]{8,100}$/, { error: 'expected a session id as returned by claude_ask' });
const hookList = z.array(z.string().min(1).max(2000)).max(10).optional();
/** A task id: 128 random bits in base64url, or the UUID of a task created before tasks had such ids. */
const taskId = z.string().regex(/^[A-Za-z0-9_-]{16,64}$/, { error: 'expected a task id' });
const priority = z.enum(['low', 'normal', 'high']).describe('Queue priority when all run slots are busy (default normal).');

/** `thinkingLevel` -> effort and thinking budget (tokens), from the seed's levels. */
export const THINKING_LEVELS = {
  think: { effort: 'medium', budgetTokens: 4_000 },
  'think-hard': { effort: 'high', budgetTokens: 10_000 },
  'think-harder': { effort: 'xhigh', budgetTokens: 20_000 },
  ultrathink: { effort: 'max', budgetTokens: 31_999 },
} as const;

/** Input schemas of the Claude tools, built once per provider (they depend on MAX_PROMPT_LENGTH). */
export function claudeInputSchemas({ maxPromptLength }: SchemaLimits) {
  const prompt = z
    .string({ error: 'query: expected a string' })
    .refine((value) => value.trim().length > 0, { error: 'query: must not be empty' })
    .refine((value) => value.length <= maxPromptLength, { error: `query: longer than MAX_PROMPT_LENGTH (${maxPromptLength} characters)` })
    .describe('What to ask Claude Code.');
  const common = {
    query: prompt,
    model: z
      .string()
      .regex(/^[A-Za-z0-9._:@/-]{1,100}$/, { error: 'expected a model name' })
      .optional()
      .describe('Model (alias or full name).'),
    workingDirectory: z.string().min(1).max(4096).optional().describe('Directory to work in; must lie inside a workspace root.'),
    priority: priority.optional(),
    maxTurns: z.number().int().min(1).max(10_000).optional().describe('Most agentic turns (clamped to the server ceiling).'),
    appendSystemPrompt: z.string().max(50_000).optional().describe("Text appended to Claude Code's system prompt."),
  };
  const ask = z.object({
    ...common,
    sessionId: sessionId.optional().describe('Continue this session (yours) instead of starting a new one.'),
    subagent: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,100}$/, { error: 'expected a subagent name' })
      .optional()
      .describe('Run as this subagent (see claude_subagent_list).'),
    thinkingLevel: z
      .enum(Object.keys(THINKING_LEVELS) as ['think', 'think-hard', 'think-harder', 'ultrathink'])
      .optional()
      .describe('How hard to think.'),
    additionalDirectories: z
      .array(z.string().min(1).max(4096))
      .max(20)
      .optional()
      .describe('More directories the run may read and edit; each must lie inside your workspace, like workingDirectory.'),
    allowedTools: z
      .array(toolName)
      .max(200)
      .optional()
      .describe(
        "Tools usable without asking (default: the server's DEFAULT_ALLOWED_TOOLS). Bash, Monitor, PowerShell and Workflow need the claude:exec scope.",
      ),
    disallowedTools: z.array(toolName).max(200).optional().describe("Tools removed for this run (added to the server's list)."),
    permissionMode: z.enum(PERMISSION_MODES).optional().describe("Permission mode, up to the server's ceiling (default `default`)."),
    maxBudgetUsd: z.number().positive().max(10_000).optional().describe('Spending cap in USD (clamped to the server ceiling).'),
    outputSchema: z.record(z.string(), z.unknown()).optional().describe('JSON schema: the answer comes back as `structuredOutput`.'),
    backgroundTask: z
      .boolean()
      .optional()
      .describe('Run detached: answer at once with a taskId; follow it with claude_background_tasks (or tasks/get, as any task).'),
    hooks: z
      .object({ preToolUse: hookList, postToolUse: hookList, sessionStart: hookList, preCompact: hookList, onError: hookList })
      .optional()
      .describe('Shell commands run as Claude Code hooks in the working directory (refused when the server disallows Bash).'),
  });
  const plan = z.object({ ...common, sessionId: sessionId.optional().describe('Plan inside this session (yours).') });
  const resume = z.object({
    sessionId: sessionId.describe('The session to continue (yours).'),
    query: prompt,
    fork: z.boolean().optional().describe('Fork: continue in a new session with the same history; the original stays as it was.'),
    model: common.model,
    priority: priority.optional(),
    maxTurns: common.maxTurns,
  });
  const abort = z.object({
    sessionId: sessionId.optional().describe('Abort the run working on this session.'),
    runId: z.string().uuid().optional().describe('Abort this run (from progress messages).'),
    taskId: taskId.optional().describe('Abort this task of yours (the same as tasks/cancel).'),
  });
  const tasks = z.object({
    action: z.enum(['list', 'stop', 'logs', 'restart']).describe('list your tasks, stop one, read its transcript tail, or run it again.'),
    taskId: taskId.optional().describe('Required for stop, logs and restart.'),
    lines: z.number().int().min(1).max(200).optional().describe('logs: how many transcript lines (default 50).'),
  });
  return { ask, plan, resume, abort, tasks };
}

/** The result of claude_ask / claude_resume / claude_plan. */
export const runOutputSchema = z.object({
  result: z.string().describe("Claude's final answer (for claude_plan: the plan)."),
  sessionId: z.string().describe('Pass to claude_resume or claude_ask to continue.'),
  isError: z.boolean(),
  subtype: z.string().describe('Claude Code result subtype: success, error_max_turns, error_during_execution...'),
  numTurns: z.number().int(),
  costUsd: z.number(),
  usage: z.object({
    inputTokens: z.number().int(),
    outputTokens: z.number().int(),
    cacheReadInputTokens: z.number().int(),
    cacheCreationInputTokens: z.number().int(),
  }),
  durationMs: z.number(),
  permissionDenials: z.array(z.object({ toolName: z.string(), toolUseId: z.string(), toolInput: z.record(z.string(), z.unknown()) })),
  structuredOutput: z.unknown().optional(),
  forkedFrom: z.string().optional(),
  workingDirectory: z.string(),
  taskId: z.string().optional().describe('Set when backgroundTask was requested: the run continues detached.'),
});

const taskSchema = z.object({
  taskId: z.string(),
  status: z.enum(['running', 'input_required', 'completed', 'failed', 'aborted', 'interrupted']),
  prompt: z.string(),
  tool: z.string().describe('The tool the task answers for (claude_ask, claude_resume...).'),
  sessionId: z.string().optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  durationMs: z.number().optional(),
  costUsd: z.number().optional(),
  numTurns: z.number().optional(),
  attempts: z.number().int(),
  statusMessage: z.string().optional().describe('While running: the last progress line, or the question it waits for.'),
  summary: z.string().optional(),
  error: z.object({ category: z.string(), message: z.string() }).optional(),
});

/** The result of claude_background_tasks. */
export const tasksOutputSchema = z.object({
  action: z.string(),
  tasks: z.array(taskSchema).optional(),
  task: taskSchema.optional(),
  log: z.array(z.string()).optional(),
});

/** The result of claude_abort. */
export const abortOutputSchema = z.object({
  aborted: z.boolean(),
  sessionId: z.string().optional(),
  runId: z.string().optional(),
  taskId: z.string().optional(),
  status: z.string().optional().describe('For a task: its status after the abort.'),
});

/** A clear one-line message from zod issues: `query: must not be empty; priority: expected one of ...`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.join('.');
      return where && !issue.message.startsWith(`${where}:`) ? `${where}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
