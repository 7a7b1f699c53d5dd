// A `nodemeta <subcommand>` as a real child process: its JSON log lines collected, and the URL of its
// health/metrics server read from the log line that announces it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, waitFor } from './cluster.js';

export const NODEMETA = path.join(REPO_ROOT, 'dist/cmd/nodemeta.js');

export interface NodemetaProcess {
  child: ChildProcess;
  /** The health and metrics server, e.g. `http://127.0.0.1:41234` (the latest one announced). */
  url: string;
  /** Every stderr line (JSON logs), for failure messages. */
  logs: string[];
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `node dist/cmd/nodemeta.js ...args` and resolves once the log line containing
 * `readyMessage` (which carries `url`) appears; rejects with the last log lines if it exits first.
 */
export async function startNodemeta(name: string, args: string[], readyMessage: string, env: NodeJS.ProcessEnv = process.env): Promise<NodemetaProcess> {
  if (!existsSync(NODEMETA)) throw new Error(`${NODEMETA} is missing: run 'make build' first`);
  const child = spawn(process.execPath, [NODEMETA, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  const logs: string[] = [];
  let url: string | undefined;
  let buffer = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) {
      logs.push(line);
      // Every announcement: a controller that lost its lease starts again in the same process
      // and listens anew (on a new port when started with port 0).
      if (line.includes(readyMessage)) {
        try {
          url = (JSON.parse(line) as { url: string }).url;
        } catch {
          // not JSON: ignore
        }
      }
    }
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((exitCode = code))));
  let ready: string;
  try {
    ready = await waitFor(
      `${name} to listen`,
      () => {
        if (exitCode !== undefined) throw new Error(`${name} exited ${exitCode}:\n${logs.slice(-20).join('\n')}`);
        return url;
      },
      // Starting is not what any test measures: a process loading client-node on a machine whose 2
      // cores also ran other builds (load average 16) took over 30 s in a rehearsal.
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  } catch (error) {
    // Nobody else holds it: a process that never announced itself would outlive the test and keep
    // jest from exiting (the e2e runs have no --forceExit to hide that).
    if (exitCode === undefined) child.kill('SIGKILL');
    await exited;
    throw error;
  }
  url = ready;
  return {
    child,
    get url() {
      return url ?? ready;
    },
    logs,
    exited,
    async stop(signal = 'SIGTERM') {
      if (exitCode === undefined) child.kill(signal);
      return exited;
    },
  };
}
