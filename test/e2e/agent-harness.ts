// The agent as it runs in production, one real process per node (`node dist/cmd/nodemeta.js agent`),
// each against its own emulated VM and the local API server.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, waitFor } from './lib/cluster.js';

const NODEMETA = path.join(REPO_ROOT, 'dist/cmd/nodemeta.js');

export interface AgentProcess {
  node: string;
  healthUrl: string;
  logs: string[];
  metrics(): Promise<string>;
  stop(): Promise<number | null>;
}

export interface AgentStart {
  node: string;
  endpoint: string;
  kubeconfig: string;
  provider?: 'azure' | 'alibaba';
  extraArgs?: string[];
}

export async function startAgent(start: AgentStart): Promise<AgentProcess> {
  if (!existsSync(NODEMETA)) throw new Error(`${NODEMETA} is missing: run 'make build' first`);
  const child = spawn(
    process.execPath,
    [NODEMETA, 'agent', '--provider', start.provider ?? 'azure', '--endpoint', start.endpoint, '--node-name', start.node, '--kubeconfig', start.kubeconfig, '--metrics-addr', '127.0.0.1:0', ...(start.extraArgs ?? [])],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_NAME: '' } },
  );
  const logs: string[] = [];
  let healthUrl: string | undefined;
  let buffer = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) {
      logs.push(line);
      if (healthUrl === undefined && line.includes('serving health and metrics')) {
        try {
          healthUrl = (JSON.parse(line) as { url: string }).url;
        } catch {
          // not JSON
        }
      }
    }
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve((exitCode = code))));
  const url = await waitFor(
    `agent for ${start.node} to listen`,
    () => {
      if (exitCode !== undefined) throw new Error(`agent for ${start.node} exited ${exitCode}:\n${logs.slice(-20).join('\n')}`);
      return healthUrl;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  return {
    node: start.node,
    healthUrl: url,
    logs,
    metrics: async () => (await fetch(`${url}/metrics`)).text(),
    async stop() {
      if (exitCode === undefined) child.kill('SIGTERM');
      return exited;
    },
  };
}
