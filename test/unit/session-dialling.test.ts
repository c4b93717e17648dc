import assert from 'node:assert/strict';
import {
  A1,
  A2,
  BRIDGE,
  C1,
  C2,
  C3,
  dialAgent,
  dialCustomer,
  Driver,
  granted,
  PLAY,
  PRESETS,
  reach,
  REQUEST_URGENT,
} from './session-driver';

describe('session machine: dialling the customer', () => {
  it('hangs up on an answering machine, retries after the retry timeout and fails FAIL_CALL_TO_CUSTOMER after the last attempt', () => {
    const d = new Driver({ options: PRESETS.immediate });
    d.send({ type: 'booked' });
    for (const [callId, attempt] of [
      [C1, 1],
      [C2, 2],
    ] as const) {
      d.send({ type: 'call.answered', callId, amd: 'MACHINE' });
      assert.deepEqual(d.actions, [{ type: 'hangup', callId }]);
      assert.equal(d.phase, 'retry-wait');
      assert.equal(d.state.lastFailure, 'machine');
      assert.equal(d.state.customerCallId, undefined);
      assert.equal(d.state.timers.retry, d.now + 300_000);
      const before = d.now;
      d.tick();
      assert.equal(d.now, before + 300_000);
      assert.deepEqual(d.actions, [dialCustomer(attempt === 1 ? C2 : C3, attempt + 1)]);
    }
    d.send({ type: 'call.answered', callId: C3, amd: 'MACHINE' });
    assert.deepEqual(d.actions, [{ type: 'hangup', callId: C3 }]);
    assert.deepEqual(d.statuses, ['COMPLETED/FAIL_CALL_TO_CUSTOMER']);
    assert.equal(d.state.dialAttempts, 3);
  });

  it('drops the fields of a failed call and of a fired timer as keys, the other fields keeping their order', () => {
    const d = new Driver({ options: PRESETS.immediate });
    d.send({ type: 'booked' });
    const before = Object.keys(d.state);
    assert.ok(before.includes('customerCallId'));
    d.send({ type: 'call.answered', callId: C1, amd: 'MACHINE' });
    assert.ok(!('customerCallId' in d.state), 'no key left behind, not even undefined');
    const after = Object.keys(d.state);
    assert.deepEqual(
      after.filter((k) => before.includes(k)),
      before.filter((k) => k !== 'customerCallId'),
    );
    assert.ok('retry' in d.state.timers);
    d.tick();
    assert.ok(!('retry' in d.state.timers));
    assert.equal(d.state.customerCallId, C2);
  });

  it('retries after busy and no-answer, and connects when the third attempt is answered', () => {
    const d = new Driver({ options: PRESETS.immediate });
    d.send({ type: 'booked' });
    d.send({ type: 'call.failed', callId: C1, failure: 'busy', cause: 17 });
    assert.equal(d.state.lastFailure, 'busy');
    assert.deepEqual(d.actions, []);
    assert.deepEqual(d.statuses, [], 'retry-wait is still QUEUED');
    d.tick();
    d.send({ type: 'call.failed', callId: C2, failure: 'no-answer' });
    assert.equal(d.state.lastFailure, 'no-answer');
    d.tick();
    assert.deepEqual(d.actions, [dialCustomer(C3, 3)]);
    d.run([
      { type: 'call.answered', callId: C3, amd: 'HUMAN' },
      granted(),
      { type: 'call.answered', callId: A1 },
      { type: 'bridged', bridgeId: BRIDGE },
      { type: 'call.ended', callId: C3 },
    ]);
    assert.equal(d.state.reason, 'AGENT_CONNECTED');
  });

  it('counts a customer hanging up during detection as a failed attempt', () => {
    const d = reach('dialling-customer');
    d.send({ type: 'call.ended', callId: C1 });
    assert.equal(d.phase, 'retry-wait');
    assert.equal(d.state.lastFailure, 'failed');
  });

  it('treats a NOTSURE verdict as a human', () => {
    const d = reach('dialling-customer');
    d.send({ type: 'call.answered', callId: C1, amd: 'NOTSURE' });
    assert.deepEqual(d.actions, [REQUEST_URGENT, PLAY]);
    assert.equal(d.phase, 'reserving-agent');
  });

  it('dials without detection when _cpd_enable is false and takes an answer without verdict as a human', () => {
    const d = new Driver({ options: { ...PRESETS.immediate, _cpd_enable: false } });
    d.send({ type: 'booked' });
    assert.deepEqual(d.actions, [dialCustomer(C1, 1, false)]);
    d.send({ type: 'call.answered', callId: C1 });
    assert.equal(d.phase, 'reserving-agent');
    assert.equal(d.state.customerAnsweredAt, d.now);
  });

  it('plays no treatment when _treatment_waiting_for_agent is empty', () => {
    const d = new Driver({ options: { ...PRESETS.immediate, _treatment_waiting_for_agent: '' } });
    d.run([{ type: 'booked' }, { type: 'call.answered', callId: C1, amd: 'HUMAN' }]);
    assert.deepEqual(d.actions, [REQUEST_URGENT]);
    d.run([granted(), { type: 'call.answered', callId: A1 }]);
    assert.deepEqual(d.actions, [{ type: 'bridge', bridgeId: BRIDGE, callIds: [C1, A1] }]);
  });

  it('releases a reserved agent as unused during the retry wait and asks again before redialling (Delayed)', () => {
    const d = new Driver({ options: PRESETS.delayed });
    d.run([{ type: 'booked' }, granted(), { type: 'user.action', action: 'connect' }]);
    d.send({ type: 'call.failed', callId: C1, failure: 'unreachable' });
    assert.deepEqual(d.actions, [{ type: 'release-agent', agentId: 'agent1', outcome: 'unused' }]);
    assert.equal(d.state.agentId, undefined);
    d.tick();
    assert.deepEqual(d.actions, [{ type: 'request-agent', target: 'sales', priority: 1 }]);
    assert.equal(d.phase, 'waiting-agent');
    d.send(granted('agent2'));
    // The customer already confirmed: the retry dials without a second confirmation.
    assert.deepEqual(d.actions, [dialCustomer(C2, 2)]);
    assert.equal(d.state.confirmAttempts, 1);
  });

  it('ignores events for stale or unknown call ids', () => {
    const d = new Driver({ options: PRESETS.immediate });
    d.send({ type: 'booked' });
    d.send({ type: 'call.failed', callId: C1, failure: 'busy' });
    d.tick();
    const before = d.state;
    for (const callId of [C1, 'someone-else', A1]) {
      d.send({ type: 'call.answered', callId, amd: 'HUMAN' });
      d.send({ type: 'call.failed', callId, failure: 'busy' });
      d.send({ type: 'call.ended', callId });
      assert.deepEqual(d.last, []);
    }
    assert.equal(d.state, before);
  });

  it('ignores a duplicated answer of the customer once it is routing', () => {
    const d = reach('reserving-agent');
    const before = d.state;
    d.send({ type: 'call.answered', callId: C1, amd: 'HUMAN' });
    assert.deepEqual(d.last, []);
    assert.equal(d.state, before);
  });
});

describe('session machine: connecting an agent', () => {
  it('tries the next agent when one does not answer, and fails FAIL_AGENT_CONNECT after _max_transfer_to_agent_attempts', () => {
    const d = new Driver({ options: { ...PRESETS.immediate, _max_transfer_to_agent_attempts: 2 } });
    d.run([{ type: 'booked' }, { type: 'call.answered', callId: C1, amd: 'HUMAN' }, granted()]);
    d.tick(); // agent-answer timer: the agent never picked up
    assert.deepEqual(d.actions, [
      { type: 'hangup', callId: A1 },
      { type: 'release-agent', agentId: 'agent1', outcome: 'no-answer' },
      REQUEST_URGENT,
    ]);
    assert.equal(d.phase, 'reserving-agent');
    assert.equal(d.state.agentId, undefined);

    d.send(granted('agent2'));
    assert.deepEqual(d.actions, [dialAgent(A2, 'agent2')]);
    d.send({ type: 'call.failed', callId: A2, failure: 'rejected' });
    assert.deepEqual(d.actions, [
      { type: 'release-agent', agentId: 'agent2', outcome: 'no-answer' },
      { type: 'hangup', callId: C1 },
    ]);
    assert.deepEqual(d.statuses, ['COMPLETED/FAIL_AGENT_CONNECT']);
  });

  it('treats an agent call that ends before answering like no answer', () => {
    const d = reach('dialling-agent');
    d.send({ type: 'call.ended', callId: A1 });
    assert.deepEqual(d.actions, [
      { type: 'release-agent', agentId: 'agent1', outcome: 'no-answer' },
      REQUEST_URGENT,
    ]);
  });

  it('requests again when the reserved agent is lost while being dialled', () => {
    const d = reach('dialling-agent');
    d.send({ type: 'agent.lost', agentId: 'agent1' });
    assert.deepEqual(d.actions, [{ type: 'hangup', callId: A1 }, REQUEST_URGENT]);
    assert.equal(d.phase, 'reserving-agent');
    assert.equal(d.state.timers['agent-answer'], undefined);
  });

  it('requests again, replaying the treatment, when the agent leaves before the bridge joins', () => {
    const d = reach('bridging');
    d.send({ type: 'call.ended', callId: A1 });
    assert.deepEqual(d.actions, [
      { type: 'release-agent', agentId: 'agent1', outcome: 'no-answer' },
      REQUEST_URGENT,
      PLAY,
    ]);
    assert.equal(d.phase, 'reserving-agent');
    assert.equal(d.state.bridgeId, undefined);
    d.send(granted('agent2'));
    d.send({ type: 'call.answered', callId: A2 });
    assert.deepEqual(d.actions.at(-1), { type: 'bridge', bridgeId: BRIDGE, callIds: [C1, A2] });
  });

  it('handles a failed agent call and a lost agent during bridging the same way', () => {
    const failed = reach('bridging');
    failed.send({ type: 'call.failed', callId: A1, failure: 'failed' });
    assert.equal(failed.phase, 'reserving-agent');
    const lost = reach('bridging');
    lost.send({ type: 'agent.lost', agentId: 'agent1' });
    assert.deepEqual(lost.actions, [{ type: 'hangup', callId: A1 }, REQUEST_URGENT, PLAY]);
  });

  it('ignores a bridge it did not ask for and a lost agent that is not its own', () => {
    const d = reach('bridging');
    const before = d.state;
    d.send({ type: 'bridged', bridgeId: 'other' });
    d.send({ type: 'agent.lost', agentId: 'agent7' });
    assert.equal(d.state, before);
  });

  it('gives back an agent granted when it no longer needs one', () => {
    const d = reach('dialling-customer');
    d.send(granted('agent5'));
    assert.deepEqual(d.actions, [{ type: 'release-agent', agentId: 'agent5', outcome: 'unused' }]);
    assert.equal(d.state.agentId, undefined);
    const held = reach('dialling-agent');
    held.send(granted('agent1'));
    assert.deepEqual(held.last, [], 'a duplicated grant of its own agent changes nothing');
  });

  it('ends AGENT_CONNECTED whichever leg hangs up first, even if reported as failed', () => {
    const d = reach('talking');
    d.send({ type: 'call.failed', callId: A1, failure: 'failed' });
    assert.deepEqual(d.actions, [
      { type: 'hangup', callId: C1 },
      { type: 'release-agent', agentId: 'agent1', outcome: 'handled' },
    ]);
    const e = reach('talking');
    e.send({ type: 'call.failed', callId: C1, failure: 'lost' });
    assert.equal(e.state.reason, 'AGENT_CONNECTED');
    assert.equal(e.state.bridgedAt !== undefined, true);
  });
});

describe('session machine: the customer hangs up while waiting for an agent', () => {
  const cases = [
    {
      phase: 'reserving-agent' as const,
      effects: [{ type: 'withdraw-agent-request' }],
    },
    {
      phase: 'dialling-agent' as const,
      effects: [
        { type: 'hangup', callId: A1 },
        { type: 'release-agent', agentId: 'agent1', outcome: 'unused' },
      ],
    },
    {
      phase: 'bridging' as const,
      effects: [
        { type: 'hangup', callId: A1 },
        { type: 'release-agent', agentId: 'agent1', outcome: 'unused' },
      ],
    },
  ];
  for (const c of cases)
    it(`in ${c.phase} cleans up and ends FAIL_AGENT_CONNECT`, () => {
      const d = reach(c.phase);
      d.send({ type: 'call.ended', callId: C1 });
      assert.deepEqual(d.actions, c.effects);
      assert.deepEqual(d.statuses, ['COMPLETED/FAIL_AGENT_CONNECT']);
    });
});

describe('session machine: the customer line lost by the engine while waiting for an agent', () => {
  for (const phase of ['reserving-agent', 'dialling-agent', 'bridging'] as const)
    it(`in ${phase} frees the agent side and dials the customer again after the retry wait`, () => {
      const d = reach(phase);
      d.send({ type: 'call.failed', callId: C1, failure: 'lost' });
      assert.equal(d.state.phase, 'retry-wait');
      assert.equal(d.state.lastFailure, 'lost');
      assert.equal(d.state.customerCallId, undefined);
      assert.equal(d.state.agentCallId, undefined);
      const types = d.actions.map((a) => a.type);
      if (phase === 'reserving-agent') assert.deepEqual(types, ['withdraw-agent-request']);
      else assert.deepEqual(types, ['hangup', 'release-agent']);
      d.advance(300_000);
      assert.equal(d.state.phase, 'dialling-customer');
      assert.equal(d.state.customerCallId, C2);
    });

  it('ends FAIL_CALL_TO_CUSTOMER when the lost line was the last attempt', () => {
    const d = reach('reserving-agent');
    d.state = { ...d.state, options: { ...d.state.options, _max_dial_attempts: 1 } };
    d.send({ type: 'call.failed', callId: C1, failure: 'lost' });
    assert.deepEqual(d.statuses, ['COMPLETED/FAIL_CALL_TO_CUSTOMER']);
  });
});
