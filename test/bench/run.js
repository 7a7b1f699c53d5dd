#!/usr/bin/env node
/* global process, console */
// `make bench`: runs every test/bench/*.bench.mjs, one after another (benches measure time and
// memory, so never two at once), each in its own Node process, and passes their figures through.
// A bench prints figures; it fails only when it cannot run (a crash, a non-zero exit).
//
//   node test/bench/run.js                 every bench
//   node test/bench/run.js memory imds     only the benches whose file name contains one of these
//   node test/bench/run.js memory -- --settle 30s    arguments after `--` go to every bench run
//
// The built code is needed (dist/, `make build`); `make bench` builds first.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const dashes = process.argv.indexOf('--', 2);
const filters = dashes < 0 ? process.argv.slice(2) : process.argv.slice(2, dashes);
const benchArgs = dashes < 0 ? [] : process.argv.slice(dashes + 1);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => filters.length === 0 || filters.some((word) => f.includes(word)))
  .sort();

if (benches.length === 0) {
  console.error(`bench: no test/bench/*.bench.mjs matches ${filters.join(', ')}`);
  process.exit(2);
}

function runOne(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(dir, file), ...benchArgs], { stdio: 'inherit' });
    child.on('close', (code, signal) => resolve(signal ? `killed by ${signal}` : code));
  });
}

const results = [];
for (const file of benches) {
  console.log(`\n== ${file}`);
  const started = Date.now();
  const outcome = await runOne(file);
  results.push({ file, outcome, seconds: Math.round((Date.now() - started) / 1000) });
}

console.log('\n== summary');
for (const r of results) console.log(`${r.outcome === 0 ? 'ran   ' : 'FAILED'}  ${r.file} (${r.seconds} s)${r.outcome === 0 ? '' : `: exit ${r.outcome}`}`);
process.exit(results.every((r) => r.outcome === 0) ? 0 : 1);
