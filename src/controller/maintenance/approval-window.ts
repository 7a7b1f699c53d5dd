// When early approval is allowed (config `approvalWindows`). Pure: the clock's `now` comes in.
//
// A team may want its nodes drained the moment Azure announces maintenance, but the maintenance
// itself started early only at hours it chose (a weekend night, say): outside every window the drain
// goes on as usual and nodemeta does not approve; the platform then starts the event at NotBefore.
//
// A window is days of the week, a start and an end (HH:MM, wall-clock time in `timeZone`, an IANA
// name). An end at or before the start runs past midnight into the next day: `Fri 22:00–06:00` is
// open from Friday 22:00 to Saturday 06:00. Wall-clock time follows daylight saving: a window's hours
// stay the same local hours all year.

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface ApprovalWindow {
  days: Weekday[];
  /** HH:MM, from 00:00 to 23:59. */
  start: string;
  /** HH:MM, from 00:00 to 24:00; at or before `start`: the next day. */
  end: string;
  /** IANA time zone, e.g. Europe/Amsterdam. */
  timeZone: string;
}

export type WindowState = { open: true } | { open: false; /** Epoch ms when a window opens next (within 8 days). */ opensAt: number | undefined };

const MINUTES_PER_DAY = 24 * 60;

/** Whether early approval is allowed at `now`: always with no windows, else inside one of them. */
export function approvalWindowState(windows: readonly ApprovalWindow[], now: Date): WindowState {
  if (windows.length === 0) return { open: true };
  if (windows.some((window) => isOpen(window, now))) return { open: true };
  const starts = windows.flatMap((window) => nextStarts(window, now));
  return { open: false, opensAt: starts.length === 0 ? undefined : Math.min(...starts) };
}

/** For Events and status: `Sat,Sun 01:00–05:00 Europe/Amsterdam`. */
export function describeWindows(windows: readonly ApprovalWindow[]): string {
  return windows.map((window) => `${window.days.join(',')} ${window.start}–${window.end} ${window.timeZone}`).join('; ');
}

/** True when the time zone is one this runtime knows (for the configuration's validation). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function isOpen(window: ApprovalWindow, now: Date): boolean {
  const local = wallClock(now, window.timeZone);
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  const today = window.days.includes(local.weekday);
  if (end > start) return today && local.minutes >= start && local.minutes < end;
  // Past midnight: the evening of a listed day, or the morning after one.
  const yesterday = window.days.includes(WEEKDAYS[(WEEKDAYS.indexOf(local.weekday) + 6) % 7]!);
  return (today && local.minutes >= start) || (yesterday && local.minutes < end);
}

/** The instants (epoch ms, after `now`) at which this window opens on each of the next 8 days. */
function nextStarts(window: ApprovalWindow, now: Date): number[] {
  const local = wallClock(now, window.timeZone);
  const starts: number[] = [];
  for (let ahead = 0; ahead <= 7; ahead++) {
    const weekday = WEEKDAYS[(WEEKDAYS.indexOf(local.weekday) + ahead) % 7]!;
    if (!window.days.includes(weekday)) continue;
    const date = new Date(Date.UTC(local.year, local.month - 1, local.day + ahead));
    const instant = instantOf(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), minutesOf(window.start), window.timeZone);
    if (instant > now.getTime()) starts.push(instant);
  }
  return starts;
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  weekday: Weekday;
  /** Minutes since local midnight. */
  minutes: number;
}

function wallClock(instant: Date, timeZone: string): WallClock {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    weekday: 'short',
    hour: 'numeric',
    minute: 'numeric',
  }).formatToParts(instant);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return {
    year: Number(part('year')),
    month: Number(part('month')),
    day: Number(part('day')),
    weekday: part('weekday') as Weekday,
    minutes: Number(part('hour')) * 60 + Number(part('minute')),
  };
}

/**
 * The instant at which the wall clock in `timeZone` shows that date and time. A time that does not
 * exist (skipped by a daylight-saving jump) comes out as the first instant after the jump.
 */
function instantOf(year: number, month: number, day: number, minutes: number, timeZone: string): number {
  const asUtc = Date.UTC(year, month - 1, day) + minutes * 60_000;
  let guess = asUtc;
  // Two rounds settle the offset, including across a daylight-saving change.
  for (let round = 0; round < 2; round++) guess = asUtc - offsetMs(new Date(guess), timeZone);
  return guess;
}

/** How far the wall clock in `timeZone` is ahead of UTC at `instant`. */
function offsetMs(instant: Date, timeZone: string): number {
  const local = wallClock(instant, timeZone);
  const wall = Date.UTC(local.year, local.month - 1, local.day) + local.minutes * 60_000;
  return wall - (instant.getTime() - (instant.getTime() % 60_000));
}

function minutesOf(hhmm: string): number {
  const [hours, minutes] = hhmm.split(':').map(Number);
  return Math.min(MINUTES_PER_DAY, hours! * 60 + minutes!);
}
