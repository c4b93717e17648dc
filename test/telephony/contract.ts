// The one telephony contract suite: every adapter (the simulator here, Asterisk in the lab)
// must pass it. It speaks only through the harness and the port, and holds no timing of its
// own: a virtual-time harness advances its clock, a real one waits on the wall clock.

import { strict as assert } from 'node:assert';
import type { DialableNumber } from '../../src/domain/phone';
import type { TelephonyEvent, TelephonyPort } from '../../src/telephony/port';

export interface ContractAgent {
  id: string;
  endpoint: string;
}

export interface ContractHarness {
  port: TelephonyPort;
  numbers: {
    /** Answers and sounds like a person. */
    human: DialableNumber;
    /** Answers with a long voicemail greeting. */
    machine: DialableNumber;
    busy: DialableNumber;
    /** Nobody there: rings until the timeout. */
    absent: DialableNumber;
  };
  agents: { answering: ContractAgent[]; noAnswer: ContractAgent };
  /** Every event the port emitted since the harness was made, in order. */
  events(): readonly TelephonyEvent[];
  /**
   * The first collected event (already seen or still to come) matching `predicate`; rejects
   * after `timeoutMs` of the harness's time.
   */
  waitFor(predicate: (e: TelephonyEvent) => boolean, timeoutMs: number): Promise<TelephonyEvent>;
  /** Lets `ms` of the harness's time pass (events keep being collected). */
  pass(ms: number): Promise<void>;
  /** The harness's notion of now, to measure how long something took. */
  now(): number;
  cleanup(): Promise<void>;
  timeouts: {
    /** timeoutMs given to every dial. */
    ring: number;
    /** Upper bound for an answer (plus AMD) to arrive. */
    answer: number;
    /** Upper bound for a command's event (bridge.joined, call.ended after hangup). */
    command: number;
  };
}

/** Collects a port's events and waits on the wall clock: for adapters that talk to real switches. */
export function realTimeEvents(port: TelephonyPort, pollMs = 20) {
  const seen: TelephonyEvent[] = [];
  const unsubscribe = port.subscribe((e) => seen.push(e));
  return {
    events: (): readonly TelephonyEvent[] => seen,
    now: (): number => Date.now(),
    pass: (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms)),
    async waitFor(
      predicate: (e: TelephonyEvent) => boolean,
      timeoutMs: number,
    ): Promise<TelephonyEvent> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = seen.find(predicate);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no matching event within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, pollMs));
      }
    },
    dispose: unsubscribe,
  };
}

const forCall =
  (callId: string, type: TelephonyEvent['type']) =>
  (e: TelephonyEvent): boolean =>
    e.type === type && 'callId' in e && e.callId === callId;

export function telephonyContract(name: string, makeHarness: () => Promise<ContractHarness>): void {
  describe(`telephony contract: ${name}`, function () {
    let h: ContractHarness;
    let dialled: string[] = [];
    let seq = 0;
    // Unique per run: a real switch may still remember ids from an earlier run.
    const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
    const newId = (role: string): string => {
      const id = `ct${run}-${++seq}-${role}`;
      dialled.push(id);
      return id;
    };

    beforeEach(async function () {
      h = await makeHarness();
      dialled = [];
      // Real adapters work in seconds: give each case room for a ring timeout and an answer.
      this.currentTest?.timeout(Math.max(20_000, 3 * (h.timeouts.ring + h.timeouts.answer)));
    });

    afterEach(async function () {
      for (const id of dialled) {
        try {
          await h.port.hangup(id);
        } catch (err) {
          // The case under test may have left the port down; cleanup must still run.
          console.warn(`contract cleanup: hangup ${id} failed`, err);
        }
      }
      await h.cleanup();
    });

    const dialCustomer = async (
      number: DialableNumber,
      opts: { amd?: boolean; callId?: string } = {},
    ): Promise<string> => {
      const callId = opts.callId ?? newId('c1');
      await h.port.dialCustomer({
        callId,
        callbackId: callId.replace(/-c1$/, ''),
        number,
        amd: opts.amd ?? true,
        timeoutMs: h.timeouts.ring,
      });
      return callId;
    };

    const dialAgent = async (agent: ContractAgent): Promise<string> => {
      const callId = newId('a1');
      await h.port.dialAgent({
        callId,
        callbackId: callId.replace(/-a1$/, ''),
        agentId: agent.id,
        endpoint: agent.endpoint,
        timeoutMs: h.timeouts.ring,
      });
      return callId;
    };

    const answered = async (
      callId: string,
    ): Promise<TelephonyEvent & { type: 'call.answered' }> => {
      const e = await h.waitFor(
        (x) => 'callId' in x && x.callId === callId && x.type !== 'call.ringing',
        h.timeouts.answer,
      );
      assert.equal(e.type, 'call.answered', `expected ${callId} to be answered, got ${e.type}`);
      return e as TelephonyEvent & { type: 'call.answered' };
    };

    it('reports the port as ready once started', function () {
      assert.equal(h.port.isReady(), true);
    });

    it('reports a human who answers with a HUMAN verdict', async function () {
      const callId = await dialCustomer(h.numbers.human);
      const e = await answered(callId);
      assert.equal(e.amd, 'HUMAN');
    });

    it('reports an answering machine with a MACHINE verdict', async function () {
      const callId = await dialCustomer(h.numbers.machine);
      const e = await answered(callId);
      assert.equal(e.amd, 'MACHINE');
    });

    it('reports a busy line as call.failed busy with cause 17, well before the ring timeout', async function () {
      const start = h.now();
      const callId = await dialCustomer(h.numbers.busy);
      const e = await h.waitFor(forCall(callId, 'call.failed'), h.timeouts.ring);
      assert.equal(e.type === 'call.failed' && e.failure, 'busy');
      assert.equal(e.type === 'call.failed' && e.cause, 17);
      assert.ok(e.at - start < h.timeouts.ring, 'busy must not wait for the ring timeout');
      assert.equal(
        h.events().some(forCall(callId, 'call.answered')),
        false,
        'a busy line is never answered',
      );
    });

    it('reports an absent customer as call.failed no-answer once the ring timeout is over', async function () {
      const start = h.now();
      const callId = await dialCustomer(h.numbers.absent);
      const e = await h.waitFor(forCall(callId, 'call.failed'), h.timeouts.ring * 2);
      assert.equal(e.type === 'call.failed' && e.failure, 'no-answer');
      assert.equal(e.type === 'call.failed' && e.cause, 19);
      // A real switch counts the timeout from the originate, a little after we asked.
      assert.ok(
        e.at - start >= h.timeouts.ring * 0.9,
        `failed after ${e.at - start} ms, before the ${h.timeouts.ring} ms ring timeout`,
      );
    });

    it('never emits an event before the dial call has returned', async function () {
      let returned = false;
      let early: TelephonyEvent | undefined;
      const callId = newId('c1');
      const off = h.port.subscribe((e) => {
        if (!returned && 'callId' in e && e.callId === callId) early = e;
      });
      try {
        const p = h.port.dialCustomer({
          callId,
          callbackId: callId.replace(/-c1$/, ''),
          number: h.numbers.human,
          amd: true,
          timeoutMs: h.timeouts.ring,
        });
        returned = true;
        await p;
      } finally {
        off();
      }
      assert.equal(early, undefined);
      await answered(callId);
    });

    it('makes one call when the same call id is dialled twice, at once and later', async function () {
      const callId = newId('c1');
      await Promise.all([
        dialCustomer(h.numbers.human, { callId }),
        dialCustomer(h.numbers.human, { callId }),
      ]);
      await answered(callId);
      await dialCustomer(h.numbers.human, { callId });
      await h.pass(h.timeouts.answer);
      const mine = h.events().filter((e) => 'callId' in e && e.callId === callId);
      assert.equal(mine.filter((e) => e.type === 'call.answered').length, 1);
      assert.ok(mine.filter((e) => e.type === 'call.ringing').length <= 1);
    });

    it('never calls again an id whose call has ended', async function () {
      const callId = await dialCustomer(h.numbers.human);
      await answered(callId);
      await h.port.hangup(callId);
      await h.waitFor(forCall(callId, 'call.ended'), h.timeouts.command);
      const before = h.events().length;
      await dialCustomer(h.numbers.human, { callId });
      await h.pass(h.timeouts.answer);
      const after = h
        .events()
        .slice(before)
        .filter((e) => 'callId' in e && e.callId === callId);
      assert.deepEqual(after, []);
    });

    it('joins an answered customer and agent in one bridge and reports both ids', async function () {
      const agent = h.agents.answering[0];
      assert.ok(agent, 'the harness must provide at least one answering agent');
      const customer = await dialCustomer(h.numbers.human);
      await answered(customer);
      const agentCall = await dialAgent(agent);
      const a = await answered(agentCall);
      assert.equal(a.amd, undefined, 'agent calls run no AMD');
      const bridgeId = `${customer.replace(/-c1$/, '')}-b`;
      await h.port.bridge(bridgeId, [customer, agentCall]);
      const e = await h.waitFor(
        (x) => x.type === 'bridge.joined' && x.bridgeId === bridgeId,
        h.timeouts.command,
      );
      assert.ok(e.type === 'bridge.joined');
      assert.deepEqual([...e.callIds].sort(), [customer, agentCall].sort());
      const snap = await h.port.getCall(customer);
      assert.equal(snap?.status, 'bridged');
      assert.equal(snap?.bridgeId, bridgeId);
    });

    it('reports call.ended after we hang up', async function () {
      const callId = await dialCustomer(h.numbers.human);
      await answered(callId);
      await h.port.hangup(callId);
      const e = await h.waitFor(forCall(callId, 'call.ended'), h.timeouts.command);
      assert.equal(e.type, 'call.ended');
    });

    it('reflects ringing, answered and ended in getCall', async function () {
      const ringing = await dialCustomer(h.numbers.absent);
      assert.equal((await h.port.getCall(ringing))?.status, 'ringing');

      const callId = await dialCustomer(h.numbers.human);
      await answered(callId);
      assert.equal((await h.port.getCall(callId))?.status, 'answered');
      await h.port.hangup(callId);
      await h.waitFor(forCall(callId, 'call.ended'), h.timeouts.command);
      const snap = await h.port.getCall(callId);
      // A real switch may forget a destroyed channel: unknown means ended too.
      assert.ok(snap === undefined || snap.status === 'ended', `got ${JSON.stringify(snap)}`);
    });

    it('lists its live calls with their status, and no longer a call once it has ended', async function () {
      const ringing = await dialCustomer(h.numbers.absent);
      const callId = await dialCustomer(h.numbers.human);
      await answered(callId);
      const mine = async () =>
        new Map(
          (await h.port.listCalls())
            .filter((c) => c.callId === ringing || c.callId === callId)
            .map((c) => [c.callId, c.status]),
        );
      assert.deepEqual(
        [...(await mine())].sort(),
        [
          [callId, 'answered'],
          [ringing, 'ringing'],
        ].sort(),
      );
      await h.port.hangup(callId);
      await h.waitFor(forCall(callId, 'call.ended'), h.timeouts.command);
      assert.deepEqual([...(await mine())], [[ringing, 'ringing']]);
    });

    it('knows nothing of a call id that was never dialled', async function () {
      assert.equal(await h.port.getCall(`ct${run}-never-c1`), undefined);
    });

    it('reports an agent who does not pick up as call.failed no-answer', async function () {
      const callId = await dialAgent(h.agents.noAnswer);
      const e = await h.waitFor(forCall(callId, 'call.failed'), h.timeouts.ring * 2);
      assert.equal(e.type === 'call.failed' && e.failure, 'no-answer');
      assert.equal(
        h.events().some(forCall(callId, 'call.answered')),
        false,
        'the agent never answered',
      );
    });

    it('reports call.answered without a verdict when AMD is off', async function () {
      const callId = await dialCustomer(h.numbers.human, { amd: false });
      const e = await answered(callId);
      assert.equal(e.amd, undefined);
      assert.equal(e.amdCause, undefined);
    });

    it('hangs up an unknown call without throwing', async function () {
      await h.port.hangup(`ct${run}-unknown-c1`);
    });

    it('hangs up a call twice without throwing and reports one call.ended', async function () {
      const callId = await dialCustomer(h.numbers.human);
      await answered(callId);
      await h.port.hangup(callId);
      await h.port.hangup(callId);
      await h.waitFor(forCall(callId, 'call.ended'), h.timeouts.command);
      await h.pass(h.timeouts.command);
      assert.equal(h.events().filter(forCall(callId, 'call.ended')).length, 1);
    });

    it('stops a ringing call when we hang up before the answer', async function () {
      const callId = await dialCustomer(h.numbers.absent);
      await h.port.hangup(callId);
      await h.waitFor(
        (e) =>
          'callId' in e &&
          e.callId === callId &&
          (e.type === 'call.ended' || e.type === 'call.failed'),
        h.timeouts.command,
      );
      await h.pass(h.timeouts.ring);
      assert.equal(h.events().some(forCall(callId, 'call.answered')), false);
    });
  });
}
