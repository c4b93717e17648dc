// The scratch store (what-if simulations): in memory, no file, yet the same store: writes,
// status changes, options shared between reads, rolled-back writes and seats.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { SlotFullError } from '../../src/store/store';
import { T0, row } from './rows';

describe('scratch SQLite store', () => {
  it('keeps rows in memory without touching the file it is given', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-scratch-'));
    const store = openSqliteStore({ dir, file: 'never.db', scratch: true, batch: false });
    try {
      store.insertCallback(row('cb-1'));
      const first = store.get('cb-1');
      assert.ok(first);
      assert.equal(first.gms, 'SCHEDULED');

      // A state change that keeps the GMS state, then one that changes it.
      const queued = { ...first.state, phase: 'waiting-agent' as const, gms: 'QUEUED' as const };
      store.saveSession('cb-1', { ...first.state, dialAttempts: 1 }, null, T0 + 5, T0 + 1);
      assert.equal(store.get('cb-1')?.gms, 'SCHEDULED');
      assert.equal(store.get('cb-1')?.state.dialAttempts, 1);
      assert.equal(store.get('cb-1')?.nextWakeAt, T0 + 5);
      store.saveSession('cb-1', queued, null, null, T0 + 2);
      const after = store.get('cb-1');
      assert.equal(after?.gms, 'QUEUED');
      assert.equal(after?.nextWakeAt, null);
      assert.equal(store.countOpen('sales'), 1);

      // Options read back are one shared, frozen object per option set.
      assert.equal(after?.state.options, store.get('cb-1')?.state.options);
      assert.ok(Object.isFrozen(after?.state.options));
      assert.equal(after?.state.options._target, 'support');

      // Seats: a full slot refuses, and the refusal leaves the counts as they were.
      const slot = { slotStart: T0 + 3_600_000, limit: 1 };
      store.insertCallback(row('cb-2'), slot);
      const version = store.seatsVersion();
      assert.throws(() => store.insertCallback(row('cb-3'), slot), SlotFullError);
      assert.equal(store.seatsVersion(), version);
      assert.equal(store.get('cb-3'), undefined);
      assert.deepEqual(
        store.bookedCounts('sales', T0, T0 + 86_400_000),
        new Map([[slot.slotStart, 1]]),
      );
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps no history when told not to, and the rows all the same', () => {
    const store = openSqliteStore({ scratch: true, batch: false, history: false });
    try {
      store.insertCallback(row('cb-1'));
      const first = store.get('cb-1')!;
      const queued = { ...first.state, phase: 'waiting-agent' as const, gms: 'QUEUED' as const };
      store.saveSession('cb-1', queued, { type: 'timer', timer: 'start' }, null, T0 + 1);
      assert.equal(store.get('cb-1')?.gms, 'QUEUED');
      assert.deepEqual(store.history('cb-1'), []);
    } finally {
      store.close();
    }
  });

  it('numbers messages without keeping them when told not to', () => {
    const store = openSqliteStore({ scratch: true, messages: false });
    try {
      store.insertCallback(row('cb-1'));
      store.commit();
      const m = { callbackId: 'cb-1', service: 'sales', kind: 'status' as const, data: {}, at: T0 };
      assert.deepEqual([store.appendMessage(m), store.appendMessage(m)], [1, 2]);
      // Nothing was written: nothing waits for a commit.
      let called = false;
      store.afterCommit(() => (called = true));
      assert.equal(called, true);
      assert.deepEqual(store.messagesAfter({}, 0, 10), []);
    } finally {
      store.close();
    }
  });

  it('numbers unkept messages after those an earlier run kept', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-unkept-'));
    const m = { callbackId: 'cb-1', service: 'sales', kind: 'status' as const, data: {}, at: T0 };
    try {
      const kept = openSqliteStore({ dir, checkpointWorker: false, batch: false });
      kept.insertCallback(row('cb-1'));
      assert.deepEqual([kept.appendMessage(m), kept.appendMessage(m)], [1, 2]);
      kept.close();
      const unkept = openSqliteStore({ dir, checkpointWorker: false, messages: false });
      assert.equal(unkept.appendMessage(m), 3);
      assert.deepEqual(unkept.messagesAfter({}, 0, 10), []);
      unkept.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
