import assert from 'node:assert/strict';
import {
  A1,
  A2,
  BRIDGE,
  C1,
  dialAgent,
  dialCustomer,
  Driver,
  granted,
  ID,
  PLAY,
  PRESETS,
  REQUEST_QUEUED,
  REQUEST_URGENT,
  T0,
} from './session-driver';

describe('session machine: the scenarios of the spec', () => {
  it('User Terminated Immediate dials at once, reserves an agent once a human answers, bridges and ends AGENT_CONNECTED', () => {
    const d = new Driver({ options: PRESETS.immediate });
    d.send({ type: 'booked' });
    assert.deepEqual(d.actions, [dialCustomer(C1, 1)]);
    assert.deepEqual(d.statuses, ['QUEUED']);
    assert.equal(d.state.startedAt, T0);

    d.now += 5000;
    d.send({ type: 'call.answered', callId: C1, amd: 'HUMAN' });
    assert.deepEqual(d.actions, [REQUEST_URGENT, PLAY]);
    assert.equal(d.phase, 'reserving-agent');
    assert.deepEqual(d.statuses, ['ROUTING']);
    assert.equal(d.state.customerAnsweredAt, T0 + 5000);

    d.send(granted());
    assert.deepEqual(d.actions, [dialAgent(A1, 'agent1')]);
    assert.equal(d.phase, 'dialling-agent');
    assert.equal(d.state.timers['agent-answer'], d.now + 30000);

    d.send({ type: 'call.answered', callId: A1 });
    assert.deepEqual(d.actions, [
      { type: 'stop-playback', callId: C1 },
      { type: 'bridge', bridgeId: BRIDGE, callIds: [C1, A1] },
    ]);
    assert.equal(d.phase, 'bridging');
    assert.equal(d.state.timers['agent-answer'], undefined);

    d.send({ type: 'bridged', bridgeId: BRIDGE });
    assert.equal(d.phase, 'talking');
    assert.deepEqual(d.statuses, ['PROCESSING']);

    d.now += 60_000;
    d.send({ type: 'call.ended', callId: C1 });
    assert.deepEqual(d.actions, [
      { type: 'hangup', callId: A1 },
      { type: 'release-agent', agentId: 'agent1', outcome: 'handled' },
    ]);
    assert.deepEqual(d.statuses, ['COMPLETED/AGENT_CONNECTED']);
    assert.equal(d.state.completedAt, d.now);
    assert.equal(d.state.agentId, 'agent1', 'the outcome record keeps the agent');
  });

  it('User Terminated Delayed waits for an agent, asks the customer to confirm, then dials and connects the reserved agent', () => {
    const d = new Driver({ options: PRESETS.delayed });
    d.send({ type: 'booked' });
    assert.deepEqual(d.actions, [REQUEST_QUEUED]);
    assert.equal(d.phase, 'waiting-agent');

    d.send(granted());
    assert.equal(d.phase, 'waiting-confirm');
    assert.equal(d.actions.length, 1);
    assert.equal(d.actions[0]?.type, 'notify-device');
    assert.equal(d.state.timers.confirm, d.now + 30000);

    d.send({ type: 'user.action', action: 'connect' });
    assert.equal(d.actions[0]?.type, 'reply');
    assert.deepEqual(d.actions.slice(1), [dialCustomer(C1, 1)]);
    assert.equal(
      d.state.agentId,
      'agent1',
      'the agent stays reserved while the customer is dialled',
    );

    d.send({ type: 'call.answered', callId: C1, amd: 'HUMAN' });
    assert.deepEqual(d.actions, [dialAgent(A1, 'agent1'), PLAY]);
    assert.equal(d.phase, 'dialling-agent');
    assert.deepEqual(d.statuses, ['ROUTING']);

    d.send({ type: 'call.answered', callId: A1 });
    d.send({ type: 'bridged', bridgeId: BRIDGE });
    d.send({ type: 'call.ended', callId: A1 });
    assert.deepEqual(d.actions, [
      { type: 'hangup', callId: C1 },
      { type: 'release-agent', agentId: 'agent1', outcome: 'handled' },
    ]);
    assert.equal(d.state.reason, 'AGENT_CONNECTED');
  });

  it('User Terminated Scheduled (Not Delayed) starts at desired time minus EWT and dials right away, without confirmation', () => {
    const desired = T0 + 3_600_000;
    const d = new Driver({ options: PRESETS.scheduled, desiredTime: desired });
    d.ewtMs = 120_000;
    d.send({ type: 'booked' });
    assert.deepEqual(d.last, []);
    assert.equal(d.phase, 'waiting-start');
    assert.deepEqual(d.state.timers, { start: desired - 120_000, ttl: desired + 86_400_000 });

    d.tick();
    assert.equal(d.now, desired - 120_000);
    assert.deepEqual(d.actions, [dialCustomer(C1, 1)]);
    assert.deepEqual(d.statuses, ['QUEUED']);
    assert.equal(d.state.startedAt, desired - 120_000);

    d.run([
      { type: 'call.answered', callId: C1, amd: 'HUMAN' },
      granted(),
      { type: 'call.answered', callId: A1 },
      { type: 'bridged', bridgeId: BRIDGE },
      { type: 'call.ended', callId: C1 },
    ]);
    assert.equal(d.state.reason, 'AGENT_CONNECTED');
  });

  it('User Terminated Delayed Scheduled follows the seed: push dialog "0", connect answered with the same dialog', () => {
    const desired = Date.UTC(2014, 6, 30, 15, 0, 0);
    const d = new Driver({ options: PRESETS.delayedScheduled, desiredTime: desired });
    d.ewtMs = 600_000; // more than the 180 s threshold: never start earlier than that
    d.send({ type: 'booked' });
    assert.equal(d.state.timers.start, Date.UTC(2014, 6, 30, 14, 57, 0));

    d.tick();
    assert.deepEqual(d.actions, [REQUEST_QUEUED]);
    assert.deepEqual(d.statuses, ['QUEUED']);

    d.send(granted());
    const seedPush = {
      _id: ID,
      _action: 'ConfirmationDialog',
      _dialog_id: '0',
      _text: 'You will receive the call shortly',
      _ok_title: 'Ok',
    };
    assert.deepEqual(d.actions, [{ type: 'notify-device', dialog: seedPush }]);
    assert.deepEqual(d.state.dialog, seedPush);
    assert.equal(d.state.confirmAttempts, 1);

    d.send({ type: 'user.action', action: 'connect' });
    assert.deepEqual(d.actions, [{ type: 'reply', ok: true, body: seedPush }, dialCustomer(C1, 1)]);
    assert.equal(d.state.dialog, undefined);
    assert.equal(d.state.timers.confirm, undefined);

    d.run([
      { type: 'call.answered', callId: C1, amd: 'HUMAN' },
      { type: 'call.answered', callId: A1 },
      { type: 'bridged', bridgeId: BRIDGE },
      { type: 'call.ended', callId: C1 },
    ]);
    assert.equal(d.state.reason, 'AGENT_CONNECTED');
    assert.equal(d.state.dialAttempts, 1);
    assert.equal(d.state.agentAttempts, 1);
  });

  describe('Agent Preview', () => {
    it('offers the callback to the granted agent and dials the customer once the agent accepts', () => {
      const d = new Driver({ options: PRESETS.preview });
      d.run([{ type: 'booked' }, granted()]);
      assert.deepEqual(d.actions, [{ type: 'offer-preview', agentId: 'agent1', timeoutMs: 30000 }]);
      assert.equal(d.phase, 'agent-preview');
      assert.equal(d.state.timers.preview, d.now + 30000);

      d.send({ type: 'agent.preview-answer', agentId: 'agent1', accept: true });
      assert.deepEqual(d.actions, [
        { type: 'reply', ok: true, body: { _id: ID, _action: 'accept', _agent_id: 'agent1' } },
        dialCustomer(C1, 1),
      ]);
      assert.equal(d.state.timers.preview, undefined);

      d.send({ type: 'call.answered', callId: C1, amd: 'HUMAN' });
      assert.deepEqual(d.actions, [dialAgent(A1, 'agent1'), PLAY]);
      d.run([
        { type: 'call.answered', callId: A1 },
        { type: 'bridged', bridgeId: BRIDGE },
        { type: 'call.ended', callId: A1 },
      ]);
      assert.equal(d.state.reason, 'AGENT_CONNECTED');
    });

    it('after a reject releases the agent and offers the next one after the reject retry timeout', () => {
      const d = new Driver({ options: PRESETS.preview });
      d.run([{ type: 'booked' }, granted()]);
      d.send({ type: 'agent.preview-answer', agentId: 'agent1', accept: false });
      assert.deepEqual(d.actions, [
        { type: 'reply', ok: true, body: { _id: ID, _action: 'reject', _agent_id: 'agent1' } },
        { type: 'release-agent', agentId: 'agent1', outcome: 'rejected' },
      ]);
      assert.equal(d.phase, 'waiting-agent');
      assert.equal(d.state.agentId, undefined);
      assert.equal(d.state.timers['preview-retry'], d.now + 10_000);

      d.tick();
      assert.deepEqual(d.actions, [REQUEST_QUEUED]);
      d.send(granted('agent2'));
      assert.deepEqual(d.actions, [{ type: 'offer-preview', agentId: 'agent2', timeoutMs: 30000 }]);
      assert.equal(d.state.agentAttempts, 2);
    });

    it('fails FAIL_AGENT_CONNECT on a reject when rejects are not allowed', () => {
      const d = new Driver({ options: { ...PRESETS.preview, _agent_preview_allow_reject: false } });
      d.run([{ type: 'booked' }, granted()]);
      d.send({ type: 'agent.preview-answer', agentId: 'agent1', accept: false });
      assert.deepEqual(d.actions.slice(1), [
        { type: 'release-agent', agentId: 'agent1', outcome: 'rejected' },
      ]);
      assert.deepEqual(d.statuses, ['COMPLETED/FAIL_AGENT_CONNECT']);
    });

    it('on preview timeout releases the agent as no-answer and asks for the next agent', () => {
      const d = new Driver({ options: PRESETS.preview });
      d.run([{ type: 'booked' }, granted()]);
      d.tick();
      assert.deepEqual(d.actions, [
        { type: 'release-agent', agentId: 'agent1', outcome: 'no-answer' },
        REQUEST_QUEUED,
      ]);
      assert.equal(d.phase, 'waiting-agent');
      assert.equal(d.state.timers.preview, undefined);
    });

    it('refuses a preview answer from an agent that is not previewing this callback', () => {
      const d = new Driver({ options: PRESETS.preview });
      d.run([{ type: 'booked' }, granted()]);
      const before = d.state;
      d.send({ type: 'agent.preview-answer', agentId: 'agent9', accept: true });
      assert.equal(d.actions.length, 1);
      assert.deepEqual(
        { ...d.actions[0], message: undefined },
        { type: 'reply', ok: false, error: 'CallbackExceptionInvalidState', message: undefined },
      );
      assert.equal(d.state, before);
    });

    it('re-requests an agent when the previewing agent is lost', () => {
      const d = new Driver({ options: PRESETS.preview });
      d.run([{ type: 'booked' }, granted()]);
      d.send({ type: 'agent.lost', agentId: 'agent1' });
      assert.deepEqual(d.actions, [REQUEST_QUEUED]);
      assert.equal(d.phase, 'waiting-agent');
      assert.deepEqual(Object.keys(d.state.timers), ['ttl']);
    });
  });

  describe('first connect party AGENT', () => {
    it('dials the agent first, then the customer, and bridges when a human answers', () => {
      const d = new Driver({ options: PRESETS.agentFirst });
      d.send({ type: 'booked' });
      assert.deepEqual(d.actions, [REQUEST_QUEUED]);

      d.send(granted());
      assert.deepEqual(d.actions, [dialAgent(A1, 'agent1')]);
      assert.equal(d.phase, 'dialling-agent');

      d.send({ type: 'call.answered', callId: A1 });
      assert.deepEqual(d.actions, [dialCustomer(C1, 1)]);
      assert.equal(d.phase, 'dialling-customer');
      assert.equal(d.state.agentAnsweredAt, d.now);

      d.send({ type: 'call.answered', callId: C1, amd: 'HUMAN' });
      assert.deepEqual(d.actions, [{ type: 'bridge', bridgeId: BRIDGE, callIds: [C1, A1] }]);
      assert.equal(d.phase, 'bridging');

      d.run([
        { type: 'bridged', bridgeId: BRIDGE },
        { type: 'call.ended', callId: C1 },
      ]);
      assert.equal(d.state.reason, 'AGENT_CONNECTED');
    });

    it('asks for another agent (priority 1) when the first agent does not answer', () => {
      const d = new Driver({ options: PRESETS.agentFirst });
      d.run([{ type: 'booked' }, granted()]);
      d.send({ type: 'call.failed', callId: A1, failure: 'no-answer' });
      assert.deepEqual(d.actions, [
        { type: 'release-agent', agentId: 'agent1', outcome: 'no-answer' },
        REQUEST_QUEUED,
      ]);
      assert.equal(d.phase, 'waiting-agent');
      d.send(granted('agent2'));
      assert.deepEqual(d.actions, [dialAgent(A2, 'agent2')]);
    });

    it('hangs up the waiting agent when the customer call fails and dials again after the retry', () => {
      const d = new Driver({ options: PRESETS.agentFirst });
      d.run([{ type: 'booked' }, granted(), { type: 'call.answered', callId: A1 }]);
      d.send({ type: 'call.failed', callId: C1, failure: 'busy' });
      assert.deepEqual(d.actions, [
        { type: 'hangup', callId: A1 },
        { type: 'release-agent', agentId: 'agent1', outcome: 'unused' },
      ]);
      assert.equal(d.phase, 'retry-wait');
      d.tick();
      assert.deepEqual(d.actions, [REQUEST_QUEUED]);
      d.send(granted('agent2'));
      assert.deepEqual(d.actions, [dialAgent(A2, 'agent2')]);
    });

    it('keeps dialling the customer when the waiting agent hangs up, and reserves another on answer', () => {
      const d = new Driver({ options: PRESETS.agentFirst });
      d.run([{ type: 'booked' }, granted(), { type: 'call.answered', callId: A1 }]);
      d.send({ type: 'call.ended', callId: A1 });
      assert.deepEqual(d.actions, [
        { type: 'release-agent', agentId: 'agent1', outcome: 'unused' },
      ]);
      assert.equal(d.phase, 'dialling-customer');
      d.send({ type: 'call.answered', callId: C1, amd: 'HUMAN' });
      assert.deepEqual(d.actions, [REQUEST_URGENT, PLAY]);
      assert.equal(d.phase, 'reserving-agent');
    });
  });
});
