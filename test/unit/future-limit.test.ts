import assert from 'node:assert/strict';
import { checkDesiredTime, parseFutureLimit } from '../../src/domain/future-limit';
import { ConfigError } from '../../src/domain/office-hours';

const at = (iso: string): number => Date.parse(iso);
const HOUR = 3_600_000;

describe('future limit', () => {
  it('adds calendar months in the office zone, clamping to the end of a short month', () => {
    const limit = parseFutureLimit('1M');
    assert.equal(limit(at('2026-01-31T10:00:00Z'), 'UTC'), at('2026-02-28T10:00:00Z'));
    assert.equal(limit(at('2026-03-15T10:00:00Z'), 'UTC'), at('2026-04-15T10:00:00Z'));
  });

  it('keeps the local time across a DST change (a month from winter to summer is 1 hour shorter)', () => {
    const from = at('2026-03-15T09:00:00Z'); // 10:00 CET
    assert.equal(parseFutureLimit('1M')(from, 'Europe/Paris'), at('2026-04-15T08:00:00Z')); // 10:00 CEST
    assert.equal(
      parseFutureLimit('1d')(at('2026-03-28T12:00:00Z'), 'Europe/Paris') -
        at('2026-03-28T12:00:00Z'),
      23 * HOUR,
    );
  });

  it('handles years on 29 February, weeks, days, hours and minutes', () => {
    assert.equal(
      parseFutureLimit('1y')(at('2028-02-29T12:00:00Z'), 'UTC'),
      at('2029-02-28T12:00:00Z'),
    );
    assert.equal(
      parseFutureLimit('2w')(at('2026-01-01T00:00:00Z'), 'UTC'),
      at('2026-01-15T00:00:00Z'),
    );
    assert.equal(
      parseFutureLimit('3d')(at('2026-01-01T00:00:00Z'), 'UTC'),
      at('2026-01-04T00:00:00Z'),
    );
    assert.equal(
      parseFutureLimit('12h')(at('2026-01-01T00:00:00Z'), 'UTC'),
      at('2026-01-01T12:00:00Z'),
    );
    assert.equal(
      parseFutureLimit('30m')(at('2026-01-01T00:00:00Z'), 'UTC'),
      at('2026-01-01T00:30:00Z'),
    );
  });

  it('counts hours as elapsed time even across a DST change', () => {
    const from = at('2026-03-29T00:00:00Z');
    assert.equal(parseFutureLimit('3h')(from, 'Europe/Paris'), from + 3 * HOUR);
  });

  it('tells minutes (m) from months (M)', () => {
    const from = at('2026-01-01T00:00:00Z');
    assert.notEqual(parseFutureLimit('1m')(from, 'UTC'), parseFutureLimit('1M')(from, 'UTC'));
  });

  for (const bad of ['', '1', 'M', '1x', '1 M', '-1d', '1.5d', '1D', '1Y', 'P1M', '1234567d'])
    it(`rejects "${bad}" naming _reject_future_desired_time`, () => {
      assert.throws(
        () => parseFutureLimit(bad),
        (e: unknown) => e instanceof ConfigError && e.key === '_reject_future_desired_time',
      );
    });

  describe('checkDesiredTime', () => {
    const now = at('2026-01-15T12:00:00Z');
    const limit = parseFutureLimit('1M');

    it('accepts a time between now and the limit, the limit included', () => {
      assert.deepEqual(checkDesiredTime(now + HOUR, now, limit, 'UTC'), { kind: 'ok' });
      assert.deepEqual(checkDesiredTime(now, now, limit, 'UTC'), { kind: 'ok' });
      assert.deepEqual(checkDesiredTime(at('2026-02-15T12:00:00Z'), now, limit, 'UTC'), {
        kind: 'ok',
      });
    });

    it('reports a time in the past', () => {
      assert.deepEqual(checkDesiredTime(now - 1, now, limit, 'UTC'), { kind: 'past', now });
    });

    it('tolerates a past time within the grace', () => {
      assert.deepEqual(checkDesiredTime(now - 30_000, now, limit, 'UTC', 60_000), { kind: 'ok' });
      assert.equal(checkDesiredTime(now - 61_000, now, limit, 'UTC', 60_000).kind, 'past');
    });

    it('reports a time beyond the limit with the latest allowed time', () => {
      assert.deepEqual(checkDesiredTime(at('2026-02-15T12:00:00.001Z'), now, limit, 'UTC'), {
        kind: 'too-far',
        latest: at('2026-02-15T12:00:00Z'),
      });
    });

    it('treats NaN as past rather than ok', () => {
      assert.equal(checkDesiredTime(Number.NaN, now, limit, 'UTC').kind, 'past');
    });
  });
});
