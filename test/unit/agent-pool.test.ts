// The agent pool's bookkeeping: fair queue order, one callback per agent, reservations that
// expire, wrap-up, and the figures EWT is computed from.

import { strict as assert } from 'node:assert';
import { AgentPool } from '../../src/domain/agent-pool';

const T0 = Date.UTC(2030, 0, 7, 9);

function pool(agents: string[], opts = { reservationTimeoutMs: 60_000, wrapUpMs: 0 }): AgentPool {
  const p = new AgentPool(opts);
  agents.forEach((id, i) =>
    p.addAgent({ id, endpoint: `SIM/${id}`, groups: ['support'] }, T0 + i, 'ready'),
  );
  return p;
}

describe('agent pool', () => {
  it('serves callbacks in arrival order within a priority, and customers on the line first', () => {
    const p = pool([]);
    p.request('queued-1', 'support', 1);
    p.request('queued-2', 'support', 1);
    p.request('on-line', 'support', 0);
    p.request('queued-3', 'support', 1);
    assert.deepEqual(
      ['on-line', 'queued-1', 'queued-2', 'queued-3'].map((id) => p.position(id).position),
      [1, 2, 3, 4],
    );
    assert.equal(p.figures('support').waiting, 4);
  });

  it('never grants more callbacks than agents are ready, longest idle agent first', () => {
    const p = pool(['a1', 'a2']);
    for (const id of ['c1', 'c2', 'c3']) p.request(id, 'support', 1);
    const grants = p.match(T0 + 10);
    assert.deepEqual(
      grants.map((g) => [g.callbackId, g.agentId]),
      [
        ['c1', 'a1'],
        ['c2', 'a2'],
      ],
    );
    assert.deepEqual(p.match(T0 + 20), [], 'nobody is free for c3');
    assert.equal(p.position('c3').position, 1);
    assert.deepEqual(
      p.list().map((a) => a.state),
      ['reserved', 'reserved'],
    );
  });

  it('ignores a duplicate request and a withdraw of an unknown callback', () => {
    const p = pool([]);
    p.request('c1', 'support', 1);
    p.request('c1', 'support', 0);
    p.withdraw('nobody');
    assert.equal(p.figures('support').waiting, 1);
    p.withdraw('c1');
    assert.equal(p.figures('support').waiting, 0);
    assert.equal(p.position('c1').position, 0);
  });

  it('puts a handled agent through wrap-up and reports the handle time', () => {
    const p = pool(['a1'], { reservationTimeoutMs: 60_000, wrapUpMs: 5_000 });
    p.request('c1', 'support', 1);
    p.match(T0);
    p.markBusy('a1', 'c1', T0 + 1_000);
    assert.deepEqual(p.release('a1', 'c1', 'handled', T0 + 91_000), { handledMs: 90_000 });
    assert.equal(p.get('a1')?.state, 'wrap-up');
    assert.equal(p.nextDeadline(), T0 + 96_000);
    p.expire(T0 + 96_000);
    assert.equal(p.get('a1')?.state, 'ready');
  });

  it('makes an agent who did not answer not ready, and takes back an unsettled reservation', () => {
    const p = pool(['a1', 'a2']);
    p.request('c1', 'support', 1);
    p.request('c2', 'support', 1);
    p.match(T0);
    p.release('a1', 'c1', 'no-answer', T0 + 1);
    assert.equal(p.get('a1')?.state, 'not-ready');
    assert.deepEqual(p.expire(T0 + 60_000), [{ agentId: 'a2', callbackId: 'c2' }]);
    assert.equal(p.get('a2')?.state, 'ready');
  });

  it('ignores a release from a callback that does not hold the agent', () => {
    const p = pool(['a1']);
    p.request('c1', 'support', 1);
    p.match(T0);
    assert.deepEqual(p.release('a1', 'someone-else', 'unused', T0), {});
    assert.equal(p.get('a1')?.state, 'reserved');
  });

  it('refuses state changes of an engaged agent and grants nobody an unreachable one', () => {
    const p = pool(['a1']);
    p.setReachable('a1', false);
    p.request('c1', 'support', 1);
    assert.deepEqual(p.match(T0), []);
    p.setReachable('a1', true);
    assert.equal(p.match(T0).length, 1);
    assert.equal(p.command('a1', 'not-ready', T0), false);
    assert.equal(p.command('a1', 'sign-out', T0), false);
    assert.equal(p.command('nobody', 'ready', T0), false);
  });

  it('signs agents in as not ready, then ready', () => {
    const p = new AgentPool({ reservationTimeoutMs: 1000, wrapUpMs: 0 });
    p.addAgent({ id: 'a1', endpoint: 'SIM/a1', groups: ['support'] }, T0);
    assert.equal(p.get('a1')?.state, 'signed-out');
    assert.equal(p.figures('support').signedIn, 0);
    p.command('a1', 'sign-in', T0);
    assert.equal(p.get('a1')?.state, 'not-ready');
    p.command('a1', 'ready', T0);
    assert.deepEqual(p.figures('support'), {
      ready: 1,
      busy: 0,
      reserved: 0,
      signedIn: 1,
      waiting: 0,
    });
    assert.ok(p.hasTarget('support'));
    assert.ok(!p.hasTarget('sales'));
  });

  it('restores a reservation a durable session still holds after a restart', () => {
    const p = pool(['a1']);
    p.request('c1', 'support', 1);
    assert.equal(p.restore('a1', 'c1', true, T0), true);
    assert.equal(p.get('a1')?.state, 'busy');
    assert.equal(p.figures('support').waiting, 0, 'the restored callback left the queue');
    assert.equal(p.restore('a1', 'c2', false, T0), false, 'the agent belongs to c1');
    assert.deepEqual(p.holdings(), [{ agentId: 'a1', callbackId: 'c1', state: 'busy', since: T0 }]);
  });
});
