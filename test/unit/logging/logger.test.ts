import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { runWithContext } from '../../../server/logging/context.js';
import { createLogger, type Logger, type LoggerOptions } from '../../../server/logging/logger.js';

/** A logger writing to memory, and a way to wait for its next lines. */
function capture(options: Partial<LoggerOptions> & { tty?: boolean } = {}) {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (options.tty) stream.isTTY = true;
  let buffered = '';
  const lines: string[] = [];
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts.filter((part) => part.length > 0));
  });
  const logger: Logger = createLogger({ level: 'info', format: 'json', ...options, stream });
  /** Resolves once `count` lines have been written (winston writes asynchronously). */
  const waitForLines = async (count: number): Promise<string[]> => {
    for (let i = 0; i < 200 && lines.length < count; i += 1) await new Promise((resolve) => setTimeout(resolve, 5));
    return lines;
  };
  return { logger, lines, waitForLines };
}

const parse = (line: string) => JSON.parse(line) as Record<string, unknown>;

describe('createLogger', () => {
  it('writes one JSON object per line with the request context and secrets redacted', async () => {
    const { logger, waitForLines } = capture({ defaultMeta: { service: 'claude-code-mcp' } });
    runWithContext({ requestId: 'req-42', principalId: 'client-7', sessionId: 'sess-1' }, () => {
      logger.info('upstream replied to Bearer abc.def', {
        headers: { authorization: 'Bearer abc.def', 'content-type': 'application/json' },
        user: { name: 'alice', password: 'hunter2' },
        callback: 'https://app.example/cb?access_token=tok123&state=s',
        redis: 'redis://:hunter2@redis.internal:6379',
        token: 'hunter2-token',
        apiKey: 'hunter2-key',
      });
    });
    const [line] = await waitForLines(1);
    expect(line).toBeDefined();
    expect(line).not.toMatch(/hunter2|tok123|abc\.def/);
    const entry = parse(line!);
    expect(entry).toMatchObject({
      level: 'info',
      message: 'upstream replied to Bearer [REDACTED]',
      requestId: 'req-42',
      clientId: 'client-7',
      sessionId: 'sess-1',
      service: 'claude-code-mcp',
      headers: { authorization: '[REDACTED]', 'content-type': 'application/json' },
      user: { name: 'alice', password: '[REDACTED]' },
      callback: 'https://app.example/cb?access_token=[REDACTED]&state=s',
      redis: 'redis://[REDACTED]@redis.internal:6379',
      token: '[REDACTED]',
      apiKey: '[REDACTED]',
    });
    expect(Number.isNaN(Date.parse(String(entry.timestamp)))).toBe(false);
  });

  it('keeps concurrent requests apart and adds no request id outside one', async () => {
    const { logger, waitForLines } = capture();
    await Promise.all([
      runWithContext({ requestId: 'a' }, async () => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        logger.info('from a');
      }),
      runWithContext({ requestId: 'b' }, async () => {
        logger.info('from b');
      }),
    ]);
    logger.info('outside');
    const entries = (await waitForLines(3)).map(parse);
    const byMessage = Object.fromEntries(entries.map((e) => [e.message, e.requestId]));
    expect(byMessage).toEqual({ 'from a': 'a', 'from b': 'b', outside: undefined });
  });

  it('serialises errors in metadata with their message and stack, redacted', async () => {
    const { logger, waitForLines } = capture();
    logger.error('storage failed', { error: new Error('AUTH failed for redis://default:hunter2@redis:6379'), category: 'storage' });
    const [line] = await waitForLines(1);
    expect(line).not.toContain('hunter2');
    const entry = parse(line!);
    expect(entry.category).toBe('storage');
    expect(entry.error).toMatchObject({ name: 'Error', message: 'AUTH failed for redis://[REDACTED]@redis:6379' });
    expect(String((entry.error as { stack: string }).stack)).toContain('logger.test');
  });

  it('starts each JSON line with timestamp, level and message, then the fields as given', async () => {
    const { logger, waitForLines } = capture({ defaultMeta: { service: 'claude-code-mcp' } });
    logger.info('tool call', { channel: 'tool', tool: 'echo', bytes: 9007199254740993n, timestamp: 'not ours' });
    const [line] = await waitForLines(1);
    expect(Object.keys(parse(line!))).toEqual(['timestamp', 'level', 'message', 'service', 'channel', 'tool', 'bytes']);
    expect(parse(line!)).toMatchObject({ level: 'info', message: 'tool call', bytes: '9007199254740993' });
    expect(parse(line!).timestamp).not.toBe('not ours');
  });

  it('drops lines below the configured level', async () => {
    const { logger, waitForLines } = capture({ level: 'warn' });
    logger.info('too chatty');
    logger.debug('far too chatty');
    logger.warn('worth seeing');
    const lines = await waitForLines(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(lines.map((line) => parse(line).message)).toEqual(['worth seeing']);
  });

  it('picks JSON for a pipe and human-readable lines for a terminal in auto mode', async () => {
    const pipe = capture({ format: 'auto' });
    pipe.logger.info('to a pipe');
    const [pipeLine] = await pipe.waitForLines(1);
    expect(parse(pipeLine!).message).toBe('to a pipe');

    const tty = capture({ format: 'auto', tty: true });
    tty.logger.info('to a terminal', { token: 'secret-token' });
    const [ttyLine] = await tty.waitForLines(1);
    expect(() => JSON.parse(ttyLine!)).toThrow();
    expect(ttyLine).toContain('to a terminal');
    expect(ttyLine).not.toContain('secret-token');
  });
});
