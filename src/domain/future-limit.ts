// `_reject_future_desired_time` (`1y 1M 1w 1d 1h 1m`): how far ahead a desired time may be.
// Years, months, weeks and days are calendar units in the office's zone (1M from Jan 31 is the
// last day of February; 1d across a DST change is 23 or 25 hours); hours and minutes are elapsed.

import { plusInZone, type CalendarUnit } from './zone-time';
import { ConfigError } from './office-hours';

/** The latest allowed desired time for a request made at `from`, in the office's `zone`. */
export type FutureLimit = (from: number, zone: string) => number;

const UNITS: Record<string, CalendarUnit> = {
  y: 'years',
  M: 'months',
  w: 'weeks',
  d: 'days',
  h: 'hours',
  m: 'minutes',
};

/** Throws ConfigError (key `_reject_future_desired_time`) on a malformed value. */
export function parseFutureLimit(text: string): FutureLimit {
  const m = /^(\d{1,6})([yMwdhm])$/.exec(text.trim());
  if (!m)
    throw new ConfigError(
      '_reject_future_desired_time',
      `"${text}" is not a duration such as 1y, 1M, 1w, 1d, 1h or 1m`,
    );
  const amount = Number(m[1]);
  const unit = UNITS[m[2]];
  return (from, zone) => plusInZone(from, zone, unit, amount);
}

export type DesiredTimeCheck =
  { kind: 'ok' } | { kind: 'past'; now: number } | { kind: 'too-far'; latest: number };

/**
 * Checks a desired time against now and the future limit. `graceMs` tolerates a desired time
 * that became slightly past while the request travelled.
 */
export function checkDesiredTime(
  desired: number,
  now: number,
  limit: FutureLimit,
  zone: string,
  graceMs = 0,
): DesiredTimeCheck {
  if (!(desired >= now - graceMs)) return { kind: 'past', now };
  const latest = limit(now, zone);
  if (desired > latest) return { kind: 'too-far', latest };
  return { kind: 'ok' };
}
