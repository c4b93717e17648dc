// The cached zone arithmetic must answer exactly as luxon does: property tests across zones with
// DST changes (north and south), half-hour offsets and a 30-minute DST shift, around their
// transitions and far from them.

import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { DateTime, IANAZone } from 'luxon';
import { slotStartFor } from '../../src/domain/slots';
import {
  parseIsoInstant,
  plusInZone,
  wallToUtc,
  zoneOffsetMs,
  type CalendarUnit,
} from '../../src/domain/zone-time';

const ZONES = [
  'Europe/Paris',
  'America/New_York',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'America/St_Johns',
  'Pacific/Chatham',
  'UTC',
];
const FROM = Date.UTC(2024, 0, 1);
const TO = Date.UTC(2032, 0, 1);

/** Every offset change of `zone` in [FROM, TO), found by a daily scan and bisection. */
function transitions(z: string): number[] {
  const off = (t: number) => IANAZone.create(z).offset(t);
  const out: number[] = [];
  for (let day = FROM; day < TO; day += 86_400_000) {
    if (off(day) === off(day + 86_400_000)) continue;
    let lo = day;
    let hi = day + 86_400_000;
    while (hi - lo > 1000) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (off(mid) === off(lo)) lo = mid;
      else hi = mid;
    }
    out.push(hi);
  }
  return out;
}
const TRANSITIONS = ZONES.flatMap(transitions);

/** Instants anywhere in 2024–2031, and instants within three hours of some zone's transition. */
const instant = fc.oneof(
  fc.integer({ min: FROM, max: TO }),
  fc
    .tuple(fc.constantFrom(...TRANSITIONS), fc.integer({ min: -3 * 3_600_000, max: 3 * 3_600_000 }))
    .map(([t, d]) => t + d),
);
const zone = fc.constantFrom(...ZONES);
const CASES = 3000;

describe('zone arithmetic (against luxon)', () => {
  it('gives the offset luxon gives', () => {
    fc.assert(
      fc.property(zone, instant, (z, t) => {
        assert.equal(zoneOffsetMs(z, t), IANAZone.create(z).offset(t) * 60_000);
      }),
      { numRuns: CASES },
    );
  });

  it('maps a wall-clock time to the instant luxon maps it to, gaps and overlaps included', () => {
    fc.assert(
      fc.property(zone, instant, fc.integer({ min: -3, max: 3 }), (z, t, shiftH) => {
        const guess = zoneOffsetMs(z, t);
        const wall = t + guess + shiftH * 3_600_000;
        const d = new Date(wall);
        const expected = DateTime.fromMillis(t, { zone: z })
          .set({
            year: d.getUTCFullYear(),
            month: d.getUTCMonth() + 1,
            day: d.getUTCDate(),
            hour: d.getUTCHours(),
            minute: d.getUTCMinutes(),
            second: d.getUTCSeconds(),
            millisecond: d.getUTCMilliseconds(),
          })
          .toMillis();
        assert.equal(wallToUtc(z, wall, guess), expected);
      }),
      { numRuns: CASES },
    );
  });

  it('starts slots where the luxon definition starts them', () => {
    fc.assert(
      fc.property(zone, instant, fc.constantFrom(5, 10, 15, 30, 60, 90), (z, t, bucket) => {
        const local = DateTime.fromMillis(t, { zone: z });
        const floored = Math.floor((local.hour * 60 + local.minute) / bucket) * bucket;
        const expected = local
          .set({ hour: Math.floor(floored / 60), minute: floored % 60, second: 0, millisecond: 0 })
          .toMillis();
        assert.equal(slotStartFor(t, bucket, z), Math.min(expected, t));
      }),
      { numRuns: CASES },
    );
  });

  it('adds calendar and elapsed units as luxon plus does', () => {
    const unit = fc.constantFrom<CalendarUnit>(
      'years',
      'months',
      'weeks',
      'days',
      'hours',
      'minutes',
    );
    fc.assert(
      fc.property(zone, instant, unit, fc.integer({ min: 0, max: 400 }), (z, t, u, n) => {
        const expected = DateTime.fromMillis(t, { zone: z })
          .plus({ [u]: n })
          .toMillis();
        assert.equal(plusInZone(t, z, u, n), expected);
      }),
      { numRuns: CASES },
    );
  });

  it('clamps a month end the way the spec says: 1 month from 31 January is the end of February', () => {
    const jan31 = Date.UTC(2031, 0, 31, 10);
    assert.equal(plusInZone(jan31, 'UTC', 'months', 1), Date.UTC(2031, 1, 28, 10));
  });

  it('reads ISO 8601 instants as luxon does, and refuses what luxon refuses', () => {
    const pad = (n: number, w = 2) => String(n).padStart(w, '0');
    const text = fc
      .tuple(
        fc.integer({ min: 1000, max: 9999 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 0, max: 60 }),
        fc.option(fc.integer({ min: 0, max: 60 })),
        fc.option(fc.stringMatching(/^\d{1,9}$/)),
        fc.oneof(
          fc.constant('Z'),
          fc.constant('z'),
          fc
            .tuple(
              fc.constantFrom('+', '-'),
              fc.integer({ min: 0, max: 24 }),
              fc.option(fc.integer({ min: 0, max: 60 })),
              fc.boolean(),
            )
            .map(
              ([s, h, m, colon]) => `${s}${pad(h)}${m === null ? '' : (colon ? ':' : '') + pad(m)}`,
            ),
        ),
      )
      .map(
        ([y, mo, d, h, mi, s, frac, off]) =>
          `${y}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}` +
          (s === null ? '' : `:${pad(s)}${frac === null ? '' : `.${frac}`}`) +
          off,
      );
    fc.assert(
      fc.property(text, (s) => {
        const dt = DateTime.fromISO(s, { setZone: true });
        assert.equal(parseIsoInstant(s), dt.isValid ? dt.toMillis() : undefined, s);
      }),
      { numRuns: CASES * 3 },
    );
  });

  it('leaves other ISO 8601 forms to luxon', () => {
    assert.equal(parseIsoInstant('20300107T150000Z'), Date.UTC(2030, 0, 7, 15));
    assert.equal(
      parseIsoInstant('2030-01-07T15:00:00'),
      DateTime.fromISO('2030-01-07T15:00:00').toMillis(),
    );
    assert.equal(parseIsoInstant('not a time'), undefined);
  });
});
