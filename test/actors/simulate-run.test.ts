// A small simulated day through the real runner (Engine, simulator, virtual clock, scratch
// store): every booking is accounted for, every accepted callback ends, and the same seed gives
// the same day.

import { strict as assert } from 'node:assert';
import { runSimulation } from '../../src/simulate/run';
import { loadScenario } from '../../src/simulate/scenario';

describe('simulated day', () => {
  it('accounts for every booking, ends every callback and repeats itself for one seed', async () => {
    const scenario = loadScenario({ bookings: 300, agents: 4, handleS: 120 });
    const a = await runSimulation(scenario);
    const refused = Object.values(a.rejected).reduce((x, y) => x + y, 0);
    assert.equal(a.bookingsTried, 300);
    assert.equal(a.outcomes.length + refused, 300, 'accepted plus refused is every booking');
    assert.ok(a.outcomes.length > 0);
    const open = a.outcomes.filter((o) => o.reason.startsWith('open'));
    assert.deepEqual(open, [], 'no callback is left open after the drain');
    const connected = a.outcomes.filter((o) => o.reason === 'AGENT_CONNECTED');
    assert.ok(connected.length > 0, 'agents took calls');
    for (const o of connected) assert.ok(o.bridgedAt !== null && o.bridgedAt >= o.createdAt);

    const b = await runSimulation(scenario);
    assert.equal(b.steps, a.steps);
    assert.deepEqual(
      b.outcomes.map((o) => [o.scheduled, o.createdAt, o.reason, o.dialAttempts]),
      a.outcomes.map((o) => [o.scheduled, o.createdAt, o.reason, o.dialAttempts]),
    );
    assert.deepEqual(b.rejected, a.rejected);
  });

  it('comes out the same whether idle sessions stop after 30 s or stay in memory', async () => {
    const scenario = loadScenario({ bookings: 300, agents: 4, handleS: 120 });
    const kept = await runSimulation(scenario);
    const stopped = await runSimulation(scenario, { sessionIdleMs: 30_000 });
    const day = (r: typeof kept): unknown[] =>
      r.outcomes.map((o) => [
        o.scheduled,
        o.createdAt,
        o.startedAt,
        o.customerAnsweredAt,
        o.bridgedAt,
        o.reason,
        o.dialAttempts,
      ]);
    assert.deepEqual(day(kept), day(stopped));
    assert.deepEqual(kept.occupancy, stopped.occupancy);
    assert.deepEqual(kept.slots, stopped.slots);
    // Each idle stop had a timer, and so a clock step, of its own.
    assert.ok(kept.steps < stopped.steps, `${kept.steps} steps against ${stopped.steps}`);
  });
});
