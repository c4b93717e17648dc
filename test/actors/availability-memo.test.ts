// Availability answers are reused while they hold: these tests show that a reused answer never
// hides a booking, a cancel, or a slot that has started.

import { strict as assert } from 'node:assert';
import v8 from 'node:v8';
import vm from 'node:vm';
import sinon from 'sinon';
import type { DialbackError } from '../../src/errors';
import { Harness, START } from './engine-harness';

/**
 * A full garbage collection, without starting mocha with --expose-gc. It waits for a turn of
 * the event loop first: a WeakRef keeps its target until the job that made or read it is over.
 */
async function collectGarbage(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

const SLOT = 15 * 60_000;

describe('availability answers reused between changes', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await new Harness({
      service: { _request_time_bucket: 15, _max_request_by_time_bucket: 3 },
    }).start();
  });
  afterEach(() => h.stop());

  const window = () => ({ start: START, end: START + 4 * SLOT });
  const capacityAt = (slot: number) =>
    h.engine.availability('svc', window()).slots.find((s) => s.start === slot)?.capacity;

  it('hands out the same answer to repeated questions while nothing changes', () => {
    const first = h.engine.availability('svc', window());
    assert.equal(h.engine.availability('svc', window()), first);
    assert.notEqual(h.engine.availability('svc', { ...window(), maxTimeSlots: 2 }), first);
  });

  it('shows a booking and a cancel at once', async () => {
    const slot = START + 2 * SLOT;
    assert.equal(capacityAt(slot), 3);
    const id = await h.create({
      _customer_number: '5001',
      _desired_time: new Date(slot).toISOString(),
    });
    assert.equal(capacityAt(slot), 2);
    await h.engine.cancel('svc', id);
    assert.equal(capacityAt(slot), 3);
  });

  it('stops offering a slot once it has started, to the millisecond', () => {
    const slot = START + SLOT;
    assert.equal(capacityAt(slot), 3);
    h.clock.advance(SLOT - 1); // 1 ms before the slot: still offered
    assert.equal(capacityAt(slot), 3);
    h.clock.advance(1); // exactly on its start: still offered
    assert.equal(capacityAt(slot), 3);
    h.clock.advance(1); // 1 ms after: gone
    assert.equal(capacityAt(slot), undefined);
  });

  it('lets go of the answers of earlier seats and minutes instead of keeping them until full', async () => {
    // Held only through a WeakRef: once the memo drops it, a GC takes it.
    const asked = (maxTimeSlots: number) =>
      new WeakRef(h.engine.availability('svc', { ...window(), maxTimeSlots }));
    const beforeBooking = [asked(1), asked(2), asked(3)];
    await h.create({
      _customer_number: '5001',
      _desired_time: new Date(START + 2 * SLOT).toISOString(),
    });
    const afterBooking = asked(4);
    await collectGarbage();
    assert.deepEqual(
      beforeBooking.map((r) => r.deref() === undefined),
      [true, true, true],
      'the answers from before the booking are gone',
    );
    assert.ok(afterBooking.deref(), 'the answer of the current seats is kept');
    h.clock.advance(60_000);
    asked(5);
    await collectGarbage();
    assert.equal(afterBooking.deref(), undefined, 'the answer of the minute before is gone');
  });

  it('keeps a widget polling without a start in step with the clock', () => {
    const next = () => h.engine.availability('svc', {}).slots[0]?.start;
    assert.equal(next(), START);
    h.clock.advance(30_000);
    assert.equal(next(), START + SLOT);
    h.clock.advance(SLOT);
    assert.equal(next(), START + 2 * SLOT);
  });
});

describe('alternatives offered with a refused booking, reused between changes', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await new Harness({
      service: { _request_time_bucket: 15, _max_request_by_time_bucket: 1 },
    }).start();
  });
  afterEach(() => h.stop());

  const book = (n: string, slot: number) =>
    h.engine.create('svc', { _customer_number: n, _desired_time: new Date(slot).toISOString() });
  const refusal = async (n: string, slot: number): Promise<Record<string, number>> => {
    try {
      await book(n, slot);
    } catch (err) {
      const extra = (err as { extra?: { availability?: Record<string, number> } }).extra;
      assert.ok(extra?.availability, 'a refusal names the alternatives');
      return extra.availability;
    }
    throw new Error('the booking was accepted');
  };
  const iso = (t: number) => new Date(t).toISOString();

  it('never offers a slot taken or hides one given back since the last refusal', async () => {
    const full = START + 2 * SLOT;
    const other = START + 3 * SLOT;
    await book('6001', full);
    const first = await refusal('6002', full);
    assert.equal(first[iso(full)], undefined);
    assert.equal(first[iso(other)], 1);
    // The same question again is answered alike, with an object of its own.
    const again = await refusal('6003', full);
    assert.deepEqual(again, first);
    again[iso(other)] = 99;
    assert.equal((await refusal('6004', full))[iso(other)], 1);
    // A seat taken, then one given back: each shows in the very next refusal.
    const taken = await book('6005', other);
    assert.equal((await refusal('6006', full))[iso(other)], undefined);
    await h.engine.cancel('svc', taken._id);
    assert.equal((await refusal('6007', full))[iso(other)], 1);
  });

  it('works the alternatives out only when the refusal is read, and once', async () => {
    const full = START + 2 * SLOT;
    await book('6101', full);
    const counted = sinon.spy(h.store, 'bookedCounts');
    try {
      const err = await book('6102', full).then(
        () => assert.fail('the booking was accepted'),
        (e: unknown) => e as DialbackError,
      );
      assert.equal(err.exception, 'CallbackExceptionSlotFull');
      assert.equal(counted.callCount, 0, 'nothing counted for a refusal nobody reads');
      const body = err.toBody() as { availability: Record<string, number> };
      assert.equal(body.availability[iso(full)], undefined, 'the full slot is not offered');
      assert.equal(body.availability[iso(full + SLOT)], 1);
      assert.equal(counted.callCount, 1);
      assert.equal(err.toBody().availability, body.availability);
      assert.equal(counted.callCount, 1, 'read again, not worked out again');
    } finally {
      counted.restore();
    }
  });
});
