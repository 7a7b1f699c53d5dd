// The agent as it runs in production, one real process per node (`node dist/cmd/nodemeta.js agent`),
// each against its own emulated VM and the local API server.
import type { ChildProcess } from 'node:child_process';
import { startNodemeta } from './lib/nodemeta-process.js';

export interface AgentProcess {
  node: string;
  child: ChildProcess;
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
  const args = ['agent', '--provider', start.provider ?? 'azure', '--endpoint', start.endpoint, '--node-name', start.node, '--kubeconfig', start.kubeconfig, '--metrics-addr', '127.0.0.1:0', ...(start.extraArgs ?? [])];
  const agent = await startNodemeta(`agent for ${start.node}`, args, 'serving health and metrics', { ...process.env, NODE_NAME: '' });
  return {
    node: start.node,
    child: agent.child,
    healthUrl: agent.url,
    logs: agent.logs,
    metrics: async () => (await fetch(`${agent.url}/metrics`)).text(),
    stop: () => agent.stop(),
  };
}
