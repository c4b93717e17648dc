import assert from 'node:assert/strict';
import {
  DEFAULT_EWT_CAP_MS,
  estimateWaitMs,
  HandleTimeAverage,
  type EwtFigures,
} from '../../src/domain/ewt';

const base: EwtFigures = { ready: 0, busy: 4, signedIn: 4, avgHandleMs: 300_000, queueAhead: 0 };

describe('EWT', () => {
  it('is zero when a ready agent is free for this callback', () => {
    assert.equal(estimateWaitMs({ ...base, ready: 2, queueAhead: 0 }), 0);
    assert.equal(estimateWaitMs({ ...base, ready: 2, queueAhead: 1 }), 0);
  });

  it('is half a handle time for the first callback waiting on busy agents', () => {
    assert.equal(estimateWaitMs({ ...base, ready: 2, queueAhead: 2 }), 150_000);
    assert.equal(estimateWaitMs({ ...base, queueAhead: 3 }), 150_000);
  });

  it('adds a full handle time per further round of agents', () => {
    // 4 agents, 4 ahead: this callback is in the second round.
    assert.equal(estimateWaitMs({ ...base, queueAhead: 4 }), 450_000);
    assert.equal(estimateWaitMs({ ...base, queueAhead: 8 }), 750_000);
  });

  it('grows (never shrinks) with the queue', () => {
    let prev = -1;
    for (let q = 0; q <= 100; q++) {
      const w = estimateWaitMs({ ...base, ready: 1, queueAhead: q });
      assert.ok(w >= prev, `queue ${q}`);
      prev = w;
    }
    assert.ok(
      estimateWaitMs({ ...base, queueAhead: 40 }) > estimateWaitMs({ ...base, queueAhead: 4 }),
    );
  });

  it('shrinks (never grows) with more agents', () => {
    let prev = Infinity;
    for (let busy = 1; busy <= 50; busy++) {
      const w = estimateWaitMs({ ...base, busy, signedIn: busy, queueAhead: 30 });
      assert.ok(w <= prev, `busy ${busy}`);
      prev = w;
    }
    let prevReady = Infinity;
    for (let ready = 0; ready <= 40; ready++) {
      const w = estimateWaitMs({ ...base, ready, signedIn: ready + 4, queueAhead: 30 });
      assert.ok(w <= prevReady, `ready ${ready}`);
      prevReady = w;
    }
    assert.equal(prevReady, 0);
  });

  it('returns the cap, not Infinity, when nobody is signed in or working', () => {
    assert.equal(
      estimateWaitMs({ ...base, ready: 0, busy: 0, signedIn: 0, queueAhead: 3 }),
      DEFAULT_EWT_CAP_MS,
    );
    assert.equal(
      estimateWaitMs({ ...base, ready: 0, busy: 0, signedIn: 3, queueAhead: 3 }, 60_000),
      60_000,
    );
  });

  it('never exceeds the cap', () => {
    assert.equal(estimateWaitMs({ ...base, queueAhead: 10_000 }, 900_000), 900_000);
  });

  it('treats negative or non-finite figures as zero', () => {
    assert.equal(estimateWaitMs({ ...base, queueAhead: -5 }), 150_000);
    assert.equal(estimateWaitMs({ ...base, avgHandleMs: -1, queueAhead: 6 }), 0);
    assert.equal(
      estimateWaitMs({ ...base, avgHandleMs: Number.NaN, queueAhead: 6 }),
      DEFAULT_EWT_CAP_MS,
    );
    assert.equal(
      estimateWaitMs({ ...base, busy: Number.NaN, ready: 0, queueAhead: 1 }),
      DEFAULT_EWT_CAP_MS,
    );
  });

  describe('HandleTimeAverage', () => {
    it('starts at its initial value', () => {
      assert.equal(new HandleTimeAverage(180_000).value(), 180_000);
    });

    it('moves towards observations by alpha', () => {
      const a = new HandleTimeAverage(100, 0.5);
      a.observe(200);
      assert.equal(a.value(), 150);
      a.observe(200);
      assert.equal(a.value(), 175);
    });

    it('converges to a steady handle time', () => {
      const a = new HandleTimeAverage(600_000);
      for (let i = 0; i < 100; i++) a.observe(120_000);
      assert.ok(Math.abs(a.value() - 120_000) < 1);
    });

    it('ignores negative and non-finite observations', () => {
      const a = new HandleTimeAverage(1000);
      a.observe(-5);
      a.observe(Number.NaN);
      a.observe(Infinity);
      assert.equal(a.value(), 1000);
    });

    it('refuses an alpha outside (0, 1] and a bad initial value', () => {
      assert.throws(() => new HandleTimeAverage(1000, 0), RangeError);
      assert.throws(() => new HandleTimeAverage(1000, 1.5), RangeError);
      assert.equal(new HandleTimeAverage(Number.NaN).value(), 0);
    });
  });
});
