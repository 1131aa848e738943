/**
 * Prints one plain closing line, `tests: N passed, N failed, N skipped`, after Jest's own summary (on the same stream, so it stays last), so any tool that
 * reads a run's last lines can tell how many tests ran without parsing Jest's format.
 */
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failedSuites = results.numFailedTestSuites + results.numRuntimeErrorTestSuites;
    const failed = results.numFailedTests + (failedSuites > 0 && results.numFailedTests === 0 ? failedSuites : 0);
    const line = `tests: ${results.numPassedTests} passed, ${failed} failed, ${skipped} skipped`;
    // Jest prints its own summary after every reporter's onRunComplete; writing at exit keeps this line last.
    process.once('exit', () => process.stderr.write(`\n${line}\n`));
  }
}
