import type { CallToolResult, Tool, ToolAnnotations } from '@modelcontextprotocol/server';
import type { z } from 'zod';
import type { ToolCall, ToolDefinition } from './tool-provider.js';

/** How a tool is described and checked; its schemas are converted to JSON Schema once, here. */
export interface ToolSpec<S extends z.ZodType> {
  title?: string;
  description: string;
  /** The arguments (an object schema). */
  input: S;
  /** The shape of `structuredContent`. */
  output?: z.ZodType;
  annotations?: ToolAnnotations;
  /** `optional`: calls can outlast a client's timeout, so the tool may run as a task (see ToolDefinition.taskSupport). */
  taskSupport?: 'optional';
  /**
   * Validate the arguments against `input` before the tool runs (default true), answering a tool error that names the
   * bad fields, as the MCP SDK does. Tools that validate themselves, to answer in their own error format, pass false;
   * they then get the arguments as sent.
   */
  validate?: boolean;
}

const JSON_SCHEMA_TARGET = 'draft-2020-12';

/** A zod schema as the JSON Schema a tool listing carries (objects at the root of inputs, as MCP requires). */
function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const json = schema['~standard'].jsonSchema[io]({ target: JSON_SCHEMA_TARGET }) as Record<string, unknown>;
  if (io === 'input' && json.type !== undefined && json.type !== 'object')
    throw new Error(`tool inputs must be objects (got ${JSON.stringify(json.type)})`);
  return json.type === undefined ? { type: 'object', ...json } : json;
}

/**
 * Builds a {@link ToolDefinition} from zod schemas and a body. The listing is computed once, when first needed; each
 * call costs one `safeParse` (when validating) and the body.
 */
export function defineTool<S extends z.ZodType>(
  name: string,
  spec: ToolSpec<S>,
  run: (args: z.infer<S>, call: ToolCall) => Promise<CallToolResult>,
): ToolDefinition {
  let listed: Tool | undefined;
  const validate = spec.validate ?? true;
  return {
    ...(spec.taskSupport ? { taskSupport: spec.taskSupport } : {}),
    // Converted on first use (the first tools/list or call), not at start-up.
    get tool(): Tool {
      listed ??= {
        name,
        ...(spec.title ? { title: spec.title } : {}),
        description: spec.description,
        inputSchema: jsonSchemaOf(spec.input, 'input') as Tool['inputSchema'],
        ...(spec.output ? { outputSchema: jsonSchemaOf(spec.output, 'output') as Tool['outputSchema'] } : {}),
        ...(spec.annotations ? { annotations: spec.annotations } : {}),
      };
      return listed;
    },
    async call(call) {
      if (!validate) return run(call.args as z.infer<S>, call);
      const parsed = spec.input.safeParse(call.args);
      if (!parsed.success) {
        const detail = parsed.error.issues
          .map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
          .join(', ');
        return {
          content: [{ type: 'text', text: `Input validation error: Invalid arguments for tool ${name}: ${detail}` }],
          isError: true,
        };
      }
      return run(parsed.data, call);
    },
  };
}
