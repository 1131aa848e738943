import type { JSONRPCMessage } from '@modelcontextprotocol/client';
import { isJsonRpcEnvelope } from '../mcp/jsonrpc.js';

/**
 * Splits the upstream's stdout into JSON-RPC messages: the SDK's `ReadBuffer` contract (`append`, `readMessage`,
 * `clear`; newline-delimited JSON; a line that is not JSON is skipped, as a stray log line on stdout is; a buffer past
 * `maxBufferSize` throws), but with JSON.parse and an envelope check (`isJsonRpcEnvelope`, whose rules
 * `mcp/jsonrpc.ts` explains) instead of a zod parse of every message, and with `claim` offered each message first:
 * what it claims is consumed here and never returned. What it does not claim goes on to the SDK's Protocol, which
 * validates the rest; what it claims are answers to its own requests, whose `result` the caller checks.
 *
 * A line that is JSON but not a JSON-RPC message throws, as the SDK's parse does, so the transport reports it through
 * `onerror` and reads on.
 */
export class JsonRpcLineReader {
  private buffer: Buffer | undefined;

  /**
   * @param maxBufferSize Most bytes held while waiting for a newline.
   * @param claim Called with every valid message in arrival order; returning `true` consumes it.
   */
  constructor(
    private readonly maxBufferSize: number,
    private readonly claim: (message: JSONRPCMessage) => boolean,
  ) {}

  /** Adds bytes read from the stream. */
  append(chunk: Buffer): void {
    const held = this.buffer?.length ?? 0;
    if (held + chunk.length > this.maxBufferSize) {
      this.clear();
      throw new Error(`ReadBuffer exceeded maximum size of ${this.maxBufferSize} bytes`);
    }
    this.buffer = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk;
  }

  /** The next complete message not claimed, or `null` when none is buffered. */
  readMessage(): JSONRPCMessage | null {
    while (this.buffer) {
      const end = this.buffer.indexOf(0x0a);
      if (end === -1) return null;
      // JSON.parse takes a trailing "\r" as whitespace, so CRLF lines need no trimming.
      const line = this.buffer.toString('utf8', 0, end);
      this.buffer = end + 1 < this.buffer.length ? this.buffer.subarray(end + 1) : undefined;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        continue;
      }
      if (!isJsonRpcEnvelope(value)) throw new Error(`Invalid JSON-RPC message: ${line.length > 200 ? `${line.slice(0, 200)}...` : line}`);
      if (!this.claim(value)) return value;
    }
    return null;
  }

  /** Drops everything buffered. */
  clear(): void {
    this.buffer = undefined;
  }
}
