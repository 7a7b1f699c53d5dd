// nodemeta on an older Node.js says so and exits 2, for every subcommand and --help, instead of
// failing inside a dependency.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { nodeVersionProblem } from '../../src/cmd/node-version.js';

const NODEMETA = join(process.cwd(), 'dist/cmd/nodemeta.js');
/** Makes the process report another Node.js version before nodemeta's entry runs. */
const pretend = (version: string) => `data:text/javascript,Object.defineProperty(process,"version",{value:"${version}"})`;

describe('the Node.js version check', () => {
  it('accepts 24 and later, refuses older ones with a message that names both', () => {
    expect(nodeVersionProblem('v24.0.0')).toBeUndefined();
    expect(nodeVersionProblem('v26.3.1')).toBeUndefined();
    expect(nodeVersionProblem('v20.20.2')).toBe('nodemeta needs Node.js 24 or later (this is v20.20.2)');
    expect(nodeVersionProblem('v8.17.0')).toContain('this is v8.17.0');
    expect(nodeVersionProblem('garbage')).toContain('needs Node.js 24');
  });

  it('the built entry refuses every subcommand and --help on an older Node.js: one line, exit 2', () => {
    for (const args of [['--help'], ['agent', '--once'], ['controller', '--help'], ['emulator'], []]) {
      const result = spawnSync(process.execPath, ['--import', pretend('v20.20.2'), NODEMETA, ...args], { encoding: 'utf8', timeout: 30_000 });
      expect({ args, status: result.status, stderr: result.stderr.trim(), stdout: result.stdout }).toEqual({ args, status: 2, stderr: 'nodemeta needs Node.js 24 or later (this is v20.20.2)', stdout: '' });
    }
    const current = spawnSync(process.execPath, [NODEMETA, '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(current.status).toBe(0);
  });

  it('the Node.js this machine ships (Debian\'s, if older than 24) gets the same answer', () => {
    const system = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => existsSync(path) && Number(/^v(\d+)/.exec(spawnSync(path, ['--version'], { encoding: 'utf8' }).stdout)?.[1]) < 24);
    // Where no older Node.js is installed, the pretended version above is the whole proof.
    if (system === undefined) return;
    const result = spawnSync(system, [NODEMETA, 'agent', '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toMatch(/^nodemeta needs Node\.js 24 or later \(this is v\d+\.\d+\.\d+\)$/);
  }, 30_000);
});
