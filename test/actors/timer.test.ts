// The node's one timer: a heap of wake-ups, one clock timer for the earliest, only a window of
// wake-ups in memory, and waits longer than setTimeout's 24.8-day limit.

import { strict as assert } from 'node:assert';
import { start, stop } from 'nact';
import sinon from 'sinon';
import { MAX_TIMEOUT_MS, SystemClock, VirtualClock } from '../../src/clock';
import { WakeHeap, spawnTimer } from '../../src/actors/timer-actor';
import { silentLogger } from '../../src/logger';
import type { Store } from '../../src/store/store';
import { settle } from '../helpers/settle';

describe('wake-up heap', () => {
  it('pops due entries in due order and keeps only the latest due time of an id', () => {
    const h = new WakeHeap();
    h.set('a', 30);
    h.set('b', 10);
    h.set('c', 20);
    h.set('a', 5); // moved earlier: the old entry is stale
    h.set('c', null); // disarmed
    assert.equal(h.size, 2);
    assert.equal(h.peek(), 5);
    assert.deepEqual(h.popDue(25), [
      { at: 5, id: 'a' },
      { at: 10, id: 'b' },
    ]);
    assert.equal(h.peek(), undefined);
  });

  it('stays ordered over many random inserts', () => {
    const h = new WakeHeap();
    const due: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const at = (i * 7919) % 10007;
      due.push(at);
      h.set(`id${i}`, at);
    }
    const popped = h.popDue(Infinity).map((e) => e.at);
    assert.deepEqual(
      popped,
      [...due].sort((x, y) => x - y),
    );
  });
});

describe('system clock', () => {
  let fake: sinon.SinonFakeTimers;
  beforeEach(() => {
    fake = sinon.useFakeTimers({ now: Date.UTC(2030, 0, 1) });
  });
  afterEach(() => fake.restore());

  it('waits longer than 24.8 days without firing early', () => {
    const clock = new SystemClock();
    const fired: number[] = [];
    const at = Date.now() + 40 * 86400_000;
    clock.setTimer(at, () => fired.push(Date.now()));
    fake.tick(MAX_TIMEOUT_MS + 10);
    assert.deepEqual(fired, [], 'a plain setTimeout would have fired after 1 ms here');
    fake.tick(40 * 86400_000);
    assert.deepEqual(fired, [at]);
  });

  it('cancels a timer', () => {
    const clock = new SystemClock();
    let fired = false;
    const h = clock.setTimer(Date.now() + 1000, () => (fired = true));
    clock.clearTimer(h);
    fake.tick(2000);
    assert.equal(fired, false);
  });
});

describe('timer actor', () => {
  it('wakes sessions in due order, loading only the horizon from the store', async () => {
    const clock = new VirtualClock(1_000_000);
    const rows = [
      { id: 'soon', service: 's', nextWakeAt: 1_005_000 },
      { id: 'later', service: 's', nextWakeAt: 1_002_000 },
      { id: 'far', service: 's', nextWakeAt: 1_000_000 + 10 * 3600_000 },
    ];
    const store = {
      dueBetween: (from: number, until: number) =>
        rows
          .filter((r) => r.nextWakeAt >= from && r.nextWakeAt <= until)
          .sort((a, b) => a.nextWakeAt - b.nextWakeAt),
    } as unknown as Store;
    const woken: Array<[string, number]> = [];
    const system = start();
    try {
      const timer = spawnTimer(system, {
        clock,
        store,
        logger: silentLogger(),
        wake: (id) => {
          woken.push([id, clock.now()]);
          // As a session does: once woken, its row no longer holds that due time.
          const i = rows.findIndex((r) => r.id === id);
          if (i >= 0) rows.splice(i, 1);
        },
        horizonMs: 3600_000,
      });
      const { dispatch } = await import('nact');
      dispatch(timer, { type: 'load' });
      dispatch(timer, { type: 'schedule', id: 'new', at: 1_001_000 });
      dispatch(timer, { type: 'schedule', id: 'beyond', at: 1_000_000 + 5 * 3600_000 });
      await settle();
      for (let i = 0; i < 10; i++) {
        const next = clock.nextDue();
        if (next === undefined || next > 1_010_000) break;
        clock.advanceTo(next);
        await settle();
      }
      assert.deepEqual(woken, [
        ['new', 1_001_000],
        ['later', 1_002_000],
        ['soon', 1_005_000],
      ]);
      // 'far' and 'beyond' are rows in the store, loaded when the window moves on.
      rows.push({ id: 'beyond', service: 's', nextWakeAt: 1_000_000 + 5 * 3600_000 });
      for (let i = 0; i < 50 && woken.length < 5; i++) {
        const next = clock.nextDue();
        if (next === undefined) break;
        clock.advanceTo(next);
        await settle();
      }
      assert.deepEqual(
        woken.slice(3).map(([id]) => id),
        ['beyond', 'far'],
      );
    } finally {
      stop(system);
    }
  });
});
