// The emulator as a library: start one in-process (tests, the demo) or from `nodemeta emulator`.
//
//   const emu = await startEmulator({ provider: 'azure', vms: 3 });
//   fetch(`${emu.url}/vm/${emu.vms[1]}/metadata/instance?api-version=2021-02-01`, { headers: { Metadata: 'true' } });
//   await emu.close();

import type { AddressInfo } from 'node:net';
import type { ProviderName } from '../api/observation.js';
import { type Logger, silentLogger } from '../observability/logger.js';
import { type Clock, systemClock } from '../time/clock.js';
import { Fleet, type Settings } from './fleet.js';
import { modelFor, serviceFor } from './providers.js';
import { applyScenario, checkScenario, parseScenario, type Scenario } from './scenario.js';
import { createEmulatorServer } from './server.js';
import { Timeline } from './timeline.js';

export interface EmulatorOptions {
  provider: ProviderName;
  /** 0 (default): any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** A parsed scenario, or its YAML text. */
  scenario?: Scenario | string;
  /** Default VMs when the scenario names none (default 1). */
  vms?: number;
  /** Overrides the scenario's settings. */
  settings?: Partial<Settings>;
  clock?: Pick<Clock, 'now'>;
  logger?: Logger;
  /** How often the timeline and event lifecycles are brought up to the clock between requests (ms, default 200). */
  tickIntervalMs?: number;
}

export interface RunningEmulator {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  provider: ProviderName;
  fleet: Fleet;
  /** The VM names at start, in order. */
  vms: string[];
  /** `url` + `/vm/<name>`: the endpoint a client of that VM uses. */
  endpoint(vm: string): string;
  /** Applies due timeline entries and event lifecycle steps now. */
  tick(): void;
  close(): Promise<void>;
}

export async function startEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
  const { provider } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger();
  const scenario: Scenario =
    typeof options.scenario === 'string' ? parseScenario(options.scenario) : (options.scenario ?? { settings: {}, vms: [], events: [], timeline: [] });
  if (scenario.provider !== undefined && scenario.provider !== provider) {
    throw new Error(`the scenario is for provider "${scenario.provider}", not "${provider}"`);
  }
  const defaultVms = options.vms ?? 1;
  checkScenario(scenario, provider, defaultVms, clock.now());

  const fleet = new Fleet(modelFor(provider), clock);
  applyScenario(fleet, scenario, defaultVms);
  if (options.settings) fleet.applySettings(options.settings);
  const timeline = new Timeline(scenario.timeline, fleet, clock, clock.now(), logger);
  const tick = () => {
    timeline.runDue();
    fleet.advance();
  };

  const server = createEmulatorServer({ fleet, service: serviceFor(provider), logger, tick });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const interval = setInterval(tick, options.tickIntervalMs ?? 200);
  interval.unref();

  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  return {
    url,
    port: address.port,
    provider,
    fleet,
    vms: fleet.vmNames(),
    endpoint: (vm) => `${url}/vm/${encodeURIComponent(vm)}`,
    tick,
    close: () =>
      new Promise<void>((resolve, reject) => {
        clearInterval(interval);
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
