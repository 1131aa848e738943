import { Writable } from 'node:stream';

/** Batchers with lines not yet handed on, flushed synchronously if the process exits first. */
const unflushed = new Set<LineBatcher>();
let exitHookInstalled = false;

/**
 * A stream in front of a log destination (stdout, stderr) that hands it every line written in one turn of the
 * event loop as a single write.
 *
 * Each write to stdout is a system call (synchronous for files, pipes and terminals on Linux); under load a server
 * writing one line per tool call spent more on those calls than on building the lines. Lines keep their order. What
 * is pending when the process exits — `process.exit`, an uncaught exception, the end of shutdown — is written
 * synchronously from the `exit` event; only a kill that gives the process no chance to run loses the lines of that
 * last turn.
 */
export class LineBatcher extends Writable {
  /** Mirrors the destination, so callers that pick a format by `isTTY` see through the batcher. */
  readonly isTTY: boolean;
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly target: NodeJS.WritableStream & { isTTY?: boolean }) {
    super({ decodeStrings: false });
    this.isTTY = target.isTTY === true;
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const batcher of unflushed) batcher.flush();
      });
    }
  }

  override _write(chunk: string | Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.pending.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    if (!this.scheduled) {
      this.scheduled = true;
      unflushed.add(this);
      setImmediate(() => this.flush());
    }
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.flush();
    callback();
  }

  /** Hands every pending line to the destination now, in one write. */
  flush(): void {
    this.scheduled = false;
    unflushed.delete(this);
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending = [];
    this.target.write(text);
  }
}
