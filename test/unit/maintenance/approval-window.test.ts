import { describe, expect, test } from '@jest/globals';
import { approvalWindowState, describeWindows, isTimeZone, type ApprovalWindow } from '../../../src/controller/maintenance/approval-window.js';

const utc = (iso: string) => new Date(iso);
const weekendNights: ApprovalWindow = { days: ['Sat', 'Sun'], start: '01:00', end: '05:00', timeZone: 'UTC' };
const fridayOvernight: ApprovalWindow = { days: ['Fri'], start: '22:00', end: '06:00', timeZone: 'UTC' };

describe('approvalWindowState', () => {
  test('no windows: always open', () => {
    expect(approvalWindowState([], utc('2026-12-02T12:00:00Z'))).toEqual({ open: true });
  });

  // 2026-12-05 is a Saturday.
  test.each<[string, ApprovalWindow[], string, boolean]>([
    ['inside, on a listed day', [weekendNights], '2026-12-05T03:00:00Z', true],
    ['at the start minute: open', [weekendNights], '2026-12-05T01:00:00Z', true],
    ['at the end minute: closed', [weekendNights], '2026-12-05T05:00:00Z', false],
    ['the right hours on a day not listed', [weekendNights], '2026-12-04T03:00:00Z', false],
    ['past midnight: the listed evening', [fridayOvernight], '2026-12-04T23:30:00Z', true],
    ['past midnight: the morning after', [fridayOvernight], '2026-12-05T05:59:00Z', true],
    ['past midnight: the morning after ends', [fridayOvernight], '2026-12-05T06:00:00Z', false],
    ['past midnight: the morning of the listed day itself is not in it', [fridayOvernight], '2026-12-04T03:00:00Z', false],
    ['several windows: any one open is enough', [weekendNights, fridayOvernight], '2026-12-04T22:30:00Z', true],
    ['a whole day (00:00–24:00)', [{ days: ['Wed'], start: '00:00', end: '24:00', timeZone: 'UTC' }], '2026-12-02T23:59:00Z', true],
  ])('%s', (_name, windows, now, open) => {
    expect(approvalWindowState(windows, utc(now)).open).toBe(open);
  });

  test('closed: says when the next window opens', () => {
    const state = approvalWindowState([weekendNights, fridayOvernight], utc('2026-12-02T12:00:00Z'));
    expect(state).toEqual({ open: false, opensAt: Date.parse('2026-12-04T22:00:00Z') });
    // After Saturday's window: Sunday's.
    expect(approvalWindowState([weekendNights], utc('2026-12-05T06:00:00Z'))).toEqual({ open: false, opensAt: Date.parse('2026-12-06T01:00:00Z') });
    // After Sunday's: next Saturday's, a week on.
    expect(approvalWindowState([weekendNights], utc('2026-12-06T06:00:00Z'))).toEqual({ open: false, opensAt: Date.parse('2026-12-12T01:00:00Z') });
  });

  test('wall-clock time in the window\'s zone, daylight saving included', () => {
    const amsterdam: ApprovalWindow = { days: ['Sun'], start: '02:30', end: '04:00', timeZone: 'Europe/Amsterdam' };
    // Winter (UTC+1): 02:30 local is 01:30 UTC.
    expect(approvalWindowState([amsterdam], utc('2026-12-06T01:45:00Z')).open).toBe(true);
    expect(approvalWindowState([amsterdam], utc('2026-12-06T03:15:00Z')).open).toBe(false);
    // Summer (UTC+2): 02:30 local is 00:30 UTC.
    expect(approvalWindowState([amsterdam], utc('2026-07-05T00:45:00Z')).open).toBe(true);
    expect(approvalWindowState([amsterdam], utc('2026-07-05T02:15:00Z')).open).toBe(false);
    // Next start from a winter Saturday: Sunday 02:30 local = 01:30 UTC.
    expect(approvalWindowState([amsterdam], utc('2026-12-05T12:00:00Z'))).toEqual({ open: false, opensAt: Date.parse('2026-12-06T01:30:00Z') });
    // 2027-03-28 02:30 does not exist in Amsterdam (02:00 → 03:00): the window opens at the jump.
    expect(approvalWindowState([amsterdam], utc('2027-03-27T12:00:00Z'))).toEqual({ open: false, opensAt: Date.parse('2027-03-28T01:30:00Z') });
  });

  test('a zone east of UTC whose local day differs from the UTC day', () => {
    const tokyo: ApprovalWindow = { days: ['Mon'], start: '01:00', end: '03:00', timeZone: 'Asia/Tokyo' };
    // Monday 02:00 in Tokyo is Sunday 17:00 UTC.
    expect(approvalWindowState([tokyo], utc('2026-12-06T17:00:00Z')).open).toBe(true);
    expect(approvalWindowState([tokyo], utc('2026-12-07T17:00:00Z')).open).toBe(false);
  });
});

test('describeWindows and isTimeZone', () => {
  expect(describeWindows([weekendNights, { ...fridayOvernight, timeZone: 'Europe/Amsterdam' }])).toBe('Sat,Sun 01:00–05:00 UTC; Fri 22:00–06:00 Europe/Amsterdam');
  expect(isTimeZone('Europe/Amsterdam')).toBe(true);
  expect(isTimeZone('UTC')).toBe(true);
  expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
});
