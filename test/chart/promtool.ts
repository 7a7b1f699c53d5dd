// Prometheus's promtool (test/tools/promtool.sh, `make promtool`) for the chart tests.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './helm.js';

/** Path of the pinned promtool; throws with the fix when it is not installed. */
export function promtoolPath(): string {
  const tool = process.env.PROMTOOL ?? execFileSync(path.join(REPO_ROOT, 'test/tools/promtool.sh'), ['--print-path'], { encoding: 'utf8' }).trim();
  if (!existsSync(tool)) throw new Error(`promtool is not installed (${tool} missing): run 'make promtool' (test/tools/promtool.sh)`);
  return tool;
}

export interface PromtoolResult {
  code: number;
  output: string;
}

/** Runs promtool in `cwd` without throwing on a non-zero exit; stdout and stderr together. */
export function promtool(args: string[], cwd: string): Promise<PromtoolResult> {
  return new Promise((resolve, reject) => {
    execFile(promtoolPath(), args, { cwd, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof (err as { code?: unknown }).code !== 'number') {
        reject(err);
        return;
      }
      resolve({ code: err ? Number((err as { code: number }).code) : 0, output: `${stdout}${stderr}` });
    });
  });
}
