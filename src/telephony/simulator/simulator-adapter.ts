// The simulator adapter: a deterministic TelephonyPort on an injected clock. Customers follow a
// script (per number and attempt), seeded random rates or a default; agents answer after a
// delay and hang up after their handle time. Every event goes through the clock, never out of
// the command that caused it, in the order Asterisk would send it.
//
// Rule of thumb: our commands (hangup, bridge, play) take effect when their promise resolves,
// their events arrive later; what the far end does happens when its timer fires.

import fs from 'node:fs';
import { LRUCache } from 'lru-cache';
import type { Clock, TimerHandle } from '../../clock';
import { assertNever } from '../../errors';
import { silentLogger, type Logger } from '../../logger';
import type {
  AmdVerdict,
  CallSnapshot,
  CallStatus,
  DialAgentRequest,
  DialCustomerRequest,
  DialFailure,
  LiveCall,
  TelephonyEvent,
  TelephonyListener,
  TelephonyPort,
} from '../port';
import {
  AMD_CAUSES,
  DEFAULT_CUSTOMER,
  Q850,
  drawCustomer,
  type CustomerBehaviour,
  type CustomerScript,
  type RandomCustomers,
} from './behaviour';
import { mulberry32 } from './rng';
import { TelephonyError } from './telephony-error';

export { mulberry32 } from './rng';
export { TelephonyError, isTelephonyError, type TelephonyErrorCode } from './telephony-error';
export {
  Q850,
  scriptedCustomers,
  customerBehaviourFromKind,
  drawCustomer,
  type CustomerBehaviour,
  type CustomerKind,
  type CustomerScript,
  type RandomCustomers,
  type Range,
  type Timings,
} from './behaviour';

export interface SimAgent {
  id: string;
  /** What DialAgentRequest.endpoint names, e.g. `PJSIP/agent1`. */
  endpoint: string;
  answerAfterMs: number;
  /** false = the phone rings until the request's timeout. */
  answers: boolean;
  /** The agent hangs up this long after being bridged; omitted = stays until we hang up. */
  handleTimeMs?: number;
  /** Registered and reachable; defaults to true. */
  available?: boolean;
}

export interface SimulatorOptions {
  clock: Clock;
  logger?: Logger;
  /** Seeded source for the random mode; defaults to mulberry32(1). */
  rng?: () => number;
  /** First say: a scripted behaviour, or undefined to fall through to `random` / `defaultCustomer`. */
  customers?: CustomerScript;
  defaultCustomer?: CustomerBehaviour;
  agents?: SimAgent[];
  /** Draw unscripted customers from these rates (takes precedence over defaultCustomer). */
  random?: RandomCustomers;
  /** Appends `callId\n` for every real dial, before any event is scheduled. */
  dialLogPath?: string;
  /** Delay of call.ringing after a dial (capped by the answer delay). Default 100 ms. */
  ringAfterMs?: number;
  /**
   * Ended calls kept for inspection and to refuse a second dial of their id; older ones are
   * forgotten, with their dial requests and, once it has no later dial, their callback's attempt
   * count. Default: every call (tests read them). The what-if runner reads none but keeps the
   * default: bounding them there made its day slower (55.2 → 60.7 s and 51.4 → 56.1 s, for half
   * the heap). A long-running service bounds it, or it would grow by one call per dial.
   */
  keepEndedCalls?: number;
}

export type CallLeg = 'customer' | 'agent';

/** What the simulator knows about one call, for tests and the `simulate` command. */
export interface SimCallInfo {
  callId: string;
  callbackId: string;
  leg: CallLeg;
  /** The number (customer) or endpoint (agent) dialled. */
  target: string;
  agentId?: string;
  /** The behaviour kind the customer followed, or `agent`. */
  behaviour: CustomerBehaviour['kind'] | 'agent';
  status: CallStatus;
  bridgeId?: string;
  playing?: string;
  dialledAt: number;
  answeredAt?: number;
  endedAt?: number;
  failure?: DialFailure;
  cause?: number;
  /** User Originated: the digits the caller keyed in. */
  digits?: string;
  inbound?: boolean;
}

interface SimCall extends SimCallInfo {
  /** Pending far-end actions of this call, cancelled when it ends. */
  timers: Set<TimerHandle>;
  /** A customer leg: which attempt of its callback at its number it was. */
  attempt?: number;
}

/** An event before the simulator stamps it with the time it is delivered. */
type UnstampedEvent = TelephonyEvent extends infer E
  ? E extends unknown
    ? Omit<E, 'at'>
    : never
  : never;

/** A callback's customer dials to one number are counted together: attempt 1, 2, … */
function attemptKey(callbackId: string, number: string): string {
  return `${callbackId}\u0000${number}`;
}

/** Busy and unreachable agents' phones answer this fast (a 486 arrives within ~20 ms in the lab). */
const AGENT_FAIL_AFTER_MS = 20;

export class SimulatorTelephony implements TelephonyPort {
  readonly name = 'simulator';

  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly rng: () => number;
  private readonly opts: SimulatorOptions;
  private readonly agentsById = new Map<string, SimAgent>();
  private readonly callsById = new Map<string, SimCall>();
  /** Calls not ended yet (callsById also keeps ended ones, see keepEndedCalls). */
  private readonly liveCalls = new Set<SimCall>();
  /**
   * The last `keepEndedCalls` ended calls, when bounded: the oldest one past it is evicted, and
   * forgotten everywhere else too (forget).
   */
  private readonly endedCalls: LRUCache<string, SimCall> | undefined;
  /** Live agent legs by the endpoint they ring: is an agent on a call, without a scan. */
  private readonly agentLegs = new Map<string, Set<SimCall>>();
  private readonly requests = new Map<string, number>();
  private readonly attempts = new Map<string, number>();
  private readonly bridges = new Map<string, Set<string>>();
  private readonly listeners = new Set<TelephonyListener>();
  /** Every timer still pending, so stop() can cancel them all. */
  private readonly timers = new Set<TimerHandle>();
  private started = false;
  private connected = true;
  private dropped = 0;
  private inboundSeq = 0;

  constructor(opts: SimulatorOptions) {
    this.opts = opts;
    this.clock = opts.clock;
    this.log = (opts.logger ?? silentLogger()).child({ adapter: 'simulator' });
    this.rng = opts.rng ?? mulberry32(1);
    this.endedCalls =
      opts.keepEndedCalls === undefined
        ? undefined
        : new LRUCache<string, SimCall>({
            max: opts.keepEndedCalls,
            dispose: (call, _id, reason) => {
              if (reason === 'evict') this.forget(call);
            },
          });
    for (const a of opts.agents ?? []) this.agentsById.set(a.id, { ...a });
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  async start(): Promise<void> {
    this.started = true;
  }

  async stop(): Promise<void> {
    this.started = false;
    for (const t of this.timers) this.clock.clearTimer(t);
    this.timers.clear();
    for (const c of this.callsById.values()) c.timers.clear();
  }

  isReady(): boolean {
    return this.started && this.connected;
  }

  subscribe(listener: TelephonyListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // ---- commands --------------------------------------------------------------------------------

  async dialCustomer(req: DialCustomerRequest): Promise<void> {
    this.ensureUp('dialCustomer');
    if (this.isDuplicate(req.callId)) return;
    const key = attemptKey(req.callbackId, req.number);
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const behaviour = this.behaviourFor(req.number, attempt);
    const call = this.open(req.callId, req.callbackId, 'customer', req.number, behaviour.kind);
    call.attempt = attempt;
    this.log.debug({ callId: req.callId, attempt, behaviour: behaviour.kind }, 'customer dialled');
    this.planCustomer(call, behaviour, req);
  }

  async dialAgent(req: DialAgentRequest): Promise<void> {
    this.ensureUp('dialAgent');
    if (this.isDuplicate(req.callId)) return;
    const call = this.open(req.callId, req.callbackId, 'agent', req.endpoint, 'agent');
    call.agentId = req.agentId;
    const agent = this.findAgent(req);
    this.log.debug({ callId: req.callId, agentId: req.agentId, known: !!agent }, 'agent dialled');
    if (!agent) {
      this.after(call, AGENT_FAIL_AFTER_MS, () =>
        this.fail(call, 'unreachable', Q850.unallocatedNumber),
      );
      return;
    }
    if (agent.available === false) {
      this.after(call, AGENT_FAIL_AFTER_MS, () =>
        this.fail(call, 'unreachable', Q850.noRouteToDestination),
      );
      return;
    }
    if (this.agentOnCall(agent, call.callId)) {
      this.after(call, AGENT_FAIL_AFTER_MS, () => this.fail(call, 'busy', Q850.userBusy));
      return;
    }
    this.ring(call, agent.answerAfterMs);
    if (!agent.answers || agent.answerAfterMs >= req.timeoutMs) {
      this.after(call, req.timeoutMs, () => this.fail(call, 'no-answer', Q850.noAnswer));
      return;
    }
    this.after(call, agent.answerAfterMs, () => this.answer(call));
  }

  async bridge(bridgeId: string, callIds: string[]): Promise<void> {
    this.ensureUp('bridge');
    const calls = callIds.map((id) => this.liveCall(id, 'bridge'));
    for (const c of calls) {
      if (c.status === 'ringing')
        throw new TelephonyError('CALL_NOT_ANSWERED', `call ${c.callId} is not answered yet`);
    }
    let members = this.bridges.get(bridgeId);
    if (!members) {
      members = new Set();
      this.bridges.set(bridgeId, members);
    }
    for (const c of calls) {
      if (c.bridgeId === bridgeId) continue;
      if (c.bridgeId) this.bridges.get(c.bridgeId)?.delete(c.callId);
      members.add(c.callId);
      c.status = 'bridged';
      c.bridgeId = bridgeId;
      const agent = c.leg === 'agent' ? this.findAgentOf(c) : undefined;
      if (agent?.handleTimeMs !== undefined)
        this.after(c, agent.handleTimeMs, () => this.remoteEnd(c, Q850.normalClearing));
    }
    this.soon(() => this.emit({ type: 'bridge.joined', bridgeId, callIds: [...callIds] }));
  }

  async play(callId: string, media: string): Promise<void> {
    this.ensureUp('play');
    const c = this.liveCall(callId, 'play');
    if (c.status === 'ringing')
      throw new TelephonyError('CALL_NOT_ANSWERED', `call ${callId} is not answered yet`);
    c.playing = media;
  }

  async stopPlayback(callId: string): Promise<void> {
    this.ensureUp('stopPlayback');
    // Nothing playing is what the caller wants: an unknown or ended call is not an error.
    const c = this.callsById.get(callId);
    if (c) delete c.playing;
  }

  async hangup(callId: string): Promise<void> {
    this.ensureUp('hangup');
    const c = this.callsById.get(callId);
    if (!c || c.status === 'ended') return;
    this.end(c, Q850.normalClearing);
    this.soon(() => this.emit({ type: 'call.ended', callId, cause: Q850.normalClearing }));
  }

  async getCall(callId: string): Promise<CallSnapshot | undefined> {
    this.ensureUp('getCall');
    const c = this.callsById.get(callId);
    if (!c) return undefined;
    return { callId, status: c.status, ...(c.bridgeId ? { bridgeId: c.bridgeId } : {}) };
  }

  async listCalls(): Promise<LiveCall[]> {
    this.ensureUp('listCalls');
    const out: LiveCall[] = [];
    for (const c of this.liveCalls) {
      if (c.status === 'ended') continue;
      out.push({
        callId: c.callId,
        status: c.status,
        ...(c.bridgeId ? { bridgeId: c.bridgeId } : {}),
        ...(c.inbound
          ? { inbound: { from: c.target, ...(c.digits !== undefined ? { digits: c.digits } : {}) } }
          : {}),
      });
    }
    return out;
  }

  // ---- simulation controls ---------------------------------------------------------------------

  /** Simulates losing (false) or regaining (true) the connection to the switch. */
  setConnected(up: boolean): void {
    if (this.connected === up) return;
    this.connected = up;
    this.log.info({ up }, 'simulated connection changed');
    this.soon(() => this.emit({ type: 'connection.changed', up }));
  }

  /**
   * A customer calls the access number (User Originated): the call is answered and held, and
   * `call.incoming` reports it with the caller's number and the digits keyed in.
   */
  incomingCall(from: string, opts: { digits?: string; hangUpAfterMs?: number } = {}): string {
    const callId = `sim-in-${++this.inboundSeq}`;
    const call: SimCall = {
      callId,
      callbackId: '',
      leg: 'customer',
      target: from,
      behaviour: 'human',
      status: 'answered',
      dialledAt: this.clock.now(),
      answeredAt: this.clock.now(),
      timers: new Set(),
      inbound: true,
      ...(opts.digits !== undefined ? { digits: opts.digits } : {}),
    };
    this.callsById.set(callId, call);
    this.liveCalls.add(call);
    this.soon(() =>
      this.emit({
        type: 'call.incoming',
        callId,
        from,
        ...(opts.digits !== undefined ? { digits: opts.digits } : {}),
      }),
    );
    if (opts.hangUpAfterMs !== undefined)
      this.after(call, opts.hangUpAfterMs, () => this.remoteEnd(call, Q850.normalClearing));
    return callId;
  }

  /** The far end of a live call hangs up now (e.g. the customer gives up while on hold). */
  remoteHangup(callId: string, cause: number = Q850.normalClearing): boolean {
    const c = this.callsById.get(callId);
    if (!c || c.status === 'ended') return false;
    // Through the clock like every other far-end action.
    this.after(c, 0, () => this.remoteEnd(c, cause));
    return true;
  }

  addAgent(agent: SimAgent): void {
    this.agentsById.set(agent.id, { ...agent });
    const available = agent.available ?? true;
    this.soon(() => this.emit({ type: 'agent.presence', agentId: agent.id, available }));
  }

  removeAgent(agentId: string): boolean {
    if (!this.agentsById.delete(agentId)) return false;
    this.soon(() => this.emit({ type: 'agent.presence', agentId, available: false }));
    return true;
  }

  /** Registers or unregisters an agent's phone; false when the agent is unknown. */
  setAgentPresence(agentId: string, available: boolean): boolean {
    const agent = this.agentsById.get(agentId);
    if (!agent) return false;
    agent.available = available;
    this.soon(() => this.emit({ type: 'agent.presence', agentId, available }));
    return true;
  }

  agents(): SimAgent[] {
    return [...this.agentsById.values()].map((a) => ({ ...a }));
  }

  // ---- inspection (tests, benchmarks) ----------------------------------------------------------

  /** Real calls placed under this id: 0 or 1, whatever the number of requests. */
  dialCount(callId: string): number {
    return this.callsById.has(callId) ? 1 : 0;
  }

  /** Dial requests received for this id, duplicates included. */
  dialRequests(callId: string): number {
    return this.requests.get(callId) ?? 0;
  }

  calls(): SimCallInfo[] {
    return [...this.callsById.values()].map(({ timers: _timers, attempt: _attempt, ...info }) => ({
      ...info,
    }));
  }

  activeCallCount(): number {
    return this.liveCalls.size;
  }

  playing(callId: string): string | undefined {
    return this.callsById.get(callId)?.playing;
  }

  /** Events lost because they happened while the connection was down. */
  droppedEventCount(): number {
    return this.dropped;
  }

  // ---- internals -------------------------------------------------------------------------------

  private ensureUp(op: string): void {
    if (!this.isReady())
      throw new TelephonyError(
        'TELEPHONY_DOWN',
        `${op}: simulated telephony is ${this.started ? 'disconnected' : 'not started'}`,
      );
  }

  /** A second dial of a known id (live or ended) must never place a second call. */
  private isDuplicate(callId: string): boolean {
    this.requests.set(callId, (this.requests.get(callId) ?? 0) + 1);
    if (!this.callsById.has(callId)) return false;
    this.log.warn({ callId }, 'call id already dialled: no second call');
    return true;
  }

  private open(
    callId: string,
    callbackId: string,
    leg: CallLeg,
    target: string,
    behaviour: SimCallInfo['behaviour'],
  ): SimCall {
    // Written before anything is scheduled, so a crash right after still shows the dial.
    if (this.opts.dialLogPath) fs.appendFileSync(this.opts.dialLogPath, `${callId}\n`);
    const call: SimCall = {
      callId,
      callbackId,
      leg,
      target,
      behaviour,
      status: 'ringing',
      dialledAt: this.clock.now(),
      timers: new Set(),
    };
    this.callsById.set(callId, call);
    this.liveCalls.add(call);
    if (leg === 'agent') {
      const legs = this.agentLegs.get(target);
      if (legs) legs.add(call);
      else this.agentLegs.set(target, new Set([call]));
    }
    return call;
  }

  private behaviourFor(number: string, attempt: number): CustomerBehaviour {
    const scripted = this.opts.customers?.(number, attempt);
    if (scripted) return scripted;
    if (this.opts.random) return drawCustomer(this.opts.random, this.rng);
    return this.opts.defaultCustomer ?? DEFAULT_CUSTOMER;
  }

  private planCustomer(call: SimCall, b: CustomerBehaviour, req: DialCustomerRequest): void {
    switch (b.kind) {
      case 'human':
      case 'machine':
      case 'notsure': {
        this.ring(call, b.answerAfterMs);
        if (b.answerAfterMs >= req.timeoutMs) {
          this.after(call, req.timeoutMs, () => this.fail(call, 'no-answer', Q850.noAnswer));
          return;
        }
        const verdict: AmdVerdict =
          b.kind === 'human' ? 'HUMAN' : b.kind === 'machine' ? 'MACHINE' : 'NOTSURE';
        const talk = b.hangUpAfterMs;
        if (!req.amd) {
          this.after(call, b.answerAfterMs, () => {
            this.answer(call);
            if (talk !== undefined)
              this.after(call, talk, () => this.remoteEnd(call, Q850.normalClearing));
          });
          return;
        }
        if (talk !== undefined && talk < b.amdAfterMs) {
          // AMD says HANGUP, which the port reports as a plain call.ended.
          this.after(call, b.answerAfterMs + talk, () => this.remoteEnd(call, Q850.normalClearing));
          return;
        }
        this.after(call, b.answerAfterMs + b.amdAfterMs, () => {
          this.answer(call, verdict);
          if (talk !== undefined)
            this.after(call, talk - b.amdAfterMs, () => this.remoteEnd(call, Q850.normalClearing));
        });
        return;
      }
      case 'busy':
        this.after(call, Math.min(b.afterMs, req.timeoutMs), () =>
          this.fail(call, 'busy', Q850.userBusy),
        );
        return;
      case 'no-answer':
        this.ring(call, req.timeoutMs);
        this.after(call, req.timeoutMs, () => this.fail(call, 'no-answer', Q850.noAnswer));
        return;
      case 'rejected':
        // A decline comes after the phone rang; one that would come too late is a no-answer.
        this.ring(call, b.afterMs);
        if (b.afterMs >= req.timeoutMs)
          this.after(call, req.timeoutMs, () => this.fail(call, 'no-answer', Q850.noAnswer));
        else this.after(call, b.afterMs, () => this.fail(call, 'rejected', Q850.callRejected));
        return;
      case 'unreachable':
        this.after(call, Math.min(b.afterMs, req.timeoutMs), () =>
          this.fail(call, 'unreachable', Q850.noRouteToDestination),
        );
        return;
      case 'congestion':
        this.after(call, Math.min(b.afterMs, req.timeoutMs), () =>
          this.fail(call, 'congestion', Q850.congestion),
        );
        return;
      default:
        assertNever(b);
    }
  }

  /** call.ringing comes first, and never after the answer. */
  private ring(call: SimCall, answerAfterMs: number): void {
    const at = Math.min(this.opts.ringAfterMs ?? 100, Math.max(0, answerAfterMs));
    this.after(call, at, () => this.emit({ type: 'call.ringing', callId: call.callId }));
  }

  private answer(call: SimCall, amd?: AmdVerdict): void {
    call.status = 'answered';
    call.answeredAt = this.clock.now();
    this.emit({
      type: 'call.answered',
      callId: call.callId,
      ...(amd ? { amd, amdCause: AMD_CAUSES[amd] } : {}),
    });
  }

  private fail(call: SimCall, failure: DialFailure, cause: number): void {
    call.failure = failure;
    this.end(call, cause);
    this.emit({ type: 'call.failed', callId: call.callId, failure, cause });
  }

  /** The far end hung up. The other leg of a bridge stays up: ending it is the engine's job. */
  private remoteEnd(call: SimCall, cause: number): void {
    if (call.status === 'ended') return;
    this.end(call, cause);
    this.emit({ type: 'call.ended', callId: call.callId, cause });
  }

  private end(call: SimCall, cause: number): void {
    const wasLive = call.status !== 'ended';
    call.status = 'ended';
    this.liveCalls.delete(call);
    if (call.leg === 'agent') {
      const legs = this.agentLegs.get(call.target);
      legs?.delete(call);
      if (legs?.size === 0) this.agentLegs.delete(call.target);
    }
    call.endedAt = this.clock.now();
    call.cause = cause;
    delete call.playing;
    if (call.bridgeId) {
      const members = this.bridges.get(call.bridgeId);
      members?.delete(call.callId);
      if (members && members.size === 0) this.bridges.delete(call.bridgeId);
      delete call.bridgeId;
    }
    for (const t of call.timers) {
      this.clock.clearTimer(t);
      this.timers.delete(t);
    }
    call.timers.clear();
    if (wasLive) this.endedCalls?.set(call.callId, call);
  }

  /** An ended call evicted from endedCalls: its id, dial requests and, if last, attempt count. */
  private forget(old: SimCall): void {
    this.callsById.delete(old.callId);
    this.requests.delete(old.callId);
    const key = attemptKey(old.callbackId, old.target);
    if (old.attempt !== undefined && this.attempts.get(key) === old.attempt)
      this.attempts.delete(key);
  }

  private liveCall(callId: string, op: string): SimCall {
    const c = this.callsById.get(callId);
    if (!c || c.status === 'ended')
      throw new TelephonyError('CALL_NOT_FOUND', `${op}: no live call ${callId}`);
    return c;
  }

  private findAgent(req: DialAgentRequest): SimAgent | undefined {
    for (const a of this.agentsById.values()) if (a.endpoint === req.endpoint) return a;
    return undefined;
  }

  private findAgentOf(call: SimCall): SimAgent | undefined {
    for (const a of this.agentsById.values()) if (a.endpoint === call.target) return a;
    return undefined;
  }

  private agentOnCall(agent: SimAgent, except: string): boolean {
    for (const c of this.agentLegs.get(agent.endpoint) ?? []) if (c.callId !== except) return true;
    return false;
  }

  /** Schedules a far-end action of `call`, cancelled if the call ends first. */
  private after(call: SimCall, delayMs: number, fn: () => void): void {
    const handle = this.clock.setTimer(this.clock.now() + Math.max(0, delayMs), () => {
      call.timers.delete(handle);
      this.timers.delete(handle);
      fn();
    });
    call.timers.add(handle);
    this.timers.add(handle);
  }

  /** Defers an event out of the command that caused it. */
  private soon(fn: () => void): void {
    const handle = this.clock.setTimer(this.clock.now(), () => {
      this.timers.delete(handle);
      fn();
    });
    this.timers.add(handle);
  }

  private emit(event: UnstampedEvent): void {
    const e = { ...event, at: this.clock.now() } as TelephonyEvent;
    // Like ARI, events that happen while the socket is down are lost: reconcile must cope.
    if (!this.connected && e.type !== 'connection.changed') {
      this.dropped++;
      this.log.debug({ event: e.type }, 'event dropped: connection down');
      return;
    }
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        this.log.error({ err, event: e.type }, 'telephony listener threw');
      }
    }
  }
}
