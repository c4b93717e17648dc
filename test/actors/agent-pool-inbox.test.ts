// The agent pool's inbox: a burst of requests sent in one task is granted right after that task,
// in order, not one nact turn (one event-loop turn) per request; once closed it takes nothing.

import { strict as assert } from 'node:assert';
import { EwtBoard, spawnAgentPool, type PoolDeps } from '../../src/actors/agent-pool-actor';
import { VirtualClock } from '../../src/clock';
import { AgentPool, type Grant } from '../../src/domain/agent-pool';
import { silentLogger } from '../../src/logger';

const T0 = Date.UTC(2030, 0, 7, 9);

function setup(agents: number, stillHeld?: PoolDeps['stillHeld']) {
  const clock = new VirtualClock(T0);
  const pool = new AgentPool({ reservationTimeoutMs: 60_000, wrapUpMs: 0 });
  for (let i = 1; i <= agents; i++)
    pool.addAgent({ id: `a${i}`, endpoint: `PJSIP/a${i}`, groups: ['t'] }, T0, 'ready');
  const granted: Grant[] = [];
  const inbox = spawnAgentPool({
    pool,
    clock,
    logger: silentLogger(),
    granted: (g) => granted.push(g),
    lost: () => undefined,
    stillHeld: stillHeld ?? ((held) => new Set(held.map((h) => h.callbackId))),
    ewt: new EwtBoard(),
    reconcileEveryMs: 30_000,
    defaultHandleMs: 180_000,
  });
  return { inbox, granted, pool, clock };
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('agent pool inbox', function () {
  it('grants twenty requests sent in one task before the next event-loop turn, in order', async function () {
    const { inbox, granted } = setup(20);
    try {
      for (let i = 1; i <= 20; i++)
        inbox.send({ type: 'request', callbackId: `cb${i}`, target: 't', priority: 0 });
      assert.equal(granted.length, 0, 'never inside the sender’s own call');
      await Promise.resolve();
      assert.equal(granted.length, 20);
      assert.deepEqual(
        granted.map((g) => g.callbackId),
        Array.from({ length: 20 }, (_, i) => `cb${i + 1}`),
      );
      assert.equal(new Set(granted.map((g) => g.agentId)).size, 20, 'one agent each');
    } finally {
      inbox.close();
    }
  });

  it('handles a withdraw sent after its request in the same task: nothing is granted', async function () {
    const { inbox, granted } = setup(1);
    try {
      inbox.send({ type: 'request', callbackId: 'cb1', target: 't', priority: 0 });
      inbox.send({ type: 'withdraw', callbackId: 'cb1' });
      await nextTurn();
      assert.deepEqual(granted, []);
    } finally {
      inbox.close();
    }
  });

  it('reconciles every settled holding in one question and releases the agents nobody holds', async function () {
    const asked: string[][] = [];
    const { inbox, pool, clock } = setup(3, (held) => {
      asked.push(held.map((h) => h.callbackId));
      return new Set(['cb1']);
    });
    try {
      inbox.send({ type: 'request', callbackId: 'cb1', target: 't', priority: 0 });
      inbox.send({ type: 'request', callbackId: 'cb2', target: 't', priority: 0 });
      await nextTurn();
      clock.advanceTo(T0 + 30_000);
      inbox.send({ type: 'request', callbackId: 'cb3', target: 't', priority: 0 });
      inbox.send({ type: 'reconcile' });
      await nextTurn();
      assert.deepEqual(asked, [['cb1', 'cb2']], 'the fresh grant of cb3 is not asked about');
      const holders = new Map(pool.holdings().map((h) => [h.callbackId, h.agentId]));
      assert.deepEqual([...holders.keys()].sort(), ['cb1', 'cb3'], 'cb2’s agent was released');
      assert.equal(pool.figures('t').ready, 1);
    } finally {
      inbox.close();
    }
  });

  it('ignores what is sent once closed (the engine stopped)', async function () {
    const { inbox, granted } = setup(1);
    inbox.close();
    await nextTurn();
    await nextTurn();
    inbox.send({ type: 'request', callbackId: 'cb1', target: 't', priority: 0 });
    await nextTurn();
    assert.deepEqual(granted, []);
  });
});
