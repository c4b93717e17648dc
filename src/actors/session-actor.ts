// A session actor runs one callback. It feeds events to the pure machine, persists the new
// state before running any effect (write-ahead), then runs the effects. Dials are recorded in
// the store under their deterministic call id, in the transaction of the transition that asks
// for them, so a replay can never dial twice and a dial waits for one commit only. The
// actor holds no state the store does not: it stops when idle and is re-spawned on demand.
// A command refused because telephony is down is not the far end's doing: a refused dial is
// fed back as `not-placed`, a refused hang-up is handed to the engine to repeat on reconnect.

import { dispatch, spawn, stop, type Ref } from 'nact';
import type { Clock, TimerHandle } from '../clock';
import type { DialableNumber } from '../domain/phone';
import { nextWake, transition } from '../domain/session-machine';
import type {
  MachineContext,
  SessionEffect,
  SessionEvent,
  SessionState,
  Transition,
} from '../domain/session-types';
import { DialbackError, assertNever } from '../errors';
import type { Logger } from '../logger';
import type { EngineMetrics } from '../metrics';
import type { CallbackRow, Store } from '../store/store';
import type { TelephonyPort } from '../telephony/port';
import { isTelephonyError } from '../telephony/telephony-error';
import type { EwtBoard, PoolInbox } from './agent-pool-actor';
import type { DeviceAddress, NotifierMsg } from './notifier-actor';
import type { TimerMsg, WakeWindow } from './timer-actor';

export type ActionReply = { ok: true; body: Record<string, unknown> } | { ok: false; error: Error };

export type SessionMsg =
  | {
      type: 'create';
      row: CallbackRow;
      booking?: { slotStart: number; limit: number };
      /** The first step, when createDormant already worked it out for this request. */
      booked?: Transition;
      reply: (r: ActionReply) => void;
    }
  | { type: 'event'; event: SessionEvent; reply?: (r: ActionReply) => void }
  | {
      type: 'reschedule';
      desiredTime: number;
      booking: { slotStart: number; limit: number } | null;
      userData: Record<string, string>;
      reply: (r: ActionReply) => void;
    }
  | { type: 'wake' }
  /** The idle timer fired: stop unless something happened since it was armed. */
  | { type: 'idle' };

export interface SessionDeps {
  store: Store;
  clock: Clock;
  telephony: TelephonyPort;
  logger: Logger;
  metrics: EngineMetrics;
  pool: PoolInbox;
  timer: Ref<TimerMsg>;
  /** What the timer holds in memory: a wake-up past it is left to the timer's next loads. */
  wakeWindow: WakeWindow;
  notifier: Ref<NotifierMsg>;
  ewt: EwtBoard;
  agentEndpoint: (agentId: string) => string | undefined;
  /**
   * A hang-up telephony refused because it was down: the call may still be up, and no session
   * follows it any more, so the engine repeats the hang-up once telephony is back.
   */
  oweHangup: (callId: string) => void;
  /** Re-enters a message through the supervisor (for messages left when the actor stops). */
  reroute: (id: string, msg: SessionMsg) => void;
  /**
   * The session's current state, as it just wrote it to the store (or read it, when loaded):
   * the store's row for it until the next one, or until the actor stops (`stopped`).
   */
  current: (id: string, ref: Ref<SessionMsg>, state: SessionState) => void;
  /**
   * Called when the actor decides to stop, before any later message could reach it: the
   * engine routes to live actors directly and must forget this one at that very moment.
   */
  stopped: (id: string, ref: Ref<SessionMsg>) => void;
  /** The callback's COMPLETED state is committed: nothing but a request can change it now. */
  completed: (id: string) => void;
  idleMs: number;
}

/** What recording each dial's call id found: a new id, one dialled before, or a failed write. */
type DialRecords = Map<string, 'fresh' | 'known' | 'failed'>;

interface Live {
  state: SessionState;
  device?: DeviceAddress;
  log: Logger;
}

/** Phases with a call of ours up or ringing. */
const ON_A_CALL: ReadonlySet<SessionState['phase']> = new Set([
  'dialling-customer',
  'reserving-agent',
  'dialling-agent',
  'bridging',
  'talking',
]);

const HOLDS_AGENT: ReadonlySet<SessionState['phase']> = new Set([
  'agent-preview',
  'waiting-confirm',
  'waiting-inbound',
  'dialling-customer',
  'dialling-agent',
  'bridging',
  'talking',
]);

function deviceOf(row: CallbackRow): DeviceAddress | undefined {
  const os = row.userData._device_os;
  if (!os) return undefined;
  return { os, notificationId: row.userData._device_notification_id ?? '' };
}

/**
 * Creates a booking without a live session when it has nothing to do before its first wake and
 * that wake is further off than a session's idle time (a session spawned for it would only
 * stop idle first). The row is written, and once it is committed the timer is armed: when due,
 * the timer wakes a session loaded from the store (`written`). When the booking needs a session
 * now, nothing is written and the first step is handed back (`booked`), for the caller to
 * create the booking through a session that takes that step instead of working it out again.
 */
export function createDormant(
  deps: SessionDeps,
  row: CallbackRow,
  booking?: { slotStart: number; limit: number },
): { written: Promise<void> } | { booked: Transition } {
  const now = deps.clock.now();
  const t = transition(
    row.state,
    { type: 'booked' },
    {
      now,
      ewtMs: deps.ewt.get(row.state.options._target),
      telephonyUp: deps.telephony.isReady(),
    },
  );
  const wake = nextWake(t.state);
  if (wake === undefined || wake - now <= deps.idleMs) return { booked: t };
  if (t.effects.some((e) => e.type !== 'reply')) return { booked: t };
  deps.store.insertCallback(
    { ...row, state: t.state, gms: t.state.gms, nextWakeAt: wake },
    booking,
  );
  const written = new Promise<void>((resolve, reject) => {
    // The client hears of its booking only once the booking is committed.
    deps.store.afterCommit((err) => {
      if (err) {
        deps.logger.error({ err, callbackId: row.id }, 'a booking was not committed');
        reject(
          new DialbackError(
            'CallbackExceptionStoreUnavailable',
            'Storage is unavailable, try again later',
          ),
        );
        return;
      }
      deps.metrics.bookings.inc({ service: row.service });
      scheduleFirstWake(deps, row.id, wake);
      resolve();
    });
  });
  return { written };
}

/**
 * Tells the timer of a committed new booking's first wake-up, unless it lies past the timer's
 * window: the timer would only drop it, and its next loads read it from the row.
 */
function scheduleFirstWake(deps: SessionDeps, id: string, wake: number | null): void {
  if (deps.wakeWindow.holds(wake)) dispatch(deps.timer, { type: 'schedule', id, at: wake });
}

export function spawnSession(parent: Ref<unknown>, id: string, deps: SessionDeps): Ref<SessionMsg> {
  const { store, clock } = deps;

  const load = (me: Ref<SessionMsg>): Live | undefined => {
    const row = store.get(id);
    if (!row) return undefined;
    deps.current(id, me, row.state);
    return {
      state: row.state,
      device: deviceOf(row),
      log: deps.logger.child({ callbackId: id, service: row.service }),
    };
  };

  const self = (ctx: { self: Ref<unknown> }): Ref<SessionMsg> => ctx.self as Ref<SessionMsg>;

  const machineCtx = (s: SessionState): MachineContext => ({
    now: clock.now(),
    ewtMs: deps.ewt.get(s.options._target),
    telephonyUp: deps.telephony.isReady(),
  });

  // Idle stop is our own rather than nact's shutdownAfter: nact stops from a timer, outside
  // the mailbox, leaving a moment where a message sent to the ref is silently dropped. Here
  // the decision is a message, taken in order, and the engine forgets the ref at once.
  let lastActivity = clock.now();
  let idleTimer: TimerHandle | undefined;
  const armIdle = (me: Ref<SessionMsg>): void => {
    if (idleTimer) return;
    idleTimer = clock.setTimer(lastActivity + deps.idleMs, () => {
      idleTimer = undefined;
      dispatch(me, { type: 'idle' });
    });
  };
  const retire = (me: Ref<SessionMsg>): void => {
    if (idleTimer) clock.clearTimer(idleTimer);
    idleTimer = undefined;
    deps.stopped(id, me);
    stop(me);
  };
  /** Stops a session that ended, and tells the engine once its ending is committed. */
  const retireCompleted = (me: Ref<SessionMsg>): void => {
    retire(me);
    store.afterCommit((err) => {
      if (!err) deps.completed(id);
    });
  };

  /** Applies one event: transition, persist, then effects. Returns the new live state. */
  const apply = (
    live: Live,
    event: SessionEvent,
    me: Ref<SessionMsg>,
    reply?: (r: ActionReply) => void,
  ): Live => {
    const before = live.state;
    const ctx = machineCtx(before);
    const now = ctx.now;
    const t = transition(before, event, ctx);
    if (t.state === before && t.effects.length === 0) {
      reply?.({ ok: true, body: {} });
      return live;
    }
    const wake = nextWake(t.state) ?? null;
    try {
      store.saveSession(
        id,
        t.state,
        event as SessionEvent & Record<string, unknown>,
        wake,
        now,
        before,
      );
    } catch (err) {
      live.log.error(
        { err, event: event.type },
        'could not persist the session: event not applied',
      );
      reply?.({
        ok: false,
        error: new DialbackError(
          'CallbackExceptionStoreUnavailable',
          'Storage is unavailable, try again later',
        ),
      });
      return live;
    }
    deps.current(id, me, t.state);
    const next: Live = { ...live, state: t.state };
    const dials = recordDials(t.effects, live.log);
    // A request to the agent pool need not wait for the commit: it lives in memory and dies with
    // the process, and the grant that answers it is one more event whose own effects (the dial)
    // wait for their commit. Should this commit fail, the session reloads the older state,
    // which hands any grant straight back (an unexpected grant is released).
    for (const effect of t.effects) if (effect.type === 'request-agent') run(next, effect, dials);
    // Write-ahead: nothing else is acknowledged and no other effect runs before the commit.
    store.afterCommit((err) => {
      if (err) return lostWrite(live, me, err, reply);
      if (nextWake(before) !== wake) dispatch(deps.timer, { type: 'schedule', id, at: wake });
      if (before.phase !== 'talking' && t.state.phase === 'talking' && t.state.agentId)
        deps.pool.send({ type: 'busy', callbackId: id, agentId: t.state.agentId });
      let replied = false;
      for (const effect of t.effects) {
        if (effect.type === 'reply') {
          replied = true;
          if (effect.ok) reply?.({ ok: true, body: effect.body });
          else reply?.({ ok: false, error: new DialbackError(effect.error, effect.message) });
          continue;
        }
        if (effect.type !== 'request-agent') run(next, effect, dials);
      }
      if (!replied) reply?.({ ok: true, body: {} });
    });
    return next;
  };

  /**
   * The commit of a transition failed: its effects never run, the caller learns it, and the
   * actor retires so that the next message starts again from what the store holds.
   */
  const lostWrite = (
    live: Live,
    me: Ref<SessionMsg>,
    err: Error,
    reply?: (r: ActionReply) => void,
  ): void => {
    live.log.error({ err }, 'a session write was not committed: the event is dropped');
    reply?.({
      ok: false,
      error: new DialbackError(
        'CallbackExceptionStoreUnavailable',
        'Storage is unavailable, try again later',
      ),
    });
    retire(me);
  };

  // Results of telephony calls come back through the supervisor, not to `me`: this actor may
  // have stopped (idle) before the promise settled, and a stopped ref drops its messages.
  const feed = (event: SessionEvent): void => {
    deps.reroute(id, { type: 'event', event });
  };

  const run = (
    live: Live,
    effect: Exclude<SessionEffect, { type: 'reply' }>,
    dials: DialRecords,
  ): void => {
    const s = live.state;
    const log = live.log;
    const failed = (what: string, callId: string) => (err: unknown) => {
      // Refused while telephony is down: no call was placed, which is nobody's failure.
      const down = isTelephonyError(err, 'TELEPHONY_DOWN');
      log.warn({ err, callId }, `${what} ${down ? 'refused: telephony is down' : 'failed'}`);
      feed({ type: 'call.failed', callId, failure: down ? 'not-placed' : 'failed' });
    };
    switch (effect.type) {
      case 'request-agent':
        deps.pool.send({
          type: 'request',
          callbackId: id,
          target: effect.target,
          priority: effect.priority,
        });
        return;
      case 'withdraw-agent-request':
        deps.pool.send({ type: 'withdraw', callbackId: id });
        return;
      case 'release-agent':
        deps.pool.send({
          type: 'release',
          callbackId: id,
          agentId: effect.agentId,
          outcome: effect.outcome,
        });
        return;
      case 'dial-customer': {
        const o = s.options;
        whenDialRecorded(effect.callId, dials, log, () => {
          deps.metrics.dials.inc({ kind: 'customer' });
          deps.telephony
            .dialCustomer({
              callId: effect.callId,
              callbackId: id,
              // Validated when the callback was accepted: only such numbers are ever stored.
              number: effect.number as DialableNumber,
              amd: effect.amd,
              timeoutMs: effect.timeoutMs,
              ...(o._calling_party_number ? { callerId: o._calling_party_number } : {}),
              ...(o._calling_party_display_name
                ? { callerName: o._calling_party_display_name }
                : {}),
            })
            .catch(failed('dial customer', effect.callId));
        });
        return;
      }
      case 'dial-agent': {
        const endpoint = deps.agentEndpoint(effect.agentId);
        if (!endpoint) {
          feed({ type: 'call.failed', callId: effect.callId, failure: 'unreachable' });
          return;
        }
        whenDialRecorded(effect.callId, dials, log, () => {
          deps.metrics.dials.inc({ kind: 'agent' });
          deps.telephony
            .dialAgent({
              callId: effect.callId,
              callbackId: id,
              agentId: effect.agentId,
              endpoint,
              timeoutMs: effect.timeoutMs,
            })
            .catch(failed('dial agent', effect.callId));
        });
        return;
      }
      case 'bridge':
        deps.telephony.bridge(effect.bridgeId, effect.callIds).catch((err: unknown) => {
          const down = isTelephonyError(err, 'TELEPHONY_DOWN');
          log.warn({ err }, down ? 'bridge refused: telephony is down' : 'bridge failed');
          // Without a bridge the agent leg is useless: end it and let the machine move on.
          const agentCall = effect.callIds.find((c) => c === s.agentCallId);
          if (agentCall)
            feed({
              type: 'call.failed',
              callId: agentCall,
              failure: down ? 'not-placed' : 'failed',
            });
        });
        return;
      case 'play':
        deps.telephony.play(effect.callId, effect.media).catch((err: unknown) => {
          log.warn({ err, media: effect.media }, 'treatment could not be played');
        });
        return;
      case 'stop-playback':
        deps.telephony.stopPlayback(effect.callId).catch((err: unknown) => {
          log.debug({ err }, 'stopping the treatment failed');
        });
        return;
      case 'hangup':
        deps.telephony.hangup(effect.callId).catch((err: unknown) => {
          if (isTelephonyError(err, 'TELEPHONY_DOWN')) {
            log.warn({ callId: effect.callId }, 'hang-up refused: telephony is down, owed');
            deps.oweHangup(effect.callId);
          } else log.warn({ err, callId: effect.callId }, 'hang-up failed');
        });
        return;
      case 'reconcile-call':
        reconcile(effect.callId, log);
        return;
      case 'notify-device':
        dispatch(deps.notifier, {
          type: 'publish',
          kind: 'dialog',
          callbackId: id,
          service: s.service,
          data: effect.dialog,
          ...(live.device ? { device: live.device } : {}),
          options: s.options,
        });
        return;
      case 'offer-preview':
        dispatch(deps.notifier, {
          type: 'publish',
          kind: 'preview',
          callbackId: id,
          service: s.service,
          data: {
            _id: id,
            _action: 'AgentPreview',
            _agent_id: effect.agentId,
            _timeout: Math.round(effect.timeoutMs / 1000),
          },
          options: s.options,
        });
        return;
      case 'status-changed':
        deps.metrics.transitions.inc({ service: s.service, state: effect.gms });
        if (effect.gms === 'COMPLETED')
          deps.metrics.outcomes.inc({ service: s.service, reason: effect.reason ?? 'UNKNOWN' });
        dispatch(deps.notifier, {
          type: 'publish',
          kind: 'status',
          callbackId: id,
          service: s.service,
          data: {
            _id: id,
            _callback_state: effect.gms,
            ...(effect.reason ? { _callback_reason: effect.reason } : {}),
          },
          options: s.options,
        });
        return;
      default:
        assertNever(effect);
    }
  };

  /**
   * Records the call ids of a transition's dials in the transition's own transaction, before
   * its commit: the commit that makes the state durable makes the dial records durable too. A
   * dial-agent without an endpoint is never placed (it fails as unreachable) and not recorded.
   */
  const recordDials = (effects: readonly SessionEffect[], log: Logger): DialRecords => {
    const out: DialRecords = new Map();
    for (const e of effects) {
      if (e.type !== 'dial-customer' && e.type !== 'dial-agent') continue;
      if (e.type === 'dial-agent' && !deps.agentEndpoint(e.agentId)) continue;
      try {
        out.set(e.callId, store.recordDial(e.callId, id, clock.now()) ? 'fresh' : 'known');
      } catch (err) {
        log.error({ err, callId: e.callId }, 'could not record the dial: not placed');
        out.set(e.callId, 'failed');
      }
    }
    return out;
  };

  /**
   * Runs after the commit of the transition that recorded the call id (recordDials): a call
   * is placed only once its record is durable, and an id recorded before (a replay after a
   * crash) is reconciled instead of dialled again.
   */
  const whenDialRecorded = (
    callId: string,
    dials: DialRecords,
    log: Logger,
    dial: () => void,
  ): void => {
    const record = dials.get(callId) ?? 'failed';
    if (record === 'failed') {
      feed({ type: 'call.failed', callId, failure: 'not-placed' });
      return;
    }
    if (record === 'known') {
      log.warn({ callId }, 'attempt already dialled once: reconciling instead');
      reconcile(callId, log);
      return;
    }
    dial();
  };

  /** Asks telephony what became of a call whose events may have been missed. */
  const reconcile = (callId: string, log: Logger): void => {
    deps.telephony
      .getCall(callId)
      .then((snap) => {
        if (!snap || snap.status === 'ended') {
          feed({ type: 'call.failed', callId, failure: 'lost' });
          if (snap) feed({ type: 'call.ended', callId });
        } else if (snap.status === 'answered') {
          // The AMD verdict was lost with the events: the line is live, treat it as reached.
          feed({ type: 'call.answered', callId, amd: 'NOTSURE' });
        } else if (snap.status === 'bridged' && snap.bridgeId) {
          feed({ type: 'bridged', bridgeId: snap.bridgeId });
        }
      })
      .catch((err: unknown) => {
        log.warn({ err, callId }, 'could not reconcile a call: treating it as lost');
        feed({ type: 'call.failed', callId, failure: 'lost' });
      });
  };

  return spawn(
    parent,
    (live: Live | undefined, msg: SessionMsg, ctx): Live | undefined => {
      const me = self(ctx);
      if (msg.type === 'idle') {
        // On a call the session stays: the call will speak (an answer, a hang-up), and
        // stopping now would only mean loading it again for that event. That message arms the
        // idle timer again. Live sessions so stay bounded by the calls up.
        if (live && ON_A_CALL.has(live.state.phase)) return live;
        if (clock.now() - lastActivity >= deps.idleMs) retire(me);
        else armIdle(me);
        return live;
      }
      lastActivity = clock.now();
      armIdle(me);
      switch (msg.type) {
        case 'create': {
          const row = msg.row;
          const t = msg.booked ?? transition(row.state, { type: 'booked' }, machineCtx(row.state));
          const wake = nextWake(t.state) ?? null;
          try {
            store.insertCallback(
              { ...row, state: t.state, gms: t.state.gms, nextWakeAt: wake },
              msg.booking,
            );
          } catch (err) {
            msg.reply({ ok: false, error: err instanceof Error ? err : new Error(String(err)) });
            retire(me);
            return undefined;
          }
          deps.current(id, me, t.state);
          const created: Live = {
            state: t.state,
            device: deviceOf(row),
            log: deps.logger.child({ callbackId: id, service: row.service }),
          };
          const dials = recordDials(t.effects, created.log);
          // The client hears of its booking only once the booking is committed.
          store.afterCommit((err) => {
            if (err) return lostWrite(created, me, err, msg.reply);
            deps.metrics.bookings.inc({ service: row.service });
            msg.reply({ ok: true, body: { _id: id } });
            scheduleFirstWake(deps, id, wake);
            for (const effect of t.effects)
              if (effect.type !== 'reply') run(created, effect, dials);
          });
          return created;
        }
        case 'event': {
          const cur = live ?? load(me);
          if (!cur) {
            msg.reply?.({
              ok: false,
              error: new DialbackError('CallbackExceptionNotFound', `Callback ${id} not found`),
            });
            return undefined;
          }
          if (msg.event.type === 'resumed' && cur.state.agentId && HOLDS_AGENT.has(cur.state.phase))
            deps.pool.send({
              type: 'restore',
              callbackId: id,
              agentId: cur.state.agentId,
              busy: cur.state.phase === 'talking',
            });
          const next = apply(cur, msg.event, me, msg.reply);
          if (next.state.phase === 'completed') retireCompleted(me);
          return next;
        }
        case 'reschedule': {
          const cur = live ?? load(me);
          if (!cur) {
            msg.reply({
              ok: false,
              error: new DialbackError('CallbackExceptionNotFound', `Callback ${id} not found`),
            });
            return undefined;
          }
          if (cur.state.phase !== 'waiting-start') {
            msg.reply({
              ok: false,
              error: new DialbackError(
                'CallbackExceptionInvalidState',
                `Callback ${id} is ${cur.state.gms}: only a SCHEDULED callback can be rescheduled`,
              ),
            });
            return cur;
          }
          const mctx = machineCtx(cur.state);
          const now = mctx.now;
          const t = transition(
            cur.state,
            { type: 'reschedule', desiredTime: msg.desiredTime },
            mctx,
          );
          const wake = nextWake(t.state) ?? null;
          try {
            store.moveBooking(id, msg.booking, msg.desiredTime, t.state, msg.userData, now);
          } catch (err) {
            msg.reply({ ok: false, error: err instanceof Error ? err : new Error(String(err)) });
            return cur;
          }
          deps.current(id, me, t.state);
          const next: Live = { ...cur, state: t.state };
          const dials = recordDials(t.effects, cur.log);
          store.afterCommit((err) => {
            if (err) return lostWrite(cur, me, err, msg.reply);
            dispatch(deps.timer, { type: 'schedule', id, at: wake });
            for (const effect of t.effects) if (effect.type !== 'reply') run(next, effect, dials);
            msg.reply({ ok: true, body: {} });
          });
          return next;
        }
        case 'wake': {
          let cur = live ?? load(me);
          if (!cur) return undefined;
          const now = clock.now();
          const due = Object.entries(cur.state.timers)
            .filter(([, at]) => at !== undefined && at <= now)
            .sort((a, b) => (a[1] as number) - (b[1] as number));
          for (const [timer] of due) {
            cur = apply(cur, { type: 'timer', timer: timer as keyof SessionState['timers'] }, me);
            if (cur.state.phase === 'completed') break;
          }
          if (due.length === 0) {
            const at = nextWake(cur.state);
            if (at !== undefined) dispatch(deps.timer, { type: 'schedule', id, at });
          }
          if (cur.state.phase === 'completed') retireCompleted(me);
          return cur;
        }
        default:
          return assertNever(msg);
      }
    },
    id,
    {
      onCrash: (msg, err, ctx) => {
        deps.stopped(id, ctx.self as Ref<SessionMsg>);
        if (idleTimer) clock.clearTimer(idleTimer);
        deps.logger.error(
          { err, callbackId: id, msg: (msg as SessionMsg | undefined)?.type },
          'session crashed',
        );
        const m = msg as SessionMsg | undefined;
        if (m && 'reply' in m && m.reply)
          m.reply({
            ok: false,
            error: new DialbackError(
              'CallbackExceptionInternal',
              'The callback could not be processed',
            ),
          });
        return ctx.stop;
      },
      afterStop: (_state, ctx) => {
        // Messages that arrived after the decision to stop are not lost: a fresh actor takes them.
        for (const m of ctx.mailbox as unknown as Array<{ message: SessionMsg }>)
          deps.reroute(id, m.message);
      },
    },
  );
}
