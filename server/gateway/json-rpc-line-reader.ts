import type { JSONRPCMessage } from '@modelcontextprotocol/client';

/** A parsed JSON value as JSON.parse returns it: an object here, never an array. */
type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON-RPC id as the SDK's `RequestIdSchema` takes it: a string or an integer (never null). */
function isId(value: unknown): value is string | number {
  return typeof value === 'string' || Number.isInteger(value);
}

/** Whether `message` has no key outside `allowed`: the SDK's envelope schemas are strict. */
function onlyKeys(message: JsonObject, allowed: readonly string[]): boolean {
  for (const key in message) if (!allowed.includes(key)) return false;
  return true;
}

const REQUEST_KEYS = ['jsonrpc', 'id', 'method', 'params'] as const;
const RESULT_KEYS = ['jsonrpc', 'id', 'result'] as const;
const ERROR_KEYS = ['jsonrpc', 'id', 'error'] as const;

/**
 * Whether `value` is a JSON-RPC 2.0 message of the shape the SDK's `JSONRPCMessageSchema` accepts, checked on the
 * envelope only: `jsonrpc: "2.0"`, no foreign top-level key, a string-or-integer `id`, a string `method`, object
 * `params` / `result` (with an object `_meta` if any), and an `error` with an integer `code` and a string `message`.
 *
 * The rest (what a request's or notification's `params._meta` holds) is left to the SDK's Protocol, which validates
 * every message it is handed against the same schemas before it dispatches it. Responses that never reach the
 * Protocol (see {@link JsonRpcLineReader}) have nothing deeper to check: their `result` goes to the caller's own
 * result check.
 */
export function isJsonRpcMessage(value: unknown): value is JSONRPCMessage {
  if (!isObject(value) || value.jsonrpc !== '2.0') return false;
  if ('method' in value) {
    if (typeof value.method !== 'string' || (value.params !== undefined && !isObject(value.params))) return false;
    return 'id' in value ? isId(value.id) && onlyKeys(value, REQUEST_KEYS) : onlyKeys(value, REQUEST_KEYS);
  }
  if ('result' in value) {
    const { result } = value;
    return isId(value.id) && isObject(result) && (result._meta === undefined || isObject(result._meta)) && onlyKeys(value, RESULT_KEYS);
  }
  if ('error' in value) {
    const { error } = value;
    return (
      (value.id === undefined || isId(value.id)) &&
      isObject(error) &&
      Number.isInteger(error.code) &&
      typeof error.message === 'string' &&
      onlyKeys(value, ERROR_KEYS)
    );
  }
  return false;
}

/**
 * Splits the upstream's stdout into JSON-RPC messages: the SDK's `ReadBuffer` contract (`append`, `readMessage`,
 * `clear`; newline-delimited JSON; a line that is not JSON is skipped, as a stray log line on stdout is; a buffer past
 * `maxBufferSize` throws), but with JSON.parse and {@link isJsonRpcMessage} instead of a zod parse of every message,
 * and with `claim` offered each message first: what it claims is consumed here and never returned.
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
      if (!isJsonRpcMessage(value)) throw new Error(`Invalid JSON-RPC message: ${line.length > 200 ? `${line.slice(0, 200)}...` : line}`);
      if (!this.claim(value)) return value;
    }
    return null;
  }

  /** Drops everything buffered. */
  clear(): void {
    this.buffer = undefined;
  }
}
