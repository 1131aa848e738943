import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { createEventBus } from '../../../server/events/bus.js';
import { createSilentLogger } from '../../../server/logging/logger.js';
import { defineTool } from '../../../server/mcp/define-tool.js';
import { createServerFactory } from '../../../server/mcp/server-factory.js';
import { createStorage } from '../../../server/storage/create-storage.js';
import { createTaskService } from '../../../server/tasks/task-service.js';
import { testConfig } from '../../helpers/test-server.js';

const looseObject = z.object({}).passthrough();
const tools = [
  defineTool(
    'slow_echo',
    { description: 'echo, as a task if asked', input: z.object({ text: z.string() }), taskSupport: 'optional' },
    async ({ text }) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { content: [{ type: 'text', text }] };
    },
  ),
  defineTool('quick', { description: 'never a task', input: z.object({}) }, async () => ({ content: [{ type: 'text', text: 'quick' }] })),
];

/** A 2025-era session with our routing over two fixture tools (one may run as a task), without Claude. */
async function session(tasksEnabled: boolean) {
  const config = testConfig({ tasksEnabled, taskPollIntervalMs: 50 });
  const storage = await createStorage({ kind: 'memory' });
  const service = await createTaskService({ config, storage, events: createEventBus(), logger: createSilentLogger() });
  const factory = createServerFactory({
    name: 't',
    version: '1',
    providers: [{ name: 'fixture', tools: () => tools }],
    routing: service.routing,
  });
  const server = factory({ caller: { principalId: 'alice', scopes: ['*'], method: 'none' }, era: 'legacy', mode: 'stdio' });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'routing-test', version: '1' });
  await client.connect(clientSide);
  opened.push({
    close: async () => (
      await client.close(),
      await server.close(),
      service.close(),
      await storage.close(),
      rmSync(config.dataDir, { recursive: true, force: true })
    ),
  });
  return { client, service };
}
const opened: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  for (const item of opened.splice(0)) await item.close();
});

describe('tools/call routing (2025-11-25 session)', () => {
  it('with tasks on: declares them, lists task support per tool, runs a task request as a task and refuses one to a tool without support', async () => {
    const { client, service } = await session(true);
    expect(client.getServerCapabilities()?.tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
    const listed = (await client.listTools()).tools;
    expect(listed.find((t) => t.name === 'slow_echo')?.execution).toEqual({ taskSupport: 'optional' });
    expect(listed.find((t) => t.name === 'quick')?.execution).toBeUndefined();

    const created = await client.request(
      { method: 'tools/call', params: { name: 'slow_echo', arguments: { text: 'hi' }, task: { ttl: 1 } } },
      looseObject,
    );
    const task = created.task as { taskId: string; status: string; ttl: number };
    expect(task).toMatchObject({ status: 'working', ttl: 60_000 });
    const result = await client.request({ method: 'tasks/result', params: { taskId: task.taskId } }, looseObject);
    expect(result).toMatchObject({
      content: [{ type: 'text', text: 'hi' }],
      _meta: { 'io.modelcontextprotocol/related-task': { taskId: task.taskId } },
    });
    expect(await client.request({ method: 'tasks/get', params: { taskId: task.taskId } }, looseObject)).toMatchObject({
      status: 'completed',
    });
    expect((await service.runtime.get('alice', task.taskId))?.kind).toBe('tool-call');

    await expect(
      client.request({ method: 'tools/call', params: { name: 'quick', arguments: {}, task: {} } }, looseObject),
    ).rejects.toMatchObject({ code: -32601 });
    // Without `task`, the same tool answers directly.
    expect(await client.callTool({ name: 'slow_echo', arguments: { text: 'direct' } })).toMatchObject({
      content: [{ type: 'text', text: 'direct' }],
    });
  });

  it('with TASKS_ENABLED=false: no capability, no task support listed, no task methods, and a task request is a plain call', async () => {
    const { client } = await session(false);
    expect(client.getServerCapabilities()?.tasks).toBeUndefined();
    expect((await client.listTools()).tools.every((t) => t.execution === undefined)).toBe(true);
    const answer = await client.request(
      { method: 'tools/call', params: { name: 'slow_echo', arguments: { text: 'plain' }, task: { ttl: 1000 } } },
      looseObject,
    );
    expect(answer).toMatchObject({ content: [{ type: 'text', text: 'plain' }] });
    await expect(client.request({ method: 'tasks/list', params: {} }, looseObject)).rejects.toMatchObject({ code: -32601 });
  });
});
