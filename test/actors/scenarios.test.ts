// Every scenario of the spec's table, from booking to COMPLETED, through the real actors on
// the simulator and virtual time.

import { strict as assert } from 'node:assert';
import sinon from 'sinon';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { advance, settle } from '../helpers/settle';
import type { Store } from '../../src/store/store';
import { BUSY, Harness, HUMAN, MACHINE, START, type HarnessOptions } from './engine-harness';

const iso = (ms: number): string => new Date(ms).toISOString();

describe('engine scenarios on the simulator', function () {
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
  });

  it('User Terminated Immediate dials at once and ends AGENT_CONNECTED after the talk', async () => {
    h = await new Harness({
      service: { _wait_for_agent: false, _wait_for_user_confirm: false },
    }).start();
    const id = await h.create({});
    assert.equal(h.state(id), 'QUEUED');
    await h.until(() => h.state(id) === 'PROCESSING', 'PROCESSING', 60_000);
    const agentCall = h.telephony.calls().find((c) => c.callId === `${id}-a1`);
    assert.equal(agentCall?.status, 'bridged');
    assert.equal(await h.complete(id), 'AGENT_CONNECTED');
    assert.deepEqual(h.statuses(id), ['QUEUED', 'ROUTING', 'PROCESSING', 'COMPLETED']);
    assert.deepEqual(h.customerDials(id), [`${id}-c1`]);
  });

  it('User Terminated Delayed waits for an agent, pushes the dialog and dials after connect', async () => {
    h = await new Harness({
      service: { _wait_for_agent: true, _wait_for_user_confirm: true },
    }).start();
    const id = await h.create({ _device_os: 'comet' });
    await h.until(() => h.dialogs(id).length === 1, 'the ConfirmationDialog');
    assert.deepEqual(h.dialogs(id)[0].data, {
      _id: id,
      _action: 'ConfirmationDialog',
      _dialog_id: '0',
      _text: 'You will receive the call shortly',
      _ok_title: 'Ok',
    });
    assert.deepEqual(h.customerDials(id), [], 'nobody is dialled before the customer confirms');
    const reply = await h.engine.action(id, 'connect', {});
    assert.equal(reply._text, 'You will receive the call shortly');
    assert.equal(await h.complete(id), 'AGENT_CONNECTED');
  });

  it('User Terminated Scheduled (Not Delayed) starts at desired time minus EWT, within the threshold', async () => {
    h = await new Harness({ service: { _wait_for_agent: false } }).start();
    const desired = START + 2 * 3600_000;
    const id = await h.create({ _desired_time: iso(desired) });
    assert.equal(h.state(id), 'SCHEDULED');
    assert.equal(h.engine.liveSessions(), 0, 'a booking due after the idle time has no actor');
    const soon = await h.create({ _desired_time: iso(START + 10 * 60_000) });
    assert.equal(h.engine.liveSessions(), 1, 'one due within the idle time has one');
    await h.engine.cancel('svc', soon);
    await h.until(() => h.customerDials(id).length > 0, 'the first dial', 3 * 3600_000);
    assert.equal(h.engine.liveSessions(), 1, 'the booking woke into a session when due');
    const dialledAt = h.telephony.calls().find((c) => c.callId === `${id}-c1`)!.dialledAt;
    assert.ok(dialledAt <= desired, 'dialled no later than the desired time');
    assert.ok(dialledAt >= desired - 180_000, 'never earlier than the threshold before it');
    assert.equal(await h.complete(id), 'AGENT_CONNECTED');
  });

  it('User Terminated Delayed Scheduled (the seed) confirms, dials, bridges and completes', async () => {
    h = await new Harness({
      service: { _wait_for_agent: true, _wait_for_user_confirm: true },
    }).start();
    const desired = START + 30 * 60_000;
    const id = await h.create({ _desired_time: iso(desired), _device_os: 'comet' });
    assert.equal(h.state(id), 'SCHEDULED');
    await h.until(() => h.dialogs(id).length === 1, 'the ConfirmationDialog', 3600_000);
    assert.ok(h.clock.now() >= desired - 180_000);
    assert.equal(h.state(id), 'QUEUED');
    await h.engine.action(id, 'connect', {});
    await h.until(() => h.state(id) === 'PROCESSING', 'PROCESSING');
    assert.equal(await h.complete(id), 'AGENT_CONNECTED');
  });

  it('Agent Preview dials the customer only after the agent accepts', async () => {
    h = await new Harness({
      service: { _wait_for_agent: true, _wait_for_user_confirm: false, _agent_preview: true },
    }).start();
    const id = await h.create({});
    await h.until(
      () => h.messages.some((m) => m.callbackId === id && m.kind === 'preview'),
      'the agent preview',
    );
    assert.deepEqual(h.customerDials(id), []);
    await h.engine.action(id, 'accept', {});
    assert.equal(await h.complete(id), 'AGENT_CONNECTED');
  });

  it('first connect party AGENT dials the agent first, then the customer', async () => {
    h = await new Harness({
      service: { _wait_for_agent: true, _userterminated_first_connect_party: 'AGENT' },
    }).start();
    const id = await h.create({});
    assert.equal(await h.complete(id), 'AGENT_CONNECTED');
    const calls = h.telephony.calls().filter((c) => c.callbackId === id);
    const agent = calls.find((c) => c.leg === 'agent')!;
    const customer = calls.find((c) => c.leg === 'customer')!;
    assert.ok(agent.dialledAt < customer.dialledAt, 'agent dialled before the customer');
  });

  it('an answering machine on every attempt ends FAIL_CALL_TO_CUSTOMER after the retries', async () => {
    h = await new Harness({
      service: { _max_dial_attempts: 3, _dial_retry_timeout: 300 },
      customers: { '+33612345678': MACHINE },
    }).start();
    const id = await h.create({});
    assert.equal(await h.complete(id), 'FAIL_CALL_TO_CUSTOMER');
    assert.deepEqual(h.customerDials(id), [`${id}-c1`, `${id}-c2`, `${id}-c3`]);
    const dialTimes = h.telephony
      .calls()
      .filter((c) => c.leg === 'customer')
      .map((c) => c.dialledAt);
    assert.ok(dialTimes[1] - dialTimes[0] >= 300_000, 'retries wait _dial_retry_timeout');
  });

  it('a busy customer then a human: the second attempt is bridged', async () => {
    h = await new Harness({ customers: { '+33612345678': [BUSY, HUMAN] } }).start();
    const id = await h.create({});
    assert.equal(await h.complete(id), 'AGENT_CONNECTED');
    assert.equal(h.customerDials(id).length, 2);
  });

  it('no confirmation with CONNECT-ANYWAY dials after the last push times out', async () => {
    h = await new Harness({
      service: {
        _wait_for_agent: true,
        _wait_for_user_confirm: true,
        _on_user_confirm_timeout: 'CONNECT-ANYWAY',
      },
    }).start();
    const id = await h.create({ _device_os: 'comet' });
    await h.until(() => h.customerDials(id).length > 0, 'a dial');
    assert.equal(h.dialogs(id).length, 3, 'three pushes before dialling anyway');
    assert.equal(await h.complete(id), 'AGENT_CONNECTED');
  });

  it('no confirmation without CONNECT-ANYWAY ends FAIL_USER_NO_CONFIRM and frees the agent', async () => {
    h = await new Harness({
      service: {
        _wait_for_agent: true,
        _wait_for_user_confirm: true,
        _on_user_confirm_timeout: 'FAIL',
      },
    }).start();
    const id = await h.create({ _device_os: 'comet' });
    assert.equal(await h.complete(id), 'FAIL_USER_NO_CONFIRM');
    assert.deepEqual(h.customerDials(id), []);
    await h.until(() => h.engine.listAgents().every((a) => a.state === 'ready'), 'agents ready');
  });

  it('a cancel while waiting for the start ends CANCELLED and never dials', async () => {
    h = await new Harness().start();
    const id = await h.create({ _desired_time: iso(START + 3600_000) });
    await h.engine.cancel('svc', id);
    assert.equal(h.state(id), 'COMPLETED');
    assert.equal(h.reason(id), 'CANCELLED');
    await advance(h.clock, 2 * 3600_000);
    assert.deepEqual(h.customerDials(id), []);
  });

  it('a cancel while waiting for an agent withdraws it from the queue', async () => {
    h = await new Harness({
      agents: [{ id: 'agent1' }],
      service: { _wait_for_agent: true },
    }).start();
    await h.engine.agentCommand('agent1', 'not-ready');
    const id = await h.create({});
    await h.until(() => h.engine.queuePosition(id)._position === 1, 'queued');
    await h.engine.cancel('svc', id);
    assert.equal(h.reason(id), 'CANCELLED');
    await settle();
    assert.equal(h.engine.queuePosition(id)._position, 0);
  });

  it('a callback nobody can handle within _ttl ends FAIL_TIMEOUT_TTL', async () => {
    h = await new Harness({
      agents: [{ id: 'agent1' }],
      service: { _wait_for_agent: true, _ttl: 600 },
    }).start();
    await h.engine.agentCommand('agent1', 'not-ready');
    const id = await h.create({});
    assert.equal(await h.complete(id, 3600_000), 'FAIL_TIMEOUT_TTL');
    assert.ok(h.clock.now() >= START + 600_000);
  });

  it('an agent who never answers is replaced by the next agent', async () => {
    h = await new Harness({
      agents: [{ id: 'agent1', answers: false }, { id: 'agent2' }],
      service: { _agent_reserve_timeout: 20 },
    }).start();
    const id = await h.create({});
    assert.equal(await h.complete(id), 'AGENT_CONNECTED');
    const agentCalls = h.telephony.calls().filter((c) => c.callbackId === id && c.leg === 'agent');
    assert.deepEqual(
      agentCalls.map((c) => c.agentId),
      ['agent1', 'agent2'],
    );
    assert.equal(h.engine.listAgents().find((a) => a.id === 'agent1')?.state, 'not-ready');
  });

  it('a customer who hangs up while waiting for an agent ends FAIL_AGENT_CONNECT', async () => {
    h = await new Harness({
      agents: [{ id: 'agent1' }],
      customers: {
        '+33612345678': {
          kind: 'human',
          answerAfterMs: 3000,
          amdAfterMs: 1500,
          hangUpAfterMs: 10_000,
        },
      },
    }).start();
    await h.engine.agentCommand('agent1', 'not-ready');
    const id = await h.create({});
    assert.equal(await h.complete(id), 'FAIL_AGENT_CONNECT');
  });

  it('never reserves more agents than are free: the second callback waits its turn', async () => {
    h = await new Harness({
      agents: [{ id: 'agent1' }],
      service: { _wait_for_agent: true },
    }).start();
    const a = await h.create({});
    const b = await h.create({ _customer_number: '+33612345679' });
    await h.until(() => h.state(a) === 'PROCESSING', 'first talking');
    assert.deepEqual(
      h.customerDials(b),
      [],
      'the second customer is not dialled while the only agent talks',
    );
    assert.equal(h.engine.queuePosition(b)._position, 1);
    assert.equal(await h.complete(b), 'AGENT_CONNECTED');
    const firstEnd = h.telephony.calls().find((c) => c.callId === `${a}-c1`)!.endedAt!;
    const secondDial = h.telephony.calls().find((c) => c.callId === `${b}-c1`)!.dialledAt;
    assert.ok(secondDial >= firstEnd);
  });
});

describe('engine scenarios on the simulator: User Originated', function () {
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
  });

  it('User Originated Immediate matches the customer calling in by number and routes the call', async () => {
    h = await new Harness({
      service: { _call_direction: 'USERORIGINATED', _access_number: '+33140000000' },
    }).start();
    const created = await h.engine.create('svc', { _customer_number: '+33612345678' });
    assert.equal(created._tel_number, '+33140000000');
    const id = created._id;
    assert.equal(h.state(id), 'QUEUED');
    const inbound = h.telephony.incomingCall('+33612345678', { hangUpAfterMs: 120_000 });
    await h.until(() => h.state(id) === 'PROCESSING', 'PROCESSING');
    assert.deepEqual(h.customerDials(id), [], 'the customer called us: we never dial them');
    assert.equal(await h.complete(id), 'AGENT_CONNECTED');
    const joined = h.telephonyEvents.find((e) => e.type === 'bridge.joined');
    assert.ok(joined?.type === 'bridge.joined' && joined.callIds.includes(inbound));
  });

  it('User Originated Delayed pushes the number and code once an agent is free, then matches by code', async () => {
    h = await new Harness({
      service: {
        _call_direction: 'USERORIGINATED',
        _wait_for_agent: true,
        _access_number: '+33140000000',
      },
    }).start();
    const created = await h.engine.create('svc', {
      _customer_number: '+33612345678',
      _provide_code: 'true',
      _device_os: 'comet',
    });
    const id = created._id;
    assert.match(created._access_code ?? '', /^\d{6}$/);
    await h.until(() => h.dialogs(id).length === 1, 'the DialNumber push');
    const push = h.dialogs(id)[0].data as Record<string, unknown>;
    assert.equal(push._action, 'DialNumber');
    assert.equal(push._tel_number, '+33140000000');
    assert.equal(push._access_code, created._access_code);
    // Calling from another phone works with the code.
    h.telephony.incomingCall('+33700000000', { digits: created._access_code });
    assert.equal(await h.complete(id), 'AGENT_CONNECTED');
  });

  it('an inbound call that matches no callback is hung up', async () => {
    h = await new Harness({ service: { _call_direction: 'USERORIGINATED' } }).start();
    const callId = h.telephony.incomingCall('+33699999999');
    await h.until(
      () => h.telephony.calls().find((c) => c.callId === callId)?.status === 'ended',
      'the hang-up',
    );
  });
});

describe('engine EWT from an outside source', function () {
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
  });

  it('starts a scheduled callback earlier by an outside EWT, and falls back when it is withdrawn', async () => {
    h = await new Harness({ service: { _wait_for_agent: false } }).start();
    h.engine.setExternalEwt('support', 120_000);
    const desired = START + 3600_000;
    const id = await h.create({ _desired_time: iso(desired) });
    await h.until(() => h.customerDials(id).length > 0, 'the dial', 2 * 3600_000);
    const dialledAt = h.telephony.calls().find((c) => c.callId === `${id}-c1`)!.dialledAt;
    assert.equal(dialledAt, desired - 120_000, 'desired time minus the queue EWT');
    h.engine.setExternalEwt('support', undefined);
    assert.equal(h.engine.ewt.get('support'), 0, 'the pool has agents free again');
  });
});

/** A service that dials at once (Not Delayed) and one agent, whose calls last `talkMs`. */
function oneAgent(talkMs: number, more: HarnessOptions = {}): Promise<Harness> {
  return new Harness({
    service: { _wait_for_agent: false, _wait_for_user_confirm: false },
    agents: [{ id: 'agent1', handleTimeMs: talkMs }],
    ...more,
  }).start();
}

/** An in-memory store with some of its methods replaced (`replace` gets the real store). */
function storeWith(replace: (inner: Store) => Partial<Record<keyof Store, unknown>>): Store {
  const inner = openSqliteStore({ file: ':memory:' });
  const replaced = replace(inner);
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop in replaced) return replaced[prop as keyof Store];
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as () => unknown).bind(target) : v;
    },
  });
}

describe('session lifetime', function () {
  let h: Harness;
  afterEach(async () => {
    sinon.restore();
    await h?.stop();
  });

  it('keeps a session on a call past the idle time, and no late event of a completed one loads it again', async () => {
    h = await oneAgent(120_000, { idleMs: 10_000 });
    const id = await h.create({});
    await h.until(() => h.state(id) === 'PROCESSING', 'PROCESSING');
    await advance(h.clock, 60_000);
    assert.equal(h.state(id), 'PROCESSING', 'still talking');
    assert.equal(h.engine.liveSessions(), 1, 'the session on a call outlived its idle time');
    // A session that is not live is found through its service: count those look-ups.
    const lookUps = sinon.spy(h.store, 'serviceOf');
    assert.equal(await h.complete(id), 'AGENT_CONNECTED');
    await h.until(() => h.telephony.calls().every((c) => c.status === 'ended'), 'both legs ended');
    await advance(h.clock, 60_000);
    assert.equal(h.engine.liveSessions(), 0);
    assert.equal(lookUps.callCount, 0, 'the legs that ended after the callback were dropped');
    await assert.rejects(h.engine.action(id, 'connect', {}), {
      name: 'CallbackExceptionInvalidState',
    });
  });

  it('works the first step of a callback that dials at once out once, and takes it', async () => {
    h = await oneAgent(120_000);
    // Each working-out of the first step reads the target's estimated wait once.
    const ewtReads = sinon.spy(h.engine.ewt, 'get');
    const id = await h.create({});
    assert.equal(ewtReads.callCount, 1, 'not worked out again by the session');
    assert.equal(h.telephony.calls()[0]?.callId, `${id}-c1`, 'the customer is dialled');
    assert.equal(h.store.get(id)?.state.phase, 'dialling-customer');
  });

  it('takes a completion as final only once its write is committed', async () => {
    // The store reports every commit as failed once `failing` is set (the rows are written
    // all the same): the session must not be remembered as completed on its word.
    let failing = false;
    const store = storeWith((inner) => ({
      afterCommit: (cb: (err?: Error) => void) =>
        inner.afterCommit((err) => cb(failing ? new Error('commit failed') : err)),
    }));
    h = await oneAgent(120_000, { store, idleMs: 10_000 });
    const id = await h.create({});
    await h.until(() => h.state(id) === 'PROCESSING', 'PROCESSING');
    failing = true;
    const lookUps = sinon.spy(h.store, 'serviceOf');
    await h.until(() => h.state(id) === 'COMPLETED', 'COMPLETED', 600_000);
    // The failed commit kept the session from hanging up the other leg: its far end does.
    for (const c of h.telephony.calls())
      if (c.status !== 'ended') await h.telephony.hangup(c.callId);
    await advance(h.clock, 60_000);
    assert.ok(lookUps.callCount > 0, 'the late hang-up went to the session, not dropped');
    // The failed commits were logged as errors, as they should be.
    h.errors.length = 0;
  });

  it('releases no agent when reconciliation cannot read the sessions', async () => {
    let reads = 0;
    const store = storeWith(() => ({
      holdingsOf: () => {
        reads++;
        throw new Error('disk I/O error');
      },
    }));
    // A live session tells which agent it holds; one waiting for the customer's confirmation
    // with no call up stops when idle, and then only its row can tell.
    h = await new Harness({
      service: {
        _wait_for_agent: true,
        _wait_for_user_confirm: true,
        _user_confirm_timeout: 600,
      },
      agents: [{ id: 'agent1', handleTimeMs: 60_000 }],
      store,
      idleMs: 10_000,
    }).start();
    const id = await h.create({ _device_os: 'comet' });
    await h.until(() => h.dialogs(id).length === 1, 'the ConfirmationDialog');
    await advance(h.clock, 120_000);
    assert.equal(h.engine.liveSessions(), 0, 'the session waiting for the customer stopped');
    assert.ok(reads > 0, 'reconciliation asked');
    assert.equal(h.engine.pool.get('agent1')?.state, 'reserved', 'the agent is still held');
    await h.engine.action(id, 'connect', {});
    assert.equal(await h.complete(id), 'AGENT_CONNECTED');
  });

  it('stops an idle session that has no call up', async () => {
    h = await oneAgent(300_000, {
      service: { _wait_for_agent: true, _wait_for_user_confirm: false },
      idleMs: 10_000,
    });
    const first = await h.create({});
    await h.until(() => h.state(first) === 'PROCESSING', 'the first callback talking');
    const second = await h.create({ _customer_number: '+33612345679' });
    await settle();
    assert.equal(h.engine.liveSessions(), 2);
    await advance(h.clock, 30_000);
    assert.equal(h.state(second), 'QUEUED', 'still waiting for the only agent');
    assert.equal(h.engine.liveSessions(), 1, 'the one waiting for an agent stopped');
    assert.equal(await h.complete(second, 3600_000), 'AGENT_CONNECTED');
  });
});
