// The node's one timer: a heap of wake-ups, one clock timer for the earliest, only a window of
// wake-ups in memory, and waits longer than setTimeout's 24.8-day limit.

import { strict as assert } from 'node:assert';
import { start, stop } from 'nact';
import sinon from 'sinon';
import { MAX_TIMEOUT_MS, SystemClock, VirtualClock } from '../../src/clock';
import { WakeHeap, WakeWindow, spawnTimer } from '../../src/actors/timer-actor';
import { silentLogger } from '../../src/logger';
import type { Store } from '../../src/store/store';
import { settle } from '../helpers/settle';
import { Harness, START } from './engine-harness';
// nact's actor class, spied on to see every message sent to the timer actor.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Actor } = require('nact/lib/actor') as { Actor: { prototype: { dispatch: unknown } } };

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
    const window = new WakeWindow();
    const system = start();
    try {
      assert.equal(window.holds(1_000_001), false, 'nothing is held before the first load');
      const timer = spawnTimer(system, {
        clock,
        store,
        window,
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
      assert.equal(window.until, 1_000_000 + 3600_000, 'the window reaches the horizon');
      assert.equal(window.holds(1_000_000 + 3600_000 - 1), true);
      assert.equal(window.holds(1_000_000 + 3600_000), false);
      assert.equal(window.holds(null), false);
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

describe('wake-ups past the timer window', () => {
  let h: Harness | undefined;
  let spy: sinon.SinonSpy | undefined;
  afterEach(async () => {
    spy?.restore();
    await h?.stop();
  });

  it('are not sent to the timer actor, whose next loads read them from the store', async () => {
    h = await new Harness({ service: { _wait_for_agent: false } }).start();
    // Every message to the timer actor, whoever sends it.
    spy = sinon.spy(Actor.prototype, 'dispatch');
    const scheduled = () =>
      spy!
        .getCalls()
        .filter((c) => (c.thisValue as { name?: string }).name === 'timer')
        .map((c) => c.args[0] as { type: string; id?: string; at?: number })
        .filter((m) => m.type === 'schedule');
    const iso = (ms: number): string => new Date(ms).toISOString();

    const later = await h.create({ _desired_time: iso(START + 2 * 3600_000) });
    const now = await h.create({});
    await settle();
    assert.deepEqual(
      scheduled(),
      [],
      'a booking 2 h ahead and an immediate one (its time-to-live a day ahead) send nothing',
    );
    const soon = await h.create({ _desired_time: iso(START + 10 * 60_000) });
    await settle();
    assert.deepEqual(
      scheduled().map((m) => m.id),
      [soon],
      'a booking due within the hour is sent',
    );
    await h.engine.cancel('svc', soon);
    assert.equal(await h.complete(now), 'AGENT_CONNECTED');
    await h.until(
      () => h!.customerDials(later).length > 0,
      'the 2 h booking dialled',
      3 * 3600_000,
    );
    const dialledAt = h.telephony.calls().find((c) => c.callId === `${later}-c1`)!.dialledAt;
    assert.ok(dialledAt <= START + 2 * 3600_000, 'dialled no later than the desired time');
    assert.ok(dialledAt >= START + 2 * 3600_000 - 180_000, 'nor earlier than the threshold');
  });
});
