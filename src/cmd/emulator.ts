// `nodemeta emulator`: serve an emulated Azure or Alibaba metadata service (docs/emulator.md).
// Flags in, one JSON "listening" line on stdout, JSON logs on stderr, clean stop on SIGTERM/SIGINT.

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { PROVIDERS, type ProviderName } from '../api/observation.js';
import { startEmulator } from '../emulator/emulator.js';
import { parseScenario, type Scenario, ScenarioError } from '../emulator/scenario.js';
import { createLogger } from '../observability/logger.js';

const USAGE = `Usage: nodemeta emulator --provider azure|alibaba [--port N] [--host H] [--scenario FILE] [--vms N]

Serves the instance metadata service of one VM, or of a fleet (each VM under /vm/<name>), with a
control API under /_emulator/. See docs/emulator.md.

  --provider azure|alibaba   which service to emulate (or the scenario's "provider")
  --port N                   port to listen on (default 0: any free port)
  --host H                   address to listen on (default 127.0.0.1)
  --scenario FILE            YAML scenario: VMs, events, settings, timeline
  --vms N                    number of default VMs when the scenario names none (default 1)
  -h, --help                 this help

Prints {"listening": "http://HOST:PORT", "provider": ..., "vms": [...]} on stdout once ready.`;

class UsageError extends Error {}

function integerFlag(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return Number(value);
}

async function loadScenario(file: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read scenario file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return parseScenario(text);
  } catch (err) {
    if (err instanceof ScenarioError) throw new UsageError(`invalid scenario ${file}: ${err.message}`);
    throw err;
  }
}

export async function run(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        provider: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        scenario: { type: 'string' },
        vms: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    console.error(`nodemeta emulator: ${err instanceof Error ? err.message : String(err)}\n(see nodemeta emulator --help)`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }

  const logger = createLogger({ component: 'emulator' });
  let emulator;
  try {
    const port = integerFlag(options.port, 'port', 0, 65535);
    const vms = integerFlag(options.vms, 'vms', 1, 10000);
    const scenario = options.scenario !== undefined ? await loadScenario(options.scenario) : undefined;
    const provider = options.provider ?? scenario?.provider;
    if (provider === undefined) throw new UsageError('--provider is required (azure or alibaba)');
    if (!(PROVIDERS as readonly string[]).includes(provider)) throw new UsageError(`--provider must be azure or alibaba, got "${provider}"`);
    if (scenario?.provider !== undefined && scenario.provider !== provider) {
      throw new UsageError(`--provider ${provider} contradicts the scenario's provider "${scenario.provider}"`);
    }
    try {
      emulator = await startEmulator({
        provider: provider as ProviderName,
        ...(port !== undefined ? { port } : {}),
        ...(options.host !== undefined ? { host: options.host } : {}),
        ...(scenario ? { scenario } : {}),
        ...(vms !== undefined ? { vms } : {}),
        logger,
      });
    } catch (err) {
      if (err instanceof ScenarioError) throw new UsageError(`invalid scenario ${options.scenario}: ${err.message}`);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
        throw new UsageError(`cannot listen on ${options.host ?? '127.0.0.1'}:${port ?? 0}: ${code}`);
      }
      throw err;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`nodemeta emulator: ${err.message}`);
      return 2;
    }
    throw err;
  }

  console.log(JSON.stringify({ listening: emulator.url, provider: emulator.provider, vms: emulator.vms }));
  logger.info('emulator listening', { url: emulator.url, provider: emulator.provider, vms: emulator.vms });

  const running = emulator;
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      logger.info('emulator stopping', { signal });
      running.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
