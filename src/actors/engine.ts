// The engine: builds the actor system (timer, agent pool, notifier, a supervisor per service),
// wires telephony events to sessions, resumes open sessions after a restart or a reconnect
// (repeating first the hang-ups telephony refused while it was down, then ending every call
// the switch still has that no session owns: owed hang-ups derived, so they survive a crash),
// and implements
// the CallbackEngine facade the HTTP layer uses. Request validation lives here and in the
// domain; the HTTP layer only parses and maps errors.

import { randomFillSync, randomInt } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { dispatch, start, stop, type Ref } from 'nact';
import { ScopedClock, type Clock } from '../clock';
import { AgentPool, type AgentConfig } from '../domain/agent-pool';
import { uuidV7 } from '../domain/callback-id';
import { checkDesiredTime, parseFutureLimit } from '../domain/future-limit';
import type { OfficeHours } from '../domain/office-hours';
import { applyOptions, isOptionName, type ServiceOptions } from '../domain/options';
import { validateNumber } from '../domain/phone';
import { parseIsoInstant } from '../domain/zone-time';
import { chargedDialAttempts, initialState } from '../domain/session-machine';
import type { SessionEvent, SessionState } from '../domain/session-types';
import {
  availabilityWindow,
  computeSlots,
  slotLimit,
  slotStartFor,
  type CapacityService,
} from '../domain/slots';
import type {
  AdminQueueQuery,
  AgentView,
  AvailabilityQuery,
  AvailabilityResult,
  CallbackEngine,
  CallbackView,
  CreateResult,
  EngineHealth,
  QueryCondition,
  QueuePosition,
  ServiceView,
  StreamMessage,
} from '../engine-api';
import { DialbackError, assertNever } from '../errors';
import type { Logger } from '../logger';
import { createMetrics, type EngineMetrics } from '../metrics';
import { SlotFullError, type CallbackRow, type SessionHoldings, type Store } from '../store/store';
import {
  DIALBACK_CALL_ID,
  type LiveCall,
  type TelephonyEvent,
  type TelephonyPort,
} from '../telephony/port';
import { isTelephonyError } from '../telephony/telephony-error';
import { EwtBoard, spawnAgentPool, type PoolInbox } from './agent-pool-actor';
import { MessageHub, spawnNotifier, type OutboundDelivery } from './notifier-actor';
import type { ActionReply, SessionDeps, SessionMsg } from './session-actor';
import { createDormant, spawnSession } from './session-actor';
import { spawnSupervisor, type SupervisorMsg } from './supervisor';
import { WakeWindow, spawnTimer, type TimerMsg } from './timer-actor';

export interface ServiceDefinition {
  name: string;
  options: ServiceOptions;
  officeHoursName: string | null;
  officeHours: OfficeHours;
  capacityName: string | null;
  capacity?: CapacityService;
}

export interface EngineDeps {
  clock: Clock;
  store: Store;
  telephony: TelephonyPort;
  logger: Logger;
  services: ServiceDefinition[];
  agents: Array<AgentConfig & { initialState?: 'signed-out' | 'ready' | 'not-ready' }>;
  /** Prefix of callback ids (the seed's `440-…`): names the node that created them. */
  nodeId: string;
  metrics?: EngineMetrics;
  outbound?: OutboundDelivery;
  /** Session actors stop after this long without a message. */
  idleMs?: number;
  /** Wake-ups held in memory this far ahead. */
  horizonMs?: number;
  reservationTimeoutMs?: number;
  wrapUpMs?: number;
  defaultHandleMs?: number;
  reconcileEveryMs?: number;
}

/** Grace for a desired time that is a moment in the past (clock skew, slow networks). */
const PAST_GRACE_MS = 60_000;
const RESUME_PAGE = 1000;
/** Completed callbacks remembered to drop their late events (see Engine.completed). */
const RECENTLY_COMPLETED = 10_000;
/**
 * Random bytes for callback ids, drawn from the CSPRNG 4 KiB at a time: one call per id cost
 * more than the rest of the id.
 */
const ID_POOL = Buffer.alloc(4096);
let idPoolAt = ID_POOL.length;
function idRandom(): Uint8Array {
  if (idPoolAt + 10 > ID_POOL.length) {
    randomFillSync(ID_POOL);
    idPoolAt = 0;
  }
  idPoolAt += 10;
  return ID_POOL.subarray(idPoolAt - 10, idPoolAt);
}

/** Availability answers kept per service before the memo starts afresh. */
const AVAILABILITY_MEMO_LIMIT = 128;

/** The answers of one minute and one version of the seats (see Engine.reused). */
interface Memo<T> {
  stamp: string;
  answers: Map<string, T>;
}

const CALL_ID = DIALBACK_CALL_ID;
const BRIDGE_ID = /^(.+)-b$/;
/** Request fields that are neither options nor user data. */
const CORE_FIELDS = new Set(['_customer_number', '_desired_time', '_new_desired_time', '_id']);

/**
 * A live session actor, and the state it last wrote or read (once it has): that is what the
 * store holds for it, the same connection seeing its own uncommitted writes, so whose call an
 * answer is, and whether an agent is still held, are answered from it without reading the row
 * (see ownsCall and stillHeld).
 */
interface LiveSession {
  ref: Ref<SessionMsg>;
  state?: SessionState;
}

export class Engine implements CallbackEngine {
  readonly metrics: EngineMetrics;
  readonly pool: AgentPool;
  readonly ewt = new EwtBoard();
  readonly hub = new MessageHub();
  private readonly system: Ref<unknown>;
  private readonly services = new Map<string, ServiceDefinition>();
  /** Recent availability answers per service (see availability). */
  private readonly availabilityMemo = new WeakMap<ServiceDefinition, Memo<AvailabilityResult>>();
  /** Recent alternatives offered with a refusal, per service (see alternatives). */
  private readonly alternativesMemo = new WeakMap<
    ServiceDefinition,
    Memo<Record<string, number>>
  >();
  private readonly supervisors = new Map<string, Ref<SupervisorMsg>>();
  /** Live session actors by callback id: messages go straight to them (see route). */
  private readonly live = new Map<string, LiveSession>();
  /**
   * Callbacks whose COMPLETED state was committed, lately. A completed session ignores telephony
   * events and timers (the hang-up of its last leg comes after it ended): those are dropped
   * here rather than loading the session again only to ignore them.
   */
  private readonly completed = new LRUCache<string, true>({ max: RECENTLY_COMPLETED });
  private sessionDeps!: SessionDeps;
  private readonly timer: Ref<TimerMsg>;
  private readonly wakeWindow = new WakeWindow();
  private readonly poolRef: PoolInbox;
  private readonly unsubscribeTelephony: () => void;
  /** User Originated calls carry the adapter's own ids: which callback each one belongs to. */
  private readonly inbound = new Map<string, string>();
  /**
   * Calls whose hang-up telephony refused while it was down. No session follows them any more
   * (the machine moved on), so nothing else would end them: repeated on reconnect. The fast
   * path only: after a crash endOrphanCalls finds the same calls again, from the switch's list.
   */
  private readonly owedHangups = new Set<string>();
  private stopped = false;
  private readonly clock: ScopedClock;

  constructor(private readonly deps: EngineDeps) {
    this.clock = new ScopedClock(deps.clock);
    const { store, logger } = deps;
    // Every timer the actors arm goes through this clock, so stop() can cancel them all.
    const clock = this.clock;
    this.metrics = deps.metrics ?? createMetrics();
    for (const s of deps.services) {
      // Shared by every callback that overrides no option (see requestOptions).
      Object.freeze(s.options);
      this.services.set(s.name, s);
    }
    this.pool = new AgentPool({
      reservationTimeoutMs: deps.reservationTimeoutMs ?? 10 * 60_000,
      wrapUpMs: deps.wrapUpMs ?? 0,
    });
    for (const a of deps.agents) this.pool.addAgent(a, clock.now(), a.initialState ?? 'signed-out');

    this.system = start();
    this.timer = spawnTimer(this.system, {
      clock,
      store,
      window: this.wakeWindow,
      logger: logger.child({ actor: 'timer' }),
      wake: (id) => this.route(id, { type: 'wake' }),
      horizonMs: deps.horizonMs ?? 60 * 60_000,
      onLateness: (ms) => this.metrics.wakeLatenessSeconds.observe(ms / 1000),
    });
    this.poolRef = spawnAgentPool({
      pool: this.pool,
      clock,
      logger: logger.child({ actor: 'agent-pool' }),
      granted: (g) =>
        this.route(g.callbackId, {
          type: 'event',
          event: { type: 'agent.granted', agentId: g.agentId, endpoint: g.endpoint },
        }),
      lost: (callbackId, agentId) =>
        this.route(callbackId, { type: 'event', event: { type: 'agent.lost', agentId } }),
      stillHeld: (held) => {
        // Live sessions answer from their state; the others are read in one statement.
        const unknown = held.filter((h) => !this.live.get(h.callbackId)?.state);
        let read = new Map<string, SessionHoldings>();
        try {
          if (unknown.length > 0) read = store.holdingsOf(unknown.map((h) => h.callbackId));
        } catch (err) {
          // Cannot tell: release nobody (the next reconciliation looks again).
          logger.warn({ err }, 'could not read the sessions holding agents');
          return new Set(held.map((h) => h.callbackId));
        }
        const out = new Set<string>();
        for (const h of held) {
          const s = this.live.get(h.callbackId)?.state ?? read.get(h.callbackId);
          if (s && s.gms !== 'COMPLETED' && s.agentId === h.agentId) out.add(h.callbackId);
        }
        return out;
      },
      ewt: this.ewt,
      reconcileEveryMs: deps.reconcileEveryMs ?? 30_000,
      defaultHandleMs: deps.defaultHandleMs ?? 180_000,
      onEwt: (target, ms) => this.metrics.ewtSeconds.set({ target }, ms / 1000),
    });
    const notifier = spawnNotifier(this.system, {
      store,
      clock,
      logger: logger.child({ actor: 'notifier' }),
      hub: this.hub,
      ...(deps.outbound ? { outbound: deps.outbound } : {}),
    });
    const sessionDeps: SessionDeps = {
      store,
      clock,
      telephony: deps.telephony,
      logger,
      metrics: this.metrics,
      pool: this.poolRef,
      timer: this.timer,
      wakeWindow: this.wakeWindow,
      notifier,
      ewt: this.ewt,
      agentEndpoint: (agentId) => this.pool.get(agentId)?.endpoint,
      oweHangup: (callId) => this.owedHangups.add(callId),
      reroute: (id, msg) => this.route(id, msg),
      stopped: (id, ref) => {
        if (this.live.get(id)?.ref === ref) this.live.delete(id);
      },
      current: (id, ref, state) => {
        const l = this.live.get(id);
        if (l?.ref === ref) l.state = state;
      },
      completed: (id) => this.completed.set(id, true),
      idleMs: deps.idleMs ?? 30_000,
    };
    this.sessionDeps = sessionDeps;
    for (const s of deps.services)
      this.supervisors.set(s.name, spawnSupervisor(this.system, s.name, logger));
    this.unsubscribeTelephony = deps.telephony.subscribe((e) => this.onTelephony(e));
  }

  /**
   * Loads the wake-up window and resumes every session that was past its start. Scheduled
   * sessions are not read: their start timers come from the due index.
   */
  async resume(): Promise<{ resumed: number }> {
    dispatch(this.timer, { type: 'load' });
    this.poolRef.send({ type: 'reconcile' });
    let after: string | null = null;
    let resumed = 0;
    for (;;) {
      const page: CallbackRow[] = this.deps.store.startedSessions(after, RESUME_PAGE);
      for (const row of page) {
        const c = row.state.customerCallId;
        if (c !== undefined && !CALL_ID.test(c)) this.inbound.set(c, row.id);
        resumed++;
        this.route(row.id, { type: 'event', event: { type: 'resumed' } }, row.service);
      }
      if (page.length < RESUME_PAGE) break;
      after = page[page.length - 1].id;
      // Let the actors drain between pages: millions of rows must not pile up in mailboxes.
      await new Promise((r) => setImmediate(r));
    }
    this.deps.logger.info({ resumed }, 'sessions resumed');
    await this.endOrphanCalls();
    return { resumed };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribeTelephony();
    this.poolRef.close();
    stop(this.system);
    this.clock.close();
  }

  // ---- routing -------------------------------------------------------------------------------

  /**
   * Sends a message to a callback's session, spawning it under its service's supervisor when
   * it is not live. Live sessions are addressed directly: going through the supervisor would
   * make nact copy the supervisor's map of children for every message.
   */
  private route(id: string, msg: SessionMsg, service?: string): void {
    if (this.stopped) return;
    const live = this.live.get(id);
    if (live) {
      dispatch(live.ref, msg);
      return;
    }
    // Only what asks for no reply: requests still get their answer from the session.
    if ((msg.type === 'wake' || (msg.type === 'event' && !msg.reply)) && this.completed.has(id))
      return;
    const svc = service ?? this.deps.store.serviceOf(id);
    const sup = svc ? this.supervisors.get(svc) : undefined;
    if (!sup) {
      this.deps.logger.warn(
        { callbackId: id, msg: msg.type },
        'message for an unknown callback dropped',
      );
      if ('reply' in msg && msg.reply)
        msg.reply({
          ok: false,
          error: new DialbackError('CallbackExceptionNotFound', `Callback ${id} not found`),
        });
      return;
    }
    const ref = spawnSession(sup, id, this.sessionDeps);
    this.live.set(id, { ref });
    dispatch(ref, msg);
  }

  private ask(
    id: string,
    service: string,
    make: (reply: (r: ActionReply) => void) => SessionMsg,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.route(
        id,
        make((r) => (r.ok ? resolve(r.body) : reject(r.error))),
        service,
      );
    });
  }

  private onTelephony(e: TelephonyEvent): void {
    switch (e.type) {
      case 'call.ringing':
        return;
      case 'call.incoming':
        this.matchInbound(e.callId, e.from, e.digits);
        return;
      case 'call.answered':
      case 'call.failed':
      case 'call.ended': {
        if (e.type !== 'call.answered') this.owedHangups.delete(e.callId);
        const owner = this.inbound.get(e.callId) ?? CALL_ID.exec(e.callId)?.[1];
        if (!owner) return;
        if (e.type === 'call.ended') this.inbound.delete(e.callId);
        if (e.type === 'call.answered' && !this.ownsCall(owner, e.callId, false)) {
          // Answered after its session moved on (a ring left by an earlier run, a dial that
          // raced a cancel): the machine ignores it, so nothing else would end it.
          this.deps.logger.warn(
            { callId: e.callId },
            'a call no session owns answered: hanging up',
          );
          this.owedHangups.add(e.callId);
          this.repeatHangup(e.callId);
          return;
        }
        let event: SessionEvent;
        if (e.type === 'call.answered')
          event = { type: 'call.answered', callId: e.callId, ...(e.amd ? { amd: e.amd } : {}) };
        else if (e.type === 'call.failed')
          event = {
            type: 'call.failed',
            callId: e.callId,
            failure: e.failure,
            ...(e.cause !== undefined ? { cause: e.cause } : {}),
          };
        else event = { type: 'call.ended', callId: e.callId };
        this.route(owner, { type: 'event', event });
        return;
      }
      case 'bridge.joined': {
        const m = BRIDGE_ID.exec(e.bridgeId);
        if (m)
          this.route(m[1], { type: 'event', event: { type: 'bridged', bridgeId: e.bridgeId } });
        return;
      }
      case 'agent.presence':
        this.poolRef.send({ type: 'presence', agentId: e.agentId, available: e.available });
        return;
      case 'connection.changed':
        this.deps.logger.warn({ up: e.up }, 'telephony connection changed');
        if (e.up) {
          this.settleHangups();
          void this.resume();
        }
        return;
      default:
        assertNever(e);
    }
  }

  /** Repeats the hang-ups refused while telephony was down; keeps those refused again. */
  private settleHangups(): void {
    for (const callId of [...this.owedHangups]) this.repeatHangup(callId);
  }

  private repeatHangup(callId: string): void {
    this.deps.telephony.hangup(callId).then(
      () => this.owedHangups.delete(callId),
      (err: unknown) => {
        if (isTelephonyError(err, 'TELEPHONY_DOWN')) return; // down again: next reconnect
        this.owedHangups.delete(callId);
        // CALL_NOT_FOUND: it ended meanwhile, which is what the hang-up wanted.
        if (!isTelephonyError(err, 'CALL_NOT_FOUND'))
          this.deps.logger.warn({ err, callId }, 'owed hang-up failed');
      },
    );
  }

  /**
   * Ends every call the switch still has that no session owns: its callback is final or
   * unknown (to this node), or has moved on to another call. Run after start and after every
   * reconnect, it is what makes owed hang-ups survive a crash: they are derived from the store
   * and the switch rather than remembered. A User Originated call nobody has matched yet is
   * offered to matching as if it had just come in.
   */
  async endOrphanCalls(): Promise<string[]> {
    const { telephony, logger } = this.deps;
    if (this.stopped || !telephony.isReady()) return [];
    let calls: LiveCall[];
    try {
      calls = await telephony.listCalls();
    } catch (err) {
      logger.warn({ err }, 'could not list live calls: orphans are looked for again on reconnect');
      return [];
    }
    const orphans: string[] = [];
    for (const call of calls) {
      if (this.stopped) break;
      const matched = this.inbound.get(call.callId);
      const owner = matched ?? CALL_ID.exec(call.callId)?.[1];
      if (owner === undefined) {
        if (call.inbound) this.matchInbound(call.callId, call.inbound.from, call.inbound.digits);
        continue;
      }
      if (this.ownsCall(owner, call.callId, matched !== undefined)) continue;
      orphans.push(call.callId);
      this.owedHangups.add(call.callId);
    }
    if (orphans.length > 0) {
      logger.warn({ calls: orphans }, 'ending calls no session owns any more');
      this.settleHangups();
    }
    return orphans;
  }

  /** Whether callback `owner` still uses `callId` (or may: a call of another node is not ours). */
  private ownsCall(owner: string, callId: string, inbound: boolean): boolean {
    let s: SessionHoldings | undefined = this.live.get(owner)?.state;
    if (!s) {
      try {
        s = this.deps.store.holdings(owner);
      } catch (err) {
        // Cannot tell: never hang up what may be in use (the next sweep looks again).
        this.deps.logger.warn({ err, callId }, 'could not read the owner of a call');
        return true;
      }
    }
    if (!s) return !owner.startsWith(`${this.deps.nodeId}-`);
    if (s.phase === 'completed') return false;
    if (s.customerCallId === callId || s.agentCallId === callId) return true;
    // Matched a moment ago: the session has not taken the call yet.
    return inbound && s.phase === 'waiting-inbound';
  }

  /**
   * User Originated: a customer called the access number. The call is matched by the access
   * code keyed in, else by the caller's number, to the oldest callback waiting for it.
   */
  private matchInbound(callId: string, from: string, digits: string | undefined): void {
    // Offered twice (the adapter's event and a listing after a reconnect): matched once.
    if (this.inbound.has(callId)) return;
    const conditions = digits
      ? [{ key: '_access_code', value: digits, negate: false }]
      : [{ key: '_customer_number', value: from, negate: false }];
    const row = this.deps.store
      .query({
        conditions: [...conditions, { key: '_callback_state', value: 'QUEUED', negate: false }],
        operand: 'AND',
        limit: 100,
      })
      .find((r) => r.state.phase === 'waiting-inbound');
    if (!row) {
      this.deps.logger.info(
        { callId, from, digits: digits !== undefined },
        'inbound call matches no callback',
      );
      this.deps.telephony.hangup(callId).catch((err: unknown) => {
        this.deps.logger.warn({ err, callId }, 'could not hang up an unmatched inbound call');
      });
      return;
    }
    this.inbound.set(callId, row.id);
    this.route(row.id, { type: 'event', event: { type: 'inbound.matched', callId } }, row.service);
  }

  // ---- services ------------------------------------------------------------------------------

  private service(name: string): ServiceDefinition {
    const s = this.services.get(name);
    if (!s)
      throw new DialbackError('CallbackExceptionServiceNotFound', `Service ${name} is not defined`);
    return s;
  }

  listServices(): ServiceView[] {
    return [...this.services.keys()].map((n) => this.getService(n));
  }

  getService(name: string): ServiceView {
    const s = this.service(name);
    return {
      name: s.name,
      options: s.options,
      officeHours: {
        name: s.officeHoursName,
        timezone: s.officeHours.timezone,
        rules: s.officeHours.rules(),
      },
      capacity: { name: s.capacityName },
    };
  }

  availability(serviceName: string, query: AvailabilityQuery): AvailabilityResult {
    const s = this.service(serviceName);
    const now = this.deps.clock.now();
    // Widgets poll availability far more often than anyone books (see reused).
    return this.reused(
      this.availabilityMemo,
      s,
      [
        query.timestamp,
        query.start,
        query.end,
        query.numberOfDays,
        query.maxTimeSlots,
        query.reportBusy,
      ],
      now,
      () => {
        const win = availabilityWindow(query, s.officeHours, now);
        if (!win.ok) throw new DialbackError('CallbackExceptionInvalidField', win.message);
        return {
          durationMin: s.options._request_time_bucket,
          timezone: s.officeHours.timezone,
          slots: this.slots(s, win.from, win.to, query.maxTimeSlots, query.reportBusy ?? false),
        };
      },
    );
  }

  /**
   * An answer about slots, reused until a seat changes or the clock enters another minute.
   * Slot starts and office-hours bounds are whole minutes, so every `now` strictly inside one
   * minute sees the same slots (a `now` exactly on a minute is its own case: a slot starting
   * then is still offered). `parts` are what else the answer depends on. A memo holds only the
   * answers of the current minute and seats: those of another can never be asked for again, so
   * they go as soon as either changes instead of staying until the memo is full.
   */
  private reused<T>(
    memos: WeakMap<ServiceDefinition, Memo<T>>,
    s: ServiceDefinition,
    parts: readonly unknown[],
    now: number,
    compute: () => T,
  ): T {
    const stamp = `${now % 60_000 === 0 ? `=${now}` : Math.floor(now / 60_000)}|${this.deps.store.seatsVersion()}`;
    const key = parts.join('|');
    let memo = memos.get(s);
    if (memo?.stamp === stamp) {
      const hit = memo.answers.get(key);
      if (hit !== undefined) return hit;
    }
    const value = compute();
    if (!memo || memo.stamp !== stamp || memo.answers.size >= AVAILABILITY_MEMO_LIMIT) {
      memo = { stamp, answers: new Map() };
      memos.set(s, memo);
    }
    memo.answers.set(key, value);
    return value;
  }

  private slots(
    s: ServiceDefinition,
    from: number,
    to: number,
    maxSlots?: number,
    includeFull = false,
  ) {
    const booked = this.deps.store.bookedCounts(
      s.name,
      from - s.options._request_time_bucket * 60_000,
      to,
    );
    return computeSlots({
      officeHours: s.officeHours,
      ...(s.capacity ? { capacity: s.capacity } : {}),
      bucketMin: s.options._request_time_bucket,
      maxPerBucket: s.options._max_request_by_time_bucket,
      booked: (slot: number) => booked.get(slot) ?? 0,
      from,
      to,
      now: this.deps.clock.now(),
      ...(maxSlots !== undefined ? { maxSlots } : {}),
      includeFull,
    });
  }

  // ---- create --------------------------------------------------------------------------------

  async create(serviceName: string, fields: Record<string, string>): Promise<CreateResult> {
    const s = this.service(serviceName);
    const now = this.deps.clock.now();
    const options = this.requestOptions(s, fields);
    const number = this.number(fields._customer_number, options);
    const desired = this.desiredTime(fields._desired_time, '_desired_time', s, options, now);
    this.protect(s, options, fields, number, now);

    let booking: { slotStart: number; limit: number } | undefined;
    if (desired !== undefined) {
      if (!s.officeHours.isOpen(desired))
        throw new DialbackError(
          'CallbackExceptionOutsideOfficeHours',
          `${new Date(desired).toISOString()} is outside the office hours of ${s.name}`,
        );
      booking = this.bookingFor(s, desired);
    } else if (!s.officeHours.isOpen(now)) {
      throw new DialbackError('CallbackExceptionOutsideOfficeHours', `${s.name} is closed now`);
    }

    const id = `${this.deps.nodeId}-${uuidV7(now, idRandom())}`;
    const userData = this.userData(fields);
    const userOriginated = options._call_direction === 'USERORIGINATED';
    const accessCode =
      userOriginated && /^true$/i.test(fields._provide_code ?? '') ? accessCodeFor() : undefined;
    if (accessCode !== undefined) userData._access_code = accessCode;
    const initial = initialState({
      id,
      service: s.name,
      options,
      customerNumber: number,
      ...(desired !== undefined ? { desiredTime: desired } : {}),
      now,
    });
    const state = accessCode !== undefined ? { ...initial, accessCode } : initial;
    const row: CallbackRow = {
      id,
      service: s.name,
      state,
      userData,
      gms: state.gms,
      reason: null,
      customerNumber: number,
      desiredTime: desired ?? null,
      slotStart: booking?.slotStart ?? null,
      target: options._target,
      createdAt: now,
      updatedAt: now,
      nextWakeAt: null,
    };
    try {
      // Most scheduled bookings sleep for hours or days: no session actor until they are due.
      const first =
        this.stopped || !this.sessionDeps
          ? undefined
          : createDormant(this.sessionDeps, row, booking);
      if (first && 'written' in first) await first.written;
      else
        await this.ask(id, s.name, (reply) => ({
          type: 'create',
          row,
          ...(booking ? { booking } : {}),
          ...(first ? { booked: first.booked } : {}),
          reply,
        }));
    } catch (err) {
      throw this.storeError(err, s, desired);
    }
    if (!userOriginated) return { _id: id };
    return {
      _id: id,
      _tel_number: options._access_number,
      ...(accessCode !== undefined ? { _access_code: accessCode } : {}),
    };
  }

  private storeError(err: unknown, s: ServiceDefinition, desired: number | undefined): Error {
    if (err instanceof SlotFullError && desired !== undefined) {
      // The alternatives are worked out when the error body is made, not for a caller that
      // only counts refusals (a simulated day refuses tens of thousands of bookings).
      const alternatives = (): Record<string, number> => this.alternatives(s, desired);
      let availability: Record<string, number> | undefined;
      return new DialbackError(
        'CallbackExceptionSlotFull',
        `The slot of ${new Date(desired).toISOString()} is full`,
        {
          error: 'slot full',
          get availability(): Record<string, number> {
            return (availability ??= alternatives());
          },
        },
      );
    }
    if (err instanceof DialbackError) return err;
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'STORE_UNAVAILABLE')
      return new DialbackError(
        'CallbackExceptionStoreUnavailable',
        'Storage is unavailable, try again later',
      );
    return err instanceof Error ? err : new Error(String(err));
  }

  private requestOptions(s: ServiceDefinition, fields: Record<string, string>): ServiceOptions {
    const overrides: Record<string, string> = {};
    for (const [k, v] of Object.entries(fields)) {
      // Options the service does not let a request change are ignored, as GMS does.
      if (isOptionName(k) && s.options._overwritable_options.includes(k)) overrides[k] = v;
    }
    // Options are replaced, never edited: a request that changes none shares the service's
    // object, whose JSON the store then encodes once.
    if (Object.keys(overrides).length === 0) return s.options;
    const r = applyOptions(s.options, overrides);
    if (!r.ok) throw new DialbackError('CallbackExceptionInvalidField', `${r.key} ${r.message}`);
    return r.options;
  }

  private userData(fields: Record<string, string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(fields))
      if (!CORE_FIELDS.has(k) && !isOptionName(k)) out[k] = v;
    return out;
  }

  private number(raw: string | undefined, o: ServiceOptions): string {
    if (raw === undefined || raw.trim() === '')
      throw new DialbackError('CallbackExceptionMissingField', '_customer_number is mandatory');
    const r = validateNumber(raw, {
      defaultCountry: o._default_country,
      disallowPremium: o._disallow_premium_phone_numbers,
      disallowImpossible: o._disallow_impossible_phone_numbers,
      allowExtensions: o._allow_extensions,
      maxExtensionLength: o._max_extension_length,
    });
    if (!r.ok) throw new DialbackError('CallbackExceptionNumber', r.message);
    return r.number;
  }

  private desiredTime(
    raw: string | undefined,
    key: string,
    s: ServiceDefinition,
    o: ServiceOptions,
    now: number,
  ): number | undefined {
    if (raw === undefined || raw.trim() === '') return undefined;
    const text = raw.trim();
    if (!/(Z|[+-]\d{2}(:?\d{2})?)$/i.test(text))
      throw new DialbackError(
        'CallbackExceptionInvalidField',
        `${key} must be an ISO 8601 time with an explicit offset, e.g. 2030-01-07T15:00:00.000Z`,
      );
    const parsed = parseIsoInstant(text);
    if (parsed === undefined)
      throw new DialbackError(
        'CallbackExceptionInvalidField',
        `${key} is not a valid ISO 8601 time`,
      );
    let t = parsed;
    if (t < now - PAST_GRACE_MS)
      throw new DialbackError('CallbackExceptionPastTime', `${key} ${text} is in the past`);
    if (t < now) t = now;
    const limit = parseFutureLimit(o._reject_future_desired_time);
    const check = checkDesiredTime(t, now, limit, s.officeHours.timezone);
    if (check.kind === 'too-far')
      throw new DialbackError(
        'CallbackExceptionTooFarInFuture',
        `${key} ${text} is further ahead than ${o._reject_future_desired_time}`,
      );
    return t;
  }

  private bookingFor(s: ServiceDefinition, desired: number): { slotStart: number; limit: number } {
    const slotStart = slotStartFor(desired, s.options._request_time_bucket, s.officeHours.timezone);
    const limit = slotLimit({
      ...(s.capacity ? { capacity: s.capacity } : {}),
      slotStart,
      zone: s.officeHours.timezone,
      maxPerBucket: s.options._max_request_by_time_bucket,
    });
    return { slotStart, limit };
  }

  private alternatives(s: ServiceDefinition, desired: number): Record<string, number> {
    const now = this.deps.clock.now();
    const win = availabilityWindow({ timestamp: desired }, s.officeHours, now);
    if (!win.ok) return {};
    // A busy day refuses bookings in runs, each asking for the same window (see reused). Each
    // refusal gets its own copy.
    const out = this.reused(this.alternativesMemo, s, [win.from, win.to], now, () => {
      const slots: Record<string, number> = {};
      for (const slot of this.slots(s, win.from, win.to))
        slots[new Date(slot.start).toISOString()] = slot.capacity;
      return slots;
    });
    return { ...out };
  }

  private protect(
    s: ServiceDefinition,
    o: ServiceOptions,
    fields: Record<string, string>,
    number: string,
    now: number,
  ): void {
    const { store } = this.deps;
    if (
      o._max_queued_callbacks_per_service > 0 &&
      store.countOpen(s.name) >= o._max_queued_callbacks_per_service
    )
      throw new DialbackError(
        'CallbackExceptionServiceUnavailable',
        `Limit of queued callbacks for ${s.name} is reached`,
      );
    const windows: Array<[number, number]> = [
      [o._throttle_callbacks_per_service_1, o._throttle_ttl_1],
      [o._throttle_callbacks_per_service_2, o._throttle_ttl_2],
    ];
    for (const [limit, ttl] of windows) {
      if (limit > 0 && ttl > 0 && store.countCreatedSince(s.name, now - ttl * 1000) >= limit)
        throw new DialbackError(
          'CallbackExceptionServiceUnavailable',
          `Limit of queued callbacks for ${s.name} is reached for interval ${ttl}s.`,
        );
    }
    if (o._throttle_request_parameters_limit > 0) {
      for (const key of o._throttle_request_parameters) {
        const value = key === '_customer_number' ? number : fields[key];
        if (value === undefined) continue;
        if (store.countOpenByKey(s.name, key, value) >= o._throttle_request_parameters_limit)
          throw new DialbackError(
            'CallbackExceptionTooManyRequests',
            `Limit of ${o._throttle_request_parameters_limit} open callbacks with the same ${key} is reached`,
          );
      }
    }
  }

  // ---- read ----------------------------------------------------------------------------------

  get(id: string): CallbackView | undefined {
    const row = this.deps.store.get(id);
    return row ? viewOf(row) : undefined;
  }

  query(
    service: string | undefined,
    conditions: QueryCondition[],
    operand: 'AND' | 'OR',
  ): CallbackView[] {
    if (service !== undefined) this.service(service);
    return this.deps.store
      .query({ ...(service !== undefined ? { service } : {}), conditions, operand, limit: 1000 })
      .map(viewOf);
  }

  private row(service: string | undefined, id: string): CallbackRow {
    const row = this.deps.store.get(id);
    if (!row || (service !== undefined && row.service !== service))
      throw new DialbackError('CallbackExceptionNotFound', `Callback ${id} not found`);
    return row;
  }

  // ---- commands ------------------------------------------------------------------------------

  async cancel(service: string, id: string): Promise<void> {
    this.service(service);
    const row = this.row(service, id);
    if (row.gms === 'COMPLETED')
      throw new DialbackError(
        'CallbackExceptionInvalidState',
        `Callback ${id} is already COMPLETED`,
      );
    await this.ask(id, service, (reply) => ({
      type: 'event',
      event: { type: 'cancel', by: 'user' },
      reply,
    }));
  }

  async reschedule(
    service: string,
    id: string,
    fields: Record<string, string>,
  ): Promise<CallbackView> {
    const s = this.service(service);
    const row = this.row(service, id);
    const now = this.deps.clock.now();
    if (row.gms !== 'SCHEDULED')
      throw new DialbackError(
        'CallbackExceptionInvalidState',
        `Callback ${id} is ${row.gms}: only a SCHEDULED callback can be rescheduled`,
      );
    const raw = fields._new_desired_time ?? fields._desired_time;
    if (!raw)
      throw new DialbackError('CallbackExceptionMissingField', '_new_desired_time is mandatory');
    const desired = this.desiredTime(raw, '_new_desired_time', s, row.state.options, now);
    if (desired === undefined)
      throw new DialbackError('CallbackExceptionMissingField', '_new_desired_time is mandatory');
    if (!s.officeHours.isOpen(desired))
      throw new DialbackError(
        'CallbackExceptionOutsideOfficeHours',
        `${new Date(desired).toISOString()} is outside the office hours of ${s.name}`,
        { error: 'outside office hours', availability: this.alternatives(s, desired) },
      );
    const booking = this.bookingFor(s, desired);
    const userData = { ...row.userData, ...this.userData(fields) };
    try {
      await this.ask(id, service, (reply) => ({
        type: 'reschedule',
        desiredTime: desired,
        booking,
        userData,
        reply,
      }));
    } catch (err) {
      throw this.storeError(err, s, desired);
    }
    return viewOf(this.row(service, id));
  }

  async action(
    id: string,
    action: string,
    fields: Record<string, string>,
  ): Promise<Record<string, unknown>> {
    const row = this.row(undefined, id);
    let event: SessionEvent;
    if (action === 'accept' || action === 'reject') {
      const agentId = fields._agent_id ?? row.state.agentId;
      if (!agentId)
        throw new DialbackError(
          'CallbackExceptionInvalidState',
          `Callback ${id} has no agent to preview`,
        );
      event = { type: 'agent.preview-answer', agentId, accept: action === 'accept' };
    } else {
      event = {
        type: 'user.action',
        action,
        ...(fields._dialog_id !== undefined ? { dialogId: fields._dialog_id } : {}),
      };
    }
    return this.ask(id, row.service, (reply) => ({ type: 'event', event, reply }));
  }

  queuePosition(id: string): QueuePosition {
    const row = this.row(undefined, id);
    const p = this.pool.position(id);
    const ewtMs = this.ewt.get(row.target);
    return {
      _position: p.position,
      _eta: Math.round(ewtMs / 1000),
      _total_waiting: p.total || this.pool.figures(row.target).waiting,
      _agent_ready_threshold_passed: ewtMs === 0,
    };
  }

  adminQueues(q: AdminQueueQuery): Record<string, CallbackView[]> {
    const now = this.deps.clock.now();
    const rows = this.deps.store.adminWindow({
      ...(q.target !== undefined ? { target: q.target } : {}),
      from: q.startTime ?? now - 15 * 60_000,
      to: q.endTime ?? now + 24 * 3600_000,
      ...(q.states ? { states: q.states } : {}),
      max: Math.min(q.max ?? 1000, 10_000),
    });
    const out: Record<string, CallbackView[]> = {};
    for (const r of rows) (out[r.service] ??= []).push(viewOf(r));
    return out;
  }

  async bulkCancel(
    ids: string[],
    reason: string,
  ): Promise<{ cancelled: string[]; notFound: string[]; alreadyCompleted: string[] }> {
    const result = {
      cancelled: [] as string[],
      notFound: [] as string[],
      alreadyCompleted: [] as string[],
    };
    await Promise.all(
      ids.map(async (id) => {
        const row = this.deps.store.get(id);
        if (!row) return void result.notFound.push(id);
        if (row.gms === 'COMPLETED') return void result.alreadyCompleted.push(id);
        await this.ask(id, row.service, (reply) => ({
          type: 'event',
          event: { type: 'cancel', by: 'admin' },
          reply,
        }));
        result.cancelled.push(id);
      }),
    );
    this.deps.logger.info({ reason, count: result.cancelled.length }, 'bulk cancel');
    return result;
  }

  /** Presence of an agent's phone from an outside source (AMI device states). */
  setAgentPresence(agentId: string, available: boolean): void {
    this.poolRef.send({ type: 'presence', agentId, available });
  }

  /** An outside EWT for a target (Asterisk queue statistics); undefined drops it. */
  setExternalEwt(target: string, ms: number | undefined): void {
    this.ewt.setExternal(target, ms);
    if (ms !== undefined) this.metrics.ewtSeconds.set({ target }, ms / 1000);
  }

  listAgents(): AgentView[] {
    return this.pool.list();
  }

  agentCommand(
    agentId: string,
    command: 'sign-in' | 'sign-out' | 'ready' | 'not-ready',
  ): Promise<AgentView> {
    if (!this.pool.get(agentId))
      throw new DialbackError('CallbackExceptionAgentNotFound', `Agent ${agentId} not found`);
    return new Promise((resolve, reject) =>
      this.poolRef.send({
        type: 'command',
        agentId,
        command,
        reply: (r) =>
          r instanceof Error
            ? reject(new DialbackError('CallbackExceptionInvalidState', r.message))
            : resolve(r),
      }),
    );
  }

  messagesAfter(
    filter: { callbackId?: string; service?: string },
    afterSeq: number,
  ): StreamMessage[] {
    return this.deps.store.messagesAfter(filter, afterSeq, 1000) as StreamMessage[];
  }

  subscribe(
    filter: { callbackId?: string; service?: string },
    listener: (m: StreamMessage) => void,
  ): () => void {
    return this.hub.subscribe(filter, listener);
  }

  health(): EngineHealth {
    return { store: this.deps.store.isHealthy(), telephony: this.deps.telephony.isReady() };
  }

  /** Session actors in memory: bookings that sleep past the idle time have none. */
  liveSessions(): number {
    return this.live.size;
  }
}

/** Six digits a caller keys in to be matched to their callback. */
function accessCodeFor(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

export function viewOf(row: CallbackRow): CallbackView {
  return {
    ...row.userData,
    _id: row.id,
    _service_name: row.service,
    _callback_state: row.gms,
    _callback_reason: row.reason,
    _customer_number: row.customerNumber,
    _desired_time: row.desiredTime !== null ? new Date(row.desiredTime).toISOString() : null,
    _creation_time: new Date(row.createdAt).toISOString(),
    _target: row.target,
    _dial_attempts: chargedDialAttempts(row.state),
  };
}

export async function createEngine(deps: EngineDeps): Promise<Engine> {
  const engine = new Engine(deps);
  await engine.resume();
  return engine;
}
