// The simulator runs the telephony contract on virtual time, then the behaviours only a
// simulator has: scripts per attempt, seeded randomness, handle times, the dial log, outages.

import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { VirtualClock } from '../../src/clock';
import type { DialableNumber } from '../../src/domain/phone';
import type { TelephonyEvent } from '../../src/telephony/port';
import {
  KEEP_ENDED_CALLS,
  simulatorOptionsFromConfig,
} from '../../src/telephony/simulator/from-config';
import {
  SimulatorTelephony,
  isTelephonyError,
  mulberry32,
  scriptedCustomers,
  type CustomerBehaviour,
  type SimAgent,
  type SimulatorOptions,
} from '../../src/telephony/simulator/simulator-adapter';
import { advance, settle } from '../helpers/settle';
import { telephonyContract, type ContractHarness } from './contract';

const n = (s: string): DialableNumber => s as DialableNumber;

const HUMAN = n('+15550000001');
const MACHINE = n('+15550000002');
const BUSY = n('+15550000003');
const ABSENT = n('+15550000004');

const AGENT: SimAgent = {
  id: 'agent1',
  endpoint: 'PJSIP/agent1',
  answerAfterMs: 1000,
  answers: true,
};
const DEAF: SimAgent = { id: 'agent9', endpoint: 'PJSIP/agent9', answerAfterMs: 0, answers: false };

const human = (
  answerAfterMs = 3000,
  amdAfterMs = 1500,
  hangUpAfterMs?: number,
): CustomerBehaviour => ({
  kind: 'human',
  answerAfterMs,
  amdAfterMs,
  ...(hangUpAfterMs !== undefined ? { hangUpAfterMs } : {}),
});

interface SimWorld {
  clock: VirtualClock;
  sim: SimulatorTelephony;
  seen: TelephonyEvent[];
  waitFor(predicate: (e: TelephonyEvent) => boolean, timeoutMs: number): Promise<TelephonyEvent>;
  pass(ms: number): Promise<void>;
}

function world(extra: Partial<SimulatorOptions> = {}): SimWorld {
  const clock = new VirtualClock();
  const sim = new SimulatorTelephony({
    clock,
    customers: scriptedCustomers({
      [HUMAN]: human(),
      [MACHINE]: { kind: 'machine', answerAfterMs: 2000, amdAfterMs: 3500 },
      [BUSY]: { kind: 'busy', afterMs: 200 },
      [ABSENT]: { kind: 'no-answer' },
    }),
    agents: [AGENT, DEAF],
    ...extra,
  });
  const seen: TelephonyEvent[] = [];
  sim.subscribe((e) => seen.push(e));
  return {
    clock,
    sim,
    seen,
    async waitFor(predicate, timeoutMs) {
      const deadline = clock.now() + timeoutMs;
      await settle(5);
      for (;;) {
        const hit = seen.find(predicate);
        if (hit) return hit;
        const next = clock.nextDue();
        if (next === undefined || next > deadline)
          throw new Error(`no matching event within ${timeoutMs} ms of virtual time`);
        clock.advanceTo(next);
        await settle(5);
      }
    },
    pass: (ms) => advance(clock, ms),
  };
}

const dial = (sim: SimulatorTelephony, callId: string, number: DialableNumber, amd = true) =>
  sim.dialCustomer({
    callId,
    callbackId: callId.replace(/-c\d+$/, ''),
    number,
    amd,
    timeoutMs: 30_000,
  });

const dialAgent = (sim: SimulatorTelephony, callId: string, agent: SimAgent, timeoutMs = 30_000) =>
  sim.dialAgent({
    callId,
    callbackId: callId.replace(/-a\d+$/, ''),
    agentId: agent.id,
    endpoint: agent.endpoint,
    timeoutMs,
  });

const of = (seen: TelephonyEvent[], callId: string) =>
  seen.filter((e) => 'callId' in e && e.callId === callId);

telephonyContract('simulator', async (): Promise<ContractHarness> => {
  const w = world();
  await w.sim.start();
  return {
    port: w.sim,
    numbers: { human: HUMAN, machine: MACHINE, busy: BUSY, absent: ABSENT },
    agents: { answering: [AGENT], noAnswer: DEAF },
    events: () => w.seen,
    waitFor: w.waitFor,
    pass: w.pass,
    now: () => w.clock.now(),
    cleanup: () => w.sim.stop(),
    timeouts: { ring: 30_000, answer: 60_000, command: 1000 },
  };
});

describe('simulator telephony', function () {
  let w: SimWorld;
  beforeEach(async function () {
    w = world();
    await w.sim.start();
  });
  afterEach(async function () {
    await w.sim.stop();
  });

  describe('timing and order', function () {
    it('emits nothing until the clock moves', async function () {
      await dial(w.sim, 'cb1-c1', HUMAN);
      await settle();
      assert.deepEqual(w.seen, []);
    });

    it('rings first and answers after the answer delay plus the AMD delay', async function () {
      const t0 = w.clock.now();
      await dial(w.sim, 'cb1-c1', HUMAN);
      await w.pass(10_000);
      const mine = of(w.seen, 'cb1-c1');
      assert.deepEqual(
        mine.map((e) => [e.type, e.at - t0]),
        [
          ['call.ringing', 100],
          ['call.answered', 4500],
        ],
      );
      const answered = mine[1];
      assert.ok(answered.type === 'call.answered');
      assert.equal(answered.amdCause, 'HUMAN-800-800');
    });

    it('answers at the answer delay when AMD is off', async function () {
      const t0 = w.clock.now();
      await dial(w.sim, 'cb1-c1', HUMAN, false);
      const e = await w.waitFor((x) => x.type === 'call.answered', 10_000);
      assert.equal(e.at - t0, 3000);
    });

    it('gives up at the request timeout when the customer would answer later', async function () {
      const sim = world({ defaultCustomer: human(40_000) });
      await sim.sim.start();
      const t0 = sim.clock.now();
      await dial(sim.sim, 'cb1-c1', n('+15559999999'));
      const e = await sim.waitFor((x) => x.type === 'call.failed', 60_000);
      assert.ok(e.type === 'call.failed');
      assert.equal(e.failure, 'no-answer');
      assert.equal(e.at - t0, 30_000);
      await sim.sim.stop();
    });

    it('reports each failure with its Q.850 cause and rings only where a phone would', async function () {
      const sim = world({
        customers: scriptedCustomers({
          '+1001': { kind: 'rejected', afterMs: 4000 },
          '+1002': { kind: 'unreachable', afterMs: 10 },
          '+1003': { kind: 'congestion', afterMs: 10 },
          '+1004': { kind: 'busy', afterMs: 10 },
        }),
      });
      await sim.sim.start();
      for (const i of [1, 2, 3, 4]) await dial(sim.sim, `x${i}-c1`, n(`+100${i}`));
      await sim.pass(60_000);
      const outcome = (id: string) =>
        of(sim.seen, id).map((e) =>
          e.type === 'call.failed' ? `${e.failure}/${e.cause}` : e.type,
        );
      assert.deepEqual(outcome('x1-c1'), ['call.ringing', 'rejected/21']);
      assert.deepEqual(outcome('x2-c1'), ['unreachable/3']);
      assert.deepEqual(outcome('x3-c1'), ['congestion/34']);
      assert.deepEqual(outcome('x4-c1'), ['busy/17']);
      await sim.sim.stop();
    });
  });

  describe('scripted customers', function () {
    it('follows the script attempt by attempt: machine first, then human', async function () {
      const sim = world({
        customers: scriptedCustomers(
          new Map([
            [
              '+1555',
              [
                { kind: 'machine', answerAfterMs: 1000, amdAfterMs: 2000 },
                human(1000, 1000),
              ] as CustomerBehaviour[],
            ],
          ]),
        ),
      });
      await sim.sim.start();
      const verdict = async (callId: string) => {
        await dial(sim.sim, callId, n('+1555'));
        const e = await sim.waitFor(
          (x) => x.type === 'call.answered' && x.callId === callId,
          60_000,
        );
        return e.type === 'call.answered' ? e.amd : undefined;
      };
      assert.equal(await verdict('cbA-c1'), 'MACHINE');
      assert.equal(await verdict('cbA-c2'), 'HUMAN');
      assert.equal(await verdict('cbA-c3'), 'HUMAN', 'the last entry repeats');
      assert.equal(await verdict('cbB-c1'), 'MACHINE', 'another callback starts at attempt 1');
      await sim.sim.stop();
    });

    it('reports a customer who hangs up during AMD as call.ended without an answer', async function () {
      const sim = world({ defaultCustomer: human(1000, 1500, 500) });
      await sim.sim.start();
      const t0 = sim.clock.now();
      await dial(sim.sim, 'cb1-c1', n('+1777'));
      await sim.pass(10_000);
      assert.deepEqual(
        of(sim.seen, 'cb1-c1').map((e) => [e.type, e.at - t0]),
        [
          ['call.ringing', 100],
          ['call.ended', 1500],
        ],
      );
      await sim.sim.stop();
    });

    it('lets an answered customer hang up after their talk time', async function () {
      const sim = world({ defaultCustomer: human(1000, 1500, 20_000) });
      await sim.sim.start();
      const t0 = sim.clock.now();
      await dial(sim.sim, 'cb1-c1', n('+1777'));
      const e = await sim.waitFor((x) => x.type === 'call.ended', 60_000);
      assert.equal(e.at - t0, 21_000);
      assert.equal((await sim.sim.getCall('cb1-c1'))?.status, 'ended');
      await sim.sim.stop();
    });
  });

  describe('random mode', function () {
    const outcomes = async (seed: number): Promise<string[]> => {
      const sim = world({
        customers: undefined,
        rng: mulberry32(seed),
        random: { human: 0.5, machine: 0.2, busy: 0.1, noAnswer: 0.1, congestion: 0.1 },
      });
      await sim.sim.start();
      const t0 = sim.clock.now();
      for (let i = 0; i < 60; i++) await dial(sim.sim, `r${i}-c1`, n(`+1666${i}`));
      await sim.pass(120_000);
      await sim.sim.stop();
      return sim.seen
        .filter((e) => e.type !== 'call.ringing')
        .map((e) =>
          e.type === 'call.answered'
            ? `${e.callId}:${e.amd}@${e.at - t0}`
            : e.type === 'call.failed'
              ? `${e.callId}:${e.failure}@${e.at - t0}`
              : e.type,
        );
    };

    it('replays exactly with the same seed', async function () {
      const a = await outcomes(42);
      const b = await outcomes(42);
      assert.equal(a.length, 60);
      assert.deepEqual(a, b);
    });

    it('draws a different day with another seed, using every configured kind', async function () {
      const a = await outcomes(42);
      const c = await outcomes(7);
      assert.notDeepEqual(a, c);
      const kinds = new Set(a.map((s) => s.split(':')[1].split('@')[0]));
      for (const k of ['HUMAN', 'MACHINE', 'busy', 'no-answer', 'congestion'])
        assert.ok(kinds.has(k), k);
    });

    it('lets a script override the random draw for the numbers it names', async function () {
      const sim = world({
        rng: mulberry32(3),
        random: { human: 0, machine: 0, busy: 1, noAnswer: 0 },
      });
      await sim.sim.start();
      await dial(sim.sim, 's1-c1', HUMAN);
      await dial(sim.sim, 's2-c1', n('+1888'));
      await sim.pass(60_000);
      assert.equal(of(sim.seen, 's1-c1').at(-1)?.type, 'call.answered');
      const other = of(sim.seen, 's2-c1').at(-1);
      assert.equal(other?.type === 'call.failed' && other.failure, 'busy');
      await sim.sim.stop();
    });
  });

  describe('agents', function () {
    const connect = async (sim: SimWorld, agent: SimAgent) => {
      await dial(sim.sim, 'cb1-c1', HUMAN);
      await sim.waitFor((e) => e.type === 'call.answered' && e.callId === 'cb1-c1', 60_000);
      await dialAgent(sim.sim, 'cb1-a1', agent);
      await sim.waitFor((e) => e.type === 'call.answered' && e.callId === 'cb1-a1', 60_000);
      await sim.sim.bridge('cb1-b', ['cb1-c1', 'cb1-a1']);
      return sim.waitFor((e) => e.type === 'bridge.joined', 1000);
    };

    it('hangs the agent up after the handle time and leaves the customer leg to the engine', async function () {
      const agent: SimAgent = {
        ...AGENT,
        id: 'agent5',
        endpoint: 'PJSIP/agent5',
        handleTimeMs: 5000,
      };
      w.sim.addAgent(agent);
      const joined = await connect(w, agent);
      const ended = await w.waitFor((e) => e.type === 'call.ended', 60_000);
      assert.ok(ended.type === 'call.ended');
      assert.equal(ended.callId, 'cb1-a1');
      assert.equal(ended.at - joined.at, 5000);
      await w.pass(60_000);
      assert.equal(
        of(w.seen, 'cb1-c1').some((e) => e.type === 'call.ended'),
        false,
      );
      assert.deepEqual(await w.sim.getCall('cb1-c1'), {
        callId: 'cb1-c1',
        status: 'bridged',
        bridgeId: 'cb1-b',
      });
      assert.equal(w.sim.activeCallCount(), 1);
    });

    it('reports presence changes and fails calls to an unregistered agent as unreachable', async function () {
      assert.equal(w.sim.setAgentPresence('agent1', false), true);
      assert.equal(w.sim.setAgentPresence('nobody', false), false);
      await w.pass(0);
      assert.deepEqual(
        w.seen
          .filter((e) => e.type === 'agent.presence')
          .map((e) => e.type === 'agent.presence' && [e.agentId, e.available]),
        [['agent1', false]],
      );
      await dialAgent(w.sim, 'cb1-a1', AGENT);
      const e = await w.waitFor((x) => x.type === 'call.failed', 1000);
      assert.equal(e.type === 'call.failed' && `${e.failure}/${e.cause}`, 'unreachable/3');
    });

    it('announces added and removed agents, and a removed agent cannot be reached', async function () {
      const extra: SimAgent = {
        id: 'agent7',
        endpoint: 'PJSIP/agent7',
        answerAfterMs: 500,
        answers: true,
      };
      w.sim.addAgent(extra);
      await w.pass(0);
      assert.ok(w.sim.agents().some((a) => a.id === 'agent7'));
      assert.equal(w.sim.removeAgent('agent7'), true);
      assert.equal(w.sim.removeAgent('agent7'), false);
      await w.pass(0);
      assert.deepEqual(
        w.seen.map((e) => e.type === 'agent.presence' && `${e.agentId}:${e.available}`),
        ['agent7:true', 'agent7:false'],
      );
      await dialAgent(w.sim, 'cb1-a1', extra);
      const e = await w.waitFor((x) => x.type === 'call.failed', 1000);
      assert.equal(e.type === 'call.failed' && `${e.failure}/${e.cause}`, 'unreachable/1');
    });

    it('answers an agent already on a call with busy', async function () {
      await dialAgent(w.sim, 'cb1-a1', AGENT);
      await dialAgent(w.sim, 'cb2-a1', AGENT);
      const e = await w.waitFor((x) => x.type === 'call.failed', 1000);
      assert.equal(
        e.type === 'call.failed' && `${e.callId} ${e.failure}/${e.cause}`,
        'cb2-a1 busy/17',
      );
      // Once the agent's call is over, the agent can be rung again.
      await w.sim.hangup('cb1-a1');
      await dialAgent(w.sim, 'cb3-a1', AGENT);
      const next = await w.waitFor(
        (x) => (x.type === 'call.failed' || x.type === 'call.ringing') && x.callId === 'cb3-a1',
        1000,
      );
      assert.equal(next.type, 'call.ringing');
    });

    it('does not hang up the other leg when a bridged customer hangs up', async function () {
      await connect(w, AGENT);
      assert.equal(w.sim.remoteHangup('cb1-c1'), true);
      await w.pass(0);
      assert.deepEqual(
        w.seen
          .filter((e) => e.type === 'call.ended')
          .map((e) => e.type === 'call.ended' && e.callId),
        ['cb1-c1'],
      );
      assert.equal((await w.sim.getCall('cb1-a1'))?.status, 'bridged');
      assert.equal(w.sim.remoteHangup('cb1-c1'), false, 'an ended call cannot hang up again');
    });

    it('refuses to bridge a call that is still ringing or already gone', async function () {
      await dial(w.sim, 'cb1-c1', ABSENT);
      await assert.rejects(w.sim.bridge('cb1-b', ['cb1-c1']), (e) =>
        isTelephonyError(e, 'CALL_NOT_ANSWERED'),
      );
      await assert.rejects(w.sim.bridge('cb1-b', ['nope']), (e) =>
        isTelephonyError(e, 'CALL_NOT_FOUND'),
      );
    });
  });

  describe('call ids and the dial log', function () {
    it('counts requests and real calls per call id', async function () {
      await dial(w.sim, 'cb1-c1', HUMAN);
      await dial(w.sim, 'cb1-c1', HUMAN);
      await dialAgent(w.sim, 'cb1-c1', AGENT);
      assert.equal(w.sim.dialRequests('cb1-c1'), 3);
      assert.equal(w.sim.dialCount('cb1-c1'), 1);
      assert.equal(w.sim.dialCount('cb9-c1'), 0);
      assert.equal(w.sim.calls().length, 1);
      assert.equal(w.sim.calls()[0].leg, 'customer');
      assert.equal(w.sim.activeCallCount(), 1);
    });

    it('appends one line per real dial before any event is scheduled', async function () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-sim-'));
      const log = path.join(dir, 'dials.log');
      try {
        const sim = world({ dialLogPath: log });
        await sim.sim.start();
        await dial(sim.sim, 'cb1-c1', HUMAN);
        assert.equal(fs.readFileSync(log, 'utf8'), 'cb1-c1\n', 'written at dial time');
        await dial(sim.sim, 'cb1-c1', HUMAN);
        await dialAgent(sim.sim, 'cb1-a1', AGENT);
        await dial(sim.sim, 'cb2-c1', BUSY);
        await sim.pass(60_000);
        await dial(sim.sim, 'cb2-c1', BUSY);
        assert.deepEqual(fs.readFileSync(log, 'utf8').split('\n'), [
          'cb1-c1',
          'cb1-a1',
          'cb2-c1',
          '',
        ]);
        await sim.sim.stop();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('ended calls kept (keepEndedCalls)', function () {
    it('keeps every ended call by default', async function () {
      const sim = world();
      await sim.sim.start();
      for (let i = 1; i <= 5; i++) await dial(sim.sim, `cb${i}-c1`, BUSY);
      await sim.pass(60_000);
      assert.equal(sim.sim.calls().length, 5);
      assert.equal(sim.sim.dialCount('cb1-c1'), 1);
      await sim.sim.stop();
    });

    it('forgets the oldest ended calls past the bound, and their requests, never a live call', async function () {
      const sim = world({ keepEndedCalls: 2 });
      await sim.sim.start();
      await dial(sim.sim, 'live-c1', ABSENT);
      for (let i = 1; i <= 4; i++) {
        await dial(sim.sim, `cb${i}-c1`, BUSY);
        await sim.pass(1000);
      }
      await dial(sim.sim, 'cb4-c1', BUSY);
      assert.deepEqual(
        sim.sim
          .calls()
          .map((c) => c.callId)
          .sort(),
        ['cb3-c1', 'cb4-c1', 'live-c1'],
      );
      assert.equal(sim.sim.dialCount('cb1-c1'), 0);
      assert.equal(sim.sim.dialRequests('cb1-c1'), 0);
      assert.equal(sim.sim.dialRequests('cb4-c1'), 2, 'a kept call still counts its requests');
      assert.equal(sim.sim.dialCount('cb4-c1'), 1, 'and still refuses a second dial');
      assert.equal(sim.sim.activeCallCount(), 1);
      await sim.sim.stop();
    });

    it("forgets a callback's attempt count with its last forgotten call, not before", async function () {
      const sim = world({
        keepEndedCalls: 1,
        customers: scriptedCustomers(
          new Map([['+1555', [{ kind: 'busy', afterMs: 100 }, human(1000, 1000)]]]),
        ),
      });
      await sim.sim.start();
      const outcome = async (callId: string): Promise<string | undefined> => {
        await dial(sim.sim, callId, n('+1555'));
        const e = await sim.waitFor(
          (x) => (x.type === 'call.answered' || x.type === 'call.failed') && x.callId === callId,
          60_000,
        );
        return e.type === 'call.answered' ? e.amd : e.type === 'call.failed' ? e.failure : '';
      };
      assert.equal(await outcome('cbA-c1'), 'busy');
      assert.equal(await outcome('cbA-c2'), 'HUMAN', 'second attempt; the call stays up');
      assert.equal(await outcome('cbB-c1'), 'busy', 'its end forgets cbA-c1');
      assert.equal(sim.sim.dialCount('cbA-c1'), 0);
      await sim.sim.hangup('cbA-c2');
      assert.equal(sim.sim.dialCount('cbB-c1'), 0, 'the end of cbA-c2 forgets cbB-c1');
      assert.equal(await outcome('cbA-c3'), 'HUMAN', "cbA's count outlived cbA-c1: attempt 3");
      assert.equal(await outcome('cbB-c2'), 'busy', "cbB's count went with its only call");
      await sim.sim.stop();
    });

    it('is bounded in a service built from the config file', function () {
      const opts = simulatorOptionsFromConfig({}, [], { clock: new VirtualClock() });
      assert.equal(opts.keepEndedCalls, KEEP_ENDED_CALLS);
      assert.ok(KEEP_ENDED_CALLS > 0 && Number.isFinite(KEEP_ENDED_CALLS));
    });
  });

  describe('playback', function () {
    it('records what plays on a call until it is stopped or the call ends', async function () {
      await dial(w.sim, 'cb1-c1', HUMAN);
      await assert.rejects(w.sim.play('cb1-c1', 'sound:hold'), (e) =>
        isTelephonyError(e, 'CALL_NOT_ANSWERED'),
      );
      await w.waitFor((e) => e.type === 'call.answered', 60_000);
      await w.sim.play('cb1-c1', 'sound:queue-periodic-announce');
      assert.equal(w.sim.playing('cb1-c1'), 'sound:queue-periodic-announce');
      await w.sim.stopPlayback('cb1-c1');
      assert.equal(w.sim.playing('cb1-c1'), undefined);
      await w.sim.play('cb1-c1', 'sound:hold');
      await w.sim.hangup('cb1-c1');
      assert.equal(w.sim.playing('cb1-c1'), undefined);
      await w.sim.stopPlayback('unknown');
      await assert.rejects(w.sim.play('cb1-c1', 'sound:hold'), (e) =>
        isTelephonyError(e, 'CALL_NOT_FOUND'),
      );
    });
  });

  describe('connection loss', function () {
    it('rejects every command with TELEPHONY_DOWN while the connection is down', async function () {
      await dial(w.sim, 'cb1-c1', HUMAN);
      w.sim.setConnected(false);
      assert.equal(w.sim.isReady(), false);
      const down = (e: unknown) => isTelephonyError(e, 'TELEPHONY_DOWN');
      await assert.rejects(dial(w.sim, 'cb2-c1', HUMAN), down);
      await assert.rejects(dialAgent(w.sim, 'cb2-a1', AGENT), down);
      await assert.rejects(w.sim.bridge('cb2-b', ['cb1-c1']), down);
      await assert.rejects(w.sim.play('cb1-c1', 'sound:x'), down);
      await assert.rejects(w.sim.stopPlayback('cb1-c1'), down);
      await assert.rejects(w.sim.hangup('cb1-c1'), down);
      await assert.rejects(w.sim.getCall('cb1-c1'), down);
      assert.equal(w.sim.dialRequests('cb2-c1'), 0, 'a refused dial is not a call');
    });

    it('loses the events of the outage, like ARI, and tells the truth through getCall after', async function () {
      await dial(w.sim, 'cb1-c1', HUMAN);
      w.sim.setConnected(false);
      await w.pass(10_000);
      assert.deepEqual(
        w.seen.map((e) => e.type),
        ['connection.changed'],
      );
      assert.ok(w.sim.droppedEventCount() >= 2);
      w.sim.setConnected(true);
      assert.equal(w.sim.isReady(), true);
      await w.pass(0);
      const last = w.seen.at(-1);
      assert.ok(last?.type === 'connection.changed' && last.up);
      assert.equal((await w.sim.getCall('cb1-c1'))?.status, 'answered');
    });
  });

  describe('lifecycle', function () {
    it('is ready only between start and stop', async function () {
      const sim = new SimulatorTelephony({ clock: new VirtualClock() });
      assert.equal(sim.isReady(), false);
      await assert.rejects(dial(sim, 'cb1-c1', HUMAN), (e) =>
        isTelephonyError(e, 'TELEPHONY_DOWN'),
      );
      await sim.start();
      assert.equal(sim.isReady(), true);
      await sim.stop();
      assert.equal(sim.isReady(), false);
    });

    it('cancels all of its pending timers on stop', async function () {
      await dial(w.sim, 'cb1-c1', HUMAN);
      await dial(w.sim, 'cb2-c1', ABSENT);
      await dialAgent(w.sim, 'cb3-a1', AGENT);
      w.sim.setAgentPresence('agent9', false);
      assert.ok(w.clock.pending() > 0);
      await w.sim.stop();
      assert.equal(w.clock.pending(), 0);
      w.clock.advance(120_000);
      assert.deepEqual(w.seen, []);
    });

    it('cancels the far end of a call we hang up', async function () {
      await dial(w.sim, 'cb1-c1', HUMAN);
      await w.sim.hangup('cb1-c1');
      await w.pass(60_000);
      assert.deepEqual(
        of(w.seen, 'cb1-c1').map((e) => e.type),
        ['call.ended'],
      );
      assert.equal(w.clock.pending(), 0);
    });

    it('keeps delivering to other listeners when one throws, and stops after unsubscribe', async function () {
      const got: string[] = [];
      w.sim.subscribe(() => {
        throw new Error('listener bug');
      });
      const off = w.sim.subscribe((e) => got.push(e.type));
      await dial(w.sim, 'cb1-c1', HUMAN);
      await w.pass(200);
      assert.deepEqual(got, ['call.ringing']);
      off();
      await w.pass(60_000);
      assert.deepEqual(got, ['call.ringing']);
    });
  });

  describe('options from the config file', function () {
    it('builds scripted numbers, the default behaviour and agents with their handle time', async function () {
      const clock = new VirtualClock();
      const sim = new SimulatorTelephony(
        simulatorOptionsFromConfig(
          {
            answer_delay_ms: 1000,
            amd_delay_ms: 500,
            handle_time_ms: 7000,
            default_behaviour: 'machine',
            numbers: { '+1444': 'busy' },
          },
          [{ id: 'a1', endpoint: 'PJSIP/a1' }],
          { clock },
        ),
      );
      await sim.start();
      const seen: TelephonyEvent[] = [];
      sim.subscribe((e) => seen.push(e));
      await dial(sim, 'k1-c1', n('+1444'));
      await dial(sim, 'k2-c1', n('+1445'));
      clock.advance(10_000);
      const last = (id: string) => {
        const e = of(seen, id).at(-1);
        return e?.type === 'call.failed'
          ? e.failure
          : e?.type === 'call.answered'
            ? e.amd
            : e?.type;
      };
      assert.equal(last('k1-c1'), 'busy');
      assert.equal(last('k2-c1'), 'MACHINE');
      assert.equal(sim.agents()[0].handleTimeMs, 7000);
      await sim.stop();
    });
  });
});
