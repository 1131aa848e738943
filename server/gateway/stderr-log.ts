import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * An upstream's stderr, appended to `<dir>/<name>.log`. When the file passes `maxBytes` it becomes `<name>.log.1`
 * (replacing the previous one), so a chatty or crash-looping server never fills the disk: at most 2 x maxBytes.
 * Writes are synchronous and small (stderr chunks); a failing disk never breaks the upstream.
 */
export class StderrLog {
  readonly file: string;
  private size: number;

  constructor(
    dir: string,
    name: string,
    private readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${name}.log`);
    try {
      this.size = statSync(this.file).size;
    } catch {
      this.size = 0;
    }
  }

  /** Appends one chunk, rotating first when it would pass the limit. */
  write(chunk: Buffer | string): void {
    try {
      const length = Buffer.byteLength(chunk);
      if (this.size > 0 && this.size + length > this.maxBytes) {
        renameSync(this.file, `${this.file}.1`);
        this.size = 0;
      }
      appendFileSync(this.file, chunk);
      this.size += length;
    } catch {
      // Logging an upstream's stderr is best effort.
    }
  }
}
