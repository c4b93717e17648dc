// Owed hang-ups survive a crash: a process dies while telephony is down with hang-ups still
// owed, and the next engine on the same store and the same switch ends every call no session
// owns any more (listCalls + the store), leaving alone the calls sessions still use and those
// of other nodes. Engines on the simulator and virtual time, the switch shared between them.

import { strict as assert } from 'node:assert';
import pino from 'pino';
import sinon from 'sinon';
import { Engine } from '../../src/actors/engine';
import { VirtualClock } from '../../src/clock';
import { resolveConfig } from '../../src/config';
import type { DialableNumber } from '../../src/domain/phone';
import { openSqliteStore } from '../../src/store/sqlite-store';
import type { Store } from '../../src/store/store';
import { SimulatorTelephony } from '../../src/telephony/simulator/simulator-adapter';
import { runUntil, settle } from '../helpers/settle';

const START = Date.UTC(2030, 0, 7, 9, 0, 0);

/** One "process": an engine over the shared store and switch. */
class Run {
  readonly engine: Engine;
  readonly errors: string[] = [];

  constructor(
    readonly store: Store,
    readonly clock: VirtualClock,
    readonly telephony: SimulatorTelephony,
    service: Record<string, unknown> = {},
  ) {
    const cfg = resolveConfig({
      office_hours: { always: { _timezone: 'Europe/Paris', _bh_regular1: 'Mon-Sun 00:00-24:00' } },
      services: {
        svc: {
          _call_direction: 'USERTERMINATED',
          _business_hours_service: 'always',
          _target: 'support',
          _allow_extensions: true,
          ...service,
        },
      },
      agents: ['agent1', 'agent2'].map((id) => ({
        id,
        endpoint: `SIM/${id}`,
        groups: ['support'],
        state: 'ready',
      })),
    });
    this.engine = new Engine({
      clock,
      store,
      telephony,
      logger: pino({ level: 'error' }, { write: (line: string) => this.errors.push(line) }),
      services: cfg.services,
      agents: cfg.agents,
      nodeId: '440',
      idleMs: 60 * 60_000,
    });
  }

  async start(): Promise<this> {
    await this.engine.resume();
    await settle();
    return this;
  }

  state(id: string): string {
    return String(this.engine.get(id)?._callback_state);
  }

  /** A process that dies does not hang anything up: only its actors go. */
  async crash(): Promise<void> {
    await this.engine.stop();
  }
}

function switchOn(clock: VirtualClock): SimulatorTelephony {
  return new SimulatorTelephony({
    clock,
    defaultCustomer: { kind: 'human', answerAfterMs: 3000, amdAfterMs: 1500 },
    // Agents stay on the line until someone hangs up: nothing ends the calls but us.
    agents: ['agent1', 'agent2'].map((id) => ({
      id,
      endpoint: `SIM/${id}`,
      answerAfterMs: 1000,
      answers: true,
    })),
  });
}

const live = (t: SimulatorTelephony, callId: string): boolean =>
  t.calls().some((c) => c.callId === callId && c.status !== 'ended');

describe('engine: calls no session owns are ended after a restart', function () {
  let clock: VirtualClock;
  let store: Store;
  let telephony: SimulatorTelephony;
  const runs: Run[] = [];

  beforeEach(async () => {
    clock = new VirtualClock(START);
    store = openSqliteStore({ file: ':memory:' });
    telephony = switchOn(clock);
    await telephony.start();
  });

  afterEach(async () => {
    for (const r of runs.splice(0)) {
      await r.engine.stop();
      assert.deepEqual(r.errors, [], 'the engine logged errors');
    }
    await telephony.stop();
  });

  /** Lets the switch announce what it has to (call.incoming) while no engine listens. */
  const arrive = async (): Promise<void> => {
    clock.advanceTo(clock.now() + 10);
    await settle();
  };

  const run = (service?: Record<string, unknown>): Run => {
    const r = new Run(store, clock, telephony, service);
    runs.push(r);
    return r;
  };

  it('hangs up, after start, the calls whose hang-up was owed when the previous process died', async () => {
    const first = await run().start();
    const cancelled = (await first.engine.create('svc', { _customer_number: '+33612345678' }))._id;
    const kept = (await first.engine.create('svc', { _customer_number: '+33612345679' }))._id;
    await runUntil(
      clock,
      () => first.state(cancelled) === 'PROCESSING' && first.state(kept) === 'PROCESSING',
      600_000,
      'both talking',
    );
    const callsOf = (id: string) => [`${id}-c1`, `${id}-a1`];
    assert.ok([...callsOf(cancelled), ...callsOf(kept)].every((c) => live(telephony, c)));

    // Telephony goes down; the callback is cancelled: its hang-ups are refused, hence owed.
    telephony.setConnected(false);
    await settle();
    await first.engine.cancel('svc', cancelled);
    await settle();
    assert.equal(first.state(cancelled), 'COMPLETED');
    assert.ok(
      callsOf(cancelled).every((c) => live(telephony, c)),
      'the hang-ups were refused',
    );

    // The process dies with the owed hang-ups in memory; the switch comes back.
    await first.crash();
    telephony.setConnected(true);
    await settle();
    assert.ok(
      callsOf(cancelled).every((c) => live(telephony, c)),
      'nobody else ends them',
    );

    const second = await run().start();
    await settle();
    for (const c of callsOf(cancelled)) assert.equal(live(telephony, c), false, `${c} still up`);
    for (const c of callsOf(kept)) assert.equal(live(telephony, c), true, `${c} was hung up`);
    assert.equal(second.state(kept), 'PROCESSING');
  });

  it('hangs up a call its callback no longer uses and one of an unknown callback of this node, not another node’s', async () => {
    const first = await run().start();
    const later = new Date(START + 24 * 3600_000).toISOString();
    const scheduled = (
      await first.engine.create('svc', { _customer_number: '+33612345678', _desired_time: later })
    )._id;
    await first.crash();
    const dial = (callId: string, callbackId: string) =>
      telephony.dialCustomer({
        callId,
        callbackId,
        number: '+33612345670' as DialableNumber,
        amd: false,
        timeoutMs: 30_000,
      });
    // Left up by some earlier run: the scheduled callback has no call yet; 440-gone is unknown.
    await dial(`${scheduled}-c1`, scheduled);
    await dial('440-gone-c2', '440-gone');
    await dial('999-elsewhere-c1', '999-elsewhere');
    await settle();

    const second = await run().start();
    await settle();
    assert.equal(live(telephony, `${scheduled}-c1`), false);
    assert.equal(live(telephony, '440-gone-c2'), false);
    assert.equal(live(telephony, '999-elsewhere-c1'), true, 'another node’s call is left alone');
    assert.equal(second.state(scheduled), 'SCHEDULED');
  });

  it('hangs up a call that answers when no session owns it any more', async () => {
    await run().start();
    // Still ringing from an earlier run (ARI lists no such channel: nothing shows whose it is).
    await telephony.dialCustomer({
      callId: '440-gone-c1',
      callbackId: '440-gone',
      number: '+33612345670' as DialableNumber,
      amd: true,
      timeoutMs: 30_000,
    });
    await runUntil(
      clock,
      () => telephony.calls().some((c) => c.callId === '440-gone-c1' && c.answeredAt !== undefined),
      60_000,
      'the answer',
    );
    await settle();
    assert.equal(live(telephony, '440-gone-c1'), false);
  });

  it('hangs up a call a live session does not follow, answering from the session, not the store', async () => {
    const r = await run().start();
    const id = (await r.engine.create('svc', { _customer_number: '+33612345678' }))._id;
    await settle();
    assert.ok(live(telephony, `${id}-c1`), 'the session dials its customer');
    const reads = sinon.spy(store, 'holdings');
    try {
      // A call with the callback's id that the session never placed (as a ring left by an
      // earlier run would be): it answers with the session's own call, 3 s later.
      await telephony.dialCustomer({
        callId: `${id}-c9`,
        callbackId: id,
        number: '+33612345670' as DialableNumber,
        amd: true,
        timeoutMs: 30_000,
      });
      await runUntil(clock, () => r.state(id) === 'PROCESSING', 600_000, 'talking');
      assert.equal(live(telephony, `${id}-c9`), false, 'the stray call was hung up');
      assert.equal(live(telephony, `${id}-c1`), true, 'the session’s own call is up');
      assert.equal(reads.callCount, 0, 'the live session told whose calls they are');
    } finally {
      reads.restore();
    }
  });

  it('keeps a live session’s agent at reconciliation, answering from the session, not the store', async () => {
    const r = await run().start();
    const id = (await r.engine.create('svc', { _customer_number: '+33612345678' }))._id;
    await runUntil(clock, () => r.state(id) === 'PROCESSING', 600_000, 'talking');
    const agentOf = () =>
      ['agent1', 'agent2'].filter((a) => r.engine.pool.get(a)?.callbackId === id);
    assert.equal(agentOf().length, 1);
    const reads = sinon.spy(store, 'holdingsOf');
    try {
      // Past two reconciliations (every 30 s) of holds older than 30 s.
      for (let i = 0; i < 7; i++) {
        clock.advanceTo(clock.now() + 10_000);
        await settle();
      }
      assert.equal(r.state(id), 'PROCESSING');
      assert.equal(agentOf().length, 1, 'the agent is still held');
      assert.equal(reads.callCount, 0, 'the live session told which agent it holds');
    } finally {
      reads.restore();
    }
  });

  it('matches a caller who reached the access number while no process was running', async () => {
    const service = { _call_direction: 'USERORIGINATED', _access_number: '+33140000000' };
    const first = await run(service).start();
    const id = (await first.engine.create('svc', { _customer_number: '+33612345678' }))._id;
    await first.crash();
    const callId = telephony.incomingCall('+33612345678');
    await arrive();
    assert.equal(live(telephony, callId), true);

    const second = await run(service).start();
    await runUntil(clock, () => second.state(id) === 'PROCESSING', 600_000, 'PROCESSING');
    const joined = telephony.calls().find((c) => c.callId === callId);
    assert.equal(joined?.status, 'bridged');
  });

  it('hangs up a caller left waiting whom no callback is waiting for', async () => {
    const callId = telephony.incomingCall('+33699999999', { digits: '000000' });
    await arrive();
    await run({ _call_direction: 'USERORIGINATED' }).start();
    await settle();
    assert.equal(live(telephony, callId), false);
  });

  it('ends, after a reconnect, a call of a finished callback that no hang-up was owed for', async () => {
    const r = await run().start();
    const id = (await r.engine.create('svc', { _customer_number: '+33612345678' }))._id;
    await runUntil(clock, () => r.state(id) === 'PROCESSING', 600_000, 'talking');
    telephony.setConnected(false);
    await settle();
    await r.engine.cancel('svc', id);
    await settle();
    // Simulates a lost owed hang-up (e.g. a refused command that was never recorded).
    const owed = (r.engine as unknown as { owedHangups: Set<string> }).owedHangups;
    assert.ok(owed.size > 0);
    owed.clear();
    telephony.setConnected(true);
    await runUntil(
      clock,
      () => !live(telephony, `${id}-c1`) && !live(telephony, `${id}-a1`),
      60_000,
      'the calls ended',
    );
  });
});
