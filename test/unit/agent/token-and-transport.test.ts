import { describe, expect, it } from '@jest/globals';
import { parseDurationMs } from '../../../src/cmd/flags.js';
import { MetadataError } from '../../../src/agent/http/errors.js';
import { httpError, parseRetryAfter, type MetadataTransport, type TransportRequest, type TransportResponse } from '../../../src/agent/http/transport.js';
import { MetadataTokenSource } from '../../../src/agent/providers/alibaba/token.js';
import { FakeClock } from '../runtime/fake-clock.js';

/** A transport stand-in answering token PUTs from a list. */
function tokenTransport(answers: TransportResponse[]) {
  const requests: TransportRequest[] = [];
  const transport = {
    async send(req: TransportRequest): Promise<TransportResponse> {
      requests.push(req);
      await Promise.resolve();
      return answers.shift() ?? { status: 500, headers: {}, text: '' };
    },
  } as unknown as MetadataTransport;
  return { transport, requests };
}

const ok = (text: string): TransportResponse => ({ status: 200, headers: {}, text });

describe('MetadataTokenSource (Alibaba hardened mode)', () => {
  it('asks once for concurrent callers, with the TTL header, and caches the token', async () => {
    const clock = new FakeClock();
    const { transport, requests } = tokenTransport([ok('AQAEAFakeToken0001==')]);
    const tokens = new MetadataTokenSource(transport, clock, 3_600);
    const got = await Promise.all([tokens.get(), tokens.get(), tokens.get()]);
    expect(new Set(got)).toEqual(new Set(['AQAEAFakeToken0001==']));
    expect(await tokens.get()).toBe('AQAEAFakeToken0001==');
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: 'PUT', path: '/latest/api/token', headers: { 'X-aliyun-ecs-metadata-token-ttl-seconds': '3600' } });
  });

  it('renews before the token runs out (5 minutes early for a one-hour token) and after invalidate()', async () => {
    const clock = new FakeClock();
    const { transport, requests } = tokenTransport([ok('token-one-aaaaaaaa'), ok('token-two-bbbbbbbb'), ok('token-three-cccccc')]);
    const tokens = new MetadataTokenSource(transport, clock, 3_600);
    expect(await tokens.get()).toBe('token-one-aaaaaaaa');
    clock.advance(3_600_000 - 300_001);
    expect(await tokens.get()).toBe('token-one-aaaaaaaa');
    clock.advance(2);
    expect(await tokens.get()).toBe('token-two-bbbbbbbb');
    tokens.invalidate();
    expect(await tokens.get()).toBe('token-three-cccccc');
    expect(requests).toHaveLength(3);
  });

  it('refuses an answer that is no usable token, without quoting it', async () => {
    const { transport } = tokenTransport([ok('line one\nX-Injected: yes')]);
    const err = (await new MetadataTokenSource(transport, new FakeClock()).get().catch((e: unknown) => e)) as MetadataError;
    expect(err).toBeInstanceOf(MetadataError);
    expect(err.kind).toBe('malformed');
    expect(err.message).not.toContain('Injected');
  });

  it('reports a refused token request as an HTTP error', async () => {
    const { transport } = tokenTransport([{ status: 403, headers: {}, text: 'Forbidden: tokens are not issued to requests with X-Forwarded-For' }]);
    const err = (await new MetadataTokenSource(transport, new FakeClock()).get().catch((e: unknown) => e)) as MetadataError;
    expect(err.status).toBe(403);
    expect(err.message).toMatch(/PUT \/latest\/api\/token: HTTP 403: Forbidden/);
  });

  it('rejects a TTL outside 1..21600 s', () => {
    const { transport } = tokenTransport([]);
    expect(() => new MetadataTokenSource(transport, new FakeClock(), 0)).toThrow(RangeError);
    expect(() => new MetadataTokenSource(transport, new FakeClock(), 21_601)).toThrow(RangeError);
  });
});

describe('HTTP error reading', () => {
  it('takes the service explanation and newest-versions from an Azure 400', () => {
    const err = httpError(
      'azure',
      'GET',
      '/metadata/instance',
      { status: 400, headers: {}, text: JSON.stringify({ error: 'Bad request. api-version is invalid', 'newest-versions': ['2023-11-15', '2023-07-01', 'junk'] }) },
      { 'api-version': '2099-01-01' },
    );
    expect(err.message).toBe('azure metadata service GET /metadata/instance?api-version=2099-01-01: HTTP 400: Bad request. api-version is invalid [http error]');
    expect(err.newestVersions).toEqual(['2023-11-15', '2023-07-01']);
  });

  it('does not copy an HTML error page into the message', () => {
    const err = httpError('alibaba', 'GET', '/latest/meta-data/x', { status: 502, headers: {}, text: '<html><body>secret stuff</body></html>' });
    expect(err.message).toBe('alibaba metadata service GET /latest/meta-data/x: HTTP 502: bad gateway [http error]');
  });

  it.each([
    ['3', 3_000],
    ['0', 0],
    [undefined, undefined],
    ['soon', undefined],
    ['-1', undefined],
  ])('Retry-After %j → %j ms', (value, ms) => {
    expect(parseRetryAfter(value)).toBe(ms);
  });

  it('reads an HTTP-date Retry-After relative to now', () => {
    expect(parseRetryAfter('Sun, 22 Nov 2026 10:00:05 GMT', Date.UTC(2026, 10, 22, 10, 0, 0))).toBe(5_000);
  });
});

describe('agent --timeout durations', () => {
  it.each([
    ['30s', 30_000],
    ['2m', 120_000],
    ['500ms', 500],
    ['1.5', 1_500],
    ['1h', 3_600_000],
    ['soon', undefined],
    ['-5s', undefined],
  ])('%s → %j ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });
});
