// The SQLite store against a real database file in a temporary directory.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { CallbackReason, Phase, SessionState } from '../../src/domain/session-types';
import { pendingMigrations, SCHEMA_VERSION } from '../../src/store/migrations';
import { MIN, T0, row, session } from './rows';
import { silentLogger } from '../../src/logger';
import { startCheckpointer } from '../../src/store/checkpointer';
import { compileCondition, openSqliteStore } from '../../src/store/sqlite-store';
import {
  type CallbackRow,
  SlotFullError,
  type Store,
  StoreUnavailableError,
} from '../../src/store/store';

function completed(id: string, service: string, reason: CallbackReason): SessionState {
  return { ...session(id, service, 'completed', reason), completedAt: T0 + MIN };
}

describe('SQLite store', () => {
  let dir: string;
  const opened: Store[] = [];

  function open(file = 'dialback.db'): Store {
    const store = openSqliteStore({ dir, file });
    opened.push(store);
    return store;
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-store-'));
  });

  afterEach(() => {
    for (const s of opened.splice(0)) s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('opening', () => {
    it('creates the directory and the file, in WAL mode, at the current schema version', () => {
      const nested = path.join(dir, 'a', 'b');
      const store = openSqliteStore({ dir: nested });
      opened.push(store);
      assert.ok(fs.existsSync(path.join(nested, 'dialback.db')));
      assert.ok(fs.existsSync(path.join(nested, 'dialback.db-wal')), 'WAL file present');
      assert.ok(SCHEMA_VERSION >= 1);
      assert.equal(store.isHealthy(), true);
    });

    it('refuses a database written by a newer schema', () => {
      assert.deepEqual(pendingMigrations(SCHEMA_VERSION), []);
      assert.throws(() => pendingMigrations(SCHEMA_VERSION + 1), /newer than this dialback/);
    });

    it('finds a desired time through the window index, having dropped its own index', () => {
      const store = openSqliteStore({ dir });
      store.close();
      const db = new Database(path.join(dir, 'dialback.db'), { readonly: true });
      try {
        const indexes = (
          db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all() as Array<{
            name: string;
          }>
        ).map((r) => r.name);
        assert.ok(indexes.includes('callbacks_window'));
        assert.ok(!indexes.includes('callbacks_desired_time'));
        assert.ok(!indexes.includes('callbacks_open_id'), 'nothing reads open callbacks by id');
        const params: unknown[] = [];
        const cond = compileCondition(
          { key: '_desired_time', value: '2026-06-01T10:00:00.000Z', negate: false },
          params,
        );
        const plan = (
          db
            .prepare(`EXPLAIN QUERY PLAN SELECT c.id FROM callbacks c WHERE ${cond}`)
            .all(...params) as Array<{ detail: string }>
        ).map((r) => r.detail);
        assert.deepEqual(params, [Date.parse('2026-06-01T10:00:00.000Z'), params[0]]);
        assert.ok(
          plan.some((d) => /USING INDEX callbacks_window/.test(d)),
          plan.join('; '),
        );
      } finally {
        db.close();
      }
    });

    it('works in memory', () => {
      const store = openSqliteStore({ file: ':memory:' });
      opened.push(store);
      store.insertCallback(row('m1'));
      assert.equal(store.get('m1')?.id, 'm1');
    });
  });

  describe('callbacks', () => {
    it('returns an inserted callback with its state and user data', () => {
      const store = open();
      const r = row('cb1', {
        userData: { order: 'A-17', lang: 'fr' },
        desiredTime: T0 + 30 * MIN,
        nextWakeAt: T0 + 27 * MIN,
      });
      store.insertCallback(r);
      assert.deepEqual(store.get('cb1'), r);
      assert.equal(store.get('nope'), undefined);
      assert.deepEqual(store.history('cb1'), [
        { at: T0, event: null, gms: 'SCHEDULED', phase: 'waiting-start' },
      ]);
    });

    it('tells the service of a callback without reading its row', () => {
      const store = open();
      store.insertCallback(row('cb1', { service: 'billing' }));
      assert.equal(store.serviceOf('cb1'), 'billing');
      assert.equal(store.serviceOf('nope'), undefined);
    });

    it('tells the agent and calls a session holds, as its saved state says', () => {
      const store = open();
      store.insertCallback(row('cb1'));
      assert.deepEqual(store.holdings('cb1'), { gms: 'SCHEDULED', phase: 'waiting-start' });
      const talking: SessionState = {
        ...session('cb1', 'sales', 'talking'),
        agentId: 'a7',
        customerCallId: 'cb1-c1',
        agentCallId: 'cb1-a1',
      };
      store.saveSession('cb1', talking, { type: 'bridged' }, null, T0 + MIN);
      assert.deepEqual(store.holdings('cb1'), {
        gms: 'PROCESSING',
        phase: 'talking',
        agentId: 'a7',
        customerCallId: 'cb1-c1',
        agentCallId: 'cb1-a1',
      });
      const done = { ...completed('cb1', 'sales', 'AGENT_CONNECTED'), agentId: 'a7' };
      store.saveSession('cb1', done, { type: 'call.ended' }, null, T0 + 2 * MIN);
      assert.deepEqual(store.holdings('cb1'), {
        gms: 'COMPLETED',
        phase: 'completed',
        agentId: 'a7',
      });
      assert.equal(store.holdings('nope'), undefined);
    });

    it('tells what many sessions hold in one read, leaving out unknown ids', () => {
      const store = open();
      store.insertCallback(row('cb1'));
      store.insertCallback(row('cb2'));
      store.saveSession(
        'cb2',
        { ...session('cb2', 'sales', 'talking'), agentId: 'a2', customerCallId: 'cb2-c1' },
        null,
        null,
        T0 + MIN,
      );
      const got = store.holdingsOf(['cb1', 'cb2', 'nope']);
      assert.deepEqual(
        [...got],
        [
          ['cb1', { gms: 'SCHEDULED', phase: 'waiting-start' }],
          ['cb2', { gms: 'PROCESSING', phase: 'talking', agentId: 'a2', customerCallId: 'cb2-c1' }],
        ],
      );
      assert.deepEqual(got.get('cb2'), store.holdings('cb2'));
      assert.equal(store.holdingsOf([]).size, 0);
    });

    it('saves a new state with its event in the history', () => {
      const store = open();
      store.insertCallback(row('cb1', { nextWakeAt: T0 + MIN }));
      const next = { ...session('cb1', 'sales', 'waiting-agent'), startedAt: T0 + MIN };
      store.saveSession('cb1', next, { type: 'timer', timer: 'start' }, T0 + 5 * MIN, T0 + MIN);
      const got = store.get('cb1');
      assert.equal(got?.gms, 'QUEUED');
      assert.equal(got?.state.phase, 'waiting-agent');
      assert.equal(got?.state.startedAt, T0 + MIN);
      assert.equal(got?.nextWakeAt, T0 + 5 * MIN);
      assert.equal(got?.updatedAt, T0 + MIN);
      assert.deepEqual(
        store.history('cb1').map((h) => [h.gms, h.event]),
        [
          ['SCHEDULED', null],
          ['QUEUED', { type: 'timer', timer: 'start' }],
        ],
      );
    });

    it('writes the status columns only when the state it replaces had another status', () => {
      const store = open();
      store.insertCallback(row('cb1'));
      const scheduled = store.get('cb1')!.state;
      const queued = { ...session('cb1', 'sales', 'waiting-agent'), options: scheduled.options };
      // Told the previous state was QUEUED already, the store writes the state alone.
      store.saveSession('cb1', queued, null, T0 + 5 * MIN, T0 + MIN, queued);
      assert.equal(store.get('cb1')?.gms, 'SCHEDULED', 'the GMS column was left as it was');
      assert.equal(store.get('cb1')?.state.phase, 'waiting-agent');
      assert.equal(store.get('cb1')?.nextWakeAt, T0 + 5 * MIN);
      // Told the truth, it writes both.
      store.saveSession('cb1', queued, null, null, T0 + 2 * MIN, scheduled);
      assert.equal(store.get('cb1')?.gms, 'QUEUED');
      assert.equal(store.countOpen('sales'), 1);
      const done = completed('cb1', 'sales', 'CANCELLED');
      store.saveSession('cb1', done, null, null, T0 + 3 * MIN, queued);
      assert.equal(store.get('cb1')?.gms, 'COMPLETED');
      assert.equal(store.get('cb1')?.reason, 'CANCELLED');
      assert.equal(store.countOpen('sales'), 0);
    });

    it('refuses to save the state of an unknown callback', () => {
      const store = open();
      assert.throws(
        () => store.saveSession('ghost', session('ghost', 'sales', 'talking'), null, null, T0),
        { name: 'CallbackExceptionNotFound' },
      );
    });

    it('keeps each callback’s own options, even after a rolled-back transaction', () => {
      const store = open();
      const withTtl = (id: string, ttl: number): CallbackRow => {
        const r = row(id);
        r.state = { ...r.state, options: { ...r.state.options, _ttl: ttl } };
        return r;
      };
      assert.throws(() =>
        store.transaction(() => {
          store.insertCallback(withTtl('gone', 111));
          assert.equal(store.get('gone')?.state.options._ttl, 111);
          throw new Error('rollback');
        }),
      );
      store.insertCallback(withTtl('o1', 222));
      store.insertCallback(withTtl('o2', 333));
      store.insertCallback(withTtl('o3', 222));
      store.insertCallback(withTtl('o4', 111));
      assert.equal(store.get('gone'), undefined);
      assert.deepEqual(
        ['o1', 'o2', 'o3', 'o4'].map((id) => store.get(id)?.state.options._ttl),
        [222, 333, 222, 111],
      );
      store.commit();
      const reopened = open();
      assert.deepEqual(reopened.get('o2'), store.get('o2'));
    });

    it('rolls back every write of a transaction that throws', () => {
      const store = open();
      assert.throws(
        () =>
          store.transaction(() => {
            store.insertCallback(row('t1'));
            store.appendMessage({
              callbackId: 't1',
              service: 'sales',
              kind: 'status',
              data: {},
              at: T0,
            });
            throw new Error('boom');
          }),
        /boom/,
      );
      assert.equal(store.get('t1'), undefined);
      assert.deepEqual(store.messagesAfter({}, 0, 10), []);
      store.transaction(() => store.insertCallback(row('t2')));
      assert.equal(store.get('t2')?.id, 't2');
    });
  });

  describe('slot capacity', () => {
    const slot = T0 + 60 * MIN;

    it('refuses a booking once the slot holds its limit, writing nothing', () => {
      const store = open();
      store.insertCallback(row('a', { desiredTime: slot }), { slotStart: slot, limit: 2 });
      store.insertCallback(row('b', { desiredTime: slot }), { slotStart: slot, limit: 2 });
      assert.throws(
        () => store.insertCallback(row('c', { desiredTime: slot }), { slotStart: slot, limit: 2 }),
        (e: unknown) => e instanceof SlotFullError && e.slotStart === slot && e.status === 409,
      );
      assert.equal(store.get('c'), undefined);
      assert.equal(store.get('a')?.slotStart, slot);
      assert.deepEqual([...store.bookedCounts('sales', slot, slot + 5 * MIN)], [[slot, 2]]);
      // Another service's slot is counted on its own.
      store.insertCallback(row('d', { service: 'billing' }), { slotStart: slot, limit: 2 });
      assert.deepEqual([...store.bookedCounts('billing', slot, slot + 1)], [[slot, 1]]);
    });

    it('releases the seat of a cancelled callback and keeps the seat of a completed one', () => {
      const store = open();
      store.insertCallback(row('a'), { slotStart: slot, limit: 2 });
      store.insertCallback(row('b'), { slotStart: slot, limit: 2 });

      store.saveSession('a', completed('a', 'sales', 'AGENT_CONNECTED'), null, null, T0 + MIN);
      assert.throws(
        () => store.insertCallback(row('c'), { slotStart: slot, limit: 2 }),
        SlotFullError,
      );

      store.saveSession(
        'b',
        completed('b', 'sales', 'CANCELLED'),
        { type: 'cancel', by: 'user' },
        null,
        T0 + MIN,
      );
      assert.equal(store.bookedCounts('sales', slot, slot + 1).get(slot), 1);
      store.insertCallback(row('c'), { slotStart: slot, limit: 2 });

      store.saveSession('c', completed('c', 'sales', 'CANCELLED_BY_ADMIN'), null, null, T0 + MIN);
      store.insertCallback(row('d'), { slotStart: slot, limit: 2 });
      assert.equal(store.bookedCounts('sales', slot, slot + 1).get(slot), 2);
    });

    it('counts seats like the bookings table through moves, releases and rolled-back writes', () => {
      const store = openSqliteStore({ dir, file: 'seats.db', batch: false });
      opened.push(store);
      const fresh = (): Map<number, number> => {
        const db = new Database(path.join(dir, 'seats.db'), { readonly: true });
        try {
          const rows = db
            .prepare('SELECT slot_start AS s, count(*) AS n FROM bookings GROUP BY slot_start')
            .all() as Array<{ s: number; n: number }>;
          return new Map(rows.map((r) => [r.s, r.n]));
        } finally {
          db.close();
        }
      };
      const slots = [slot, slot + 5 * MIN, slot + 10 * MIN];
      const counts = (): Map<number, number> => store.bookedCounts('sales', slot, slot + 15 * MIN);
      let rng = 7;
      const pick = (n: number): number => {
        rng = (rng * 48271) % 2147483647;
        return rng % n;
      };
      const ids: string[] = [];
      for (let i = 0; i < 300; i++) {
        const s = slots[pick(3)];
        const booking = { slotStart: s, limit: 4 };
        try {
          switch (pick(5)) {
            case 0:
            case 1:
              store.insertCallback(row(`k${i}`, { desiredTime: s }), booking);
              ids.push(`k${i}`);
              break;
            case 2: {
              const id = ids[pick(ids.length || 1)];
              if (id)
                store.moveBooking(id, booking, s, session(id, 'sales', 'waiting-start'), {}, T0);
              break;
            }
            case 3: {
              const id = ids[pick(ids.length || 1)];
              if (id) store.saveSession(id, completed(id, 'sales', 'CANCELLED'), null, null, T0);
              break;
            }
            default:
              // A transaction that takes a seat, then gives up: nothing of it stays.
              store.transaction(() => {
                store.insertCallback(row(`t${i}`, { desiredTime: s }), booking);
                throw new Error('changed my mind');
              });
          }
        } catch (e) {
          if (!(e instanceof SlotFullError) && !/changed my mind/.test(String(e))) throw e;
        }
        assert.deepEqual(counts(), fresh(), `after step ${i}`);
      }
      assert.ok(
        [...counts().values()].some((n) => n === 4),
        'some slot filled up',
      );
    });

    it('counts the seats another connection took meanwhile', async () => {
      const a = open('shared.db');
      const b = open('shared.db');
      const limit = { slotStart: slot, limit: 3 };
      a.insertCallback(row('a1'), limit);
      a.insertCallback(row('a2'), limit);
      await new Promise<void>((resolve) => a.afterCommit(() => resolve()));
      b.insertCallback(row('b1'), limit);
      await new Promise<void>((resolve) => b.afterCommit(() => resolve()));
      assert.deepEqual([...a.bookedCounts('sales', slot, slot + 1)], [[slot, 3]]);
      assert.throws(() => a.insertCallback(row('a3'), limit), SlotFullError);
    });

    it('never exceeds the limit when many inserts race for the last seats of a slot', async () => {
      const file = path.join(dir, 'dialback.db');
      open().close(); // create the schema once before the racers start
      const limit = 25;
      const racers = 4;
      const perRacer = 40;
      // Worker threads, each with its own connection, are truly concurrent writers.
      const code = `
        require('tsx/cjs');
        const { workerData, parentPort } = require('node:worker_threads');
        const { openSqliteStore } = require(workerData.storeModule);
        const { SlotFullError } = require(workerData.storePort);
        const store = openSqliteStore({ file: workerData.file });
        let won = 0, full = 0;
        for (let i = 0; i < workerData.perRacer; i++) {
          const id = 'r' + workerData.racer + '-' + i;
          const row = { ...workerData.template, id, state: { ...workerData.template.state, id } };
          try { store.insertCallback(row, { slotStart: workerData.slot, limit: workerData.limit }); won++; }
          catch (e) { if (e instanceof SlotFullError) full++; else throw e; }
        }
        store.close();
        parentPort.postMessage({ won, full });
      `;
      const results = await Promise.all(
        Array.from({ length: racers }, (_, racer) => {
          const worker = new Worker(code, {
            eval: true,
            workerData: {
              racer,
              perRacer,
              limit,
              slot,
              file,
              template: row('template'),
              storeModule: path.resolve(__dirname, '../../src/store/sqlite-store.ts'),
              storePort: path.resolve(__dirname, '../../src/store/store.ts'),
            },
          });
          return new Promise<{ won: number; full: number }>((resolve, reject) => {
            worker.once('message', resolve);
            worker.once('error', reject);
          });
        }),
      );
      const store = open();
      const won = results.reduce((n, r) => n + r.won, 0);
      const full = results.reduce((n, r) => n + r.full, 0);
      assert.equal(won, limit);
      assert.equal(full, racers * perRacer - limit);
      assert.equal(store.bookedCounts('sales', slot, slot + 1).get(slot), limit);
      assert.equal(store.countOpen('sales'), limit, 'refused bookings left no callback behind');
    });

    it('moves a booking atomically: a full target slot changes nothing', () => {
      const store = open();
      const slot2 = slot + 5 * MIN;
      const slot3 = slot + 10 * MIN;
      store.insertCallback(row('a', { desiredTime: slot, userData: { order: 'A-1' } }), {
        slotStart: slot,
        limit: 1,
      });
      store.insertCallback(row('b', { desiredTime: slot2 }), { slotStart: slot2, limit: 1 });
      const before = store.get('a');
      const historyBefore = store.history('a');
      const moved = { ...session('a', 'sales', 'waiting-start'), desiredTime: slot2 };

      assert.throws(
        () =>
          store.moveBooking(
            'a',
            { slotStart: slot2, limit: 1 },
            slot2,
            moved,
            { order: 'A-2' },
            T0 + MIN,
          ),
        SlotFullError,
      );
      assert.deepEqual(store.get('a'), before);
      assert.deepEqual(store.history('a'), historyBefore);
      assert.deepEqual(
        [...store.bookedCounts('sales', slot, slot3 + 1)],
        [
          [slot, 1],
          [slot2, 1],
        ],
      );

      const moved3 = { ...moved, desiredTime: slot3, timers: { start: slot3 - 3 * MIN } };
      store.moveBooking(
        'a',
        { slotStart: slot3, limit: 1 },
        slot3,
        moved3,
        { order: 'A-3' },
        T0 + 2 * MIN,
      );
      const after = store.get('a');
      assert.equal(after?.desiredTime, slot3);
      assert.equal(after?.slotStart, slot3);
      assert.deepEqual(after?.userData, { order: 'A-3' });
      assert.equal(after?.nextWakeAt, slot3 - 3 * MIN, 'defaults to the earliest timer');
      assert.deepEqual(store.history('a').at(-1)?.event, {
        type: 'reschedule',
        desiredTime: slot3,
      });
      assert.deepEqual(
        [...store.bookedCounts('sales', slot, slot3 + 1)].sort((x, y) => x[0] - y[0]),
        [
          [slot2, 1],
          [slot3, 1],
        ],
      );
      const byOrder = (v: string): string[] =>
        store
          .query({
            conditions: [{ key: 'order', value: v, negate: false }],
            operand: 'AND',
            limit: 10,
          })
          .map((r) => r.id);
      assert.deepEqual(byOrder('A-3'), ['a']);
      assert.deepEqual(byOrder('A-1'), []);

      // Moving within its own full slot is allowed (the seat is its own).
      store.moveBooking(
        'a',
        { slotStart: slot3, limit: 1 },
        slot3 + MIN,
        moved3,
        {},
        T0 + 3 * MIN,
        null,
      );
      assert.equal(store.get('a')?.nextWakeAt, null);
      // Unbooking: an immediate callback holds no seat.
      store.moveBooking('a', null, null, moved3, {}, T0 + 4 * MIN);
      assert.equal(store.get('a')?.slotStart, null);
      assert.equal(store.bookedCounts('sales', slot3, slot3 + 1).size, 0);
    });
  });

  describe('queries', () => {
    let store: Store;
    const q = (
      conditions: Array<[string, string]>,
      opts: { service?: string; operand?: 'AND' | 'OR'; limit?: number } = {},
    ): string[] =>
      store
        .query({
          ...(opts.service ? { service: opts.service } : {}),
          conditions: conditions.map(([key, value]) =>
            value.startsWith('!')
              ? { key, value: value.slice(1), negate: true }
              : { key, value, negate: false },
          ),
          operand: opts.operand ?? 'AND',
          limit: opts.limit ?? 100,
        })
        .map((r) => r.id)
        .sort();

    beforeEach(() => {
      store = open();
      store.insertCallback(
        row('s1', { userData: { order: 'X1', vip: 'yes' }, customerNumber: '+15550001' }),
      );
      store.insertCallback(
        row('s2', {
          phase: 'waiting-agent',
          userData: { order: 'X2' },
          customerNumber: '+15550002',
        }),
      );
      store.insertCallback(
        row('s3', {
          phase: 'completed',
          reason: 'CANCELLED',
          userData: { vip: 'yes' },
          customerNumber: '+15550001',
        }),
      );
      store.insertCallback(
        row('b1', {
          service: 'billing',
          target: 'accounts',
          userData: { order: 'X1' },
          customerNumber: '+15550001',
          desiredTime: Date.parse('2026-06-01T10:00:00.000Z'),
        }),
      );
    });

    it('finds callbacks by a user-data key', () => {
      assert.deepEqual(q([['order', 'X1']], { service: 'sales' }), ['s1']);
      assert.deepEqual(q([['vip', 'yes']], { service: 'sales' }), ['s1', 's3']);
      assert.deepEqual(q([['order', 'nothing']]), []);
    });

    it('finds callbacks by state, with ! negating', () => {
      assert.deepEqual(q([['_callback_state', 'COMPLETED']], { service: 'sales' }), ['s3']);
      assert.deepEqual(q([['_callback_state', '!COMPLETED']], { service: 'sales' }), ['s1', 's2']);
      assert.deepEqual(q([['_callback_reason', '!CANCELLED']], { service: 'sales' }), ['s1', 's2']);
      assert.deepEqual(q([['vip', '!yes']], { service: 'sales' }), ['s2']);
    });

    it('combines conditions with AND or OR', () => {
      const conds: Array<[string, string]> = [
        ['_customer_number', '+15550001'],
        ['_callback_state', 'SCHEDULED'],
      ];
      assert.deepEqual(q(conds, { service: 'sales', operand: 'AND' }), ['s1']);
      assert.deepEqual(q(conds, { service: 'sales', operand: 'OR' }), ['s1', 's3']);
      assert.deepEqual(
        q(
          [
            ['order', 'X2'],
            ['vip', 'yes'],
          ],
          { operand: 'OR' },
        ),
        ['s1', 's2', 's3'],
      );
    });

    it('queries across services when no service is given', () => {
      assert.deepEqual(q([['_customer_number', '+15550001']]), ['b1', 's1', 's3']);
      assert.deepEqual(q([['_id', 'b1']]), ['b1']);
      assert.deepEqual(q([['_service_name', 'billing']]), ['b1']);
      assert.deepEqual(q([['_target', 'accounts']]), ['b1']);
      assert.deepEqual(q([['_desired_time', '2026-06-01T10:00:00.000Z']]), ['b1']);
      assert.deepEqual(q([['order', 'X1']]), ['b1', 's1']);
    });

    it('returns at most the limit, oldest first', () => {
      const rows = store.query({ conditions: [], operand: 'AND', limit: 2 });
      assert.deepEqual(
        rows.map((r) => r.id),
        ['s1', 's2'],
      );
    });

    it('rejects a desired time that is not a date', () => {
      assert.throws(() => q([['_desired_time', 'tomorrow']]), {
        name: 'CallbackExceptionInvalidField',
      });
    });

    it('counts open, recent and per-key callbacks of a service', () => {
      assert.equal(store.countOpen('sales'), 2);
      assert.equal(store.countOpen('billing'), 1);
      assert.equal(store.countOpenByKey('sales', '_customer_number', '+15550001'), 1);
      assert.equal(store.countOpenByKey('sales', 'vip', 'yes'), 1);
      assert.equal(store.countOpenByKey('sales', 'order', 'X1'), 1);
      assert.equal(store.countOpenByKey('billing', 'vip', 'yes'), 0);
      store.insertCallback(row('late', { createdAt: T0 + 10 * MIN }));
      assert.equal(store.countCreatedSince('sales', T0 + MIN), 1);
      assert.equal(store.countCreatedSince('sales', T0), 4);
    });

    it('lists an admin window by target and state', () => {
      store.insertCallback(row('far', { desiredTime: T0 + 48 * 60 * MIN }));
      const ids = (rows: CallbackRow[]): string[] => rows.map((r) => r.id).sort();
      const window = { from: T0 - 15 * MIN, to: T0 + 24 * 60 * MIN, max: 100 };
      assert.deepEqual(ids(store.adminWindow(window)), ['b1', 's1', 's2', 's3']);
      assert.deepEqual(ids(store.adminWindow({ ...window, target: 'accounts' })), ['b1']);
      assert.deepEqual(ids(store.adminWindow({ ...window, states: ['QUEUED', 'COMPLETED'] })), [
        's2',
        's3',
      ]);
      assert.equal(store.adminWindow({ ...window, max: 1 }).length, 1);
    });
  });

  describe('resume and wake-ups', () => {
    it('lists due sessions in wake-up order within a window, ties paged by cursor', () => {
      const store = open();
      const wakes: Array<[string, number | null, Phase]> = [
        ['w3', T0 + 3 * MIN, 'waiting-start'],
        ['w1', T0 + 1 * MIN, 'waiting-agent'],
        ['w2b', T0 + 2 * MIN, 'waiting-start'],
        ['w2a', T0 + 2 * MIN, 'waiting-start'],
        ['w9', T0 + 9 * MIN, 'waiting-start'],
        ['done', T0 + 1 * MIN, 'completed'],
        ['idle', null, 'waiting-agent'],
      ];
      for (const [id, nextWakeAt, phase] of wakes)
        store.insertCallback(row(id, { nextWakeAt, phase }));

      const ids = (entries: Array<{ id: string }>): string[] => entries.map((e) => e.id);
      assert.deepEqual(ids(store.dueBetween(0, T0 + 5 * MIN, 100)), ['w1', 'w2a', 'w2b', 'w3']);
      assert.deepEqual(ids(store.dueBetween(T0 + 2 * MIN, T0 + 9 * MIN, 100)), [
        'w2a',
        'w2b',
        'w3',
        'w9',
      ]);
      const first = store.dueBetween(0, T0 + 5 * MIN, 2);
      assert.deepEqual(first, [
        { id: 'w1', service: 'sales', nextWakeAt: T0 + MIN },
        { id: 'w2a', service: 'sales', nextWakeAt: T0 + 2 * MIN },
      ]);
      assert.deepEqual(ids(store.dueBetween(0, T0 + 5 * MIN, 2, first[1])), ['w2b', 'w3']);

      // A completed session leaves the due index.
      store.saveSession('w1', completed('w1', 'sales', 'CANCELLED'), null, null, T0);
      assert.deepEqual(ids(store.dueBetween(0, T0 + MIN, 100)), []);
    });

    it('records a dial once and refuses the same call id again', () => {
      const store = open();
      assert.equal(store.dialRecorded('cb1-c1'), false);
      assert.equal(store.recordDial('cb1-c1', 'cb1', T0), true);
      assert.equal(store.recordDial('cb1-c1', 'cb1', T0 + 1), false);
      assert.equal(store.dialRecorded('cb1-c1'), true);
      assert.equal(store.recordDial('cb1-c2', 'cb1', T0 + 2), true);
    });
  });

  describe('messages', () => {
    it('numbers messages in increasing order and filters them by callback and by service', () => {
      const store = open();
      const put = (callbackId: string, service: string, n: number): number =>
        store.appendMessage({ callbackId, service, kind: 'status', data: { n }, at: T0 + n });
      const seqs = [
        put('a', 'sales', 1),
        put('b', 'sales', 2),
        put('c', 'billing', 3),
        put('a', 'sales', 4),
      ];
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!);

      const ns = (ms: Array<{ data: unknown }>): unknown[] =>
        ms.map((m) => (m.data as { n: number }).n);
      assert.deepEqual(ns(store.messagesAfter({ callbackId: 'a' }, 0, 10)), [1, 4]);
      assert.deepEqual(ns(store.messagesAfter({ service: 'sales' }, seqs[0]!, 10)), [2, 4]);
      assert.deepEqual(ns(store.messagesAfter({ service: 'billing' }, 0, 10)), [3]);
      assert.deepEqual(ns(store.messagesAfter({}, 0, 2)), [1, 2]);
      const [m] = store.messagesAfter({ callbackId: 'c' }, 0, 1);
      assert.deepEqual(m, {
        seq: seqs[2],
        callbackId: 'c',
        service: 'billing',
        kind: 'status',
        data: { n: 3 },
        at: T0 + 3,
      });
    });
  });

  describe('started sessions', () => {
    it('pages through the sessions past their start only, by id', () => {
      const store = open();
      const phases: Phase[] = [
        'waiting-start',
        'waiting-agent',
        'reserving-agent',
        'talking',
        'completed',
      ];
      for (let i = 0; i < 250; i++) {
        const id = `s${String(i).padStart(3, '0')}`;
        store.insertCallback(row(id));
        const phase = phases[i % phases.length];
        store.saveSession(
          id,
          session(id, 'sales', phase, phase === 'completed' ? 'CANCELLED' : undefined),
          null,
          null,
          T0,
        );
      }
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page = store.startedSessions(after, 40);
        seen.push(...page.map((r) => r.id));
        if (page.length < 40) break;
        after = page[page.length - 1].id;
      }
      assert.equal(seen.length, 150);
      assert.deepEqual(seen, [...seen].sort());
      assert.ok(
        seen.every((id) => ['QUEUED', 'ROUTING', 'PROCESSING'].includes(store.get(id)!.gms)),
      );
    });
  });

  describe('writes grouped per tick', () => {
    it('commits the writes of one tick together, then calls back those waiting for them', async () => {
      const first = open();
      const other = open();
      const order: string[] = [];
      first.insertCallback(row('t1'));
      first.insertCallback(row('t2'));
      first.afterCommit((err) => order.push(err ? `error ${err.message}` : 'committed'));
      assert.equal(
        other.get('t1'),
        undefined,
        'not visible to another connection before the commit',
      );
      assert.equal(first.get('t1')?.id, 't1', 'visible to its own connection at once');
      await new Promise<void>((r) => first.afterCommit(() => r()));
      assert.deepEqual(order, ['committed']);
      assert.equal(other.get('t2')?.id, 't2');
      let immediate = false;
      first.afterCommit(() => (immediate = true));
      assert.equal(immediate, true, 'with nothing pending the callback runs at once');
    });

    it('keeps the other writes of the tick when one write fails', async () => {
      const store = open();
      store.insertCallback(row('k1'), { slotStart: T0, limit: 1 });
      assert.throws(
        () => store.insertCallback(row('k2'), { slotStart: T0, limit: 1 }),
        SlotFullError,
      );
      store.insertCallback(row('k3'));
      await new Promise<void>((r) => store.afterCommit(() => r()));
      const other = open();
      assert.deepEqual(
        ['k1', 'k2', 'k3'].map((id) => other.get(id)?.id),
        ['k1', undefined, 'k3'],
      );
    });

    it('keeps the tick when a move is refused for a full slot, and the mover keeps its seat', async () => {
      const store = open();
      const slot2 = T0 + 5 * MIN;
      store.insertCallback(row('m1', { desiredTime: T0 }), { slotStart: T0, limit: 1 });
      store.insertCallback(row('m2', { desiredTime: slot2 }), { slotStart: slot2, limit: 1 });
      const moved = { ...session('m1', 'sales', 'waiting-start'), desiredTime: slot2 };
      assert.throws(
        () => store.moveBooking('m1', { slotStart: slot2, limit: 1 }, slot2, moved, {}, T0),
        SlotFullError,
      );
      store.insertCallback(row('m3'));
      await new Promise<void>((r) => store.afterCommit(() => r()));
      const other = open();
      assert.deepEqual(
        ['m1', 'm2', 'm3'].map((id) => other.get(id)?.desiredTime ?? null),
        [T0, slot2, null],
      );
      assert.deepEqual(
        [...other.bookedCounts('sales', T0, slot2 + 1)],
        [
          [T0, 1],
          [slot2, 1],
        ],
      );
    });

    it('rolls the whole tick back, and tells everyone waiting, when a write fails part-way', async () => {
      const store = open();
      const heard: string[] = [];
      store.insertCallback(row('p1'), { slotStart: T0, limit: 5 });
      store.afterCommit((err) => heard.push(err ? 'p1 lost' : 'p1 committed'));
      // The same id again gets past every check and fails inside SQLite, after its seat.
      assert.throws(() => store.insertCallback(row('p1'), { slotStart: T0, limit: 5 }));
      assert.deepEqual(heard, ['p1 lost']);
      assert.equal(store.get('p1'), undefined);
      assert.equal(store.bookedCounts('sales', T0, T0 + 1).size, 0);
      // The next write starts a new tick of its own and commits.
      store.insertCallback(row('p2'));
      await new Promise<void>((resolve) =>
        store.afterCommit((err) => {
          heard.push(err ? 'p2 lost' : 'p2 committed');
          resolve();
        }),
      );
      assert.deepEqual(heard, ['p1 lost', 'p2 committed']);
      assert.equal(open().get('p2')?.id, 'p2');
    });

    it('gathers writes into one commit while each turn of the loop brings more', async () => {
      const store = openSqliteStore({ dir, file: 'gather.db', gatherMs: 1000 });
      opened.push(store);
      const heard: string[] = [];
      const committed = (id: string): Promise<void> =>
        new Promise((resolve) =>
          store.afterCommit((err) => {
            heard.push(`${id} ${err ? 'lost' : 'committed'}`);
            resolve();
          }),
        );
      const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
      store.insertCallback(row('g1'));
      const first = committed('g1');
      await nextTurn();
      store.insertCallback(row('g2'));
      const second = committed('g2');
      await Promise.all([first, second]);
      // g1 waited for g2, written a turn later, and both were told by the same commit.
      assert.deepEqual(heard, ['g1 committed', 'g2 committed']);
      const other = open('gather.db');
      assert.deepEqual(
        ['g1', 'g2'].map((id) => other.get(id)?.id),
        ['g1', 'g2'],
      );

      // A turn without a write ends the gathering, long before gatherMs.
      const started = performance.now();
      store.insertCallback(row('g3'));
      await committed('g3');
      assert.ok(performance.now() - started < 500);
    });

    it('commits after one turn when gathering is off, and by gatherMs under a steady stream', async () => {
      const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
      const off = openSqliteStore({ dir, file: 'nogather.db', gatherMs: 0 });
      opened.push(off);
      let done = false;
      off.insertCallback(row('n1'));
      off.afterCommit(() => (done = true));
      await nextTurn();
      assert.equal(done, true);

      const capped = openSqliteStore({ dir, file: 'capped.db', gatherMs: 20 });
      opened.push(capped);
      let commits = 0;
      let writes = 0;
      let counted = false;
      // One commit tells all its waiters in one synchronous run: count those runs.
      const onCommit = (): void => {
        if (counted) return;
        counted = true;
        commits++;
        queueMicrotask(() => (counted = false));
      };
      const started = performance.now();
      // A write on every turn for 200 ms: gathering alone would never end.
      while (performance.now() - started < 200) {
        capped.insertCallback(row(`c${writes++}`));
        capped.afterCommit(onCommit);
        await nextTurn();
      }
      await new Promise<void>((resolve) => capped.afterCommit(() => resolve()));
      assert.ok(commits >= 5, `${commits} commits for ${writes} writes over 200 ms`);
      assert.ok(commits < writes / 2, `${commits} commits for ${writes} writes`);
    });

    it('commits every write by itself when batching is off', () => {
      const store = openSqliteStore({ dir, file: 'unbatched.db', batch: false });
      opened.push(store);
      store.insertCallback(row('u1'));
      const other = open('unbatched.db');
      assert.equal(other.get('u1')?.id, 'u1');
    });
  });

  describe('durability', () => {
    it('keeps everything across close and reopen, and a second store on the file sees it', () => {
      const first = open();
      const slot = T0 + 60 * MIN;
      first.insertCallback(row('d1', { userData: { k: 'v' }, nextWakeAt: T0 + MIN }), {
        slotStart: slot,
        limit: 5,
      });
      first.saveSession(
        'd1',
        session('d1', 'sales', 'waiting-agent'),
        { type: 'timer', timer: 'start' },
        T0 + 2 * MIN,
        T0 + MIN,
      );
      first.recordDial('d1-c1', 'd1', T0);
      const seq = first.appendMessage({
        callbackId: 'd1',
        service: 'sales',
        kind: 'status',
        data: { s: 1 },
        at: T0,
      });

      first.commit();
      const second = open();
      assert.equal(second.get('d1')?.gms, 'QUEUED');
      second.insertCallback(row('d2'));
      second.commit();
      assert.equal(first.get('d2')?.id, 'd2', 'the first store sees the second one’s writes');

      first.close();
      second.close();
      const reopened = open();
      const d1 = reopened.get('d1');
      assert.equal(d1?.state.phase, 'waiting-agent');
      assert.deepEqual(d1?.userData, { k: 'v' });
      assert.equal(reopened.history('d1').length, 2);
      assert.equal(reopened.dialRecorded('d1-c1'), true);
      assert.equal(reopened.bookedCounts('sales', slot, slot + 1).get(slot), 1);
      assert.deepEqual(
        reopened.dueBetween(0, T0 + 10 * MIN, 10).map((d) => d.id),
        ['d1'],
      );
      assert.equal(reopened.messagesAfter({}, 0, 10)[0]?.seq, seq);
      assert.ok(
        reopened.appendMessage({
          callbackId: 'd1',
          service: 'sales',
          kind: 'status',
          data: {},
          at: T0,
        }) > seq,
        'seq keeps growing after a restart',
      );
    });

    it('throws STORE_UNAVAILABLE on writes to a read-only file and still reads', function () {
      const setup = open();
      setup.insertCallback(row('ro1', { userData: { k: 'v' } }));
      setup.close();
      const file = path.join(dir, 'dialback.db');
      const unprotect = makeReadOnly(file);
      if (!unprotect) this.skip();
      try {
        const store = open();
        assert.equal(store.get('ro1')?.userData.k, 'v');
        assert.equal(store.isHealthy(), true);
        const attempts: Array<() => unknown> = [
          () => store.insertCallback(row('ro2')),
          () => store.saveSession('ro1', session('ro1', 'sales', 'waiting-agent'), null, null, T0),
          () => store.recordDial('ro1-c1', 'ro1', T0),
          () =>
            store.appendMessage({
              callbackId: 'ro1',
              service: 'sales',
              kind: 'status',
              data: {},
              at: T0,
            }),
        ];
        for (const attempt of attempts) {
          assert.throws(
            attempt,
            (e: unknown) =>
              e instanceof StoreUnavailableError &&
              e.code === 'STORE_UNAVAILABLE' &&
              e.status === 503 &&
              e.storeCode.startsWith('SQLITE_READONLY'),
          );
        }
        assert.equal(store.isHealthy(), false, 'not ready while writes fail');
        assert.equal(store.get('ro1')?.state.phase, 'waiting-start');
        assert.equal(store.get('ro2'), undefined);
        assert.equal(store.query({ conditions: [], operand: 'AND', limit: 10 }).length, 1);
      } finally {
        unprotect?.();
      }
    });

    it('throws STORE_UNAVAILABLE once closed', () => {
      const store = open();
      store.close();
      assert.equal(store.isHealthy(), false);
      assert.throws(() => store.get('x'), { code: 'STORE_UNAVAILABLE' });
      assert.throws(() => store.insertCallback(row('x')), { code: 'STORE_UNAVAILABLE' });
    });
  });
});

/**
 * Makes the file read-only for this process; returns the undo, or null when that is impossible
 * here. root ignores file modes, so as root the file is made immutable instead.
 */
function makeReadOnly(file: string): (() => void) | null {
  if (process.getuid?.() !== 0) {
    fs.chmodSync(file, 0o444);
    return () => fs.chmodSync(file, 0o644);
  }
  const set = spawnSync('chattr', ['+i', file]);
  if (set.status !== 0) return null;
  return () => {
    spawnSync('chattr', ['-i', file]);
  };
}

describe('SQLite store checkpoints', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-ckpt-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const size = (f: string) => fs.statSync(path.join(dir, f)).size;
  const burst = (store: Store, prefix: string) =>
    store.transaction(() => {
      for (let i = 0; i < 6000; i++)
        store.insertCallback(row(`${prefix}${i}`, { userData: { note: 'x'.repeat(400) } }));
    });

  it('copies the WAL into the database from a worker, never inside a commit', async () => {
    const store = openSqliteStore({ dir });
    try {
      assert.equal(store.checkpointMode(), 'worker');
      // The schema written at open is checkpointed by the worker's first pass.
      await new Promise((r) => setTimeout(r, 600));
      const before = size('dialback.db');
      burst(store, 'w');
      store.commit();
      assert.ok(size('dialback.db-wal') > 4_000_000, 'the burst is past the 1000-page mark');
      const deadline = Date.now() + 5000;
      while (size('dialback.db') < before + 4_000_000 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      assert.ok(size('dialback.db') > before + 4_000_000, 'the worker checkpointed');
      assert.equal(store.get('w5999')?.id, 'w5999');
    } finally {
      store.close();
    }
  });

  it('keeps the WAL bounded under a steady stream of writes', async function () {
    this.timeout(40_000);
    // 1,000 frames of 4 KiB: the WAL should start over near 4 MB. It may overshoot by what the
    // writer adds while a checkpoint waits for it, never by the whole stream: streaming these
    // 100 MB, the WAL peaked at 14 MB, and at 211 MB with the restarts off (walRestartFrames 1e9).
    const store = openSqliteStore({ dir, walRestartFrames: 1000, checkpointIntervalMs: 50 });
    try {
      let written = 0;
      let largest = 0;
      const until = Date.now() + 30_000;
      while (size('dialback.db') < 100_000_000 && Date.now() < until) {
        store.transaction(() => {
          for (let i = 0; i < 40; i++)
            store.insertCallback(row(`s${written++}`, { userData: { note: 'x'.repeat(400) } }));
        });
        await new Promise((r) => setImmediate(r));
        largest = Math.max(largest, size('dialback.db-wal'));
      }
      assert.ok(size('dialback.db') >= 100_000_000, `the stream wrote ${size('dialback.db')} B`);
      assert.ok(largest < 50_000_000, `the WAL reached ${largest} B`);
      assert.equal(store.get(`s${written - 1}`)?.id, `s${written - 1}`);
    } finally {
      store.close();
    }
  });

  it('checkpoints inside commits as SQLite does by default when asked to', () => {
    const store = openSqliteStore({ dir, checkpointWorker: false });
    try {
      assert.equal(store.checkpointMode(), 'commit');
      const before = size('dialback.db');
      burst(store, 'c');
      store.commit();
      assert.ok(size('dialback.db') > before + 4_000_000);
    } finally {
      store.close();
    }
  });

  it('falls back to checkpoints on commit when the worker cannot open the file', async () => {
    const unavailable = await new Promise<boolean>((resolve) => {
      const c = startCheckpointer({
        file: path.join(dir, 'missing', 'nowhere.db'),
        logger: silentLogger(),
        onUnavailable: () => resolve(true),
      });
      setTimeout(() => {
        c.stop();
        resolve(false);
      }, 5000);
    });
    assert.equal(unavailable, true);
  });
});
