import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { LineBatcher } from '../../../server/logging/line-batcher.js';

/** A destination that records each write it receives. */
function recorder(): Writable & { writes: string[] } {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      writes.push(chunk.toString('utf8'));
      callback();
    },
  });
  return Object.assign(stream, { writes });
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('LineBatcher', () => {
  it('hands the lines of one turn to the destination as one write, in order', async () => {
    const target = recorder();
    const batcher = new LineBatcher(target);
    batcher.write('a\n');
    batcher.write('b\n');
    batcher.write(Buffer.from('c\n'));
    expect(target.writes).toEqual([]);
    await nextTurn();
    await nextTurn();
    expect(target.writes).toEqual(['a\nb\nc\n']);
    batcher.write('d\n');
    await nextTurn();
    await nextTurn();
    expect(target.writes).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('passes isTTY through and flushes what is pending when ended', async () => {
    const target = Object.assign(recorder(), { isTTY: true });
    const batcher = new LineBatcher(target);
    expect(batcher.isTTY).toBe(true);
    batcher.write('last\n');
    await new Promise<void>((resolve) => batcher.end(resolve));
    expect(target.writes).toEqual(['last\n']);
  });

  it.each([
    ['process.exit', 'process.exit(3);', 3],
    ['an uncaught exception', "throw new Error('boom');", 1],
  ])('writes the lines of the last turn before the process ends by %s', async (_name, ending, code) => {
    const logger = fileURLToPath(new URL('../../../build/server/logging/logger.js', import.meta.url));
    const script = `
      const { createLogger } = await import(${JSON.stringify(logger)});
      const log = createLogger({ level: 'info', format: 'json' });
      log.info('first');
      log.info('second');
      ${ending}
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const exitCode = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(exitCode).toBe(code);
    const messages = stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { message: string }).message);
    expect(messages).toEqual(['first', 'second']);
  });
});
