import assert from 'node:assert/strict';
import { chargedDialAttempts, OUTAGE_RECHECK_MS } from '../../src/domain/session-machine';
import {
  A1,
  C1,
  C2,
  C3,
  dialAgent,
  dialCustomer,
  Driver,
  granted,
  PRESETS,
  reach,
  REQUEST_URGENT,
} from './session-driver';

describe('session machine: telephony down', () => {
  describe('a dial telephony refused (not placed)', () => {
    it('is no attempt: waits through the outage without dialling and dials the next call id on resumed', () => {
      const d = new Driver({ options: { ...PRESETS.immediate, _max_dial_attempts: 1 } });
      d.send({ type: 'booked' });
      d.telephonyUp = false;
      d.send({ type: 'call.failed', callId: C1, failure: 'not-placed' });
      assert.equal(d.phase, 'retry-wait');
      assert.deepEqual(d.statuses, [], 'still QUEUED, not failed');
      assert.equal(d.state.lastFailure, 'not-placed');
      assert.equal(chargedDialAttempts(d.state), 0);
      assert.equal(d.state.timers.retry, d.now + OUTAGE_RECHECK_MS);
      const during = d.advance(60_000);
      assert.deepEqual(
        during.filter((e) => e.type === 'dial-customer'),
        [],
        'nothing dialled while telephony is down',
      );
      assert.equal(d.phase, 'retry-wait');
      d.telephonyUp = true;
      d.send({ type: 'resumed' });
      assert.deepEqual(d.actions, [dialCustomer(C2, 2)]);
      assert.equal(d.state.timers.retry, undefined);
      assert.equal(chargedDialAttempts(d.state), 1);
      // The one attempt the service allows is the one placed.
      d.send({ type: 'call.failed', callId: C2, failure: 'busy' });
      assert.deepEqual(d.statuses, ['COMPLETED/FAIL_CALL_TO_CUSTOMER']);
    });

    it('is dialled again at the recheck when telephony was back before the refusal arrived', () => {
      const d = new Driver({ options: PRESETS.immediate });
      d.send({ type: 'booked' });
      d.send({ type: 'call.failed', callId: C1, failure: 'not-placed' });
      d.tick();
      assert.deepEqual(d.actions, [dialCustomer(C2, 2)]);
      d.send({ type: 'call.failed', callId: C2, failure: 'not-placed' });
      d.tick();
      assert.deepEqual(d.actions, [dialCustomer(C3, 3)]);
      assert.equal(chargedDialAttempts(d.state), 1);
    });

    it('leaves a far-end failure charged as before', () => {
      const d = new Driver({ options: { ...PRESETS.immediate, _max_dial_attempts: 1 } });
      d.send({ type: 'booked' });
      d.send({ type: 'call.failed', callId: C1, failure: 'failed' });
      assert.deepEqual(d.statuses, ['COMPLETED/FAIL_CALL_TO_CUSTOMER']);
    });

    it('does not dial at an ordinary retry while telephony is down, and does once it is back', () => {
      const d = reach('retry-wait');
      d.telephonyUp = false;
      d.advance(400_000);
      assert.equal(d.phase, 'retry-wait');
      assert.deepEqual(
        d.effects.filter((e) => e.type === 'dial-customer'),
        [dialCustomer(C1, 1)],
      );
      d.telephonyUp = true;
      d.advance(OUTAGE_RECHECK_MS);
      assert.deepEqual(d.actions, [dialCustomer(C2, 2)]);
    });
  });

  describe('an agent leg through an outage', () => {
    it('is not judged by the agent-answer timer while telephony is down, and is reconciled on resumed', () => {
      const d = reach('dialling-agent');
      d.telephonyUp = false;
      d.advance(120_000);
      assert.equal(d.phase, 'dialling-agent');
      assert.deepEqual(
        d.last.filter((e) => e.type !== 'status-changed'),
        [],
        'no release, no hang-up',
      );
      d.telephonyUp = true;
      d.send({ type: 'resumed' });
      assert.deepEqual(d.actions, [
        { type: 'reconcile-call', callId: C1 },
        { type: 'reconcile-call', callId: A1 },
      ]);
      d.send({ type: 'call.answered', callId: A1 });
      assert.equal(d.phase, 'bridging');
    });

    it('blames an agent that does not answer with telephony up (not ready)', () => {
      const d = reach('dialling-agent');
      d.tick();
      assert.deepEqual(d.actions, [
        { type: 'hangup', callId: A1 },
        { type: 'release-agent', agentId: 'agent1', outcome: 'no-answer' },
        REQUEST_URGENT,
      ]);
    });

    it('releases an agent whose leg was never placed without blame, and asks again on resumed', () => {
      const d = reach('dialling-agent');
      d.telephonyUp = false;
      d.send({ type: 'call.failed', callId: A1, failure: 'not-placed' });
      assert.equal(d.phase, 'reserving-agent');
      assert.deepEqual(d.actions, [
        { type: 'release-agent', agentId: 'agent1', outcome: 'unused' },
        // No new request while down: it would only be refused and burn the attempts.
      ]);
      d.telephonyUp = true;
      d.send({ type: 'resumed' });
      assert.deepEqual(d.actions, [{ type: 'reconcile-call', callId: C1 }, REQUEST_URGENT]);
      d.send(granted('agent2'));
      assert.deepEqual(d.actions, [dialAgent(`${A1.slice(0, -1)}2`, 'agent2')]);
    });

    it('asks for the next agent at once when telephony is back before the refusal arrived', () => {
      const d = reach('dialling-agent');
      d.send({ type: 'call.failed', callId: A1, failure: 'not-placed' });
      assert.deepEqual(d.actions, [
        { type: 'release-agent', agentId: 'agent1', outcome: 'unused' },
        REQUEST_URGENT,
      ]);
    });

    it('does not blame the agent for a leg our side lost, nor for a bridge refused while down', () => {
      const lost = reach('dialling-agent');
      lost.send({ type: 'call.failed', callId: A1, failure: 'lost' });
      assert.deepEqual(
        lost.actions.filter((e) => e.type === 'release-agent'),
        [{ type: 'release-agent', agentId: 'agent1', outcome: 'unused' }],
      );
      const bridging = reach('bridging');
      bridging.telephonyUp = false;
      bridging.send({ type: 'call.failed', callId: A1, failure: 'not-placed' });
      assert.equal(bridging.phase, 'reserving-agent');
      assert.deepEqual(
        bridging.actions.filter((e) => e.type === 'release-agent' || e.type === 'request-agent'),
        [{ type: 'release-agent', agentId: 'agent1', outcome: 'unused' }],
      );
    });
  });
});
