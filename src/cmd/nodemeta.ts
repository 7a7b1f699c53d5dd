#!/usr/bin/env node
// The one executable. Each subcommand lives in its own thin module, loaded only when asked for,
// so that the agent never pays for the controller's imports (its memory is multiplied by the fleet).
// The one static import checks the Node.js version and imports nothing itself.

import { nodeVersionProblem } from './node-version.js';

const SUBCOMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  agent: { summary: 'observe this VM through its metadata service and publish NodeMetadata', load: () => import('./agent.js') },
  controller: { summary: 'reconcile node labels, taints and maintenance from NodeMetadata', load: () => import('./controller.js') },
  emulator: { summary: 'serve an emulated Azure or Alibaba metadata service', load: () => import('./emulator.js') },
};

function usage(): string {
  const lines = Object.entries(SUBCOMMANDS).map(([name, s]) => `  ${name.padEnd(12)}${s.summary}`);
  return ['Usage: nodemeta <command> [flags]', '', 'Commands:', ...lines, '', 'Run `nodemeta <command> --help` for its flags.'].join('\n');
}

async function main(argv: string[]): Promise<number> {
  // Before any subcommand (or --help) is loaded: on an older Node.js they would fail obscurely.
  const tooOld = nodeVersionProblem(process.version);
  if (tooOld !== undefined) {
    console.error(tooOld);
    return 2;
  }
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  const sub = SUBCOMMANDS[name];
  if (!sub) {
    console.error(`nodemeta: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const mod = await sub.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`nodemeta: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
