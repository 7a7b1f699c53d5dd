// The JSON lines the logger writes (winston's json format: keys sorted,
// the component and default fields on every line, a line's own fields winning), which log readers
// and the e2e harnesses parse.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger, silentLogger } from '../../../src/observability/logger.js';

function capture(): { lines: () => string[]; stream: PassThrough } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, lines: () => text.split('\n').filter(Boolean).map((l) => l.replace(/"timestamp":"[^"]+"/, '"timestamp":"T"')) };
}

describe('logger', () => {
  it('writes one JSON object a line, keys sorted at every depth, with the component and default fields', () => {
    const out = capture();
    const logger = createLogger({ component: 'agent', level: 'info', stream: out.stream });
    logger.defaultMeta = { ...logger.defaultMeta, node: 'n1' };
    logger.info('started', { z: 1, a: { y: [2, { d: 1, c: undefined, b: null }], x: 'é"\n' }, skipped: undefined });
    logger.log('warn', 'via log', { node: 'other', component: 'c2' });
    expect(out.lines()).toEqual([
      '{"a":{"x":"é\\"\\n","y":[2,{"b":null,"d":1}]},"component":"agent","level":"info","message":"started","node":"n1","timestamp":"T","z":1}',
      '{"component":"c2","level":"warn","message":"via log","node":"other","timestamp":"T"}',
    ]);
  });

  it('writes an ISO timestamp', () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    createLogger({ component: 'agent', stream }).info('now');
    expect(JSON.parse(text)).toMatchObject({ timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) });
  });

  it('writes what JSON cannot hold as winston did: circular as "[Circular]", bigint as a string, NaN as null, an Error as {}', () => {
    const out = capture();
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    createLogger({ component: 'c', level: 'debug', stream: out.stream }).error('odd', { circular, big: 10n, n: Number.NaN, error: new Error('boom'), at: new Date(0) });
    expect(out.lines()).toEqual([
      '{"at":"1970-01-01T00:00:00.000Z","big":"10","circular":{"a":1,"self":"[Circular]"},"component":"c","error":{},"level":"error","message":"odd","n":null,"timestamp":"T"}',
    ]);
  });

  it('appends a field named message to the message, and level and timestamp fields do not override its own', () => {
    const out = capture();
    createLogger({ component: 'c', stream: out.stream }).info('cannot write', { message: 'connection reset', level: 'x', timestamp: 'y' });
    expect(out.lines()).toEqual(['{"component":"c","level":"info","message":"cannot write connection reset","timestamp":"T"}']);
  });

  it('keeps the fields of a message that looks like a format string (winston would take %s for a placeholder)', () => {
    const out = capture();
    createLogger({ component: 'c', stream: out.stream }).info('disk 90%s full %d', { node: 'n1' });
    expect(out.lines()).toEqual(['{"component":"c","level":"info","message":"disk 90%s full %d","node":"n1","timestamp":"T"}']);
  });

  it('drops lines below its level (npm levels); an unknown level logs as info; the silent logger writes nothing', () => {
    const out = capture();
    const warn = createLogger({ component: 'c', level: 'warn', stream: out.stream });
    warn.info('no');
    warn.debug('no');
    warn.error('yes');
    const unknown = createLogger({ component: 'c', level: 'trace', stream: out.stream });
    unknown.debug('no');
    unknown.info('yes too');
    silentLogger().error('never');
    expect(out.lines().map((l) => JSON.parse(l).message)).toEqual(['yes', 'yes too']);
  });
});
