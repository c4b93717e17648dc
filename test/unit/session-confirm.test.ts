import assert from 'node:assert/strict';
import type { SessionEffect } from '../../src/domain/session-types';
import {
  C1,
  dialAgent,
  dialCustomer,
  Driver,
  granted,
  ID,
  PLAY,
  PRESETS,
  reach,
  REQUEST_QUEUED,
  REQUEST_URGENT,
} from './session-driver';

function dialogIds(effects: SessionEffect[]): string[] {
  return effects.flatMap((e) => (e.type === 'notify-device' ? [e.dialog._dialog_id] : []));
}

function errorOf(effects: SessionEffect[]): string | undefined {
  const r = effects.find((e) => e.type === 'reply');
  return r && r.type === 'reply' && !r.ok ? r.error : undefined;
}

describe('session machine: user confirmation', () => {
  it('pushes the dialog again with a new _dialog_id each time the confirm timeout expires', () => {
    const d = reach('waiting-confirm');
    assert.equal(d.state.dialog?._dialog_id, '0');
    d.tick();
    assert.deepEqual(dialogIds(d.actions), ['1']);
    assert.equal(d.state.timers.confirm, d.now + 30_000);
    d.tick();
    assert.deepEqual(dialogIds(d.actions), ['2']);
    assert.equal(d.state.confirmAttempts, 3);
    assert.deepEqual(dialogIds(d.effects), ['0', '1', '2']);
  });

  it('dials anyway after the last push when _on_user_confirm_timeout is CONNECT-ANYWAY, keeping the agent', () => {
    const d = reach('waiting-confirm');
    d.tick();
    d.tick();
    d.tick();
    assert.deepEqual(d.actions, [dialCustomer(C1, 1)]);
    assert.equal(d.state.dialog, undefined);
    assert.equal(d.state.agentId, 'agent1');
    d.send({ type: 'call.answered', callId: C1, amd: 'HUMAN' });
    assert.deepEqual(d.actions, [dialAgent(`${ID}-a1`, 'agent1'), PLAY]);
  });

  it('releases the agent and ends FAIL_USER_NO_CONFIRM after the last push otherwise', () => {
    const d = new Driver({
      options: {
        ...PRESETS.delayed,
        _on_user_confirm_timeout: 'FAIL',
        _max_number_of_user_availability_confirmation_attempts: 1,
      },
    });
    d.run([{ type: 'booked' }, granted()]);
    d.tick();
    assert.deepEqual(d.actions, [{ type: 'release-agent', agentId: 'agent1', outcome: 'unused' }]);
    assert.deepEqual(d.statuses, ['COMPLETED/FAIL_USER_NO_CONFIRM']);
  });

  it('on snooze releases the agent, waits _snooze_duration, then asks for an agent and pushes again', () => {
    const d = reach('waiting-confirm');
    d.send({ type: 'user.action', action: 'snooze' });
    assert.deepEqual(d.actions, [
      { type: 'reply', ok: true, body: { _id: ID, _action: 'snooze', _snooze_duration: 300 } },
      { type: 'release-agent', agentId: 'agent1', outcome: 'unused' },
    ]);
    assert.equal(d.phase, 'snoozed');
    assert.deepEqual(d.statuses, [], 'snoozed is still QUEUED');
    assert.equal(d.state.timers.snooze, d.now + 300_000);
    assert.equal(d.state.timers.confirm, undefined);

    d.tick();
    assert.deepEqual(d.actions, [REQUEST_QUEUED]);
    assert.equal(d.phase, 'waiting-agent');
    d.send(granted('agent2'));
    assert.deepEqual(dialogIds(d.actions), ['1']);
    assert.equal(d.phase, 'waiting-confirm');
  });

  it('a snooze while snoozed starts the snooze over', () => {
    const d = reach('snoozed');
    d.now += 100_000;
    d.send({ type: 'user.action', action: 'snooze' });
    assert.equal(d.state.timers.snooze, d.now + 300_000);
    assert.deepEqual(
      d.actions.map((e) => e.type),
      ['reply'],
    );
  });

  it('connect while snoozed dials at once and reserves an agent once the customer answers', () => {
    const d = reach('snoozed');
    const dialog = d.state.dialog;
    d.send({ type: 'user.action', action: 'connect' });
    assert.deepEqual(d.actions, [{ type: 'reply', ok: true, body: dialog }, dialCustomer(C1, 1)]);
    assert.equal(d.state.timers.snooze, undefined);
    d.send({ type: 'call.answered', callId: C1, amd: 'HUMAN' });
    assert.deepEqual(d.actions, [REQUEST_URGENT, PLAY]);
  });

  it('a cancel action replies ok and cancels by user', () => {
    const d = reach('waiting-confirm');
    d.send({ type: 'user.action', action: 'cancel' });
    assert.deepEqual(d.actions, [
      { type: 'reply', ok: true, body: { _id: ID, _action: 'cancel' } },
      { type: 'release-agent', agentId: 'agent1', outcome: 'unused' },
    ]);
    assert.deepEqual(d.statuses, ['COMPLETED/CANCELLED']);
  });

  it('refuses an unknown action with CallbackExceptionInvalidAction, changing nothing', () => {
    const d = reach('waiting-confirm');
    const before = d.state;
    d.send({ type: 'user.action', action: 'explode' });
    assert.equal(errorOf(d.last), 'CallbackExceptionInvalidAction');
    assert.equal(d.last.length, 1);
    assert.equal(d.state, before);
  });

  it('refuses connect and snooze with CallbackExceptionInvalidState where no dialog is pending', () => {
    for (const phase of ['waiting-agent', 'dialling-customer', 'retry-wait', 'talking'] as const)
      for (const action of ['connect', 'snooze']) {
        const d = reach(phase);
        const before = d.state;
        d.send({ type: 'user.action', action });
        assert.equal(errorOf(d.last), 'CallbackExceptionInvalidState', `${action} in ${phase}`);
        assert.equal(d.state, before);
      }
  });

  it('when the reserved agent is lost during confirmation, connects the customer and reserves another on answer', () => {
    const d = reach('waiting-confirm');
    d.send({ type: 'agent.lost', agentId: 'agent1' });
    assert.deepEqual(d.actions, []);
    assert.equal(d.state.agentId, undefined);
    d.send({ type: 'user.action', action: 'connect' });
    d.send({ type: 'call.answered', callId: C1, amd: 'HUMAN' });
    assert.deepEqual(d.actions, [REQUEST_URGENT, PLAY]);
  });

  it('forgets a Delayed agent lost while the customer is being dialled', () => {
    const d = reach('waiting-confirm');
    d.send({ type: 'user.action', action: 'connect' });
    d.send({ type: 'agent.lost', agentId: 'agent1' });
    assert.equal(d.state.agentId, undefined);
    assert.equal(d.phase, 'dialling-customer');
    d.send({ type: 'agent.lost', agentId: 'agent1' });
    assert.deepEqual(d.last, []);
  });
});
