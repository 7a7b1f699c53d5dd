#!/usr/bin/env node
/* global setTimeout, performance, fetch, console */
// Figures for the metadata-service clients, measured in real time against the in-process emulator
// on 127.0.0.1 (built code in dist/: run `make build` first).
//
//   node test/bench/imds-client.bench.mjs [--trials N] [--window-ms MS]
//
// 1. The request budget: sustained requests/s it lets through, and the most requests in any
//    sliding second (Azure refuses more than 5).
// 2. A client polling Azure scheduled events as fast as the budget allows: requests/s achieved and
//    how many 429s the emulator's 5/s limit produced.
// 3. Recovery after a fault window: an agent-like loop (one readEvents per second, the client's
//    default retry policy) runs while the emulator fails every scheduled-events request for
//    --window-ms (status 500, 429, 410, reset, delay, malformed); the figure is the time from the
//    window's end to the first successful read.
// 4. How long one complete observation (`agent --once`) takes with the default budget, per provider.
import { parseArgs } from 'node:util';
import { systemClock } from '../../dist/time/clock.js';
import { DEFAULT_BUDGET, TokenBucket } from '../../dist/agent/http/token-bucket.js';
import { AzureMetadataClient } from '../../dist/agent/providers/azure/client.js';
import { AlibabaMetadataClient } from '../../dist/agent/providers/alibaba/client.js';
import { observeOnce } from '../../dist/agent/observe.js';
import { startEmulator } from '../../dist/emulator/emulator.js';
import { silentLogger } from '../../dist/observability/logger.js';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '3' }, 'window-ms': { type: 'string', default: '3000' } } });
const TRIALS = Number(values.trials);
const WINDOW_MS = Number(values['window-ms']);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function maxInAnySecond(times) {
  let best = 0;
  for (const t of times) best = Math.max(best, times.filter((u) => u >= t && u < t + 1000).length);
  return best;
}

async function budgetFigures() {
  const bucket = new TokenBucket({ ...DEFAULT_BUDGET, clock: systemClock });
  const times = [];
  const n = 21;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    await bucket.take();
    times.push(performance.now());
  }
  const elapsed = (times.at(-1) - start) / 1000;
  return {
    budget: `${DEFAULT_BUDGET.ratePerSecond}/s, burst ${DEFAULT_BUDGET.burst}`,
    sustainedPerSecond: +((n - DEFAULT_BUDGET.burst) / elapsed).toFixed(2),
    maxInAnySecond: maxInAnySecond(times),
  };
}

function client(emu, budget) {
  return new AzureMetadataClient({ endpoint: emu.endpoint(emu.vms[0]), budget, clock: systemClock, random: Math.random, logger: silentLogger() });
}

async function pollingFigures(emu) {
  const budget = new TokenBucket({ ...DEFAULT_BUDGET, clock: systemClock });
  const c = client(emu, budget);
  await c.readInstance();
  await fetch(`${emu.url}/_emulator/vms/${emu.vms[0]}/requests`, { method: 'DELETE' });
  const n = 20;
  const start = performance.now();
  await Promise.all(Array.from({ length: n }, () => c.readEvents()));
  const elapsed = (performance.now() - start) / 1000;
  const log = await (await fetch(`${emu.url}/_emulator/vms/${emu.vms[0]}/requests`)).json();
  await c.close();
  return { requests: log.length, achievedPerSecond: +(log.length / elapsed).toFixed(2), status429: log.filter((r) => r.status === 429).length };
}

async function recovery(emu, fault) {
  const budget = new TokenBucket({ ...DEFAULT_BUDGET, clock: systemClock });
  const c = client(emu, budget);
  await c.readInstance();
  await c.readEvents(); // past the slow first call
  const res = await fetch(`${emu.url}/_emulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ path: '/metadata/scheduledevents', durationMs: WINDOW_MS, ...fault }),
  });
  if (res.status !== 201) throw new Error(`fault refused: ${await res.text()}`);
  const windowEnd = performance.now() + WINDOW_MS;
  let failedPolls = 0;
  for (;;) {
    const pollStart = performance.now();
    try {
      await c.readEvents();
      if (performance.now() >= windowEnd - 5) break; // a success inside the window (delay faults) does not count
    } catch {
      failedPolls += 1;
    }
    await sleep(Math.max(0, 1000 - (performance.now() - pollStart)));
  }
  const recoveredAfterMs = Math.max(0, Math.round(performance.now() - windowEnd));
  await fetch(`${emu.url}/_emulator/faults`, { method: 'DELETE' });
  await c.close();
  return { recoveredAfterMs, failedPolls };
}

async function onceFigures() {
  const out = {};
  for (const [provider, Client, extra] of [
    ['azure', AzureMetadataClient, {}],
    ['alibaba', AlibabaMetadataClient, { mode: 'hardened', readTags: true }],
  ]) {
    const e = await startEmulator({ provider, vms: 1 });
    await fetch(`${e.url}/_emulator/vms/${e.vms[0]}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tagsEnabled: true, tags: [{ name: 'team', value: 'payments' }, { name: 'env', value: 'prod' }] }),
    });
    const budget = new TokenBucket({ ...DEFAULT_BUDGET, clock: systemClock });
    const c = new Client({ endpoint: e.endpoint(e.vms[0]), budget, clock: systemClock, random: Math.random, logger: silentLogger(), ...extra });
    const start = performance.now();
    await observeOnce(c, systemClock);
    const ms = Math.round(performance.now() - start);
    const requests = (await (await fetch(`${e.url}/_emulator/vms/${e.vms[0]}/requests`)).json()).length;
    out[provider] = { ms, requests };
    await c.close();
    await e.close();
  }
  return out;
}

const emu = await startEmulator({ provider: 'azure', vms: 1 });
try {
  console.log(JSON.stringify({ bench: 'imds one observation (agent --once), default budget, Alibaba with 2 tags', ...(await onceFigures()) }));
  console.log(JSON.stringify({ bench: 'imds budget', ...(await budgetFigures()) }));
  console.log(JSON.stringify({ bench: 'imds polling (20 concurrent readEvents, emulator limit 5/s)', ...(await pollingFigures(emu)) }));
  const faults = [
    { kind: 'status', status: 500 },
    { kind: 'status', status: 429 },
    { kind: 'status', status: 410 },
    { kind: 'reset' },
    { kind: 'malformed' },
    { kind: 'delay', delayMs: 15_000 },
  ];
  for (const fault of faults) {
    const runs = [];
    for (let i = 0; i < TRIALS; i++) runs.push(await recovery(emu, fault));
    const times = runs.map((r) => r.recoveredAfterMs).sort((a, b) => a - b);
    console.log(
      JSON.stringify({
        bench: `imds recovery after a ${WINDOW_MS} ms fault window`,
        fault: fault.kind === 'status' ? `status ${fault.status}` : fault.kind,
        trials: TRIALS,
        recoveredAfterMsMedian: times[Math.floor(times.length / 2)],
        recoveredAfterMsMax: times.at(-1),
        failedPollsMax: Math.max(...runs.map((r) => r.failedPolls)),
      }),
    );
  }
} finally {
  await emu.close();
}
