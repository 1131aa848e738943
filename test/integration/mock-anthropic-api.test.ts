import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { lastToolResult, startMockAnthropicApi, type MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import { BUNDLED_CLAUDE, createClaudeSandbox, type ClaudeSandbox } from '../helpers/claude-env.js';

interface StreamMessage {
  type: string;
  subtype?: string;
  is_error?: boolean;
  result?: string;
  api_error_status?: number;
  session_id?: string;
}

/** Runs the bare binary once in print mode and returns its stream-json messages. */
async function runClaude(sandbox: ClaudeSandbox, args: string[]): Promise<{ code: number | null; messages: StreamMessage[] }> {
  const child = spawn(BUNDLED_CLAUDE, ['--output-format', 'stream-json', '--verbose', ...args], {
    cwd: sandbox.workspace,
    env: sandbox.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (data: Buffer) => (out += data.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    code,
    messages: out
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as StreamMessage),
  };
}

describe('mock Anthropic Messages API, driven by the bare claude binary', () => {
  let mock: MockAnthropicApi;
  let sandbox: ClaudeSandbox;

  beforeAll(async () => {
    mock = await startMockAnthropicApi();
    sandbox = createClaudeSandbox(mock.url);
  });
  afterAll(async () => {
    await mock.close();
    sandbox.remove();
  });

  it('streams a scripted text reply over SSE and records the request', async () => {
    mock.on({ prompt: 'mock-hello', replies: [{ kind: 'text', text: 'hello from the mock', chunks: 4 }] });
    const { code, messages } = await runClaude(sandbox, ['-p', 'mock-hello']);
    expect(code).toBe(0);
    const result = messages.find((m) => m.type === 'result');
    expect(result).toMatchObject({ subtype: 'success', is_error: false, result: 'hello from the mock' });
    const [request] = mock.requestsFor('mock-hello');
    expect(request?.body.stream).toBe(true);
    expect(request?.path).toContain('/v1/messages');
    // The binary sends `role: "system"` entries inside messages; the mock accepts them.
    expect(request?.body.messages.map((m) => m.role)).toContain('system');
  });

  it('plays a Write tool_use and sees the tool_result on the next request', async () => {
    mock.on({
      prompt: 'mock-write',
      replies: [
        { kind: 'tool_use', name: 'Write', input: { file_path: 'made.txt', content: 'made\n' } },
        { kind: 'text', text: 'done' },
      ],
    });
    const { messages } = await runClaude(sandbox, ['-p', 'mock-write', '--permission-mode', 'acceptEdits']);
    expect(messages.find((m) => m.type === 'result')).toMatchObject({ is_error: false, result: 'done' });
    expect(readFileSync(path.join(sandbox.workspace, 'made.txt'), 'utf8')).toBe('made\n');
    const requests = mock.requestsFor('mock-write');
    expect(requests).toHaveLength(2);
    expect(lastToolResult(requests[1]!)?.isError).toBe(false);
  });

  it('answers errors as the API does, which the binary reports as is_error results', async () => {
    mock.on({ prompt: 'mock-401', replies: [{ kind: 'error', status: 401 }] });
    const { messages } = await runClaude(sandbox, ['-p', 'mock-401']);
    expect(messages.find((m) => m.type === 'result')).toMatchObject({ is_error: true, api_error_status: 401 });
  });
});
