import assert from 'node:assert/strict';
import { initialState, nextWake, transition } from '../../src/domain/session-machine';
import type { Phase, SessionEffect } from '../../src/domain/session-types';
import {
  A1,
  BRIDGE,
  C1,
  C2,
  dialCustomer,
  Driver,
  granted,
  ID,
  OPEN_PHASES,
  optionsOf,
  PRESETS,
  reach,
  REQUEST_QUEUED,
  REQUEST_URGENT,
  T0,
} from './session-driver';

const HOUR = 3_600_000;

/** What completing the session from each phase must clean up. */
const CLEANUP: Record<Exclude<Phase, 'completed'>, SessionEffect[]> = {
  'waiting-start': [],
  'waiting-agent': [{ type: 'withdraw-agent-request' }],
  'agent-preview': [{ type: 'release-agent', agentId: 'agent1', outcome: 'unused' }],
  'waiting-confirm': [{ type: 'release-agent', agentId: 'agent1', outcome: 'unused' }],
  snoozed: [],
  'waiting-inbound': [{ type: 'release-agent', agentId: 'agent1', outcome: 'unused' }],
  'dialling-customer': [{ type: 'hangup', callId: C1 }],
  'retry-wait': [],
  'reserving-agent': [{ type: 'hangup', callId: C1 }, { type: 'withdraw-agent-request' }],
  'dialling-agent': [
    { type: 'hangup', callId: C1 },
    { type: 'hangup', callId: A1 },
    { type: 'release-agent', agentId: 'agent1', outcome: 'unused' },
  ],
  bridging: [
    { type: 'hangup', callId: C1 },
    { type: 'hangup', callId: A1 },
    { type: 'release-agent', agentId: 'agent1', outcome: 'unused' },
  ],
  talking: [
    { type: 'hangup', callId: C1 },
    { type: 'hangup', callId: A1 },
    { type: 'release-agent', agentId: 'agent1', outcome: 'handled' },
  ],
};

describe('session machine: creation and timers', () => {
  it('starts SCHEDULED in waiting-start with no counters and no timers', () => {
    const s = initialState({
      id: 'x',
      service: 'svc',
      options: optionsOf(),
      customerNumber: '+15551234567',
      now: T0,
    });
    assert.deepEqual(
      { phase: s.phase, gms: s.gms, timers: s.timers, createdAt: s.createdAt },
      { phase: 'waiting-start', gms: 'SCHEDULED', timers: {}, createdAt: T0 },
    );
    assert.deepEqual([s.dialAttempts, s.confirmAttempts, s.agentAttempts], [0, 0, 0]);
    assert.equal('desiredTime' in s, false);
    assert.equal(nextWake(s), undefined);
  });

  it('wakes at the earliest armed timer', () => {
    const d = new Driver({ options: PRESETS.scheduled, desiredTime: T0 + HOUR });
    d.send({ type: 'booked' });
    assert.equal(nextWake(d.state), T0 + HOUR);
    assert.ok((d.state.timers.ttl as number) > T0 + HOUR);
  });

  it('ignores a timer that is not armed, or not yet due, leaving the very same state', () => {
    const d = reach('dialling-customer');
    const before = d.state;
    d.send({ type: 'timer', timer: 'retry' });
    d.send({ type: 'timer', timer: 'ttl' });
    assert.equal(d.state, before);
    assert.deepEqual(d.last, []);
  });

  it('drops a due timer the phase has no use for, so the actor never spins on it', () => {
    const d = reach('talking');
    d.now = d.state.timers.ttl as number;
    d.send({ type: 'timer', timer: 'ttl' });
    assert.deepEqual(d.last, [], 'a call in progress is never cut by the TTL');
    assert.equal(d.phase, 'talking');
    assert.equal(nextWake(d.state), undefined);
  });

  it('ignores a second booked and events that do not apply, without a reply', () => {
    const d = reach('dialling-customer');
    const before = d.state;
    d.send({ type: 'booked' });
    d.send({ type: 'reschedule', desiredTime: T0 + HOUR });
    d.send({ type: 'bridged', bridgeId: BRIDGE });
    assert.equal(d.state, before);
  });
});

describe('session machine: start time', () => {
  const desired = T0 + HOUR;
  function booked(ewtMs: number, desiredTime: number | null = desired): Driver {
    const d = new Driver({ options: PRESETS.scheduled, desiredTime: desiredTime ?? undefined });
    d.ewtMs = ewtMs;
    d.send({ type: 'booked' });
    return d;
  }

  it('starts at desired time minus the EWT when the EWT is below the threshold', () => {
    assert.equal(booked(60_000).state.timers.start, desired - 60_000);
  });

  it('never starts earlier than _desired_connect_time_threshold before the desired time', () => {
    assert.equal(booked(20 * 60_000).state.timers.start, desired - 180_000);
  });

  it('starts now when the desired time is already within reach', () => {
    const d = booked(600_000, T0 + 60_000);
    assert.deepEqual(d.actions, [dialCustomer(C1, 1)]);
    assert.equal(d.state.timers.start, undefined);
    assert.equal(d.state.timers.ttl, T0 + 60_000 + 86_400_000);
  });

  it('starts now without a desired time, with the TTL counted from now', () => {
    const d = booked(0, null);
    assert.equal(d.phase, 'dialling-customer');
    assert.equal(d.state.timers.ttl, T0 + 86_400_000);
  });

  it('re-arms the start when the EWT shrank by the time the start timer fires', () => {
    const d = booked(170_000);
    d.ewtMs = 60_000;
    d.tick();
    assert.deepEqual(d.last, []);
    assert.equal(d.phase, 'waiting-start');
    assert.equal(d.state.timers.start, desired - 60_000);
    d.tick();
    assert.equal(d.now, desired - 60_000);
    assert.deepEqual(d.actions, [dialCustomer(C1, 1)]);
  });

  it('starts at once when the EWT grew by the time the start timer fires', () => {
    const d = booked(60_000);
    d.ewtMs = 170_000;
    d.tick();
    assert.equal(d.phase, 'dialling-customer');
  });

  it('reschedule moves the start and the TTL while waiting to start', () => {
    const d = booked(60_000);
    d.send({ type: 'reschedule', desiredTime: desired + HOUR });
    assert.deepEqual(d.state.timers, {
      start: desired + HOUR - 60_000,
      ttl: desired + HOUR + 86_400_000,
    });
    assert.equal(d.state.desiredTime, desired + HOUR);
    assert.deepEqual(d.last, []);
  });

  it('reschedule to a time within reach starts the callback now', () => {
    const d = booked(60_000);
    d.send({ type: 'reschedule', desiredTime: T0 + 30_000 });
    assert.equal(d.phase, 'dialling-customer');
    assert.equal(d.state.timers.start, undefined);
  });
});

describe('session machine: events handled in every phase', () => {
  for (const phase of OPEN_PHASES) {
    it(`cancel by user in ${phase} cleans up and ends CANCELLED`, () => {
      const d = reach(phase);
      d.now += 1000;
      d.send({ type: 'cancel', by: 'user' });
      assert.deepEqual(d.actions, CLEANUP[phase]);
      assert.deepEqual(d.statuses, ['COMPLETED/CANCELLED']);
      assert.equal(d.state.completedAt, d.now);
      assert.equal(nextWake(d.state), undefined);
    });

    it(`cancel by admin in ${phase} ends CANCELLED_BY_ADMIN`, () => {
      const d = reach(phase);
      d.send({ type: 'cancel', by: 'admin' });
      assert.deepEqual(d.actions, CLEANUP[phase]);
      assert.equal(d.state.reason, 'CANCELLED_BY_ADMIN');
    });

    if (phase !== 'talking')
      it(`the TTL in ${phase} cleans up and ends FAIL_TIMEOUT_TTL`, () => {
        const d = reach(phase);
        d.now = d.state.timers.ttl as number;
        d.send({ type: 'timer', timer: 'ttl' });
        assert.deepEqual(d.actions, CLEANUP[phase]);
        assert.deepEqual(d.statuses, ['COMPLETED/FAIL_TIMEOUT_TTL']);
      });
  }

  it('a missing target ends FAIL_TARGET_NOT_FOUND, withdrawing the request', () => {
    const d = reach('waiting-agent');
    d.send({ type: 'target.missing' });
    assert.deepEqual(d.actions, [{ type: 'withdraw-agent-request' }]);
    assert.deepEqual(d.statuses, ['COMPLETED/FAIL_TARGET_NOT_FOUND']);
  });

  it('withdraws nothing when cancelled between a preview reject and the next request', () => {
    const d = reach('agent-preview');
    d.send({ type: 'agent.preview-answer', agentId: 'agent1', accept: false });
    d.send({ type: 'resumed' });
    assert.deepEqual(d.last, [], 'nothing to request again before the reject retry timeout');
    d.send({ type: 'cancel', by: 'user' });
    assert.deepEqual(d.actions, []);
  });
});

describe('session machine: after completion', () => {
  it('ignores every event, answering device and agent requests with InvalidState', () => {
    const d = reach('dialling-customer');
    d.send({ type: 'cancel', by: 'user' });
    const done = d.state;
    for (const e of [
      { type: 'cancel', by: 'admin' },
      { type: 'timer', timer: 'ttl' },
      { type: 'call.answered', callId: C1, amd: 'HUMAN' },
      { type: 'agent.granted', agentId: 'agent1', endpoint: 'PJSIP/agent1' },
      { type: 'resumed' },
      { type: 'booked' },
    ] as const) {
      d.send(e);
      assert.deepEqual(d.last, [], e.type);
    }
    d.send({ type: 'user.action', action: 'connect' });
    assert.deepEqual(
      d.last.map((e) => e.type === 'reply' && !e.ok && e.error),
      ['CallbackExceptionInvalidState'],
    );
    d.send({ type: 'user.action', action: 'nonsense' });
    assert.deepEqual(
      d.last.map((e) => e.type === 'reply' && !e.ok && e.error),
      ['CallbackExceptionInvalidAction'],
    );
    d.send({ type: 'agent.preview-answer', agentId: 'agent1', accept: true });
    assert.equal(d.last.length, 1);
    assert.equal(d.state, done);
    assert.equal(done.reason, 'CANCELLED');
  });

  it('never mutates the state it is given', () => {
    const s = Object.freeze(reach('waiting-confirm').state);
    const copy = structuredClone(s);
    const t = transition(
      s,
      { type: 'user.action', action: 'connect' },
      {
        now: T0,
        ewtMs: 0,
        telephonyUp: true,
      },
    );
    assert.deepEqual(s, copy);
    assert.notEqual(t.state, s);
  });
});

describe('session machine: resuming after a restart', () => {
  const EXPECTED: Record<Exclude<Phase, 'completed'>, SessionEffect[]> = {
    'waiting-start': [],
    'waiting-agent': [REQUEST_QUEUED],
    'agent-preview': [{ type: 'offer-preview', agentId: 'agent1', timeoutMs: 20_000 }],
    'waiting-confirm': [],
    snoozed: [],
    'waiting-inbound': [],
    'dialling-customer': [{ type: 'reconcile-call', callId: C1 }],
    'retry-wait': [],
    'reserving-agent': [{ type: 'reconcile-call', callId: C1 }, REQUEST_URGENT],
    'dialling-agent': [
      { type: 'reconcile-call', callId: C1 },
      { type: 'reconcile-call', callId: A1 },
    ],
    bridging: [
      { type: 'reconcile-call', callId: C1 },
      { type: 'reconcile-call', callId: A1 },
      { type: 'bridge', bridgeId: BRIDGE, callIds: [C1, A1] },
    ],
    talking: [
      { type: 'reconcile-call', callId: C1 },
      { type: 'reconcile-call', callId: A1 },
    ],
  };
  for (const phase of OPEN_PHASES)
    it(`in ${phase} reconciles live calls and repeats what only lived in memory`, () => {
      const d = reach(phase);
      const before = d.state;
      d.now += 10_000;
      d.send({ type: 'resumed' });
      assert.deepEqual(d.last, EXPECTED[phase]);
      assert.equal(d.state, before, 'resuming changes no state');
    });

  it('counts a dial whose outcome was lost in the crash as an attempt, and retries', () => {
    const d = reach('dialling-customer');
    d.send({ type: 'resumed' });
    d.send({ type: 'call.failed', callId: C1, failure: 'lost' });
    assert.equal(d.phase, 'retry-wait');
    assert.equal(d.state.lastFailure, 'lost');
    d.tick();
    assert.deepEqual(d.actions, [dialCustomer(C2, 2)]);
  });

  it('takes a reconciled answer without AMD verdict as a human', () => {
    const d = reach('dialling-customer');
    d.send({ type: 'resumed' });
    d.send({ type: 'call.answered', callId: C1 });
    assert.equal(d.phase, 'reserving-agent');
  });

  it('ends a talking session AGENT_CONNECTED when reconciliation finds the call gone', () => {
    const d = reach('talking');
    d.send({ type: 'resumed' });
    d.send({ type: 'call.ended', callId: C1 });
    assert.equal(d.state.reason, 'AGENT_CONNECTED');
  });
});

describe('session machine: identity of calls', () => {
  it('derives call ids from the callback id and the attempt counters', () => {
    const d = new Driver({ options: PRESETS.immediate });
    d.run([
      { type: 'booked' },
      { type: 'call.failed', callId: C1, failure: 'congestion' },
      { type: 'timer', timer: 'retry' },
    ]);
    assert.equal(d.phase, 'retry-wait', 'the retry timer was not due yet');
    assert.equal(d.state.customerCallId, undefined, 'the failed call is no longer followed');
    d.tick();
    assert.equal(d.state.customerCallId, `${ID}-c2`);
    d.run([{ type: 'call.answered', callId: C2, amd: 'HUMAN' }, granted('agentX')]);
    assert.equal(d.state.agentCallId, `${ID}-a1`);
  });
});
