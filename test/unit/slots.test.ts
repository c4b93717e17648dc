import assert from 'node:assert/strict';
import { ConfigError, parseOfficeHours } from '../../src/domain/office-hours';
import {
  availabilityWindow,
  computeSlots,
  MAX_WINDOW_DAYS,
  parseCapacity,
  slotLimit,
  slotStartFor,
  type SlotQuery,
} from '../../src/domain/slots';

const at = (iso: string): number => Date.parse(iso);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const isoOf = (t: number): string => new Date(t).toISOString();

const utcWeekdays = parseOfficeHours('utc', {
  _timezone: 'UTC',
  _bh_regular1: 'Mon-Fri 9:00-17:00',
});
const parisSeed = parseOfficeHours('seed', {
  _timezone: 'Europe/Paris',
  _bh_regular1: 'Mon-Fri 8:00-15:00',
});

function slots(over: Partial<SlotQuery>) {
  return computeSlots({
    officeHours: utcWeekdays,
    bucketMin: 60,
    maxPerBucket: 100,
    booked: () => 0,
    from: at('2026-01-05T00:00:00Z'),
    to: at('2026-01-06T00:00:00Z'),
    now: at('2026-01-01T00:00:00Z'),
    ...over,
  });
}

describe('slots', () => {
  describe('slotStartFor', () => {
    it('floors to the bucket from local midnight', () => {
      assert.equal(slotStartFor(at('2026-01-05T09:14:59Z'), 15, 'UTC'), at('2026-01-05T09:00:00Z'));
      assert.equal(slotStartFor(at('2026-01-05T09:15:00Z'), 15, 'UTC'), at('2026-01-05T09:15:00Z'));
      assert.equal(
        slotStartFor(at('2026-01-05T11:59:00Z'), 120, 'UTC'),
        at('2026-01-05T10:00:00Z'),
      );
    });

    it('aligns on the local clock of a zone with a half-hour offset', () => {
      // India is UTC+5:30: local 10:00 is 04:30Z.
      assert.equal(
        slotStartFor(at('2026-01-05T05:20:00Z'), 60, 'Asia/Kolkata'),
        at('2026-01-05T04:30:00Z'),
      );
      assert.equal(slotStartFor(at('2026-01-05T05:20:00Z'), 60, 'UTC'), at('2026-01-05T05:00:00Z'));
    });

    it('gives two distinct slots for the repeated hour of fall back', () => {
      const first = slotStartFor(at('2026-10-25T00:40:00Z'), 60, 'Europe/Paris'); // 02:40 CEST
      const second = slotStartFor(at('2026-10-25T01:40:00Z'), 60, 'Europe/Paris'); // 02:40 CET
      assert.equal(first, at('2026-10-25T00:00:00Z'));
      assert.equal(second, at('2026-10-25T01:00:00Z'));
    });

    it('never returns a start after the time itself on spring forward', () => {
      const t = at('2026-03-29T01:10:00Z'); // 03:10 CEST; 02:00 local does not exist
      const s = slotStartFor(t, 120, 'Europe/Paris');
      assert.ok(s <= t);
      assert.equal(s, at('2026-03-29T01:00:00Z'));
    });
  });

  describe('computeSlots', () => {
    it('offers hourly slots whose start lies inside office hours', () => {
      const out = slots({});
      assert.deepEqual(
        out.map((s) => isoOf(s.start)),
        ['09', '10', '11', '12', '13', '14', '15', '16'].map((h) => `2026-01-05T${h}:00:00.000Z`),
      );
      assert.deepEqual(out[0], { start: at('2026-01-05T09:00:00Z'), capacity: 100, total: 100 });
    });

    it('offers a slot whose start is inside even if it runs past closing, and not one that starts before opening', () => {
      const h = parseOfficeHours('x', { _timezone: 'UTC', _bh_regular1: 'Mon 9:15-10:45' });
      const out = slots({ officeHours: h, bucketMin: 30 });
      assert.deepEqual(
        out.map((s) => isoOf(s.start)),
        ['2026-01-05T09:30:00.000Z', '2026-01-05T10:00:00.000Z', '2026-01-05T10:30:00.000Z'],
      );
    });

    for (const bucket of [5, 10, 15, 20, 30, 60, 120])
      it(`fits ${(8 * 60) / bucket} slots of ${bucket} minutes into an 8-hour day`, () => {
        const out = slots({ bucketMin: bucket });
        assert.equal(out.length, (8 * 60) / bucket);
        for (let i = 1; i < out.length; i++)
          assert.equal(out[i].start - out[i - 1].start, bucket * MIN);
      });

    it('reproduces the seed: a Paris office answers 06:00Z to 12:00Z with 100 each', () => {
      const win = availabilityWindow(
        { timestamp: at('2014-07-30T14:00:00Z') },
        parisSeed,
        at('2014-07-30T00:00:00Z'),
      );
      assert.ok(win.ok);
      const out = computeSlots({
        officeHours: parisSeed,
        bucketMin: 60,
        maxPerBucket: 100,
        booked: () => 0,
        from: win.from,
        to: win.to,
        now: at('2014-07-30T00:00:00Z'),
      });
      assert.deepEqual(
        Object.fromEntries(out.map((s) => [isoOf(s.start), s.capacity])),
        Object.fromEntries(
          ['06', '07', '08', '09', '10', '11', '12'].map((h) => [
            `2014-07-30T${h}:00:00.000Z`,
            100,
          ]),
        ),
      );
    });

    it('does not offer slots that started before now', () => {
      const out = slots({ now: at('2026-01-05T12:30:00Z') });
      assert.equal(isoOf(out[0].start), '2026-01-05T13:00:00.000Z');
      const exact = slots({ now: at('2026-01-05T13:00:00Z') });
      assert.equal(isoOf(exact[0].start), '2026-01-05T13:00:00.000Z');
    });

    it('honours a lead time', () => {
      const out = slots({ now: at('2026-01-05T12:30:00Z'), leadMs: 45 * MIN });
      assert.equal(isoOf(out[0].start), '2026-01-05T14:00:00.000Z');
    });

    it('subtracts bookings and hides full slots unless asked', () => {
      const booked = (s: number): number =>
        s === at('2026-01-05T10:00:00Z') ? 100 : s === at('2026-01-05T11:00:00Z') ? 40 : 0;
      const out = slots({ booked });
      assert.equal(
        out.find((s) => s.start === at('2026-01-05T10:00:00Z')),
        undefined,
      );
      assert.deepEqual(
        out.find((s) => s.start === at('2026-01-05T11:00:00Z')),
        {
          start: at('2026-01-05T11:00:00Z'),
          capacity: 60,
          total: 100,
        },
      );
      const all = slots({ booked, includeFull: true });
      assert.deepEqual(
        all.find((s) => s.start === at('2026-01-05T10:00:00Z')),
        {
          start: at('2026-01-05T10:00:00Z'),
          capacity: 0,
          total: 100,
        },
      );
    });

    it('never reports negative capacity when overbooked', () => {
      const out = slots({ booked: () => 150, includeFull: true });
      assert.ok(out.every((s) => s.capacity === 0));
    });

    it('stops at maxSlots and offers nothing for maxSlots 0', () => {
      assert.equal(slots({ maxSlots: 3 }).length, 3);
      assert.equal(slots({ maxSlots: 0 }).length, 0);
    });

    it('spans several days and skips closed days', () => {
      const out = slots({
        from: at('2026-01-09T00:00:00Z'),
        to: at('2026-01-13T00:00:00Z'),
        bucketMin: 120,
      });
      assert.deepEqual(
        [...new Set(out.map((s) => isoOf(s.start).slice(0, 10)))],
        ['2026-01-09', '2026-01-12'],
      );
    });

    it('keeps slots on round local hours across spring forward', () => {
      const h = parseOfficeHours('p', { _timezone: 'Europe/Paris', _bh_regular1: 'Sun 0:00-6:00' });
      const out = slots({
        officeHours: h,
        from: at('2026-03-28T12:00:00Z'),
        to: at('2026-03-30T00:00:00Z'),
      });
      // Local 00,01,03,04,05 (02:00 does not exist): 23:00Z, 00:00Z, 01:00Z, 02:00Z, 03:00Z.
      assert.deepEqual(
        out.map((s) => isoOf(s.start)),
        [
          '2026-03-28T23:00:00.000Z',
          '2026-03-29T00:00:00.000Z',
          '2026-03-29T01:00:00.000Z',
          '2026-03-29T02:00:00.000Z',
          '2026-03-29T03:00:00.000Z',
        ],
      );
    });

    it('offers both repeated hours on fall back', () => {
      const h = parseOfficeHours('p', { _timezone: 'Europe/Paris', _bh_regular1: 'Sun 1:00-4:00' });
      const out = slots({
        officeHours: h,
        from: at('2026-10-24T12:00:00Z'),
        to: at('2026-10-26T00:00:00Z'),
      });
      assert.deepEqual(
        out.map((s) => isoOf(s.start)),
        [
          '2026-10-24T23:00:00.000Z',
          '2026-10-25T00:00:00.000Z',
          '2026-10-25T01:00:00.000Z',
          '2026-10-25T02:00:00.000Z',
        ],
      );
    });

    it('does not repeat a slot when two open intervals share it', () => {
      const h = parseOfficeHours('x', {
        _timezone: 'UTC',
        _bh_regular1: 'Mon 9:00-9:20,9:40-10:00',
      });
      const out = slots({ officeHours: h, bucketMin: 60 });
      assert.deepEqual(
        out.map((s) => isoOf(s.start)),
        ['2026-01-05T09:00:00.000Z'],
      );
    });
  });

  describe('capacity service', () => {
    const cap = parseCapacity('cap', {
      mon: { '0900': 10, '1000': 12 },
      tuesday: { default: 3 },
      default: 5,
      '2026-01-05': { '0900': 2 },
    });

    it('applies the weekday hour value to every bucket in that hour', () => {
      const out = slots({
        capacity: cap,
        from: at('2026-01-12T00:00:00Z'),
        to: at('2026-01-13T00:00:00Z'),
        bucketMin: 15,
      });
      const nine = out.filter((s) => isoOf(s.start).startsWith('2026-01-12T09'));
      assert.equal(nine.length, 4);
      assert.ok(nine.every((s) => s.total === 10 && s.capacity === 10));
      assert.ok(
        out.filter((s) => isoOf(s.start).startsWith('2026-01-12T10')).every((s) => s.total === 12),
      );
      assert.ok(
        out.filter((s) => isoOf(s.start).startsWith('2026-01-12T11')).every((s) => s.total === 5),
      );
    });

    it('lets a date exception override the hours it lists and keeps the weekday rule for the rest', () => {
      const zone = 'UTC';
      assert.equal(cap.limitFor(at('2026-01-05T09:30:00Z'), zone), 2);
      assert.equal(cap.limitFor(at('2026-01-05T10:30:00Z'), zone), 12);
      assert.equal(cap.limitFor(at('2026-01-12T09:30:00Z'), zone), 10);
    });

    it('uses the weekday default, then the global default', () => {
      assert.equal(cap.limitFor(at('2026-01-06T09:00:00Z'), 'UTC'), 3); // Tuesday
      assert.equal(cap.limitFor(at('2026-01-07T09:00:00Z'), 'UTC'), 5); // Wednesday
    });

    it('reads the hour in the office zone', () => {
      // 08:00Z is 09:00 in Paris on a Monday.
      assert.equal(cap.limitFor(at('2026-01-12T08:00:00Z'), 'Europe/Paris'), 10);
      assert.equal(cap.limitFor(at('2026-01-12T08:00:00Z'), 'UTC'), 5);
    });

    it('gives slots the capacity of their local hour, on plain days and across a DST change', () => {
      const paris = parseOfficeHours('p', {
        _timezone: 'Europe/Paris',
        _bh_regular1: 'Mon-Sun 8:00-11:00',
      });
      const c = parseCapacity('c', { mon: { '0900': 7 }, sun: { '0900': 4 }, default: 1 });
      const monday = slots({
        officeHours: paris,
        capacity: c,
        from: at('2026-01-12T00:00:00Z'),
        to: at('2026-01-13T00:00:00Z'),
      });
      assert.deepEqual(
        monday.map((s) => [isoOf(s.start), s.total]),
        [
          ['2026-01-12T07:00:00.000Z', 1],
          ['2026-01-12T08:00:00.000Z', 7],
          ['2026-01-12T09:00:00.000Z', 1],
        ],
      );
      // An always-open window across spring forward takes the slow path: 09:00 CEST is 07:00Z.
      const always = parseOfficeHours('a', {
        _timezone: 'Europe/Paris',
        _bh_regular1: 'Mon-Sun 00:00-24:00',
      });
      const sunday = slots({
        officeHours: always,
        capacity: c,
        from: at('2026-03-28T23:00:00Z'),
        to: at('2026-03-29T22:00:00Z'),
      });
      assert.equal(sunday.length, 23);
      assert.deepEqual(
        sunday.filter((s) => s.total === 4).map((s) => isoOf(s.start)),
        ['2026-03-29T07:00:00.000Z'],
      );
    });

    it('sets no limit when nothing matches', () => {
      const bare = parseCapacity('bare', { fri: { '0900': 1 } });
      assert.equal(bare.limitFor(at('2026-01-05T09:00:00Z'), 'UTC'), undefined);
      assert.equal(
        slotLimit({
          capacity: bare,
          slotStart: at('2026-01-05T09:00:00Z'),
          zone: 'UTC',
          maxPerBucket: 100,
        }),
        100,
      );
    });

    it('takes the smaller of the capacity service and the per-bucket limit', () => {
      const s = at('2026-01-12T09:00:00Z');
      assert.equal(slotLimit({ capacity: cap, slotStart: s, zone: 'UTC', maxPerBucket: 100 }), 10);
      assert.equal(slotLimit({ capacity: cap, slotStart: s, zone: 'UTC', maxPerBucket: 4 }), 4);
      assert.equal(slotLimit({ slotStart: s, zone: 'UTC', maxPerBucket: 7 }), 7);
    });

    it('hides a slot with zero capacity unless full slots are asked for', () => {
      const zero = parseCapacity('z', { default: 0 });
      assert.equal(slots({ capacity: zero }).length, 0);
      assert.ok(
        slots({ capacity: zero, includeFull: true }).every(
          (s) => s.total === 0 && s.capacity === 0,
        ),
      );
    });

    it('accepts 1000 per slot, numeric strings and "09:00" hours', () => {
      const c = parseCapacity('c', { mon: { '09:00': '1000' } });
      assert.equal(c.limitFor(at('2026-01-05T09:00:00Z'), 'UTC'), 1000);
    });

    for (const [raw, key] of [
      [{ mon: { '0900': 1001 } }, 'mon.0900'],
      [{ default: 5000 }, 'default'],
      [{ mon: { '0900': -1 } }, 'mon.0900'],
      [{ mon: { '0900': 2.5 } }, 'mon.0900'],
      [{ mon: { '0930': 2 } }, 'mon.0930'],
      [{ mon: { '2400': 2 } }, 'mon.2400'],
      [{ mon: 5 }, 'mon'],
      [{ mon: [1, 2] }, 'mon'],
      [{ funday: { '0900': 1 } }, 'funday'],
      [{ '2026-02-30': { '0900': 1 } }, '2026-02-30'],
      [{ '2026-12-24': { '0900': 'many' } }, '2026-12-24.0900'],
    ] as const)
      it(`rejects ${JSON.stringify(raw)} naming ${key}`, () => {
        assert.throws(
          () => parseCapacity('bad', raw as unknown as Record<string, unknown>),
          (e: unknown) => e instanceof ConfigError && e.key === key,
        );
      });

    it('rejects a capacity service that is not a mapping', () => {
      assert.throws(
        () => parseCapacity('bad', null as unknown as Record<string, unknown>),
        ConfigError,
      );
    });
  });

  describe('availabilityWindow', () => {
    const now = at('2026-01-05T08:00:00Z');

    it('gives the local day of a legacy timestamp', () => {
      const w = availabilityWindow({ timestamp: at('2014-07-30T14:00:00Z') }, parisSeed, now);
      assert.deepEqual(w, {
        ok: true,
        from: at('2014-07-29T22:00:00Z'),
        to: at('2014-07-30T22:00:00Z'),
      });
    });

    it('widens a legacy window to an open period that crosses midnight', () => {
      const night = parseOfficeHours('n', { _timezone: 'UTC', _bh_regular1: 'Mon-Sun 20:00-6:00' });
      const w = availabilityWindow({ timestamp: at('2026-01-05T23:00:00Z') }, night, now);
      assert.deepEqual(w, {
        ok: true,
        from: at('2026-01-05T00:00:00Z'),
        to: at('2026-01-06T06:00:00Z'),
      });
    });

    it('gives the next open period for a legacy timestamp on a closed day', () => {
      const w = availabilityWindow({ timestamp: at('2026-01-10T12:00:00Z') }, utcWeekdays, now);
      assert.deepEqual(w, {
        ok: true,
        from: at('2026-01-12T09:00:00Z'),
        to: at('2026-01-12T17:00:00Z'),
      });
    });

    it('keeps the closed day when the office never opens again', () => {
      const never = parseOfficeHours('never', { _timezone: 'UTC' });
      const w = availabilityWindow({ timestamp: at('2026-01-10T12:00:00Z') }, never, now);
      assert.deepEqual(w, {
        ok: true,
        from: at('2026-01-10T00:00:00Z'),
        to: at('2026-01-11T00:00:00Z'),
      });
    });

    it('uses start and end as given', () => {
      const w = availabilityWindow(
        { start: at('2026-01-06T00:00:00Z'), end: at('2026-01-08T00:00:00Z') },
        utcWeekdays,
        now,
      );
      assert.deepEqual(w, {
        ok: true,
        from: at('2026-01-06T00:00:00Z'),
        to: at('2026-01-08T00:00:00Z'),
      });
    });

    it('prefers start over a legacy timestamp', () => {
      const w = availabilityWindow(
        { timestamp: at('2026-02-01T00:00:00Z'), start: at('2026-01-06T00:00:00Z') },
        utcWeekdays,
        now,
      );
      assert.deepEqual(w, {
        ok: true,
        from: at('2026-01-06T00:00:00Z'),
        to: at('2026-01-07T00:00:00Z'),
      });
    });

    it('counts number-of-days as local calendar days (23 hours across spring forward)', () => {
      const start = at('2026-03-28T12:00:00Z');
      const w = availabilityWindow({ start, numberOfDays: 1 }, parisSeed, now);
      assert.ok(w.ok);
      assert.equal(w.to - w.from, 23 * HOUR);
      const three = availabilityWindow(
        { start: at('2026-01-06T00:00:00Z'), numberOfDays: 3 },
        utcWeekdays,
        now,
      );
      assert.deepEqual(three, {
        ok: true,
        from: at('2026-01-06T00:00:00Z'),
        to: at('2026-01-09T00:00:00Z'),
      });
    });

    it('defaults to one day from now', () => {
      assert.deepEqual(availabilityWindow({}, utcWeekdays, now), {
        ok: true,
        from: now,
        to: now + DAY,
      });
    });

    it('accepts the widest window across a DST change', () => {
      const w = availabilityWindow(
        { start: at('2026-03-15T00:00:00Z'), numberOfDays: MAX_WINDOW_DAYS },
        parisSeed,
        now,
      );
      assert.equal(w.ok, true);
    });

    for (const [name, q] of [
      [
        'a window over 31 days',
        { start: at('2026-01-01T00:00:00Z'), end: at('2026-03-01T00:00:00Z') },
      ],
      [
        'an end before the start',
        { start: at('2026-01-06T00:00:00Z'), end: at('2026-01-05T00:00:00Z') },
      ],
      ['an end without a start', { end: at('2026-01-06T00:00:00Z') }],
      ['zero days', { start: now, numberOfDays: 0 }],
      ['32 days', { start: now, numberOfDays: 32 }],
      ['fractional days', { start: now, numberOfDays: 1.5 }],
      ['zero max-time-slots', { maxTimeSlots: 0 }],
      ['a NaN start', { start: Number.NaN }],
      ['an infinite timestamp', { timestamp: Infinity }],
    ] as const)
      it(`refuses ${name} with a message instead of hanging`, () => {
        const w = availabilityWindow(q, utcWeekdays, now);
        assert.equal(w.ok, false);
        assert.ok(!w.ok && w.message.length > 0);
      });
  });
});

describe('legacy availability window of an office open round the clock', () => {
  it('is the timestamp’s local day, not the whole never-ending open period', () => {
    const always = parseOfficeHours('always', {
      _timezone: 'Europe/Paris',
      _bh_regular1: 'Mon-Sun 00:00-24:00',
    });
    const t = Date.UTC(2030, 0, 8, 14);
    const w = availabilityWindow({ timestamp: t }, always, Date.UTC(2030, 0, 1));
    assert.deepEqual(w, { ok: true, from: Date.UTC(2030, 0, 7, 23), to: Date.UTC(2030, 0, 8, 23) });
  });
});
