import assert from 'node:assert/strict';
import { ConfigError, parseOfficeHours } from '../../src/domain/office-hours';

const at = (iso: string): number => Date.parse(iso);
const HOUR = 3_600_000;
const iso = (ivs: Array<{ start: number; end: number }>): string[][] =>
  ivs.map((iv) => [new Date(iv.start).toISOString(), new Date(iv.end).toISOString()]);

function oh(rules: Record<string, string>, zone = 'Europe/Paris') {
  return parseOfficeHours('test', { _timezone: zone, ...rules });
}

function configError(fn: () => unknown, key: string): void {
  assert.throws(fn, (e: unknown) => e instanceof ConfigError && e.key === key);
}

describe('office hours', () => {
  describe('regular hours', () => {
    const weekdays = oh({ _bh_regular1: 'Mon-Fri 9:00-17:00' }, 'UTC');

    it('is open inside the hours of a listed day and closed at the closing instant', () => {
      assert.equal(weekdays.isOpen(at('2026-01-05T09:00:00Z')), true); // Monday
      assert.equal(weekdays.isOpen(at('2026-01-05T16:59:59.999Z')), true);
      assert.equal(weekdays.isOpen(at('2026-01-05T17:00:00Z')), false);
      assert.equal(weekdays.isOpen(at('2026-01-05T08:59:59.999Z')), false);
    });

    it('is closed on days that are not listed', () => {
      assert.equal(weekdays.isOpen(at('2026-01-10T12:00:00Z')), false); // Saturday
      assert.equal(weekdays.isOpen(at('2026-01-11T12:00:00Z')), false); // Sunday
    });

    it('lists one interval per open day, clipped to the asked window', () => {
      const ivs = weekdays.openIntervals(at('2026-01-05T12:00:00Z'), at('2026-01-07T10:00:00Z'));
      assert.deepEqual(iso(ivs), [
        ['2026-01-05T12:00:00.000Z', '2026-01-05T17:00:00.000Z'],
        ['2026-01-06T09:00:00.000Z', '2026-01-06T17:00:00.000Z'],
        ['2026-01-07T09:00:00.000Z', '2026-01-07T10:00:00.000Z'],
      ]);
    });

    it('uses the office zone, not UTC', () => {
      const paris = oh({ _bh_regular1: 'Mon-Fri 9:00-17:00' });
      assert.equal(paris.isOpen(at('2026-01-05T08:00:00Z')), true); // 09:00 CET
      assert.equal(paris.isOpen(at('2026-01-05T16:00:00Z')), false); // 17:00 CET
      const ny = oh({ _bh_regular1: 'Mon-Fri 9:00-17:00' }, 'America/New_York');
      assert.equal(ny.isOpen(at('2026-01-05T14:00:00Z')), true); // 09:00 EST
      assert.equal(ny.isOpen(at('2026-01-05T13:59:00Z')), false);
    });

    it('accepts day ranges that wrap the week', () => {
      const h = oh({ _bh_regular1: 'Sat-Mon 10:00-14:00' }, 'UTC');
      assert.equal(h.isOpen(at('2026-01-10T11:00:00Z')), true); // Sat
      assert.equal(h.isOpen(at('2026-01-11T11:00:00Z')), true); // Sun
      assert.equal(h.isOpen(at('2026-01-12T11:00:00Z')), true); // Mon
      assert.equal(h.isOpen(at('2026-01-13T11:00:00Z')), false); // Tue
      assert.equal(h.isOpen(at('2026-01-09T11:00:00Z')), false); // Fri
    });

    it('accepts several days separated by commas and several hour ranges', () => {
      const h = oh({ _bh_regular1: 'Mon,Wed 9:00-12:00,13:00-17:00' }, 'UTC');
      assert.equal(h.isOpen(at('2026-01-05T10:00:00Z')), true); // Mon
      assert.equal(h.isOpen(at('2026-01-05T12:30:00Z')), false); // lunch
      assert.equal(h.isOpen(at('2026-01-06T10:00:00Z')), false); // Tue
      assert.equal(h.isOpen(at('2026-01-07T14:00:00Z')), true); // Wed
    });

    it('combines several regular rules', () => {
      const h = oh({ _bh_regular1: 'Mon-Fri 9:00-17:00', _bh_regular2: 'Sat 10:00-14:00' }, 'UTC');
      assert.equal(h.isOpen(at('2026-01-10T10:30:00Z')), true);
      assert.equal(h.isOpen(at('2026-01-10T14:30:00Z')), false);
      assert.equal(h.isOpen(at('2026-01-09T16:30:00Z')), true);
    });

    it('opens an hour range that wraps midnight on the listed day and closes it the next morning', () => {
      const h = oh({ _bh_regular1: 'Fri 19:00-7:00' }, 'UTC');
      assert.equal(h.isOpen(at('2026-01-09T18:59:00Z')), false); // Fri
      assert.equal(h.isOpen(at('2026-01-09T19:00:00Z')), true);
      assert.equal(h.isOpen(at('2026-01-10T06:59:00Z')), true); // Sat morning
      assert.equal(h.isOpen(at('2026-01-10T07:00:00Z')), false);
      assert.equal(h.isOpen(at('2026-01-09T03:00:00Z')), false); // Fri morning: Thursday is not listed
      assert.equal(h.isOpen(at('2026-01-10T20:00:00Z')), false); // Sat evening
    });

    it('merges consecutive night shifts into one interval when they touch', () => {
      const h = oh(
        { _bh_regular1: 'Mon-Sun 12:00-0:00', _bh_regular2: 'Mon-Sun 0:00-12:00' },
        'UTC',
      );
      const ivs = h.openIntervals(at('2026-01-05T00:00:00Z'), at('2026-01-08T00:00:00Z'));
      assert.deepEqual(iso(ivs), [['2026-01-05T00:00:00.000Z', '2026-01-08T00:00:00.000Z']]);
    });

    it('treats Mon-Sun 00:00-24:00 as always open', () => {
      const h = oh({ _bh_regular1: 'Mon-Sun 00:00-24:00' }, 'America/New_York');
      for (const t of [
        '2026-01-05T05:00:00Z',
        '2026-03-08T07:30:00Z',
        '2026-11-01T06:30:00Z',
        '2026-12-31T23:59:59Z',
      ])
        assert.equal(h.isOpen(at(t)), true, t);
      const ivs = h.openIntervals(at('2026-03-01T00:00:00Z'), at('2026-03-15T00:00:00Z'));
      assert.deepEqual(iso(ivs), [['2026-03-01T00:00:00.000Z', '2026-03-15T00:00:00.000Z']]);
    });

    it('is never open without rules', () => {
      const h = oh({}, 'UTC');
      assert.equal(h.isOpen(at('2026-01-05T12:00:00Z')), false);
      assert.equal(h.nextOpen(at('2026-01-05T12:00:00Z')), undefined);
      assert.equal(h.periodAround(at('2026-01-05T12:00:00Z')), undefined);
    });

    it('returns nothing for an empty or inverted window or a non-finite time', () => {
      const h = oh({ _bh_regular1: 'Mon-Sun 00:00-24:00' }, 'UTC');
      assert.deepEqual(h.openIntervals(at('2026-01-05T12:00:00Z'), at('2026-01-05T12:00:00Z')), []);
      assert.deepEqual(h.openIntervals(at('2026-01-06T12:00:00Z'), at('2026-01-05T12:00:00Z')), []);
      assert.equal(h.isOpen(Number.NaN), false);
      assert.equal(h.periodAround(Number.NaN), undefined);
    });
  });

  describe('daylight saving time', () => {
    const paris = oh({ _bh_regular1: 'Mon-Sun 9:00-17:00' });

    it('keeps 9:00-17:00 at eight hours and moves it one hour earlier in UTC after spring forward', () => {
      const before = paris.openIntervals(at('2026-03-28T00:00:00Z'), at('2026-03-29T00:00:00Z'));
      const after = paris.openIntervals(at('2026-03-29T00:00:00Z'), at('2026-03-30T00:00:00Z'));
      assert.deepEqual(iso(before), [['2026-03-28T08:00:00.000Z', '2026-03-28T16:00:00.000Z']]);
      assert.deepEqual(iso(after), [['2026-03-29T07:00:00.000Z', '2026-03-29T15:00:00.000Z']]);
    });

    it('moves 9:00-17:00 one hour later in UTC after fall back', () => {
      const before = paris.openIntervals(at('2026-10-24T00:00:00Z'), at('2026-10-25T00:00:00Z'));
      const after = paris.openIntervals(at('2026-10-25T00:00:00Z'), at('2026-10-26T00:00:00Z'));
      assert.deepEqual(iso(before), [['2026-10-24T07:00:00.000Z', '2026-10-24T15:00:00.000Z']]);
      assert.deepEqual(iso(after), [['2026-10-25T08:00:00.000Z', '2026-10-25T16:00:00.000Z']]);
    });

    it('opens nothing for a 02:00-03:00 range on the spring-forward day (that hour does not exist)', () => {
      const h = oh({ _bh_regular1: 'Sun 2:00-3:00' });
      assert.deepEqual(h.openIntervals(at('2026-03-28T12:00:00Z'), at('2026-03-30T00:00:00Z')), []);
      // A normal Sunday has the hour.
      assert.deepEqual(
        iso(h.openIntervals(at('2026-03-22T00:00:00Z'), at('2026-03-23T00:00:00Z'))),
        [['2026-03-22T01:00:00.000Z', '2026-03-22T02:00:00.000Z']],
      );
    });

    it('makes 01:00-04:00 two real hours on spring forward and four on fall back', () => {
      const h = oh({ _bh_regular1: 'Sun 1:00-4:00' });
      const spring = h.openIntervals(at('2026-03-28T12:00:00Z'), at('2026-03-30T00:00:00Z'));
      assert.deepEqual(iso(spring), [['2026-03-29T00:00:00.000Z', '2026-03-29T02:00:00.000Z']]);
      const fall = h.openIntervals(at('2026-10-24T12:00:00Z'), at('2026-10-26T00:00:00Z'));
      assert.deepEqual(iso(fall), [['2026-10-24T23:00:00.000Z', '2026-10-25T03:00:00.000Z']]);
      assert.equal(fall[0].end - fall[0].start, 4 * HOUR);
    });

    it('makes a whole day 23 hours on spring forward and 25 on fall back', () => {
      const h = oh({ _bh_regular1: 'Sun 00:00-24:00' }, 'America/New_York');
      const [spring] = h.openIntervals(at('2026-03-07T00:00:00Z'), at('2026-03-10T00:00:00Z'));
      assert.equal(spring.end - spring.start, 23 * HOUR);
      assert.equal(new Date(spring.start).toISOString(), '2026-03-08T05:00:00.000Z');
      const [fall] = h.openIntervals(at('2026-10-31T00:00:00Z'), at('2026-11-03T00:00:00Z'));
      assert.equal(fall.end - fall.start, 25 * HOUR);
      assert.equal(new Date(fall.start).toISOString(), '2026-11-01T04:00:00.000Z');
    });

    it('ends a night shift across fall back at 06:00 local standard time', () => {
      const h = oh({ _bh_regular1: 'Sat 22:00-6:00' });
      const [iv] = h.openIntervals(at('2026-10-24T00:00:00Z'), at('2026-10-26T00:00:00Z'));
      assert.deepEqual(iso([iv]), [['2026-10-24T20:00:00.000Z', '2026-10-25T05:00:00.000Z']]);
      assert.equal(iv.end - iv.start, 9 * HOUR);
    });

    it('never shifts in a zone without DST', () => {
      const tokyo = oh({ _bh_regular1: 'Mon-Sun 9:00-17:00' }, 'Asia/Tokyo');
      for (const day of ['2026-01-15', '2026-03-29', '2026-07-15', '2026-10-25'])
        assert.deepEqual(iso(tokyo.openIntervals(at(`${day}T00:00:00Z`), at(`${day}T12:00:00Z`))), [
          [`${day}T00:00:00.000Z`, `${day}T08:00:00.000Z`],
        ]);
    });
  });

  describe('adds and drops', () => {
    it('opens on a dated add only that year', () => {
      const h = oh(
        { _bh_regular1: 'Mon-Fri 9:00-17:00', _bh_add1: '2026-12-26 9:00-12:00' },
        'UTC',
      );
      assert.equal(h.isOpen(at('2026-12-26T10:00:00Z')), true); // Saturday
      assert.equal(h.isOpen(at('2026-12-26T12:00:00Z')), false);
      assert.equal(h.isOpen(at('2027-12-26T10:00:00Z')), false); // Sunday, another year
    });

    it('opens on a yearly add every year', () => {
      const h = oh({ _bh_add1: '12-26 9:00-12:00' }, 'UTC');
      assert.equal(h.isOpen(at('2026-12-26T10:00:00Z')), true);
      assert.equal(h.isOpen(at('2030-12-26T11:59:00Z')), true);
      assert.equal(h.isOpen(at('2030-12-27T10:00:00Z')), false);
    });

    it('closes on a dated drop only that year', () => {
      const h = oh({ _bh_regular1: 'Mon-Fri 9:00-17:00', _bh_drop1: '2026-12-25' }, 'UTC');
      assert.equal(h.isOpen(at('2026-12-25T10:00:00Z')), false); // Friday
      assert.equal(h.isOpen(at('2026-12-24T10:00:00Z')), true);
      assert.equal(h.isOpen(at('2028-12-25T10:00:00Z')), true); // Monday, another year
    });

    it('closes on a yearly drop every year', () => {
      const h = oh({ _bh_regular1: 'Mon-Sun 9:00-17:00', _bh_drop1: '12-25' }, 'UTC');
      assert.equal(h.isOpen(at('2026-12-25T10:00:00Z')), false);
      assert.equal(h.isOpen(at('2031-12-25T10:00:00Z')), false);
      assert.equal(h.isOpen(at('2031-12-26T10:00:00Z')), true);
    });

    it('drops the shifts that start on the date, not the end of the night shift begun the evening before', () => {
      const h = oh({ _bh_regular1: 'Mon-Sun 19:00-7:00', _bh_drop1: '2026-12-25' }, 'UTC');
      assert.equal(h.isOpen(at('2026-12-25T06:00:00Z')), true); // from the 24th
      assert.equal(h.isOpen(at('2026-12-25T20:00:00Z')), false);
      assert.equal(h.isOpen(at('2026-12-26T06:00:00Z')), false);
      assert.equal(h.isOpen(at('2026-12-26T20:00:00Z')), true);
    });

    it('lets an add on a dropped date open the office for the added hours only', () => {
      const h = oh(
        {
          _bh_regular1: 'Mon-Fri 9:00-17:00',
          _bh_drop1: '12-24',
          _bh_add1: '2026-12-24 9:00-12:00',
        },
        'UTC',
      );
      assert.equal(h.isOpen(at('2026-12-24T10:00:00Z')), true);
      assert.equal(h.isOpen(at('2026-12-24T13:00:00Z')), false);
      assert.equal(h.isOpen(at('2027-12-24T10:00:00Z')), false); // the yearly drop, no add that year
    });

    it('lets a yearly add win over a yearly drop on the same date', () => {
      const h = oh(
        { _bh_regular1: 'Mon-Fri 9:00-17:00', _bh_drop1: '12-24', _bh_add1: '12-24 9:00-12:00' },
        'UTC',
      );
      assert.equal(h.isOpen(at('2026-12-24T10:00:00Z')), true);
      assert.equal(h.isOpen(at('2026-12-24T15:00:00Z')), false);
    });

    it('lets a dated drop win over a yearly add', () => {
      const h = oh({ _bh_add1: '12-24 9:00-12:00', _bh_drop1: '2026-12-24' }, 'UTC');
      assert.equal(h.isOpen(at('2026-12-24T10:00:00Z')), false);
      assert.equal(h.isOpen(at('2027-12-24T10:00:00Z')), true);
    });

    it('lets an add extend regular hours on the same day', () => {
      const h = oh(
        { _bh_regular1: 'Mon-Fri 9:00-17:00', _bh_add1: '2026-12-23 17:00-20:00' },
        'UTC',
      );
      const ivs = h.openIntervals(at('2026-12-23T00:00:00Z'), at('2026-12-24T00:00:00Z'));
      assert.deepEqual(iso(ivs), [['2026-12-23T09:00:00.000Z', '2026-12-23T20:00:00.000Z']]);
    });

    it('accepts a yearly add on 29 February and opens only in leap years', () => {
      const h = oh({ _bh_add1: '02-29 9:00-12:00' }, 'UTC');
      assert.equal(h.isOpen(at('2028-02-29T10:00:00Z')), true);
      assert.equal(h.isOpen(at('2027-03-01T10:00:00Z')), false);
    });
  });

  describe('effective dates', () => {
    it('closes the office outside every effective range', () => {
      const h = oh(
        {
          _bh_regular1: 'Mon-Sun 9:00-17:00',
          _effective_dates1: '2026-04-01 to 2026-04-30',
          _effective_dates2: '2026-06-15',
        },
        'UTC',
      );
      assert.equal(h.isOpen(at('2026-03-31T10:00:00Z')), false);
      assert.equal(h.isOpen(at('2026-04-01T10:00:00Z')), true);
      assert.equal(h.isOpen(at('2026-04-30T10:00:00Z')), true);
      assert.equal(h.isOpen(at('2026-05-01T10:00:00Z')), false);
      assert.equal(h.isOpen(at('2026-06-15T10:00:00Z')), true);
      assert.equal(h.isOpen(at('2026-06-16T10:00:00Z')), false);
    });

    it('cuts a night shift at local midnight after the last effective day', () => {
      const h = oh({
        _bh_regular1: 'Mon-Sun 20:00-6:00',
        _effective_dates1: '2026-04-01 to 2026-04-02',
      });
      const ivs = h.openIntervals(at('2026-03-31T00:00:00Z'), at('2026-04-05T00:00:00Z'));
      assert.deepEqual(iso(ivs), [
        ['2026-04-01T18:00:00.000Z', '2026-04-02T04:00:00.000Z'],
        ['2026-04-02T18:00:00.000Z', '2026-04-02T22:00:00.000Z'],
      ]);
    });

    it('also bounds adds', () => {
      const h = oh(
        { _bh_add1: '05-01 9:00-12:00', _effective_dates1: '2026-01-01 to 2026-12-31' },
        'UTC',
      );
      assert.equal(h.isOpen(at('2026-05-01T10:00:00Z')), true);
      assert.equal(h.isOpen(at('2027-05-01T10:00:00Z')), false);
    });
  });

  describe('isOpen and openIntervals', () => {
    const offices = [
      oh({ _bh_regular1: 'Mon-Fri 9:00-17:00', _bh_regular2: 'Sat 10:00-12:30' }),
      oh({ _bh_regular1: 'Mon-Sun 22:00-06:00' }, 'America/New_York'),
      oh({ _bh_regular1: 'Mon-Sun 00:00-24:00' }, 'Australia/Lord_Howe'),
      oh(
        {
          _bh_regular1: 'Mon-Fri 01:00-04:00',
          _bh_drop1: '2026-03-09',
          _bh_add1: '03-08 23:00-02:00',
          _effective_dates1: '2026-03-01 to 2026-03-20',
        },
        'America/New_York',
      ),
    ];

    it('answers isOpen(t) as openIntervals(t, t + 1) does, at boundaries and across DST', () => {
      // Every quarter of an hour over three weeks around the March change in both hemispheres,
      // each instant with its neighbours 1 ms either side and a fractional millisecond.
      let checked = 0;
      let open = 0;
      for (const h of offices) {
        for (let q = at('2026-02-28T00:00:00Z'); q < at('2026-03-21T00:00:00Z'); q += HOUR / 4) {
          for (const t of [q - 1, q, q + 1, q + 0.5]) {
            const expected = h.openIntervals(t, t + 1).length > 0;
            assert.equal(h.isOpen(t), expected, `${h.name} ${h.timezone} at ${t}`);
            checked++;
            if (expected) open++;
          }
        }
      }
      assert.ok(open > 0 && open < checked, `${open} of ${checked} instants open`);
    });
  });

  describe('periods', () => {
    const h = oh({ _bh_regular1: 'Mon-Fri 9:00-17:00' }, 'UTC');

    it('gives the open period containing a time', () => {
      assert.deepEqual(iso([h.periodAround(at('2026-01-05T12:00:00Z'))!]), [
        ['2026-01-05T09:00:00.000Z', '2026-01-05T17:00:00.000Z'],
      ]);
    });

    it('gives the next open period when closed, across a weekend', () => {
      assert.deepEqual(iso([h.periodAround(at('2026-01-09T18:00:00Z'))!]), [
        ['2026-01-12T09:00:00.000Z', '2026-01-12T17:00:00.000Z'],
      ]);
      assert.equal(h.nextOpen(at('2026-01-09T18:00:00Z')), at('2026-01-12T09:00:00Z'));
      assert.equal(h.nextOpen(at('2026-01-09T10:00:00Z')), at('2026-01-09T10:00:00Z'));
    });

    it('finds a yearly add months ahead', () => {
      const x = oh({ _bh_add1: '12-24 9:00-12:00' }, 'UTC');
      assert.equal(x.nextOpen(at('2026-01-01T00:00:00Z')), at('2026-12-24T09:00:00Z'));
    });

    it('follows a period across midnight', () => {
      const x = oh(
        { _bh_regular1: 'Mon-Sun 20:00-24:00', _bh_regular2: 'Mon-Sun 0:00-6:00' },
        'UTC',
      );
      assert.deepEqual(iso([x.periodAround(at('2026-01-05T23:00:00Z'))!]), [
        ['2026-01-05T20:00:00.000Z', '2026-01-06T06:00:00.000Z'],
      ]);
    });

    it('clips the period of an always-open office to eight days either side', () => {
      const x = oh({ _bh_regular1: 'Mon-Sun 00:00-24:00' }, 'UTC');
      const t = at('2026-01-15T12:00:00Z');
      const p = x.periodAround(t)!;
      assert.equal(p.start, t - 8 * 24 * HOUR);
      assert.equal(p.end, t + 8 * 24 * HOUR);
    });
  });

  describe('parsing', () => {
    it('keeps the configured rules and zone', () => {
      const raw = { _timezone: 'Europe/Paris', _bh_regular1: 'Mon-Fri 9:00-17:00' };
      const h = parseOfficeHours('paris', raw);
      assert.equal(h.timezone, 'Europe/Paris');
      assert.equal(h.name, 'paris');
      assert.deepEqual(h.rules(), raw);
    });

    it('accepts lower-case day names and extra spaces', () => {
      const h = oh({ _bh_regular1: '  mon-FRI   9:00-17:00 ' }, 'UTC');
      assert.equal(h.isOpen(at('2026-01-05T10:00:00Z')), true);
    });

    it('requires a valid IANA zone', () => {
      configError(() => parseOfficeHours('x', { _bh_regular1: 'Mon 9:00-17:00' }), '_timezone');
      configError(() => parseOfficeHours('x', { _timezone: 'Mars/Olympus' }), '_timezone');
    });

    for (const [key, value] of [
      ['_bh_regular1', 'Mon-Fri'],
      ['_bh_regular1', 'Mon-Fry 9:00-17:00'],
      ['_bh_regular1', 'Mon-Tue-Wed 9:00-17:00'],
      ['_bh_regular1', 'Mon 9:00-25:00'],
      ['_bh_regular1', 'Mon 9:60-17:00'],
      ['_bh_regular1', 'Mon 24:00-17:00'],
      ['_bh_regular1', 'Mon 9:00-9:00'],
      ['_bh_regular1', 'Mon 9h-17h'],
      ['_bh_add2', '2026-02-30 9:00-12:00'],
      ['_bh_add2', '2026-12-24'],
      ['_bh_drop3', 'tomorrow'],
      ['_bh_drop3', '13-01'],
      ['_effective_dates1', '04-01'],
      ['_effective_dates1', '2026-05-01 to 2026-04-01'],
      ['_effective_dates1', '2026-05-01 to 2026-06-01 to 2026-07-01'],
      ['_bh_typo', 'Mon 9:00-17:00'],
    ])
      it(`rejects ${key} = "${value}" naming the key`, () => {
        configError(() => oh({ [key]: value }, 'UTC'), key);
      });

    it('rejects a value that is not a string', () => {
      configError(
        () => parseOfficeHours('x', { _timezone: 'UTC', _bh_regular1: 5 as unknown as string }),
        '_bh_regular1',
      );
    });
  });
});
