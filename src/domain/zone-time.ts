// Wall-clock arithmetic in IANA zones for the hot paths (every create and availability answer).
// luxon asks Intl for a zone's offset on every call, which costs microseconds; offsets only
// change at a zone's transitions, so they are cached per local-independent UTC day. The
// conversions follow luxon's own rules (its `fixOffset`), and property tests compare them with
// luxon across DST zones.
//
// Assumption: a zone changes its offset at most once within any UTC day. A day whose first and
// last millisecond have different offsets is never cached: every lookup in it asks luxon.

import { DateTime, IANAZone } from 'luxon';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/** Days remembered per zone before that zone's cache starts afresh. */
const DAYS_KEPT = 8192;

interface ZoneCache {
  zone: IANAZone;
  /** UTC day number → offset in ms, or null when a transition falls inside that day. */
  days: Map<number, number | null>;
}

const zones = new Map<string, ZoneCache>();

function cacheOf(zone: string): ZoneCache {
  let z = zones.get(zone);
  if (!z) {
    z = { zone: IANAZone.create(zone), days: new Map() };
    zones.set(zone, z);
  }
  return z;
}

/** The zone's offset from UTC at instant `t`, in ms (positive east of Greenwich). */
export function zoneOffsetMs(zone: string, t: number): number {
  const z = cacheOf(zone);
  const day = Math.floor(t / DAY_MS);
  let off = z.days.get(day);
  if (off === undefined) {
    const first = z.zone.offset(day * DAY_MS) * MINUTE_MS;
    const last = z.zone.offset(day * DAY_MS + DAY_MS - 1) * MINUTE_MS;
    off = first === last ? first : null;
    if (z.days.size >= DAYS_KEPT) z.days.clear();
    z.days.set(day, off);
  }
  return off ?? z.zone.offset(t) * MINUTE_MS;
}

/**
 * The instant of local wall-clock time `wall` (written as if it were UTC), trying the offset
 * `guess` first. A wall time inside a spring-forward gap moves forward; an ambiguous one
 * (fall-back) keeps `guess` when that fits. Same answer as luxon.
 */
export function wallToUtc(zone: string, wall: number, guess: number): number {
  let utc = wall - guess;
  const o2 = zoneOffsetMs(zone, utc);
  if (o2 === guess) return utc;
  utc -= o2 - guess;
  const o3 = zoneOffsetMs(zone, utc);
  if (o2 === o3) return utc;
  return wall - Math.min(o2, o3);
}

export type CalendarUnit = 'years' | 'months' | 'weeks' | 'days' | 'hours' | 'minutes';

/**
 * `from` plus `amount` units in `zone`: years, months, weeks and days move the local calendar
 * date (the day clamped to the month's last), hours and minutes are elapsed time. Same answer
 * as luxon's `plus`.
 */
export function plusInZone(from: number, zone: string, unit: CalendarUnit, amount: number): number {
  if (unit === 'hours') return from + amount * 3_600_000;
  if (unit === 'minutes') return from + amount * MINUTE_MS;
  const off = zoneOffsetMs(zone, from);
  const d = new Date(from + off);
  let year = d.getUTCFullYear();
  let month = d.getUTCMonth();
  if (unit === 'years') year += amount;
  if (unit === 'months') {
    month += amount;
    year += Math.floor(month / 12);
    month = ((month % 12) + 12) % 12;
  }
  let day = Math.min(d.getUTCDate(), daysInMonth(year, month));
  if (unit === 'weeks') day += 7 * amount;
  if (unit === 'days') day += amount;
  const wall = new Date(0);
  wall.setUTCFullYear(year, month, day);
  wall.setUTCHours(d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
  return wallToUtc(zone, wall.getTime(), off);
}

function daysInMonth(year: number, month: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month + 1, 0);
  return d.getUTCDate();
}

const EXTENDED_ISO =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2})(?::?(\d{2}))?)$/i;

/**
 * Epoch ms of an ISO 8601 time that carries an offset or Z, or undefined when it is not a valid
 * one. The common extended form (`2030-01-07T15:00:00.000Z`, `…+02:00`) is read directly;
 * anything else (basic or week dates, out-of-range fields) is left to luxon, which decides.
 */
export function parseIsoInstant(text: string): number | undefined {
  const m = EXTENDED_ISO.exec(text);
  if (m) {
    const year = Number(m[1]);
    const month = Number(m[2]);
    const day = Number(m[3]);
    const hour = Number(m[4]);
    const minute = Number(m[5]);
    const second = m[6] === undefined ? 0 : Number(m[6]);
    const offH = m[10] === undefined ? 0 : Number(m[10]);
    const offM = m[11] === undefined ? 0 : Number(m[11]);
    if (
      year >= 1000 &&
      month >= 1 &&
      month <= 12 &&
      day >= 1 &&
      day <= daysInMonth(year, month - 1) &&
      hour <= 23 &&
      minute <= 59 &&
      second <= 59 &&
      offH <= 23 &&
      offM <= 59
    ) {
      // luxon keeps whole milliseconds of a longer fraction, truncating the rest.
      const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
      const sign = m[9] === '-' ? -1 : 1;
      const offset = m[8] ? 0 : sign * (offH * 60 + offM) * MINUTE_MS;
      return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset;
    }
  }
  const dt = DateTime.fromISO(text, { setZone: true });
  return dt.isValid ? dt.toMillis() : undefined;
}
