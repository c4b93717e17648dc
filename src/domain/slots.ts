// Slots, the capacity service and availability windows.
//
// Decisions where GMS is silent:
// - Slots are `_request_time_bucket` minutes aligned on the office's local wall clock from
//   local midnight (09:00, 09:15, …), so they stay on round local times across DST changes; on a
//   fall-back day the repeated hour yields two distinct slots.
// - A slot is offered when its *start* lies inside office hours (the desired time of a booking
//   is the slot start; the callback need not be finished before closing).
// - A slot is offered only if its start is at or after `now + leadMs` (default 0): slots already
//   under way are not offered; the engine's short past-time grace covers the seconds a client
//   takes to post its choice.
// - Capacity: a date exception overrides only the hours it lists (then its own `default`), the
//   rest of that date follows the weekday rule, then the weekday's `default`, then the global
//   `default`; no value at all means the capacity service does not limit that slot.

import { DateTime } from 'luxon';
import type { AvailabilityQuery, SlotView } from '../engine-api';
import { ConfigError, type OfficeHours } from './office-hours';
import { wallToUtc, zoneOffsetMs } from './zone-time';

export const MAX_CAPACITY_PER_SLOT = 1000;
/** The widest availability window a query may ask for. */
export const MAX_WINDOW_DAYS = 31;
const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const WEEKDAYS: Record<string, number> = {
  mon: 1,
  monday: 1,
  tue: 2,
  tuesday: 2,
  wed: 3,
  wednesday: 3,
  thu: 4,
  thursday: 4,
  fri: 5,
  friday: 5,
  sat: 6,
  saturday: 6,
  sun: 7,
  sunday: 7,
};

/** Per-hour capacities of one day: hour (0–23) → value, plus an optional day default. */
interface DayCapacity {
  hours: Map<number, number>;
  fallback?: number;
}

export class CapacityService {
  /** @internal built by parseCapacity */
  constructor(
    readonly name: string,
    private readonly weekdays: Map<number, DayCapacity>,
    private readonly dates: Map<string, DayCapacity>,
    private readonly fallback: number | undefined,
  ) {}

  /** The capacity of the slot starting at `slotStart`, or undefined when this service sets none. */
  limitFor(slotStart: number, zone: string): number | undefined {
    return this.limitAtWallClock(slotStart + offsetMs(slotStart, zone));
  }

  /** @internal `wall` is the local wall-clock time written as if it were UTC. */
  limitAtWallClock(wall: number): number | undefined {
    const d = new Date(wall);
    const hour = d.getUTCHours();
    const exception =
      this.dates.size > 0 ? this.dates.get(d.toISOString().slice(0, 10)) : undefined;
    const weekday = this.weekdays.get(d.getUTCDay() === 0 ? 7 : d.getUTCDay());
    return (
      exception?.hours.get(hour) ??
      exception?.fallback ??
      weekday?.hours.get(hour) ??
      weekday?.fallback ??
      this.fallback
    );
  }
}

/**
 * Parses a capacity service: `{ mon: { "0900": 10 }, …, default: 5, "2026-12-24": { "0900": 2 } }`.
 * Throws ConfigError naming the bad key (`mon.0900`).
 */
export function parseCapacity(name: string, raw: Record<string, unknown>): CapacityService {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError('(root)', 'must be a mapping');
  const weekdays = new Map<number, DayCapacity>();
  const dates = new Map<string, DayCapacity>();
  let fallback: number | undefined;
  for (const [key, value] of Object.entries(raw)) {
    const lower = key.toLowerCase();
    const weekday = Object.prototype.hasOwnProperty.call(WEEKDAYS, lower)
      ? WEEKDAYS[lower]
      : undefined;
    if (lower === 'default') fallback = capacityValue(key, value);
    else if (/^\d{4}-\d{2}-\d{2}$/.test(key)) {
      if (!DateTime.fromISO(key, { zone: 'UTC' }).isValid)
        throw new ConfigError(key, 'is not a valid date');
      dates.set(key, parseDay(key, value));
    } else if (weekday !== undefined) weekdays.set(weekday, parseDay(key, value));
    else throw new ConfigError(key, 'is not a weekday (mon … sun), a date (YYYY-MM-dd) or default');
  }
  return new CapacityService(name, weekdays, dates, fallback);
}

function parseDay(key: string, value: unknown): DayCapacity {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError(key, 'must map hours ("0900") to capacities');
  const day: DayCapacity = { hours: new Map() };
  for (const [hourKey, v] of Object.entries(value as Record<string, unknown>)) {
    const path = `${key}.${hourKey}`;
    if (hourKey.toLowerCase() === 'default') {
      day.fallback = capacityValue(path, v);
      continue;
    }
    const m = /^([01]\d|2[0-3]):?00$/.exec(hourKey);
    if (!m) throw new ConfigError(path, 'is not an hour such as "0900"');
    day.hours.set(Number(m[1]), capacityValue(path, v));
  }
  return day;
}

function capacityValue(key: string, v: unknown): number {
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
    throw new ConfigError(key, 'must be a whole number ≥ 0');
  if (n > MAX_CAPACITY_PER_SLOT)
    throw new ConfigError(key, `must be at most ${MAX_CAPACITY_PER_SLOT} per slot`);
  return n;
}

function offsetMs(t: number, zone: string): number {
  return zoneOffsetMs(zone, t);
}

/** The start of the slot containing `t`: the local wall-clock time floored to the bucket. */
export function slotStartFor(t: number, bucketMin: number, zone: string): number {
  const offset = zoneOffsetMs(zone, t);
  const wall = t + offset;
  const midnight = Math.floor(wall / DAY_MS) * DAY_MS;
  const minuteOfDay = Math.floor((wall - midnight) / MINUTE_MS);
  const floored = Math.floor(minuteOfDay / bucketMin) * bucketMin;
  const start = wallToUtc(zone, midnight + floored * MINUTE_MS, offset);
  // A floored time inside a spring-forward gap moves forward; it can never pass `t` itself.
  return Math.min(start, t);
}

function nextSlotStart(slot: number, bucketMin: number, zone: string): number {
  const next = slotStartFor(slot + bucketMin * MINUTE_MS, bucketMin, zone);
  return next > slot ? next : slot + bucketMin * MINUTE_MS;
}

/** Total capacity of a slot: the capacity service's value capped by `_max_request_by_time_bucket`. */
export function slotLimit(p: {
  capacity?: CapacityService;
  slotStart: number;
  zone: string;
  maxPerBucket: number;
}): number {
  return Math.min(p.capacity?.limitFor(p.slotStart, p.zone) ?? Infinity, p.maxPerBucket);
}

export interface SlotQuery {
  officeHours: OfficeHours;
  capacity?: CapacityService;
  bucketMin: number;
  maxPerBucket: number;
  /** Callbacks already booked in the slot starting at `slotStart`. */
  booked: (slotStart: number) => number;
  from: number;
  to: number;
  now: number;
  /** Slots starting before `now + leadMs` are not offered (default 0). */
  leadMs?: number;
  maxSlots?: number;
  /** Include slots with no capacity left. */
  includeFull?: boolean;
}

/** The slots starting in [from, to) inside office hours, with remaining and total capacity. */
export function computeSlots(q: SlotQuery): SlotView[] {
  const zone = q.officeHours.timezone;
  const earliest = Math.max(q.from, q.now + (q.leadMs ?? 0));
  const max = q.maxSlots ?? Infinity;
  const out: SlotView[] = [];
  if (max <= 0 || q.bucketMin <= 0) return out;
  const bucketMs = q.bucketMin * MINUTE_MS;
  let lastSeen = -Infinity;
  for (const iv of q.officeHours.openIntervals(earliest, q.to)) {
    // The first slot whose start lies inside the interval.
    let s = slotStartFor(iv.start, q.bucketMin, zone);
    if (s < iv.start) s = nextSlotStart(s, q.bucketMin, zone);
    // Availability is a hot path: when the zone offset is the same at both ends of the interval
    // (no DST change inside), slots are a plain arithmetic sequence and luxon is not needed.
    const offset = offsetMs(s, zone);
    const steady = offset === offsetMs(iv.end, zone);
    for (; s < iv.end; s = steady ? s + bucketMs : nextSlotStart(s, q.bucketMin, zone)) {
      if (s <= lastSeen) continue;
      lastSeen = s;
      const serviceLimit = steady
        ? q.capacity?.limitAtWallClock(s + offset)
        : q.capacity?.limitFor(s, zone);
      const total = Math.min(serviceLimit ?? Infinity, q.maxPerBucket);
      const capacity = Math.max(0, total - Math.max(0, q.booked(s)));
      if (capacity <= 0 && !q.includeFull) continue;
      out.push({ start: s, capacity, total });
      if (out.length >= max) return out;
    }
  }
  return out;
}

export type AvailabilityWindow =
  { ok: true; from: number; to: number } | { ok: false; message: string };

/**
 * The window of an availability query. Legacy `timestamp`: the office's local day containing it,
 * widened to the whole open period around it when that crosses midnight; a day with no opening
 * at all gives the next open period (the seed asks at 14:00Z and gets that day's 06:00Z–12:00Z
 * slots). `start` (with `end` or `numberOfDays`, default 1) wins over `timestamp`; nothing given
 * means one day from now. Windows wider than MAX_WINDOW_DAYS are refused.
 */
export function availabilityWindow(
  query: AvailabilityQuery,
  officeHours: OfficeHours,
  now: number,
): AvailabilityWindow {
  const zone = officeHours.timezone;
  for (const [name, v] of [
    ['timestamp', query.timestamp],
    ['start', query.start],
    ['end', query.end],
  ] as const)
    if (v !== undefined && !Number.isFinite(v))
      return { ok: false, message: `${name} is not a valid time` };
  if (query.numberOfDays !== undefined) {
    const n = query.numberOfDays;
    if (!Number.isInteger(n) || n < 1 || n > MAX_WINDOW_DAYS)
      return {
        ok: false,
        message: `number-of-days must be a whole number from 1 to ${MAX_WINDOW_DAYS}`,
      };
  }
  if (
    query.maxTimeSlots !== undefined &&
    (!Number.isInteger(query.maxTimeSlots) || query.maxTimeSlots < 1)
  )
    return { ok: false, message: 'max-time-slots must be a whole number ≥ 1' };

  let from: number;
  let to: number;
  if (query.start === undefined && query.end === undefined && query.timestamp !== undefined) {
    const t = query.timestamp;
    const day = DateTime.fromMillis(t, { zone }).startOf('day');
    from = day.toMillis();
    to = day.plus({ days: 1 }).toMillis();
    const period = officeHours.periodAround(t);
    if (officeHours.openIntervals(from, to).length === 0) {
      if (period) ({ start: from, end: to } = period);
    } else if (period && period.start <= t) {
      // A night shift crossing midnight is shown whole, but an office open round the clock
      // has no period to speak of: its legacy answer is the timestamp's day (as the seed shows
      // one day of slots).
      if (period.end - period.start <= 86_400_000) {
        from = Math.min(from, period.start);
        to = Math.max(to, period.end);
      }
    }
  } else {
    if (query.start === undefined && query.end !== undefined)
      return { ok: false, message: 'end needs a start' };
    from = query.start ?? now;
    to =
      query.end ??
      DateTime.fromMillis(from, { zone })
        .plus({ days: query.numberOfDays ?? 1 })
        .toMillis();
    if (to <= from) return { ok: false, message: 'end must be after start' };
  }
  // One extra hour so that 31 calendar days across a DST change still fit.
  if (to - from > MAX_WINDOW_DAYS * 86_400_000 + 3_600_000)
    return { ok: false, message: `the window may span at most ${MAX_WINDOW_DAYS} days` };
  return { ok: true, from, to };
}
