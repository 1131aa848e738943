import type { JSONRPCMessage } from '@modelcontextprotocol/client';
import { isJsonRpcEnvelope } from '../mcp/jsonrpc.js';
import { JsonRpcErrorCode } from '../mcp/jsonrpc-errors.js';

/** `error.data` key of the answer that stands in for a message too large to relay (see {@link JsonRpcLineReader}). */
export const OVERSIZED_MESSAGE = 'claude-code-mcp/oversized';

/** What an oversized message's stand-in error carries under {@link OVERSIZED_MESSAGE}. */
export interface OversizedMessage {
  /** Bytes of the message (its whole line). */
  bytes: number;
  /** The limit it went over. */
  limit: number;
}

/** Bytes kept of each end of an oversized line: enough to find its `id`. */
export const EDGE = 256;

/** A line past the limit: only its length and both ends are kept. */
interface SkippedLine {
  bytes: number;
  head: Buffer;
  tail: Buffer;
}

/**
 * Splits the upstream's stdout into JSON-RPC messages: the SDK's `ReadBuffer` contract (`append`, `readMessage`,
 * `clear`; newline-delimited JSON; a line that is not JSON is skipped, as a stray log line on stdout is), but with
 * JSON.parse and an envelope check (`isJsonRpcEnvelope`, whose rules `mcp/jsonrpc.ts` explains) instead of a zod
 * parse of every message, and with `claim` offered each message first: what it claims is consumed here and never
 * returned. What it does not claim goes on to the SDK's Protocol, which validates the rest; what it claims are
 * answers to its own requests, whose `result` the caller checks.
 *
 * A line longer than `maxMessageBytes` is not buffered (the SDK's buffer throws there, and its transport closes the
 * connection, failing every call on it): it is read past, keeping only its length and both ends, and when an `id` can
 * be read from either end the request it answers gets a JSON-RPC error instead (-32603, `data` under
 * {@link OVERSIZED_MESSAGE}), which the gateway turns into a tool error naming the limit. Memory stays at about one
 * message of `maxMessageBytes` per upstream. A line that is JSON but not a JSON-RPC message throws, as the SDK's parse
 * does, so the transport reports it through `onerror` and reads on.
 */
export class JsonRpcLineReader {
  /** Pieces of the line being read (none holds a newline). */
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** The line being read, once it went over the limit. */
  private skipping: SkippedLine | undefined;
  /** Complete lines not read yet, oldest first. */
  private lines: Array<Buffer | SkippedLine> = [];

  /**
   * @param maxMessageBytes Longest line (message) relayed; longer ones are read past (see the class).
   * @param claim Called with every valid message in arrival order; returning `true` consumes it.
   */
  constructor(
    private readonly maxMessageBytes: number,
    private readonly claim: (message: JSONRPCMessage) => boolean,
  ) {}

  /** Adds bytes read from the stream. Never throws: an oversized line is read past. */
  append(chunk: Buffer): void {
    let from = 0;
    while (from < chunk.length) {
      const end = chunk.indexOf(0x0a, from);
      const piece = end === -1 ? chunk.subarray(from) : chunk.subarray(from, end);
      this.take(piece);
      if (end === -1) return;
      this.lines.push(this.skipping ?? (this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partBytes)));
      this.skipping = undefined;
      this.parts = [];
      this.partBytes = 0;
      from = end + 1;
    }
  }

  /** The next complete message not claimed, or `null` when none is buffered. */
  readMessage(): JSONRPCMessage | null {
    for (let line = this.lines.shift(); line !== undefined; line = this.lines.shift()) {
      if (!Buffer.isBuffer(line)) {
        const standIn = this.standIn(line);
        if (!standIn)
          throw new Error(`Dropped a message of ${line.bytes} bytes from the upstream: longer than ${this.maxMessageBytes} bytes`);
        if (!this.claim(standIn)) return standIn;
        continue;
      }
      // JSON.parse takes a trailing "\r" as whitespace, so CRLF lines need no trimming.
      const text = line.toString('utf8');
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        continue;
      }
      if (!isJsonRpcEnvelope(value)) throw new Error(`Invalid JSON-RPC message: ${text.length > 200 ? `${text.slice(0, 200)}...` : text}`);
      if (!this.claim(value)) return value;
    }
    return null;
  }

  /** Drops everything buffered. */
  clear(): void {
    this.parts = [];
    this.partBytes = 0;
    this.skipping = undefined;
    this.lines = [];
  }

  /** Adds a piece of the current line (no newline in it), switching to reading past it once it is too long. */
  private take(piece: Buffer): void {
    if (this.skipping) {
      this.skipping.bytes += piece.length;
      this.skipping.tail = lastBytes([this.skipping.tail, piece]);
    } else if (this.partBytes + piece.length > this.maxMessageBytes) {
      // Copies of the ends: a view into the parts (or into their concatenation) would hold everything read so far —
      // up to maxMessageBytes — until the end of the line.
      const bytes = this.partBytes + piece.length;
      this.skipping = {
        bytes,
        head: Buffer.concat([...this.parts, piece], Math.min(EDGE, bytes)),
        tail: lastBytes([...this.parts, piece]),
      };
      this.parts = [];
      this.partBytes = 0;
    } else if (piece.length > 0) {
      this.parts.push(piece);
      this.partBytes += piece.length;
    }
  }

  /** The error answer standing in for an oversized line whose `id` can be read, else undefined. */
  private standIn(line: SkippedLine): JSONRPCMessage | undefined {
    return oversizedAnswer(line.head.toString('utf8'), line.tail.toString('utf8'), line.bytes, this.maxMessageBytes);
  }
}

/**
 * The error answer standing in for a message of `bytes` bytes, over `limit`, of which only `head` and `tail` (the
 * JSON text's first and last bytes) were kept; undefined when neither end names an `id`.
 */
export function oversizedAnswer(head: string, tail: string, bytes: number, limit: number): JSONRPCMessage | undefined {
  const id = idAtStart(head) ?? idAtEnd(tail);
  if (id === undefined) return undefined;
  const details: OversizedMessage = { bytes, limit };
  return {
    jsonrpc: '2.0',
    id,
    error: {
      code: JsonRpcErrorCode.InternalError,
      message: `The upstream's answer is ${bytes} bytes, more than the gateway relays (GATEWAY_MAX_MESSAGE_BYTES, ${limit} bytes)`,
      data: { [OVERSIZED_MESSAGE]: details },
    },
  };
}

/** A copy of the last {@link EDGE} bytes of `pieces` laid end to end. */
function lastBytes(pieces: readonly Buffer[]): Buffer {
  const ends: Buffer[] = [];
  let bytes = 0;
  for (let i = pieces.length - 1; i >= 0 && bytes < EDGE; i -= 1) {
    const piece = pieces[i]!;
    const end = piece.subarray(Math.max(0, piece.length - (EDGE - bytes)));
    ends.unshift(end);
    bytes += end.length;
  }
  return Buffer.concat(ends, bytes);
}

const ID = String.raw`"id"\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,16})`;
/** `{"jsonrpc":"2.0","id":…` or `{"id":…` at the start of a line (how most JSON-RPC libraries write an answer). */
const ID_FIRST = new RegExp(String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?${ID}`);
/** `…,"jsonrpc":"2.0","id":…}` or `…,"id":…}` at the end (the MCP SDK writes `result` first). */
const ID_LAST = new RegExp(String.raw`,\s*${ID}\s*(?:,\s*"jsonrpc"\s*:\s*"2\.0"\s*)?\}\s*$`);

function parseId(raw: string | undefined): string | number | undefined {
  if (raw === undefined) return undefined;
  const value = JSON.parse(raw) as unknown;
  return typeof value === 'string' || (typeof value === 'number' && Number.isSafeInteger(value)) ? value : undefined;
}

function idAtStart(text: string): string | number | undefined {
  return parseId(ID_FIRST.exec(text)?.[1]);
}

function idAtEnd(text: string): string | number | undefined {
  return parseId(ID_LAST.exec(text)?.[1]);
}
