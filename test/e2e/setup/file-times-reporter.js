/* global console */
// A jest reporter: at the end of a run, each end-to-end file's wall time, longest first (`e2e file
// times:`), so that where the suite's time goes is read from every run instead of guessed. Files of
// the other projects are left out (they take seconds). Plain JavaScript so jest loads it without a
// transform.
import path from 'node:path';

const E2E_DIR = `${path.sep}test${path.sep}e2e${path.sep}`;

export default class FileTimesReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const files = results.testResults
      .filter((file) => file.testFilePath.includes(E2E_DIR))
      .map((file) => ({
        name: path.relative(this.rootDir, file.testFilePath),
        seconds: (file.perfStats.end - file.perfStats.start) / 1000,
        status: file.numFailingTests > 0 || file.testExecError ? 'failed' : 'passed',
      }))
      .sort((a, b) => b.seconds - a.seconds);
    if (files.length === 0) return;
    const total = files.reduce((sum, file) => sum + file.seconds, 0);
    const lines = files.map((file) => `  ${file.seconds.toFixed(1).padStart(7)} s  ${file.name} (${file.status})`);
    console.log(`e2e file times: ${files.length} file(s), ${total.toFixed(1)} s in all\n${lines.join('\n')}`);
  }
}
