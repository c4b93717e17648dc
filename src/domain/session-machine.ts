// The lifecycle of one callback as a pure machine: (state, event, ctx) -> (state, effects).
// Events that can happen anywhere (cancel, TTL, missing target, restart) are handled once in
// ANYWHERE; each phase lists only the events it reacts to. Everything else is ignored, so a late
// or duplicated event from telephony or the agent pool can never move a session backwards.
// Conventions that replace boolean flags:
// - `customerCallId` / `agentCallId` are set only while that call exists (cleared when it fails
//   or ends), so "is a call live" is a field test and events for any other call id are stale.
// - `agentId` is set only while an agent is reserved for this callback (before completion; on
//   COMPLETED the fields are left as the outcome record and nothing is held any more).
// - Timers are data (`state.timers`); a due timer is always disarmed when its event is handled,
//   even if the phase has no use for it, so no stale due time can make the actor spin.
// - While telephony is down (`ctx.telephonyUp`) its events are lost: no timer judges the far
//   end and no dial is placed then; such timers look again later, and `resumed` (sent on
//   reconnect) reconciles the calls and repeats what was refused.

import { assertNever } from '../errors';
import type { ServiceOptions } from './options';
import {
  GMS_STATE_OF,
  type AgentReleaseOutcome,
  type CallFailure,
  type CallbackReason,
  type DeviceDialog,
  type MachineContext,
  type Phase,
  type SessionEffect,
  type SessionEvent,
  type SessionState,
  type TimerName,
  type Transition,
} from './session-types';

export function initialState(p: {
  id: string;
  service: string;
  options: ServiceOptions;
  customerNumber: string;
  desiredTime?: number;
  now: number;
}): SessionState {
  const s: SessionState = {
    id: p.id,
    service: p.service,
    phase: 'waiting-start',
    gms: GMS_STATE_OF['waiting-start'],
    options: p.options,
    customerNumber: p.customerNumber,
    createdAt: p.now,
    timers: {},
    dialAttempts: 0,
    confirmAttempts: 0,
    agentAttempts: 0,
  };
  if (p.desiredTime !== undefined) s.desiredTime = p.desiredTime;
  return s;
}

/**
 * While telephony is down, a timer that would place a call or judge the far end looks again
 * after this long. The reconnect normally acts first; this covers a reconnect that raced ahead.
 */
export const OUTAGE_RECHECK_MS = 5_000;

/** Dial attempts counted against `_max_dial_attempts`: those telephony refused are not. */
export function chargedDialAttempts(s: SessionState): number {
  return s.dialAttempts - (s.unplacedDials ?? 0);
}

/** The earliest armed timer, if any: when the actor must wake this session. */
export function nextWake(state: SessionState): number | undefined {
  let min: number | undefined;
  for (const at of Object.values(state.timers))
    if (at !== undefined && (min === undefined || at < min)) min = at;
  return min;
}

export function transition(
  state: SessionState,
  event: SessionEvent,
  ctx: MachineContext,
): Transition {
  return withStatus(state, step(state, event, ctx));
}

// ---------------------------------------------------------------------------------------------
// Dispatch

type CallOutcome = 'answered' | 'failed' | 'ended';
type CallEvent = Extract<SessionEvent, { type: `call.${CallOutcome}` }>;
type TimerEvent = Extract<SessionEvent, { type: 'timer' }>;

/** Calls are keyed by leg, timers by name, so each phase names exactly what it handles. */
type EventKey =
  | Exclude<SessionEvent['type'], 'timer' | CallEvent['type']>
  | `timer.${TimerName}`
  | `customer.${CallOutcome}`
  | `agent-call.${CallOutcome}`;

type EventFor<K extends EventKey> = K extends `timer.${string}`
  ? TimerEvent
  : K extends `${'customer' | 'agent-call'}.${infer O}`
    ? Extract<SessionEvent, { type: `call.${O}` }>
    : Extract<SessionEvent, { type: K }>;

/** A handler returns undefined when the event does not apply after all (then it is ignored). */
type Handlers = {
  [K in EventKey]?: (
    s: SessionState,
    e: EventFor<K>,
    ctx: MachineContext,
  ) => Transition | undefined;
};
type AnyHandler = (s: SessionState, e: SessionEvent, ctx: MachineContext) => Transition | undefined;

const USER_ACTIONS = ['connect', 'snooze', 'cancel'] as const;
type UserAction = (typeof USER_ACTIONS)[number];

function isUserAction(a: string): a is UserAction {
  return (USER_ACTIONS as readonly string[]).includes(a);
}

function step(state: SessionState, e: SessionEvent, ctx: MachineContext): Transition {
  const phase = state.phase;
  if (phase === 'completed') return afterCompletion(state, e);
  let s = state;
  if (e.type === 'timer') {
    const due = s.timers[e.timer];
    if (due === undefined || due > ctx.now) return same(state);
    s = disarm(s, e.timer);
  }
  const key = keyOf(s, e);
  if (key === undefined) return same(state); // a call this session no longer follows
  const handlers = [ANYWHERE[key], PHASES[phase][key]] as (AnyHandler | undefined)[];
  for (const h of handlers) {
    const t = h?.(s, e, ctx);
    if (t) return t;
  }
  return ignored(s, e);
}

function keyOf(s: SessionState, e: SessionEvent): EventKey | undefined {
  switch (e.type) {
    case 'timer':
      return `timer.${e.timer}`;
    case 'call.answered':
    case 'call.failed':
    case 'call.ended': {
      const outcome = e.type.slice('call.'.length) as CallOutcome;
      if (e.callId === s.customerCallId) return `customer.${outcome}`;
      if (e.callId === s.agentCallId) return `agent-call.${outcome}`;
      return undefined;
    }
    case 'booked':
    case 'cancel':
    case 'reschedule':
    case 'agent.granted':
    case 'agent.lost':
    case 'target.missing':
    case 'user.action':
    case 'agent.preview-answer':
    case 'bridged':
    case 'resumed':
    case 'inbound.matched':
      return e.type;
    default:
      return assertNever(e);
  }
}

/** What happens to an event no handler took. */
function ignored(s: SessionState, e: SessionEvent): Transition {
  switch (e.type) {
    case 'user.action':
    case 'agent.preview-answer':
      return invalidState(s, `not possible while the callback is ${s.gms} (${s.phase})`);
    case 'agent.granted':
      // A grant racing a withdraw (or duplicated) would keep an agent reserved for nobody until
      // the pool's reservation timeout: hand it straight back.
      if (e.agentId !== s.agentId)
        return res(s, { type: 'release-agent', agentId: e.agentId, outcome: 'unused' });
      return same(s);
    default:
      return same(s);
  }
}

function afterCompletion(s: SessionState, e: SessionEvent): Transition {
  if (e.type === 'user.action' && !isUserAction(e.action)) return invalidAction(s, e.action);
  if (e.type === 'user.action' || e.type === 'agent.preview-answer')
    return invalidState(s, `the callback is already COMPLETED (${s.reason ?? 'no reason'})`);
  return same(s);
}

// ---------------------------------------------------------------------------------------------
// Events handled the same way in every non-final phase

const ANYWHERE: Handlers = {
  cancel: (s, e, ctx) => complete(s, e.by === 'admin' ? 'CANCELLED_BY_ADMIN' : 'CANCELLED', ctx),
  'user.action': (s, e, ctx) => {
    if (!isUserAction(e.action)) return invalidAction(s, e.action);
    if (e.action !== 'cancel') return undefined; // connect and snooze depend on the phase
    return prepend(reply(s, { _id: s.id, _action: 'cancel' }), complete(s, 'CANCELLED', ctx));
  },
  // A call in progress is never cut by the TTL: in `talking` this falls through and the timer
  // is simply dropped.
  'timer.ttl': (s, _e, ctx) =>
    s.phase === 'talking' ? undefined : complete(s, 'FAIL_TIMEOUT_TTL', ctx),
  'target.missing': (s, _e, ctx) => complete(s, 'FAIL_TARGET_NOT_FOUND', ctx),
  resumed: (s, _e, ctx) => resume(s, ctx),
};

// ---------------------------------------------------------------------------------------------
// Phases

const PHASES: Record<Exclude<Phase, 'completed'>, Handlers> = {
  'waiting-start': {
    booked: (s, _e, ctx) => schedule(s, ctx),
    reschedule: (s, e, ctx) =>
      schedule(disarm({ ...s, desiredTime: e.desiredTime }, 'start', 'ttl'), ctx),
    'timer.start': (s, _e, ctx) => {
      // The EWT may have shrunk since the timer was armed: start no earlier than it now says.
      const at = startTime(s, ctx);
      return at > ctx.now ? res(arm(s, 'start', at)) : start(s, ctx);
    },
  },

  'waiting-agent': {
    'agent.granted': (s, e, ctx) => agentGranted(disarm(s, 'preview-retry'), e.agentId, ctx),
    'timer.preview-retry': (s) => res(s, requestAgent(s, 1)),
  },

  'agent-preview': {
    'agent.preview-answer': (s, e, ctx) => {
      if (e.agentId !== s.agentId)
        return invalidState(s, `agent ${e.agentId} is not previewing this callback`);
      const answer = reply(s, {
        _id: s.id,
        _action: e.accept ? 'accept' : 'reject',
        _agent_id: e.agentId,
      });
      const p = disarm(s, 'preview');
      if (e.accept) return prepend(answer, proceedWithAgent(p, ctx));
      const released = dropAgent(p, { release: 'rejected' });
      if (!s.options._agent_preview_allow_reject)
        return prepend(
          answer,
          then(released, (x) => complete(x, 'FAIL_AGENT_CONNECT', ctx)),
        );
      const at = ctx.now + sec(s.options._agent_reject_retry_timeout);
      return prepend(
        answer,
        then(released, (x) => res(arm(go(x, 'waiting-agent'), 'preview-retry', at))),
      );
    },
    'timer.preview': (s) =>
      then(dropAgent(s, { release: 'no-answer' }), (x) =>
        res(go(x, 'waiting-agent'), requestAgent(x, 1)),
      ),
    'agent.lost': (s, e) =>
      e.agentId !== s.agentId
        ? undefined
        : then(dropAgent(disarm(s, 'preview'), {}), (x) =>
            res(go(x, 'waiting-agent'), requestAgent(x, 1)),
          ),
  },

  'waiting-confirm': {
    'user.action': (s, e, ctx) => userAnswer(s, e.action, ctx),
    'timer.confirm': (s, _e, ctx) => {
      const o = s.options;
      if (s.confirmAttempts < o._max_number_of_user_availability_confirmation_attempts)
        return pushDialog(s, ctx);
      if (o._on_user_confirm_timeout.toUpperCase() === 'CONNECT-ANYWAY')
        return dialCustomer(drop(s, 'dialog'));
      return complete(s, 'FAIL_USER_NO_CONFIRM', ctx);
    },
    // The confirmed customer is dialled without an agent then; one is requested once they answer.
    'agent.lost': (s, e) => (e.agentId === s.agentId ? dropAgent(s, {}) : undefined),
  },

  snoozed: {
    'user.action': (s, e, ctx) => userAnswer(s, e.action, ctx),
    'timer.snooze': (s) => res(go(s, 'waiting-agent'), requestAgent(s, 1)),
  },

  // User Originated: the customer calls us. With an agent reserved (Delayed) the wait is
  // bounded by the confirmation budget; without one (Immediate) only by the TTL.
  'waiting-inbound': {
    'inbound.matched': (s, e, ctx) =>
      customerReached(disarm({ ...s, customerCallId: e.callId }, 'inbound'), ctx),
    'timer.inbound': (s, _e, ctx) =>
      then(dropAgent(drop(s, 'dialog'), { release: 'unused' }), (x) =>
        complete(x, 'FAIL_USER_NO_CONFIRM', ctx),
      ),
    // The customer knows the number already: an agent is requested again when they call.
    'agent.lost': (s, e) => (e.agentId === s.agentId ? dropAgent(s, {}) : undefined),
  },

  'dialling-customer': {
    'customer.answered': (s, e, ctx) => {
      if (e.amd === 'MACHINE') {
        const hungUp = res(drop(s, 'customerCallId'), { type: 'hangup', callId: e.callId });
        return then(hungUp, (x) => customerFailed(x, 'machine', ctx));
      }
      // NOTSURE is treated as a human, and so is a missing verdict (AMD off, or its result lost
      // in a restart): hanging up on a real customer costs more than an agent greeting a
      // voicemail, and GMS routes NOTSURE calls rather than retrying them.
      return customerReached(s, ctx);
    },
    'customer.failed': (s, e, ctx) => customerFailed(drop(s, 'customerCallId'), e.failure, ctx),
    // Hung up before answering or during detection: a failed attempt.
    'customer.ended': (s, _e, ctx) => customerFailed(drop(s, 'customerCallId'), 'failed', ctx),
    // First party AGENT: the agent left while the customer's phone rang. Keep dialling; a new
    // agent is requested when the customer answers (customerReached finds none).
    'agent-call.ended': (s) => dropAgent(drop(s, 'agentCallId'), { release: 'unused' }),
    'agent.lost': (s, e) => (e.agentId === s.agentId ? dropAgent(s, {}) : undefined),
  },

  'retry-wait': {
    'timer.retry': (s, _e, ctx) =>
      ctx.telephonyUp ? retry(s) : res(arm(s, 'retry', ctx.now + OUTAGE_RECHECK_MS)),
  },

  'reserving-agent': {
    'agent.granted': (s, e, ctx) => dialAgent(grant(s, e.agentId), ctx),
    'customer.ended': (s, _e, ctx) => customerAbandoned(s, ctx),
    'customer.failed': (s, e, ctx) =>
      e.failure === 'lost' ? customerLost(s, ctx) : customerAbandoned(s, ctx),
  },

  'dialling-agent': {
    'agent-call.answered': (s, _e, ctx) => {
      const answered = disarm({ ...s, agentAnsweredAt: ctx.now }, 'agent-answer');
      // First party AGENT: the agent is on the line, now call the customer.
      if (!customerOnLine(s)) return dialCustomer(answered);
      return bridgeCalls(answered, true);
    },
    'agent-call.failed': (s, e, ctx) => agentLegFailed(s, e.failure, false, ctx),
    'agent-call.ended': (s, _e, ctx) =>
      agentFailed(drop(s, 'agentCallId'), { release: 'no-answer' }, ctx),
    // The agent's answer may be among the events an outage lost: judge once telephony is back
    // (`resumed` reconciles the leg first).
    'timer.agent-answer': (s, _e, ctx) =>
      ctx.telephonyUp
        ? agentFailed(s, { release: 'no-answer' }, ctx)
        : res(arm(s, 'agent-answer', ctx.now + OUTAGE_RECHECK_MS)),
    'agent.lost': (s, e, ctx) => (e.agentId === s.agentId ? agentFailed(s, {}, ctx) : undefined),
    'customer.ended': (s, _e, ctx) => customerAbandoned(s, ctx),
    'customer.failed': (s, e, ctx) =>
      e.failure === 'lost' ? customerLost(s, ctx) : customerAbandoned(s, ctx),
  },

  bridging: {
    bridged: (s, e, ctx) =>
      e.bridgeId === s.bridgeId ? res({ ...go(s, 'talking'), bridgedAt: ctx.now }) : undefined,
    // The agent dropped before the bridge joined: the customer is still there, try another.
    'agent-call.ended': (s, _e, ctx) =>
      agentFailed(drop(s, 'agentCallId'), { release: 'no-answer', replay: true }, ctx),
    'agent-call.failed': (s, e, ctx) => agentLegFailed(s, e.failure, true, ctx),
    'agent.lost': (s, e, ctx) =>
      e.agentId === s.agentId ? agentFailed(s, { replay: true }, ctx) : undefined,
    'customer.ended': (s, _e, ctx) => customerAbandoned(s, ctx),
    'customer.failed': (s, e, ctx) =>
      e.failure === 'lost' ? customerLost(s, ctx) : customerAbandoned(s, ctx),
  },

  talking: {
    'customer.ended': (s, _e, ctx) => complete(drop(s, 'customerCallId'), 'AGENT_CONNECTED', ctx),
    'customer.failed': (s, _e, ctx) => complete(drop(s, 'customerCallId'), 'AGENT_CONNECTED', ctx),
    'agent-call.ended': (s, _e, ctx) => complete(drop(s, 'agentCallId'), 'AGENT_CONNECTED', ctx),
    'agent-call.failed': (s, _e, ctx) => complete(drop(s, 'agentCallId'), 'AGENT_CONNECTED', ctx),
  },
};

// ---------------------------------------------------------------------------------------------
// Steps shared by several phases

function schedule(s: SessionState, ctx: MachineContext): Transition {
  const ttlAt = (s.desiredTime ?? ctx.now) + sec(s.options._ttl);
  const armed = arm(s, 'ttl', ttlAt);
  const at = startTime(armed, ctx);
  return at > ctx.now ? res(arm(armed, 'start', at)) : start(disarm(armed, 'start'), ctx);
}

/** Desired time minus the EWT, but never more than the threshold ahead of it, nor in the past. */
function startTime(s: SessionState, ctx: MachineContext): number {
  if (s.desiredTime === undefined) return ctx.now;
  const lead = Math.min(Math.max(ctx.ewtMs, 0), sec(s.options._desired_connect_time_threshold));
  return Math.max(ctx.now, s.desiredTime - lead);
}

function userOriginated(o: ServiceOptions): boolean {
  return o._call_direction === 'USERORIGINATED';
}

function needsAgentFirst(o: ServiceOptions): boolean {
  if (userOriginated(o)) return o._wait_for_agent || o._agent_preview;
  return o._wait_for_agent || o._agent_preview || o._userterminated_first_connect_party === 'AGENT';
}

function start(s: SessionState, ctx: MachineContext): Transition {
  const started = { ...s, startedAt: ctx.now };
  if (needsAgentFirst(s.options)) return res(go(started, 'waiting-agent'), requestAgent(s, 1));
  if (userOriginated(s.options)) return res(go(started, 'waiting-inbound'));
  return dialCustomer(started);
}

/** User Originated Delayed: an agent is free, tell the device which number to call. */
function inviteToCall(s: SessionState, ctx: MachineContext): Transition {
  const o = s.options;
  const dialog: DeviceDialog = {
    _id: s.id,
    _action: 'DialNumber',
    _dialog_id: String(s.confirmAttempts),
    _text: `An agent is available: please call ${o._access_number}`,
    _tel_number: o._access_number,
    ...(s.accessCode !== undefined ? { _access_code: s.accessCode } : {}),
  };
  const waitMs =
    sec(o._user_confirm_timeout) *
    Math.max(1, o._max_number_of_user_availability_confirmation_attempts);
  const next = { ...go(s, 'waiting-inbound'), dialog, confirmAttempts: s.confirmAttempts + 1 };
  return res(arm(next, 'inbound', ctx.now + waitMs), { type: 'notify-device', dialog });
}

function agentGranted(s: SessionState, agentId: string, ctx: MachineContext): Transition {
  const g = grant(s, agentId);
  if (!s.options._agent_preview) return proceedWithAgent(g, ctx);
  const timeoutMs = sec(s.options._agent_preview_timeout);
  return res(arm(go(g, 'agent-preview'), 'preview', ctx.now + timeoutMs), {
    type: 'offer-preview',
    agentId,
    timeoutMs,
  });
}

/** An agent is reserved (and accepted the preview, if any) before the customer is called. */
function proceedWithAgent(s: SessionState, ctx: MachineContext): Transition {
  if (userOriginated(s.options)) return inviteToCall(s, ctx);
  if (s.options._userterminated_first_connect_party === 'AGENT') return dialAgent(s, ctx);
  // Confirmation is asked once: after a failed dial the customer already said yes (or the
  // confirm timed out into CONNECT-ANYWAY), so the retry dials straight away.
  if (s.options._wait_for_user_confirm && s.dialAttempts === 0) return pushDialog(s, ctx);
  return dialCustomer(s);
}

function pushDialog(s: SessionState, ctx: MachineContext): Transition {
  const dialog: DeviceDialog = {
    _id: s.id,
    _action: 'ConfirmationDialog',
    _dialog_id: String(s.confirmAttempts),
    _text: 'You will receive the call shortly',
    _ok_title: 'Ok',
  };
  const next = { ...go(s, 'waiting-confirm'), dialog, confirmAttempts: s.confirmAttempts + 1 };
  return res(arm(next, 'confirm', ctx.now + sec(s.options._user_confirm_timeout)), {
    type: 'notify-device',
    dialog,
  });
}

/** `connect` or `snooze` from the device, in waiting-confirm or snoozed. */
function userAnswer(s: SessionState, action: string, ctx: MachineContext): Transition | undefined {
  if (action === 'connect') {
    // GMS answers connect with the pending dialog (the seed); it is always there in these phases.
    const body: Record<string, unknown> = s.dialog ? { ...s.dialog } : { _id: s.id };
    // The agent (if still reserved) stays ours while the customer is dialled.
    return prepend(reply(s, body), dialCustomer(drop(disarm(s, 'confirm', 'snooze'), 'dialog')));
  }
  if (action === 'snooze') {
    const duration = s.options._snooze_duration;
    const released = dropAgent(disarm(s, 'confirm'), { release: 'unused' });
    const snoozed = then(released, (x) =>
      res(arm(go(x, 'snoozed'), 'snooze', ctx.now + sec(duration))),
    );
    return prepend(reply(s, { _id: s.id, _action: 'snooze', _snooze_duration: duration }), snoozed);
  }
  return undefined;
}

function dialCustomer(s: SessionState): Transition {
  const attempt = s.dialAttempts + 1;
  const callId = `${s.id}-c${attempt}`;
  const next = drop(
    { ...go(s, 'dialling-customer'), dialAttempts: attempt, customerCallId: callId },
    'customerAnsweredAt',
  );
  return res(next, {
    type: 'dial-customer',
    callId,
    attempt,
    number: s.customerNumber,
    amd: s.options._cpd_enable,
    timeoutMs: s.options._call_timeguard_timeout,
  });
}

/** A human (or NOTSURE) answered the customer call. */
function customerReached(s: SessionState, ctx: MachineContext): Transition {
  const reached = { ...s, customerAnsweredAt: ctx.now };
  if (s.agentId !== undefined && s.agentCallId !== undefined && s.agentAnsweredAt !== undefined)
    return bridgeCalls(reached, false);
  const treatment = playTreatment(reached);
  if (s.agentId !== undefined) return then(dialAgent(reached, ctx), (x) => res(x, ...treatment));
  // Customers on the line go before callbacks still waiting to be dialled (priority 0).
  return res(go(reached, 'reserving-agent'), requestAgent(s, 0), ...treatment);
}

function customerFailed(
  s: SessionState,
  failure: NonNullable<SessionState['lastFailure']>,
  ctx: MachineContext,
): Transition {
  // A reserved agent is not kept idle through the retry wait: released now, re-requested later.
  const released = dropAgent(drop({ ...s, lastFailure: failure }, 'customerAnsweredAt'), {
    release: 'unused',
  });
  return then(released, (x) => {
    // Never placed: no attempt was made on the customer. Dial again (a new call id) as soon as
    // telephony is back: on `resumed`, or at a recheck should that event have come first.
    if (failure === 'not-placed')
      return res(
        arm(
          go({ ...x, unplacedDials: (x.unplacedDials ?? 0) + 1 }, 'retry-wait'),
          'retry',
          ctx.now + OUTAGE_RECHECK_MS,
        ),
      );
    return chargedDialAttempts(x) < x.options._max_dial_attempts
      ? res(arm(go(x, 'retry-wait'), 'retry', ctx.now + sec(x.options._dial_retry_timeout)))
      : complete(x, 'FAIL_CALL_TO_CUSTOMER', ctx);
  });
}

/** The retry wait is over: dial again, or first get an agent when the service wants one first. */
function retry(s: SessionState): Transition {
  return needsAgentFirst(s.options)
    ? res(go(s, 'waiting-agent'), requestAgent(s, 1))
    : dialCustomer(s);
}

/**
 * The engine lost the customer's line (its process died, or telephony reconnected without the
 * call), not the customer: end any agent leg and dial again while attempts last.
 */
function customerLost(s: SessionState, ctx: MachineContext): Transition {
  const cleared = drop(s, 'agentCallId', 'bridgeId', 'customerCallId');
  const cleanup: SessionEffect[] =
    s.agentCallId !== undefined ? [{ type: 'hangup', callId: s.agentCallId }] : [];
  if (s.agentId === undefined) cleanup.push({ type: 'withdraw-agent-request' });
  return then(res(cleared, ...cleanup), (x) => customerFailed(x, 'lost', ctx));
}

/** The customer hung up before an agent was connected: this callback failed to reach an agent. */
function customerAbandoned(s: SessionState, ctx: MachineContext): Transition {
  return complete(drop(s, 'customerCallId'), 'FAIL_AGENT_CONNECT', ctx);
}

function dialAgent(s: SessionState, ctx: MachineContext): Transition {
  const agentId = s.agentId as string;
  const callId = `${s.id}-a${s.agentAttempts}`;
  const timeoutMs = sec(s.options._agent_reserve_timeout);
  const next = drop({ ...go(s, 'dialling-agent'), agentCallId: callId }, 'agentAnsweredAt');
  return res(arm(next, 'agent-answer', ctx.now + timeoutMs), {
    type: 'dial-agent',
    callId,
    agentId,
    timeoutMs,
  });
}

/**
 * The agent leg failed while ringing (`replay` false) or before the bridge joined. The agent is
 * blamed (made not ready) only for what the far end did: a leg our side lost or never placed
 * says nothing about the agent. A leg refused while telephony is still down is not followed by
 * a new request at once, which would only burn the attempts: `resumed` sends it on reconnect.
 */
function agentLegFailed(
  s: SessionState,
  failure: CallFailure,
  replay: boolean,
  ctx: MachineContext,
): Transition {
  const ours = failure === 'lost' || failure === 'not-placed';
  return agentFailed(
    drop(s, 'agentCallId'),
    {
      release: ours ? 'unused' : 'no-answer',
      replay,
      requestNow: failure !== 'not-placed' || ctx.telephonyUp,
    },
    ctx,
  );
}

/** The reserved agent did not answer, left, or was lost: try the next one while attempts last. */
function agentFailed(
  s: SessionState,
  how: { release?: AgentReleaseOutcome; replay?: boolean; requestNow?: boolean },
  ctx: MachineContext,
): Transition {
  const dropped = dropAgent(drop(s, 'bridgeId'), how);
  return then(dropped, (x) => {
    if (x.agentAttempts >= x.options._max_transfer_to_agent_attempts)
      return complete(x, 'FAIL_AGENT_CONNECT', ctx);
    const request = (priority: number) =>
      how.requestNow === false ? [] : [requestAgent(x, priority)];
    if (!customerOnLine(x)) return res(go(x, 'waiting-agent'), ...request(1));
    // In `bridging` the waiting treatment was already stopped: start it again.
    const treatment = how.replay ? playTreatment(x) : [];
    return res(go(x, 'reserving-agent'), ...request(0), ...treatment);
  });
}

function bridgeCalls(s: SessionState, stopTreatment: boolean): Transition {
  const bridgeId = `${s.id}-b`;
  const customer = s.customerCallId as string;
  const effects: SessionEffect[] = [];
  if (stopTreatment && s.options._treatment_waiting_for_agent !== '')
    effects.push({ type: 'stop-playback', callId: customer });
  effects.push({ type: 'bridge', bridgeId, callIds: [customer, s.agentCallId as string] });
  return res({ ...go(s, 'bridging'), bridgeId }, ...effects);
}

/**
 * After a restart: ask telephony about every call we believe is live (it answers with the real
 * events), and repeat what only lived in memory elsewhere (the pool's queue, a preview offer,
 * a bridge that may never have been made).
 */
function resume(s: SessionState, ctx: MachineContext): Transition {
  // A dial telephony refused waits for it: dial now rather than at the next recheck.
  if (s.phase === 'retry-wait' && s.lastFailure === 'not-placed' && ctx.telephonyUp)
    return retry(disarm(s, 'retry'));
  const effects: SessionEffect[] = [];
  for (const callId of [s.customerCallId, s.agentCallId])
    if (callId !== undefined) effects.push({ type: 'reconcile-call', callId });
  if (awaitingAgent(s)) effects.push(requestAgent(s, s.phase === 'reserving-agent' ? 0 : 1));
  if (s.phase === 'agent-preview' && s.agentId !== undefined && s.timers.preview !== undefined)
    effects.push({
      type: 'offer-preview',
      agentId: s.agentId,
      timeoutMs: Math.max(s.timers.preview - ctx.now, 0),
    });
  if (s.phase === 'bridging' && s.bridgeId !== undefined)
    effects.push({
      type: 'bridge',
      bridgeId: s.bridgeId,
      callIds: [s.customerCallId as string, s.agentCallId as string],
    });
  return res(s, ...effects);
}

/** Ends the session: hangs up what is live, gives back the agent or the place in the queue. */
function complete(s: SessionState, reason: CallbackReason, ctx: MachineContext): Transition {
  const effects: SessionEffect[] = [];
  for (const callId of [s.customerCallId, s.agentCallId])
    if (callId !== undefined) effects.push({ type: 'hangup', callId });
  if (s.agentId !== undefined)
    effects.push({
      type: 'release-agent',
      agentId: s.agentId,
      outcome: s.phase === 'talking' ? 'handled' : 'unused',
    });
  else if (awaitingAgent(s)) effects.push({ type: 'withdraw-agent-request' });
  const done = drop(
    { ...go(s, 'completed'), reason, completedAt: ctx.now, timers: {} },
    'dialog',
    'customerCallId',
    'agentCallId',
  );
  return res(done, ...effects);
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** A request to the agent pool is outstanding (it is withdrawn on completion). */
function awaitingAgent(s: SessionState): boolean {
  if (s.phase === 'reserving-agent') return true;
  return s.phase === 'waiting-agent' && s.timers['preview-retry'] === undefined;
}

function customerOnLine(s: SessionState): boolean {
  return s.customerCallId !== undefined && s.customerAnsweredAt !== undefined;
}

function grant(s: SessionState, agentId: string): SessionState {
  return { ...s, agentId, agentAttempts: s.agentAttempts + 1 };
}

/** Forgets the reserved agent: hangs up its call if live and, when asked, releases it. */
function dropAgent(s: SessionState, how: { release?: AgentReleaseOutcome }): Transition {
  const effects: SessionEffect[] = [];
  if (s.agentCallId !== undefined) effects.push({ type: 'hangup', callId: s.agentCallId });
  if (s.agentId !== undefined && how.release !== undefined)
    effects.push({ type: 'release-agent', agentId: s.agentId, outcome: how.release });
  const next = drop(
    disarm(s, 'agent-answer', 'preview'),
    'agentId',
    'agentCallId',
    'agentAnsweredAt',
  );
  return res(next, ...effects);
}

function requestAgent(s: SessionState, priority: number): SessionEffect {
  return { type: 'request-agent', target: s.options._target, priority };
}

function playTreatment(s: SessionState): SessionEffect[] {
  const media = s.options._treatment_waiting_for_agent;
  if (media === '' || s.customerCallId === undefined) return [];
  return [{ type: 'play', callId: s.customerCallId, media }];
}

function sec(n: number): number {
  return n * 1000;
}

function go(s: SessionState, phase: Phase): SessionState {
  return { ...s, phase };
}

function arm(s: SessionState, timer: TimerName, at: number): SessionState {
  return { ...s, timers: { ...s.timers, [timer]: at } };
}

function disarm(s: SessionState, ...names: TimerName[]): SessionState {
  if (!names.some((n) => s.timers[n] !== undefined)) return s;
  return { ...s, timers: without(s.timers, names) };
}

type OptionalKey = {
  [K in keyof SessionState]-?: undefined extends SessionState[K] ? K : never;
}[keyof SessionState];

/** Removes optional fields (rather than setting them to undefined, which would persist as keys). */
function drop(s: SessionState, ...keys: OptionalKey[]): SessionState {
  if (!keys.some((k) => k in s)) return s;
  return without(s, keys);
}

/**
 * A copy of `o` without `keys`, built key by key in `o`'s order. Not a spread and `delete`:
 * deleting a property other than the last one added turns a V8 object into a dictionary, and
 * every later spread, read and JSON.stringify of it, and of the copies spread from it, is slower
 * (18 % of the states a simulated day's transitions started from were dictionaries).
 */
function without<T extends object>(o: T, keys: readonly string[]): T {
  const copy: Record<string, unknown> = {};
  // for…in over a plain object: its own keys in order, without Object.entries' arrays.
  for (const k in o) if (!keys.includes(k)) copy[k] = o[k];
  return copy as T;
}

function res(state: SessionState, ...effects: SessionEffect[]): Transition {
  return { state, effects };
}

function same(state: SessionState): Transition {
  return { state, effects: [] };
}

function then(t: Transition, f: (s: SessionState) => Transition): Transition {
  const next = f(t.state);
  return { state: next.state, effects: [...t.effects, ...next.effects] };
}

/** Puts the effects of `first` (a reply) before those of `t`. */
function prepend(first: Transition, t: Transition): Transition {
  return { state: t.state, effects: [...first.effects, ...t.effects] };
}

function reply(s: SessionState, body: Record<string, unknown>): Transition {
  return res(s, { type: 'reply', ok: true, body });
}

function invalidState(s: SessionState, message: string): Transition {
  return res(s, { type: 'reply', ok: false, error: 'CallbackExceptionInvalidState', message });
}

function invalidAction(s: SessionState, action: string): Transition {
  return res(s, {
    type: 'reply',
    ok: false,
    error: 'CallbackExceptionInvalidAction',
    message: `unknown action '${action}' (expected ${USER_ACTIONS.join(', ')})`,
  });
}

/** Keeps `gms` in step with the phase and reports every change of state or reason. */
function withStatus(before: SessionState, t: Transition): Transition {
  const gms = GMS_STATE_OF[t.state.phase];
  const state = t.state.gms === gms ? t.state : { ...t.state, gms };
  if (state.gms === before.gms && state.reason === before.reason)
    return { state, effects: t.effects };
  const status: SessionEffect =
    state.reason === undefined
      ? { type: 'status-changed', gms: state.gms }
      : { type: 'status-changed', gms: state.gms, reason: state.reason };
  return { state, effects: [...t.effects, status] };
}
