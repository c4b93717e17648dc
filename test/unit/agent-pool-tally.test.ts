// The agent pool keeps its figures, targets and deadlines up to date incrementally: after any
// sequence of operations they must equal a plain recount over the agents.

import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { AgentPool, type TargetFigures } from '../../src/domain/agent-pool';

const T0 = Date.UTC(2030, 0, 7, 9);
const AGENTS = ['a1', 'a2', 'a3', 'a4'];
const TARGETS = ['sales', 'support', 'vip'];
const CALLBACKS = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];

type Op =
  | { op: 'request'; cb: string; target: string; priority: number }
  | { op: 'withdraw'; cb: string }
  | { op: 'match' }
  | { op: 'release'; agent: string; cb: string; outcome: 'unused' | 'handled' | 'no-answer' }
  | { op: 'busy'; agent: string; cb: string }
  | { op: 'command'; agent: string; cmd: 'sign-in' | 'sign-out' | 'ready' | 'not-ready' }
  | { op: 'reachable'; agent: string; reachable: boolean }
  | { op: 'restore'; agent: string; cb: string; busy: boolean }
  | { op: 'regroup'; agent: string; groups: string[] }
  | { op: 'expire' };

const agent = fc.constantFrom(...AGENTS);
const cb = fc.constantFrom(...CALLBACKS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('request' as const),
    cb,
    target: fc.constantFrom(...TARGETS),
    priority: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({ op: fc.constant('withdraw' as const), cb }),
  fc.record({ op: fc.constant('match' as const) }),
  fc.record({
    op: fc.constant('release' as const),
    agent,
    cb,
    outcome: fc.constantFrom('unused' as const, 'handled' as const, 'no-answer' as const),
  }),
  fc.record({ op: fc.constant('busy' as const), agent, cb }),
  fc.record({
    op: fc.constant('command' as const),
    agent,
    cmd: fc.constantFrom(
      'sign-in' as const,
      'sign-out' as const,
      'ready' as const,
      'not-ready' as const,
    ),
  }),
  fc.record({ op: fc.constant('reachable' as const), agent, reachable: fc.boolean() }),
  fc.record({ op: fc.constant('restore' as const), agent, cb, busy: fc.boolean() }),
  fc.record({
    op: fc.constant('regroup' as const),
    agent,
    groups: fc.subarray(TARGETS, { minLength: 1 }),
  }),
  fc.record({ op: fc.constant('expire' as const) }),
);

/** The figures recounted from the agents' views (reachability is tracked on the side). */
function recount(
  p: AgentPool,
  target: string,
  reachable: Map<string, boolean>,
): Omit<TargetFigures, 'waiting'> {
  const f = { ready: 0, busy: 0, reserved: 0, signedIn: 0 };
  for (const a of p.list()) {
    if (!a.groups.includes(target) || a.state === 'signed-out') continue;
    f.signedIn++;
    if (a.state === 'ready' && reachable.get(a.id) !== false) f.ready++;
    else if (a.state === 'busy' || a.state === 'wrap-up') f.busy++;
    else if (a.state === 'reserved') f.reserved++;
  }
  return f;
}

describe('agent pool figures', () => {
  it('match a recount over the agents after any sequence of operations', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const p = new AgentPool({ reservationTimeoutMs: 30_000, wrapUpMs: 5_000 });
        AGENTS.forEach((id, i) =>
          p.addAgent(
            { id, endpoint: `SIM/${id}`, groups: [TARGETS[i % 2]] },
            T0,
            i % 2 ? 'ready' : 'signed-out',
          ),
        );
        const reachable = new Map<string, boolean>();
        const deadlines = new Map<string, number>();
        const targetOf = new Map<string, string>();
        let now = T0;
        for (const o of ops) {
          now += 7_000;
          switch (o.op) {
            case 'request':
              if (p.position(o.cb).position === 0) targetOf.set(o.cb, o.target);
              p.request(o.cb, o.target, o.priority);
              break;
            case 'withdraw':
              p.withdraw(o.cb);
              break;
            case 'match': {
              const before = p.list();
              const taken = new Set<string>();
              for (const g of p.match(now)) {
                deadlines.set(g.agentId, now + 30_000);
                // Each grant goes to the longest-idle agent still free for its target.
                const target = targetOf.get(g.callbackId)!;
                const free = before.filter(
                  (a) =>
                    a.state === 'ready' &&
                    reachable.get(a.id) !== false &&
                    a.groups.includes(target) &&
                    !taken.has(a.id),
                );
                const longest = Math.min(...free.map((a) => a.since));
                assert.equal(free.find((a) => a.id === g.agentId)?.since, longest);
                taken.add(g.agentId);
              }
              // And nobody is left waiting while an agent of its target is free.
              for (const c of CALLBACKS) {
                const t = p.position(c).target;
                if (t) assert.equal(recount(p, t, reachable).ready, 0, `${c} waits for ${t}`);
              }
              break;
            }
            case 'release':
              p.release(o.agent, o.cb, o.outcome, now);
              break;
            case 'busy':
              p.markBusy(o.agent, o.cb, now);
              break;
            case 'command':
              p.command(o.agent, o.cmd, now);
              break;
            case 'reachable':
              p.setReachable(o.agent, o.reachable);
              reachable.set(o.agent, o.reachable);
              break;
            case 'restore':
              p.restore(o.agent, o.cb, o.busy, now);
              break;
            case 'regroup':
              p.addAgent({ id: o.agent, endpoint: `SIM/${o.agent}`, groups: o.groups }, now);
              break;
            case 'expire':
              p.expire(now);
              break;
          }
          for (const t of TARGETS) {
            const { waiting, ...tally } = p.figures(t);
            assert.deepEqual(tally, recount(p, t, reachable), `figures of ${t} after ${o.op}`);
            assert.ok(waiting >= 0);
          }
          const expected = new Set(p.list().flatMap((a) => a.groups));
          for (const c of CALLBACKS) {
            const pos = p.position(c);
            if (pos.target) expected.add(pos.target);
          }
          assert.deepEqual(new Set(p.targets()), expected, `targets after ${o.op}`);
          const timed = p.list().filter((a) => a.state === 'reserved' || a.state === 'wrap-up');
          assert.equal(p.nextDeadline() === undefined, timed.length === 0, 'deadline presence');
        }
      }),
      { numRuns: 300 },
    );
  });
});
