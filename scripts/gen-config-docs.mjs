#!/usr/bin/env node
/* global URL, console */
// Rewrites docs/configuration.md from the configuration schema. Run after `make build`:
//   node scripts/gen-config-docs.mjs
// test/unit/controller/config-docs.test.ts fails while the committed file is out of date.
import { writeFileSync } from 'node:fs';
import { renderConfigReference } from '../dist/controller/config/config-docs.js';

const target = new URL('../docs/configuration.md', import.meta.url);
writeFileSync(target, renderConfigReference());
console.log(`wrote ${target.pathname}`);
