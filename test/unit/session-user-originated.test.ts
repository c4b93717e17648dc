// User Originated scenarios: the customer calls the access number and is matched to the
// callback; with _wait_for_agent the device is told to call once an agent is free.

import { strict as assert } from 'node:assert';
import { A1, Driver, granted, PRESETS, T0 } from './session-driver';

const IN = 'inbound-channel-1';

describe('session machine: User Originated', () => {
  it('Immediate waits for the customer to call in, then routes the call to an agent', () => {
    const d = new Driver({ options: PRESETS.userOriginated });
    d.send({ type: 'booked' });
    assert.equal(d.state.phase, 'waiting-inbound');
    assert.equal(d.state.gms, 'QUEUED');
    assert.equal(d.actions.length, 0, 'nobody is dialled and no agent is held yet');
    d.send({ type: 'inbound.matched', callId: IN });
    assert.equal(d.state.phase, 'reserving-agent');
    assert.equal(d.state.customerCallId, IN);
    assert.equal(d.state.customerAnsweredAt, d.now);
    const kinds: string[] = d.actions.map((a) => a.type);
    assert.deepEqual(kinds, ['request-agent', 'play']);
    d.send(granted());
    assert.deepEqual(d.actions, [
      { type: 'dial-agent', callId: A1, agentId: 'agent1', timeoutMs: 30_000 },
    ]);
    d.send({ type: 'call.answered', callId: A1 });
    d.send({ type: 'bridged', bridgeId: `${d.state.id}-b` });
    assert.equal(d.state.gms, 'PROCESSING');
    d.send({ type: 'call.ended', callId: IN });
    assert.equal(d.state.reason, 'AGENT_CONNECTED');
  });

  it('Delayed reserves an agent, then pushes the number to call with the access code', () => {
    const d = new Driver({ options: PRESETS.userOriginatedDelayed });
    d.state = { ...d.state, accessCode: '482913' };
    d.send({ type: 'booked' });
    assert.equal(d.state.phase, 'waiting-agent');
    d.send(granted());
    assert.equal(d.state.phase, 'waiting-inbound');
    assert.deepEqual(d.actions, [
      {
        type: 'notify-device',
        dialog: {
          _id: d.state.id,
          _action: 'DialNumber',
          _dialog_id: '0',
          _text: 'An agent is available: please call +33140000000',
          _tel_number: '+33140000000',
          _access_code: '482913',
        },
      },
    ]);
    d.send({ type: 'inbound.matched', callId: IN });
    assert.equal(d.state.phase, 'dialling-agent', 'the reserved agent is dialled at once');
    assert.equal(d.state.agentId, 'agent1');
  });

  it('Delayed gives the agent back and ends FAIL_USER_NO_CONFIRM when the customer never calls', () => {
    const d = new Driver({ options: PRESETS.userOriginatedDelayed });
    d.run([{ type: 'booked' }, granted()]);
    d.advance(3 * 30_000);
    assert.equal(d.state.reason, 'FAIL_USER_NO_CONFIRM');
    assert.ok(
      d.effects.some(
        (e) => e.type === 'release-agent' && e.agentId === 'agent1' && e.outcome === 'unused',
      ),
    );
  });

  it('ignores a matched inbound call in any other phase', () => {
    const d = new Driver({ options: PRESETS.immediate, desiredTime: T0 + 3_600_000 });
    d.send({ type: 'booked' });
    const before = d.state;
    d.send({ type: 'inbound.matched', callId: IN });
    assert.equal(d.state, before);
  });
});
