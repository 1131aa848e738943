/**
 * The stdio client transport contract: how a transport that spawns an MCP server reads its stdout, reports what it
 * cannot read, passes stderr on, notices the child's end, and shuts it down (stdin end, then SIGTERM, then SIGKILL).
 * Run by `stdio-client.contract.test.ts` against the SDK's `StdioClientTransport` and our
 * `CoalescingStdioClientTransport` (server/gateway/stdio-transport.ts), each talking to a real child process:
 * test/fixtures/stdio-script.mjs writes exactly the bytes a case asks for, test/fixtures/gateway-upstream.mjs is a
 * real SDK server.
 *
 * Where the implementations differ on purpose the case says so with {@link differs}.
 */
import path from 'node:path';
import { afterEach, expect, it } from '@jest/globals';
import { Client, SdkError, SdkErrorCode, type JSONRPCMessage } from '@modelcontextprotocol/client';
import type { StdioClientTransport, StdioServerParameters } from '@modelcontextprotocol/client/stdio';

/** Which implementation a transport is. */
export type Implementation = 'ours' | 'sdk';

/** Builds the transport under test. */
export interface StdioTarget {
  implementation: Implementation;
  create(server: StdioServerParameters): StdioClientTransport;
}

/** The value expected of `target`'s implementation where ours differs on purpose; `why` is the one-line reason. */
export function differs<T>(target: StdioTarget, expected: { ours: T; sdk: T }, why: string): T {
  if (why.trim().length === 0) throw new Error('a difference needs its reason');
  return expected[target.implementation];
}

const SCRIPT = path.resolve('test/fixtures/stdio-script.mjs');
const UPSTREAM = path.resolve('test/fixtures/gateway-upstream.mjs');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A started transport and everything it reported. */
interface Run {
  transport: StdioClientTransport;
  messages: JSONRPCMessage[];
  errors: Error[];
  /** Times `onclose` was called. */
  closes: number;
  /** The child's stderr so far, with when each piece arrived (ms after `since`). */
  stderr: Array<{ text: string; at: number }>;
  since: number;
  /** Sends a script command (see stdio-script.mjs). */
  command(method: string, params: Record<string, unknown>): Promise<void>;
  /** Waits until `predicate` holds (bounded). */
  until(predicate: () => boolean, timeoutMs?: number): Promise<void>;
}

async function start(target: StdioTarget, options: { env?: Record<string, string>; maxBufferSize?: number } = {}): Promise<Run> {
  const transport = target.create({
    command: process.execPath,
    args: [SCRIPT],
    stderr: 'pipe',
    ...(options.env ? { env: options.env } : {}),
    ...(options.maxBufferSize ? { maxBufferSize: options.maxBufferSize } : {}),
  });
  const run: Run = {
    transport,
    messages: [],
    errors: [],
    closes: 0,
    stderr: [],
    since: Date.now(),
    command: (method, params) => transport.send({ jsonrpc: '2.0', method, params }),
    async until(predicate, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
        await sleep(10);
      }
    },
  };
  transport.onmessage = (message) => void run.messages.push(message);
  transport.onerror = (error) => void run.errors.push(error);
  transport.onclose = () => void (run.closes += 1);
  transport.stderr!.on('data', (chunk: Buffer) => void run.stderr.push({ text: chunk.toString('utf8'), at: Date.now() - run.since }));
  await transport.start();
  return run;
}

/** Writes `chunks` to the child's stdout, `gapMs` apart, and waits until `settled` holds. */
async function write(run: Run, chunks: string[], settled: () => boolean, gapMs = 40): Promise<void> {
  await run.command('script/write', { chunks, gapMs });
  await run.until(settled);
}

const stderrText = (run: Run) => run.stderr.map((piece) => piece.text).join('');

/** Declares the contract's cases. Every case stops the child it started, whatever happens. */
export function stdioClientCases(target: () => StdioTarget): void {
  const runs: Run[] = [];
  async function started(options?: Parameters<typeof start>[1]): Promise<Run> {
    const run = await start(target(), options);
    runs.push(run);
    return run;
  }
  // close() ends with SIGKILL when stdin end and SIGTERM were not enough.
  afterEach(async () => {
    for (const run of runs.splice(0)) await run.transport.close().catch(() => undefined);
  });

  it('delivers a message split across reads once, whole', async () => {
    const run = await started();
    await write(run, ['{"jsonrpc":"2.0","method":"split",', '"params":{"part":', '3}}', '\n'], () => run.messages.length >= 1);
    await sleep(50);
    expect(run.messages).toEqual([{ jsonrpc: '2.0', method: 'split', params: { part: 3 } }]);
    expect(run.errors).toEqual([]);
  });

  it('delivers a character split between reads intact', async () => {
    const run = await started();
    const bytes = Buffer.from('{"jsonrpc":"2.0","method":"utf8","params":{"text":"héllo ✓"}}\n', 'utf8');
    const cut = bytes.indexOf(0xa9); // inside "é"
    await run.command('script/write', {
      chunks: [bytes.subarray(0, cut).toString('base64'), bytes.subarray(cut).toString('base64')],
      base64: true,
    });
    await run.until(() => run.messages.length >= 1);
    expect(run.messages).toEqual([{ jsonrpc: '2.0', method: 'utf8', params: { text: 'héllo ✓' } }]);
  });

  it('delivers every message of one read in order, CRLF and blank lines included', async () => {
    const run = await started();
    const chunk = '{"jsonrpc":"2.0","method":"a"}\r\n\n{"jsonrpc":"2.0","id":1,"result":{}}\n{"jsonrpc":"2.0","method":"c"}\n';
    await write(run, [chunk], () => run.messages.length >= 3);
    expect(run.messages).toEqual([
      { jsonrpc: '2.0', method: 'a' },
      { jsonrpc: '2.0', id: 1, result: {} },
      { jsonrpc: '2.0', method: 'c' },
    ]);
    expect(run.errors).toEqual([]);
  });

  it('hands each message on as it arrived: nested and unknown members, _meta, errors without an id', async () => {
    const run = await started();
    const lines = [
      '{"jsonrpc":"2.0","id":1,"result":{"a":{"b":[1,2]},"_meta":{"x":1}}}',
      '{"jsonrpc":"2.0","id":"s-2","method":"sampling/createMessage","params":{"maxTokens":5,"extra":{"deep":true},"_meta":{"progressToken":3}}}',
      '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"t","progress":1,"unknown":"kept"}}',
      '{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"}}',
      '{"jsonrpc":"2.0","id":"e","error":{"code":-32000,"message":"m","data":{"x":[1,2]}}}',
    ];
    await write(run, [`${lines.join('\n')}\n`], () => run.messages.length >= lines.length);
    expect(run.messages).toEqual(lines.map((line) => JSON.parse(line) as unknown));
    expect(run.errors).toEqual([]);
  });

  it('skips a line that is not JSON (a stray log line) without an error, and reads on', async () => {
    const run = await started();
    await write(run, ['starting up...\n', 'not json {\n{"jsonrpc":"2.0","method":"after"}\n'], () => run.messages.length >= 1);
    await sleep(50);
    expect(run.messages).toEqual([{ jsonrpc: '2.0', method: 'after' }]);
    expect(run.errors).toEqual([]);
  });

  it('reports a JSON line that is not a JSON-RPC message through onerror, once per line, and reads on', async () => {
    const run = await started();
    await write(
      run,
      ['{"hello":1}\n{"jsonrpc":"2.0","id":1,"result":{},"extra":true}\n{"jsonrpc":"2.0","method":"after"}\n'],
      () => run.messages.length >= 1,
    );
    await sleep(50);
    expect(run.messages).toEqual([{ jsonrpc: '2.0', method: 'after' }]);
    expect(run.errors).toHaveLength(2);
    const [first] = run.errors;
    expect(first).toBeInstanceOf(Error);
    const reported = differs(
      target(),
      {
        ours: { name: 'Error', message: 'Invalid JSON-RPC message: {"hello":1}' },
        sdk: { name: 'ZodError', message: expect.stringContaining('invalid_union') },
      },
      "ours checks the envelope without zod (json-rpc-line-reader.ts): a plain Error quoting the line instead of zod's issues",
    );
    expect({ name: first!.name, message: first!.message }).toEqual(reported);
    expect(run.closes).toBe(0);
  });

  it('a line longer than maxBufferSize: ours reads past it (answering its request with an error) and goes on; the SDK closes', async () => {
    const run = await started({ maxBufferSize: 1024 });
    const big = `{"jsonrpc":"2.0","method":"big","params":{"x":"${'y'.repeat(1500)}"}}`;
    const answer = `{"result":{"x":"${'z'.repeat(1500)}"},"jsonrpc":"2.0","id":42}`;
    const expected = differs(
      target(),
      {
        ours: {
          messages: [
            { jsonrpc: '2.0', method: 'first' },
            {
              jsonrpc: '2.0',
              id: 42,
              error: {
                code: -32603,
                message: expect.stringContaining('GATEWAY_MAX_MESSAGE_BYTES, 1024 bytes'),
                data: { 'claude-code-mcp/oversized': { bytes: answer.length, limit: 1024 } },
              },
            },
            { jsonrpc: '2.0', method: 'after' },
          ],
          errors: [`Dropped a message of ${big.length} bytes from the upstream: longer than 1024 bytes`],
          closes: 0,
        },
        // Lines already in the pipe may still be read while the SDK's transport closes.
        sdk: {
          messages: expect.arrayContaining([{ jsonrpc: '2.0', method: 'first' }]),
          errors: expect.arrayContaining(['ReadBuffer exceeded maximum size of 1024 bytes']),
          closes: 1,
        },
      },
      'one oversized answer fails its own call (a tool error naming the limit), not every call on the connection',
    );
    await write(run, ['{"jsonrpc":"2.0","method":"first"}\n', `${big}\n`, `${answer}\n`, '{"jsonrpc":"2.0","method":"after"}\n'], () =>
      expected.closes === 1 ? run.closes >= 1 : run.messages.length >= 3,
    );
    await sleep(100);
    expect({ messages: run.messages, errors: run.errors.map((error) => error.message), closes: run.closes }).toEqual(expected);
  });

  it("passes the child's stderr on through transport.stderr", async () => {
    const run = await started();
    await run.command('script/stderr', { text: 'warning: something odd\n' });
    await run.until(() => stderrText(run).includes('something odd'));
    expect(stderrText(run)).toBe('warning: something odd\n');
    expect(run.messages).toEqual([]);
  });

  it('writes the messages of one turn in order', async () => {
    const run = await started();
    await Promise.all(Array.from({ length: 50 }, (_, index) => run.command('order/check', { index })));
    await run.until(() => run.messages.length >= 50);
    const indexes = run.messages.map(
      (message) => (message as unknown as { params: { message: { params: { index: number } } } }).params.message.params.index,
    );
    expect(indexes).toEqual(Array.from({ length: 50 }, (_, index) => index));
  });

  it('reports a child that exits on its own with onclose, once; sending then fails with NotConnected', async () => {
    const run = await started();
    await run.command('script/exit', { code: 3 });
    await run.until(() => run.closes >= 1);
    await sleep(100);
    expect(run.closes).toBe(1);
    const failure = await run.transport.send({ jsonrpc: '2.0', method: 'too/late' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SdkError);
    expect((failure as SdkError).code).toBe(SdkErrorCode.NotConnected);
    await run.transport.close();
    expect(run.closes).toBe(1);
  });

  it('closes a child that exits when its stdin ends without signalling it', async () => {
    const run = await started();
    const began = Date.now();
    await run.transport.close();
    expect(Date.now() - began).toBeLessThan(1_500);
    await run.until(() => run.closes >= 1);
    expect(stderrText(run)).toBe('stdin ended\n');
    expect(run.closes).toBe(1);
  });

  it('closes a child that ignores stdin end and SIGTERM in stages: stdin end, SIGTERM 2 s later, SIGKILL 2 s after that', async () => {
    const run = await started({ env: { SCRIPT_IGNORE_STDIN_END: '1', SCRIPT_IGNORE_SIGTERM: '1' } });
    const pid = run.transport.pid!;
    run.since = Date.now();
    await run.transport.close();
    const closedAt = Date.now() - run.since;
    await run.until(() => run.closes >= 1);
    const seen = (text: string) => run.stderr.find((piece) => piece.text.includes(text))?.at;
    expect(seen('stdin ended')).toBeLessThan(1_000);
    expect(seen('got SIGTERM')).toBeGreaterThanOrEqual(1_900);
    expect(seen('got SIGTERM')).toBeLessThan(3_000);
    expect(closedAt).toBeGreaterThanOrEqual(3_900);
    expect(closedAt).toBeLessThan(5_000);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(run.closes).toBe(1);
  }, 15_000);

  it('carries a real session through a Client: initialize, tools/list, a call, progress, and close', async () => {
    const transport = target().create({ command: process.execPath, args: [UPSTREAM], stderr: 'pipe' });
    const client = new Client({ name: 'stdio-contract', version: '1.0.0' });
    const errors: Error[] = [];
    client.onerror = (error) => void errors.push(error);
    let closed = 0;
    client.onclose = () => void (closed += 1);
    try {
      await client.connect(transport);
      expect(client.getServerVersion()).toMatchObject({ name: 'gateway-fixture' });
      expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['echo', 'slow']));
      expect(await client.callTool({ name: 'echo', arguments: { text: 'round trip' } })).toEqual({
        content: [{ type: 'text', text: 'round trip' }],
      });
      const progress: number[] = [];
      const slow = await client.callTool(
        { name: 'slow', arguments: { ms: 240, steps: 3 } },
        { onprogress: (update) => void progress.push(update.progress) },
      );
      expect(slow).toEqual({ content: [{ type: 'text', text: 'slept 240' }] });
      // The last progress notification leaves together with the result, and the SDK Client (with either transport)
      // handles a notification a tick later than a response: that one may come too late, dropped and reported as
      // for an unknown token. Only the earlier ones count.
      expect(progress.slice(0, 2)).toEqual([1, 2]);
      expect(errors.filter((error) => !error.message.includes('progress notification for an unknown token'))).toEqual([]);
    } finally {
      await client.close();
    }
    expect(closed).toBe(1);
  });
}
