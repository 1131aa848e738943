/**
 * Jest's Node environment, plus one thing about how a worker ends. A worker keeps the module graph of every test file
 * it ran (native ESM under vm modules) and ends a full run holding ~1.2-1.5 GB of heap. Ended naturally, Node frees
 * that heap object by object, which takes longer than the 500 ms Jest waits before it kills the worker and reports
 * that it "failed to exit gracefully" (measured: a process holding 1.2 GB in 40 contexts takes ~570 ms to end). Once
 * the worker has nothing left to do, `process.exit` ends it at once, with the same exit code, leaving the memory to
 * the operating system. Nothing else changes: a handle left open still keeps the worker alive (no `beforeExit` then),
 * and Jest still reports that.
 */
import { TestEnvironment } from 'jest-environment-node';

let installed = false;

export default class NodeTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    if (!installed) {
      installed = true;
      process.once('beforeExit', (code) => process.exit(code));
    }
  }
}
