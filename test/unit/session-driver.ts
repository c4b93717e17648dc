// A small driver for the pure session machine: feeds events (and due timers, like the session
// actor would), collects every effect, and checks the machine's invariants after each step.

import assert from 'node:assert/strict';
import { DEFAULT_OPTIONS, type ServiceOptions } from '../../src/domain/options';
import { initialState, nextWake, transition } from '../../src/domain/session-machine';
import {
  GMS_STATE_OF,
  type Phase,
  type SessionEffect,
  type SessionEvent,
  type SessionState,
} from '../../src/domain/session-types';

/** The seed's booking moment: 2014-07-30T14:36:16Z. */
export const T0 = Date.UTC(2014, 6, 30, 14, 36, 16);
export const ID = '440-96984577-a614-4f18-b80e-aaf91e78b178';
export const C1 = `${ID}-c1`;
export const C2 = `${ID}-c2`;
export const C3 = `${ID}-c3`;
export const A1 = `${ID}-a1`;
export const A2 = `${ID}-a2`;
export const BRIDGE = `${ID}-b`;

const BASE: Partial<ServiceOptions> = {
  _call_direction: 'USERTERMINATED',
  _target: 'sales',
};

/** The scenarios of the spec's table, as option presets. */
export const PRESETS = {
  immediate: { _wait_for_agent: false, _wait_for_user_confirm: false },
  delayed: { _wait_for_agent: true, _wait_for_user_confirm: true },
  scheduled: { _wait_for_agent: false, _wait_for_user_confirm: true },
  delayedScheduled: { _wait_for_agent: true, _wait_for_user_confirm: true },
  preview: { _wait_for_agent: true, _wait_for_user_confirm: false, _agent_preview: true },
  agentFirst: { _userterminated_first_connect_party: 'AGENT' },
  userOriginated: { _call_direction: 'USERORIGINATED', _access_number: '+33140000000' },
  userOriginatedDelayed: {
    _call_direction: 'USERORIGINATED',
    _wait_for_agent: true,
    _access_number: '+33140000000',
  },
} satisfies Record<string, Partial<ServiceOptions>>;

export function optionsOf(over: Partial<ServiceOptions> = {}): ServiceOptions {
  return { ...DEFAULT_OPTIONS, ...BASE, ...over };
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

export class Driver {
  now: number;
  ewtMs = 0;
  /** Whether telephony is up, as the session actor would tell the machine. */
  telephonyUp = true;
  state: SessionState;
  /** Every effect so far, in order. */
  effects: SessionEffect[] = [];
  /** The effects of the last event (or of the last batch of timers). */
  last: SessionEffect[] = [];

  constructor(p: { options?: Partial<ServiceOptions>; desiredTime?: number; now?: number } = {}) {
    this.now = p.now ?? T0;
    this.state = initialState({
      id: ID,
      service: 'user-scheduled',
      options: optionsOf(p.options),
      customerNumber: '5115',
      desiredTime: p.desiredTime,
      now: this.now,
    });
  }

  /** Feeds one event at the current time; returns its effects. */
  send(event: SessionEvent): SessionEffect[] {
    const before = deepFreeze(this.state);
    const snapshot = JSON.stringify(before);
    const t = transition(before, event, {
      now: this.now,
      ewtMs: this.ewtMs,
      telephonyUp: this.telephonyUp,
    });
    assert.equal(JSON.stringify(before), snapshot, 'the input state was mutated');
    assert.equal(t.state.gms, GMS_STATE_OF[t.state.phase], `gms out of step in ${t.state.phase}`);
    const status = t.effects.filter((e) => e.type === 'status-changed');
    const changed = t.state.gms !== before.gms || t.state.reason !== before.reason;
    assert.equal(status.length, changed ? 1 : 0, 'status-changed iff gms or reason changed');
    if (t.state.phase === 'completed') {
      assert.deepEqual(t.state.timers, {}, 'a completed session keeps no timer');
      assert.equal(t.state.dialog, undefined);
    }
    for (const at of Object.values(t.state.timers)) assert.ok(Number.isFinite(at));
    this.state = t.state;
    this.last = t.effects;
    this.effects.push(...t.effects);
    return t.effects;
  }

  /** Feeds a list of events; returns the final state and all their effects. */
  run(events: SessionEvent[]): { state: SessionState; effects: SessionEffect[] } {
    const effects: SessionEffect[] = [];
    for (const e of events) effects.push(...this.send(e));
    return { state: this.state, effects };
  }

  /** Moves the clock forward, firing every timer that falls due on the way, earliest first. */
  advance(ms: number): SessionEffect[] {
    const until = this.now + ms;
    const fired: SessionEffect[] = [];
    for (;;) {
      const wake = nextWake(this.state);
      if (wake === undefined || wake > until) break;
      fired.push(...this.fireDue(wake));
    }
    this.now = until;
    this.last = fired;
    return fired;
  }

  /** Jumps to the earliest armed timer and fires all timers due then; returns the effects. */
  tick(): SessionEffect[] {
    const wake = nextWake(this.state);
    assert.ok(wake !== undefined, `no timer armed in ${this.state.phase}`);
    const fired = this.fireDue(wake);
    this.last = fired;
    return fired;
  }

  private fireDue(wake: number): SessionEffect[] {
    this.now = Math.max(this.now, wake);
    const due = Object.entries(this.state.timers)
      .filter(([, at]) => at !== undefined && at <= this.now)
      .sort((a, b) => (a[1] as number) - (b[1] as number))
      .map(([name]) => name as keyof SessionState['timers']);
    const out: SessionEffect[] = [];
    for (const timer of due) out.push(...this.send({ type: 'timer', timer }));
    return out;
  }

  get phase(): Phase {
    return this.state.phase;
  }

  /** Effects of the last step without the status notifications. */
  get actions(): SessionEffect[] {
    return this.last.filter((e) => e.type !== 'status-changed');
  }

  /** The GMS states announced by the last step. */
  get statuses(): string[] {
    return this.last.flatMap((e) =>
      e.type === 'status-changed' ? [e.reason ? `${e.gms}/${e.reason}` : e.gms] : [],
    );
  }
}

export function dialCustomer(callId: string, attempt: number, amd = true): SessionEffect {
  return { type: 'dial-customer', callId, attempt, number: '5115', amd, timeoutMs: 15000 };
}

export function dialAgent(callId: string, agentId: string, timeoutMs = 30000): SessionEffect {
  return { type: 'dial-agent', callId, agentId, timeoutMs };
}

export const REQUEST_QUEUED: SessionEffect = {
  type: 'request-agent',
  target: 'sales',
  priority: 1,
};
export const REQUEST_URGENT: SessionEffect = {
  type: 'request-agent',
  target: 'sales',
  priority: 0,
};
export const PLAY: SessionEffect = {
  type: 'play',
  callId: C1,
  media: 'sound:queue-periodic-announce',
};

export function granted(agentId = 'agent1'): SessionEvent {
  return { type: 'agent.granted', agentId, endpoint: `PJSIP/${agentId}` };
}

/** A session driven into `phase` by the shortest ordinary path. */
export function reach(phase: Exclude<Phase, 'completed'>): Driver {
  switch (phase) {
    case 'waiting-start': {
      const d = new Driver({ options: PRESETS.scheduled, desiredTime: T0 + 3_600_000 });
      d.send({ type: 'booked' });
      return d;
    }
    case 'waiting-agent':
    case 'waiting-confirm':
    case 'snoozed': {
      const d = new Driver({ options: PRESETS.delayed });
      d.send({ type: 'booked' });
      if (phase === 'waiting-agent') return d;
      d.send(granted());
      if (phase === 'snoozed') d.send({ type: 'user.action', action: 'snooze' });
      return d;
    }
    case 'waiting-inbound': {
      const d = new Driver({ options: PRESETS.userOriginatedDelayed });
      d.run([{ type: 'booked' }, granted()]);
      return d;
    }
    case 'agent-preview': {
      const d = new Driver({ options: PRESETS.preview });
      d.run([{ type: 'booked' }, granted()]);
      return d;
    }
    case 'dialling-customer':
    case 'retry-wait':
    case 'reserving-agent':
    case 'dialling-agent':
    case 'bridging':
    case 'talking': {
      const d = new Driver({ options: PRESETS.immediate });
      d.send({ type: 'booked' });
      if (phase === 'dialling-customer') return d;
      if (phase === 'retry-wait') {
        d.send({ type: 'call.failed', callId: C1, failure: 'busy' });
        return d;
      }
      d.send({ type: 'call.answered', callId: C1, amd: 'HUMAN' });
      if (phase === 'reserving-agent') return d;
      d.send(granted());
      if (phase === 'dialling-agent') return d;
      d.send({ type: 'call.answered', callId: A1 });
      if (phase === 'bridging') return d;
      d.send({ type: 'bridged', bridgeId: BRIDGE });
      return d;
    }
  }
}

export const OPEN_PHASES: Exclude<Phase, 'completed'>[] = [
  'waiting-start',
  'waiting-agent',
  'agent-preview',
  'waiting-confirm',
  'snoozed',
  'waiting-inbound',
  'dialling-customer',
  'retry-wait',
  'reserving-agent',
  'dialling-agent',
  'bridging',
  'talking',
];
