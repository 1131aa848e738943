import { describe, expect, it } from '@jest/globals';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { createErrorResultGuard, withoutStructuredContent } from '../../../server/gateway/error-result.js';

const schema = {
  type: 'object',
  properties: { total: { type: 'number' } },
  required: ['total'],
  additionalProperties: false,
  $schema: 'https://json-schema.org/draft/2020-12/schema',
};

describe('error results of relayed tools', () => {
  it('keeps structuredContent of an error result only when it matches the output schema', async () => {
    const guard = createErrorResultGuard(schema)!;
    const mismatched: CallToolResult = {
      isError: true,
      content: [{ type: 'text', text: 'locked' }],
      structuredContent: { error: 'locked' },
    };
    expect(await guard(mismatched)).toEqual({ isError: true, content: [{ type: 'text', text: 'locked' }] });
    const matching: CallToolResult = { isError: true, content: [{ type: 'text', text: 'none' }], structuredContent: { total: 0 } };
    expect(await guard(matching)).toBe(matching);
    const success: CallToolResult = { content: [], structuredContent: { wrong: true } };
    expect(guard(success)).toBe(success);
  });

  it('checks formats as the v1 client does', async () => {
    const guard = createErrorResultGuard({
      type: 'object',
      properties: { at: { type: 'string', format: 'date-time' } },
      required: ['at'],
    })!;
    expect(
      (await guard({ isError: true, content: [{ type: 'text', text: 'x' }], structuredContent: { at: 'yesterday' } })).structuredContent,
    ).toBeUndefined();
    expect(
      (await guard({ isError: true, content: [{ type: 'text', text: 'x' }], structuredContent: { at: '2026-01-01T00:00:00Z' } }))
        .structuredContent,
    ).toEqual({ at: '2026-01-01T00:00:00Z' });
  });

  it('needs no guard for a tool without an output schema', () => {
    expect(createErrorResultGuard(undefined)).toBeUndefined();
  });

  it('says in text what the dropped structuredContent said when no text block does', () => {
    expect(withoutStructuredContent({ isError: true, content: [], structuredContent: { error: 'locked' } })).toEqual({
      isError: true,
      content: [{ type: 'text', text: '{"error":"locked"}' }],
    });
    expect(
      withoutStructuredContent({ isError: true, content: [{ type: 'text', text: ' ' }], structuredContent: { a: 1 } }).content,
    ).toEqual([
      { type: 'text', text: ' ' },
      { type: 'text', text: '{"a":1}' },
    ]);
  });
});
