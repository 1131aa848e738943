import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import type { Caller } from '../../../server/mcp/caller.js';
import { defineTool } from '../../../server/mcp/define-tool.js';
import { ToolCatalog } from '../../../server/mcp/tool-catalog.js';
import type { ToolCall, ToolDefinition, ToolProvider } from '../../../server/mcp/tool-provider.js';

const tool = (name: string, text = name): ToolDefinition =>
  defineTool(name, { description: name, input: z.object({ n: z.number().int() }) }, async () => ({ content: [{ type: 'text', text }] }));

const caller = (scopes: string[], clientId = 'client'): Caller => ({ principalId: clientId, scopes, method: 'api-key' });

/** Only tools whose name starts with a granted scope (`a` grants `a_*`); `*` grants everything. */
const access = (who: Caller, name: string) => who.scopes.includes('*') || who.scopes.some((scope) => name.startsWith(`${scope}_`));

describe('tool catalog', () => {
  it('lists per caller policy, the same array for the same policy, and hides what access refuses', () => {
    const catalog = new ToolCatalog([{ name: 'p', tools: () => [tool('a_one'), tool('b_two')] }], access);
    const onlyA = catalog.listFor(caller(['a']));
    expect(onlyA.map((t) => t.name)).toEqual(['a_one']);
    expect(catalog.listFor(caller(['a'], 'client'))).toBe(onlyA);
    expect(catalog.listFor(caller(['*'])).map((t) => t.name)).toEqual(['a_one', 'b_two']);
    expect(catalog.find('b_two', caller(['a']))).toBeUndefined();
    expect(catalog.find('b_two', caller(['b']))?.tool.name).toBe('b_two');
    expect(catalog.find('nope', caller(['*']))).toBeUndefined();
  });

  it("keeps the first provider's tool when two providers use one name", async () => {
    const catalog = new ToolCatalog([
      { name: 'first', tools: () => [tool('same', 'from first')] },
      { name: 'second', tools: () => [tool('same', 'from second')] },
    ]);
    const found = catalog.find('same', caller(['*']))!;
    const result = await found.call({ args: { n: 1 } } as unknown as ToolCall);
    expect(result.content).toEqual([{ type: 'text', text: 'from first' }]);
  });

  it('answers invalid arguments with a tool error naming the field, without running the tool', async () => {
    let ran = false;
    const definition = defineTool('t', { description: 't', input: z.object({ n: z.number().int() }) }, async () => {
      ran = true;
      return { content: [] };
    });
    const result = await definition.call({ args: { n: 'x' } } as unknown as ToolCall);
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain('Invalid arguments for tool t: n:');
    expect(ran).toBe(false);
    expect(definition.tool.inputSchema).toMatchObject({ type: 'object', properties: { n: { type: 'integer' } } });
  });

  it("rebuilds its listings and tells its listeners when a provider's tools change", () => {
    let tools = [tool('a_one')];
    const listeners = new Set<() => void>();
    const provider: ToolProvider = {
      name: 'changing',
      tools: () => tools,
      onToolsChanged(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const catalog = new ToolCatalog([provider], access);
    let heard = 0;
    catalog.onChange(() => (heard += 1));
    expect(catalog.listFor(caller(['a'])).map((t) => t.name)).toEqual(['a_one']);
    tools = [tool('a_one'), tool('a_two')];
    for (const listener of listeners) listener();
    expect(heard).toBe(1);
    expect(catalog.listFor(caller(['a'])).map((t) => t.name)).toEqual(['a_one', 'a_two']);
    expect(catalog.find('a_two', caller(['a']))).toBeDefined();
  });
});
