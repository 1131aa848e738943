import type { CallToolResult, JsonSchemaType, jsonSchemaValidator } from '@modelcontextprotocol/server';

/** The output check of one tool, compiled on first use. */
type OutputCheck = (structuredContent: unknown) => boolean;

let loadingValidator: Promise<jsonSchemaValidator> | undefined;

/**
 * The validator of the v1 SDK client, built as the v2 SDK documents the v1-equivalent one (draft-07 Ajv, formats,
 * no schema check): what `@modelcontextprotocol/sdk` 1.x clients check `structuredContent` with. Loaded on the first
 * error result that needs it, so a gateway whose upstreams never fail that way never loads Ajv.
 */
function v1Validator(): Promise<jsonSchemaValidator> {
  loadingValidator ??= import('@modelcontextprotocol/server/validators/ajv').then(({ Ajv, AjvJsonSchemaValidator, addFormats }) => {
    const ajv = new Ajv({ strict: false, validateFormats: true, validateSchema: false, allErrors: true });
    addFormats(ajv);
    return new AjvJsonSchemaValidator(ajv);
  });
  return loadingValidator;
}

/**
 * Makes the error results of one relayed tool readable by every client. The v1 SDK client (1.x: most hosts, the
 * Inspector, mcp-remote) checks `structuredContent` against the tool's `outputSchema` even when `isError` is true, and
 * answers a mismatch with a -32602 error of its own instead of the tool's error, so the model never sees what went
 * wrong. An error result of a tool with an output schema keeps its `structuredContent` only when it matches the schema
 * (checked as the v1 client checks it); otherwise it goes, and when no text block is left to say what went wrong its
 * JSON becomes one. Success results and tools without an output schema are never touched.
 */
export function createErrorResultGuard(
  outputSchema: object | undefined,
): ((result: CallToolResult) => CallToolResult | Promise<CallToolResult>) | undefined {
  if (!outputSchema) return undefined;
  let check: Promise<OutputCheck> | undefined;
  return (result) => {
    if (result.isError !== true || result.structuredContent === undefined) return result;
    // A schema the v1 client cannot compile fails its tools/list already: nothing structured passes it here either.
    check ??= v1Validator().then(
      (validator) => {
        try {
          const validate = validator.getValidator(outputSchema as JsonSchemaType);
          return (value: unknown) => validate(value).valid;
        } catch {
          return () => false;
        }
      },
      () => () => false,
    );
    return check.then((matches) => (matches(result.structuredContent) ? result : withoutStructuredContent(result)));
  };
}

/** `result` without `structuredContent`, its JSON added as text when no text block says anything. */
export function withoutStructuredContent(result: CallToolResult): CallToolResult {
  const { structuredContent, ...rest } = result;
  const content = rest.content ?? [];
  if (content.some((block) => block.type === 'text' && block.text.trim() !== '')) return rest;
  return { ...rest, content: [...content, { type: 'text', text: JSON.stringify(structuredContent) }] };
}
