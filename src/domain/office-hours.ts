// Office hours in GMS syntax (`_timezone`, `_bh_regular<n>`, `_bh_add<n>`, `_bh_drop<n>`,
// `_effective_dates<n>`), evaluated in the office's IANA zone with luxon so DST days are right.
//
// Decisions where GMS is silent:
// - A period belongs to the local date it starts on: `Fri 19:00-7:00` opens Friday 19:00 and
//   closes Saturday 07:00; `_bh_drop` of a date removes the regular periods that *start* on it
//   (a night shift begun the evening before still ends normally).
// - `_bh_add` wins over `_bh_drop` on the same date (an add is an explicit opening), except that
//   a dated drop (`2026-12-24`) beats a yearly add (`12-24 9:00-12:00`): the more specific rule
//   wins.
// - `_effective_dates` are a hard boundary: periods are clipped to local midnight of the first
//   day and local midnight after the last day.
// - A local time that does not exist (spring forward) moves forward, as luxon does; a range that
//   falls entirely in the gap is empty.

import { DateTime, IANAZone } from 'luxon';
import { zoneOffsetMs } from './zone-time';

/** A bad office-hours or capacity rule; `key` names the offending key. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface Interval {
  start: number;
  end: number;
}

/** Minutes since local midnight; `end` may be 1440 (24:00) or ≤ start (ends the next day). */
interface HourRange {
  from: number;
  to: number;
}

interface RegularRule {
  /** 1 = Monday … 7 = Sunday (luxon weekday). */
  days: Set<number>;
  ranges: HourRange[];
}

interface DateRule {
  /** Undefined for a yearly rule. */
  year?: number;
  month: number;
  day: number;
}

interface AddRule extends DateRule {
  ranges: HourRange[];
}

interface EffectiveRange {
  /** Local dates as ordinal numbers (year*10000+month*100+day), inclusive. */
  first: number;
  last: number;
}

const DAY_MS = 86_400_000;
const DAYS: Record<string, number> = { mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, sun: 7 };
/** Periods returned by periodAround are clipped this far either side of the asked time. */
const PERIOD_CLIP_MS = 8 * DAY_MS;
/** How far ahead periodAround / nextOpen look when rules never open again. */
const SEARCH_HORIZON_MS = 400 * DAY_MS;
const CACHE_LIMIT = 4096;

export class OfficeHours {
  private readonly dayCache = new Map<number, Interval[]>();
  private readonly zone: IANAZone;

  /** @internal built by parseOfficeHours */
  constructor(
    readonly name: string,
    readonly timezone: string,
    private readonly regular: RegularRule[],
    private readonly adds: AddRule[],
    private readonly drops: DateRule[],
    private readonly effective: EffectiveRange[],
    private readonly raw: Record<string, string>,
  ) {
    this.zone = IANAZone.create(timezone);
  }

  /** The rules as configured. */
  rules(): Record<string, string> {
    return { ...this.raw };
  }

  isOpen(t: number): boolean {
    if (!Number.isFinite(t)) return false;
    // What `openIntervals(t, t + 1).length > 0` answers, over the same local days, without
    // building, sorting and merging their periods: every create asks it.
    const last = this.localDay(t + 1);
    for (let day = this.localDay(t) - 1; day <= last; day++)
      for (const iv of this.periodsStartingOn(day)) if (iv.start < t + 1 && iv.end > t) return true;
    return false;
  }

  /** Open intervals (epoch ms, merged, clipped to [from, to)), in order. */
  openIntervals(from: number, to: number): Interval[] {
    if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) return [];
    // A period starts on a local date and lasts at most two local days (a midnight wrap), so
    // the dates from the day before `from` to the day of `to` cover everything that overlaps.
    // Dates are counted as days since the epoch of the local wall clock: no luxon on this path.
    const last = this.localDay(to);
    const raw: Interval[] = [];
    for (let day = this.localDay(from) - 1; day <= last; day++)
      for (const iv of this.periodsStartingOn(day)) raw.push(iv);
    raw.sort((a, b) => a.start - b.start);
    const out: Interval[] = [];
    for (const iv of raw) {
      const start = Math.max(iv.start, from);
      const end = Math.min(iv.end, to);
      if (end <= start) continue;
      const last = out[out.length - 1];
      if (last && start <= last.end) last.end = Math.max(last.end, end);
      else out.push({ start, end });
    }
    return out;
  }

  /**
   * The open period containing `t`, or else the next one (within about 400 days). Merged
   * periods are clipped to 8 days either side of `t` (an always-open office has no natural
   * period).
   */
  periodAround(t: number): Interval | undefined {
    if (!Number.isFinite(t)) return undefined;
    const chunk = 14 * DAY_MS;
    const horizon = t + SEARCH_HORIZON_MS;
    for (let from = t - PERIOD_CLIP_MS; from < horizon; from += chunk) {
      const hit = this.openIntervals(from, from + chunk).find((iv) => iv.end > t);
      if (!hit) continue;
      const limit = Math.max(t, hit.start) + PERIOD_CLIP_MS;
      let end = hit.end;
      // The period may continue past the chunk we looked at.
      while (end < limit) {
        const next = this.openIntervals(end, Math.min(end + chunk, limit))[0];
        if (!next || next.start !== end) break;
        end = next.end;
      }
      return { start: hit.start, end: Math.min(end, limit) };
    }
    return undefined;
  }

  /** `t` when open, else the start of the next open period (undefined if none within ~400 days). */
  nextOpen(t: number): number | undefined {
    if (this.isOpen(t)) return t;
    return this.periodAround(t)?.start;
  }

  /** The local date of `t` as a day number (days since 1970-01-01 on the office's wall clock). */
  private localDay(t: number): number {
    const wall = t + zoneOffsetMs(this.timezone, t);
    return Math.floor(wall / DAY_MS);
  }

  private periodsStartingOn(dayNumber: number): Interval[] {
    const cached = this.dayCache.get(dayNumber);
    if (cached) return cached;
    const d = new Date(dayNumber * DAY_MS);
    const day = DateTime.fromObject(
      { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() },
      { zone: this.zone },
    );
    const computed = this.computeDay(day);
    if (this.dayCache.size >= CACHE_LIMIT) this.dayCache.clear();
    this.dayCache.set(dayNumber, computed);
    return computed;
  }

  private computeDay(day: DateTime): Interval[] {
    const { year, month, day: dom, weekday } = day;
    const ordinal = year * 10000 + month * 100 + dom;
    if (
      this.effective.length > 0 &&
      !this.effective.some((e) => e.first <= ordinal && ordinal <= e.last)
    ) {
      // Periods from the previous effective day may still spill into this one: clipping below
      // handles that, so nothing starts here.
      return [];
    }
    const matches = (r: DateRule): boolean =>
      r.month === month && r.day === dom && (r.year === undefined || r.year === year);
    const dropped = this.drops.filter(matches);
    const datedDrop = dropped.some((d) => d.year !== undefined);
    const ranges: HourRange[] = [];
    if (dropped.length === 0)
      for (const r of this.regular) if (r.days.has(weekday)) ranges.push(...r.ranges);
    for (const a of this.adds) {
      if (!matches(a)) continue;
      if (a.year === undefined && datedDrop) continue;
      ranges.push(...a.ranges);
    }
    const out: Interval[] = [];
    for (const r of ranges) {
      const start = atMinute(day, r.from);
      const end = r.to > r.from ? atMinute(day, r.to) : atMinute(day.plus({ days: 1 }), r.to);
      const clipped = this.clipToEffective(start, end);
      if (clipped) out.push(clipped);
    }
    return out;
  }

  private clipToEffective(start: number, end: number): Interval | undefined {
    if (this.effective.length === 0) return end > start ? { start, end } : undefined;
    for (const e of this.effective) {
      const first = fromOrdinal(e.first, this.timezone).toMillis();
      const after = fromOrdinal(e.last, this.timezone).plus({ days: 1 }).toMillis();
      if (start >= first && start < after) {
        const clippedEnd = Math.min(end, after);
        return clippedEnd > start ? { start, end: clippedEnd } : undefined;
      }
    }
    return undefined;
  }
}

function atMinute(day: DateTime, minute: number): number {
  if (minute === 1440) return day.plus({ days: 1 }).startOf('day').toMillis();
  return day.set({ hour: Math.floor(minute / 60), minute: minute % 60 }).toMillis();
}

function fromOrdinal(ordinal: number, zone: string): DateTime {
  return DateTime.fromObject(
    {
      year: Math.floor(ordinal / 10000),
      month: Math.floor(ordinal / 100) % 100,
      day: ordinal % 100,
    },
    { zone },
  );
}

/** Parses an office-hours service. Throws ConfigError naming the bad key. */
export function parseOfficeHours(name: string, raw: Record<string, string>): OfficeHours {
  const zone = raw._timezone?.trim();
  if (!zone) throw new ConfigError('_timezone', 'is mandatory (an IANA zone such as Europe/Paris)');
  if (!IANAZone.isValidZone(zone))
    throw new ConfigError('_timezone', `${zone} is not an IANA time zone`);
  const regular: RegularRule[] = [];
  const adds: AddRule[] = [];
  const drops: DateRule[] = [];
  const effective: EffectiveRange[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (key === '_timezone') continue;
    if (typeof value !== 'string') throw new ConfigError(key, 'must be a string');
    const text = value.trim().replace(/\s+/g, ' ');
    if (/^_bh_regular\d*$/.test(key)) regular.push(parseRegular(key, text));
    else if (/^_bh_add\d*$/.test(key)) adds.push(parseAdd(key, text));
    else if (/^_bh_drop\d*$/.test(key)) drops.push(parseDate(key, text, true));
    else if (/^_effective_dates\d*$/.test(key)) effective.push(parseEffective(key, text));
    else throw new ConfigError(key, 'is not an office-hours option');
  }
  return new OfficeHours(name, zone, regular, adds, drops, effective, { ...raw });
}

function parseRegular(key: string, text: string): RegularRule {
  const m = /^(\S+) (\S+)$/.exec(text);
  if (!m) throw new ConfigError(key, `"${text}" is not "DDD-DDD HH:mm-HH:mm"`);
  const days = new Set<number>();
  for (const part of m[1].split(',')) {
    const [a, b, extra] = part.split('-');
    if (extra !== undefined) throw new ConfigError(key, `"${part}" is not a day or a day range`);
    const first = dayNumber(key, a);
    const last = b === undefined ? first : dayNumber(key, b);
    // A range may wrap the week: Sat-Mon is Saturday, Sunday, Monday.
    for (let d = first, n = 0; n < 7; d = (d % 7) + 1, n++) {
      days.add(d);
      if (d === last) break;
    }
  }
  return { days, ranges: parseRanges(key, m[2]) };
}

function dayNumber(key: string, text: string): number {
  const d = DAYS[text.toLowerCase()];
  if (d === undefined) throw new ConfigError(key, `"${text}" is not a day (Mon, Tue, … Sun)`);
  return d;
}

function parseRanges(key: string, text: string): HourRange[] {
  return text.split(',').map((part) => {
    const m = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(part);
    if (!m) throw new ConfigError(key, `"${part}" is not an hour range HH:mm-HH:mm`);
    const from = minuteOf(key, m[1], m[2], false);
    const to = minuteOf(key, m[3], m[4], true);
    if (from === to) throw new ConfigError(key, `"${part}" is an empty range`);
    return { from, to };
  });
}

function minuteOf(key: string, h: string, m: string, isEnd: boolean): number {
  const hour = Number(h);
  const minute = Number(m);
  const total = hour * 60 + minute;
  if (minute > 59 || total > 1440 || (total === 1440 && !isEnd))
    throw new ConfigError(key, `${h}:${m} is not a time of day`);
  return total;
}

function parseDate(key: string, text: string, allowYearly: boolean): DateRule {
  const m = /^(?:(\d{4})-)?(\d{2})-(\d{2})$/.exec(text);
  if (!m || (!allowYearly && m[1] === undefined))
    throw new ConfigError(
      key,
      `"${text}" is not a date (YYYY-MM-dd${allowYearly ? ' or MM-dd' : ''})`,
    );
  const month = Number(m[2]);
  const day = Number(m[3]);
  // A yearly rule is checked against a leap year so that 02-29 is accepted.
  const year = m[1] === undefined ? undefined : Number(m[1]);
  if (!DateTime.fromObject({ year: year ?? 2024, month, day }, { zone: 'UTC' }).isValid)
    throw new ConfigError(key, `"${text}" is not a valid date`);
  return year === undefined ? { month, day } : { year, month, day };
}

function parseAdd(key: string, text: string): AddRule {
  const m = /^(\S+) (\S+)$/.exec(text);
  if (!m)
    throw new ConfigError(key, `"${text}" is not "YYYY-MM-dd HH:mm-HH:mm" or "MM-dd HH:mm-HH:mm"`);
  return { ...parseDate(key, m[1], true), ranges: parseRanges(key, m[2]) };
}

function parseEffective(key: string, text: string): EffectiveRange {
  const parts = text.split(/ to /i);
  if (parts.length > 2) throw new ConfigError(key, `"${text}" is not "YYYY-MM-dd to YYYY-MM-dd"`);
  const ord = (d: DateRule): number => (d.year ?? 0) * 10000 + d.month * 100 + d.day;
  const first = ord(parseDate(key, parts[0].trim(), false));
  const last = parts.length === 2 ? ord(parseDate(key, parts[1].trim(), false)) : first;
  if (last < first) throw new ConfigError(key, `"${text}" ends before it starts`);
  return { first, last };
}
