// Runs one simulated day: the real Engine, a scratch SQLite store and the simulator on a
// virtual clock. Actors and store commits run on setImmediate, so after every clock step the
// loop lets them drain until no immediate is left to run (or, where Node cannot tell, until
// nothing moves for a few rounds) before it moves the clock again. Measures come from the
// store's final rows, the engine's message stream and periodic samples of the agent pool.

import { Engine } from '../actors/engine';
import { resolveConfig } from '../config';
import type { AgentConfig } from '../domain/agent-pool';
import { DialbackError } from '../errors';
import { silentLogger } from '../logger';
import { openSqliteStore } from '../store/sqlite-store';
import type { Store } from '../store/store';
import {
  SimulatorTelephony,
  mulberry32,
  type SimAgent,
} from '../telephony/simulator/simulator-adapter';
import { minuteOfDay, type Scenario } from './scenario';
import { VirtualClock } from '../clock';

const SERVICE = 'sim';
const TARGET = 'sim';
const MINUTE = 60_000;
const DAY = 86_400_000;
const SAMPLE_EVERY_MS = 5 * MINUTE;
/** Rounds without any activity after which the actors are taken as drained (see settle). */
const QUIET_ROUNDS = 3;
const MAX_ROUNDS = 2000;
/**
 * Session actors stay in memory for 10 virtual minutes without a message, where a service's
 * engine stops them after 30 s to bound its memory. A stopped session is read back from the
 * store at its next event, and its idle timer is a clock step of its own: over a day of 100,000
 * bookings, mostly sessions waiting for an agent or on a call of a few minutes, that was one
 * step in ten (809,931 steps against 732,945). What a session does never depends on it, and
 * the day comes out the same.
 */
const SESSION_IDLE_MS = 10 * MINUTE;

/**
 * Whether any other immediate is waiting to run: nact messages, store commits and stopped
 * actors' leftovers all wait on one, and microtasks drain between immediates, so none left
 * means nothing can move until the clock does. Undefined where Node cannot tell.
 */
const immediatesPending: (() => boolean) | undefined =
  typeof process.getActiveResourcesInfo === 'function'
    ? () => process.getActiveResourcesInfo().includes('Immediate')
    : undefined;

export interface OccupancySample {
  at: number;
  signedIn: number;
  busy: number;
  reserved: number;
  ready: number;
  waiting: number;
  ewtMs: number;
}

export interface CallbackOutcome {
  id: string;
  scheduled: boolean;
  createdAt: number;
  desiredTime: number | null;
  startedAt: number | null;
  customerAnsweredAt: number | null;
  bridgedAt: number | null;
  ewtAtStartMs: number | null;
  reason: string;
  dialAttempts: number;
}

export interface SimulationResult {
  scenario: Scenario;
  dayStart: number;
  /** Virtual time when the run stopped. */
  endedAt: number;
  wallMs: number;
  steps: number;
  bookingsTried: number;
  rejected: Record<string, number>;
  outcomes: CallbackOutcome[];
  occupancy: OccupancySample[];
  /** Seats taken per slot start over the day, and the seats a slot has. */
  slots: { start: number; booked: number }[];
  slotCapacity: number;
  slotMinutes: number;
  agents: number;
  /** Shift starts the pool refused (the agent was still engaged), as `agent: reason`. */
  refusedShiftStarts: string[];
}

export interface RunOptions {
  /** Called now and then with the fraction of virtual time done. */
  onProgress?: (fraction: number, info: { created: number; open: number }) => void;
  /** Timers within this many virtual ms of the next one fire in the same step (0: exact). */
  stepMs?: number;
  /** How long a session actor stays in memory without a message (default SESSION_IDLE_MS). */
  sessionIdleMs?: number;
}

function between(rng: () => number, r: { min: number; max: number }): number {
  return r.min + (r.max - r.min) * rng();
}

/** Counts calls to any store method: store work is the main sign that actors are busy. */
function countingStore(store: Store, counter: { n: number }): Store {
  // One wrapper per method, made once: the store is called several times per clock step.
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const hit = wrapped.get(prop);
      if (hit !== undefined) return hit;
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (...args: unknown[]): unknown => {
        counter.n++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
      wrapped.set(prop, fn);
      return fn;
    },
  });
}

/** Splits `total` bookings over 24 hours by weight, remainders to the heaviest hours. */
function perHour(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0) || 1;
  const exact = weights.map((w) => (total * w) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i]).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    out[i]++;
  }
  return out;
}

export async function runSimulation(
  sc: Scenario,
  opts: RunOptions = {},
): Promise<SimulationResult> {
  const wall0 = performance.now();
  const dayStart = Date.parse(`${sc.date}T00:00:00Z`);
  const end = dayStart + DAY + sc.drain_min * MINUTE;
  const clock = new VirtualClock(dayStart);
  const rng = mulberry32(sc.seed);
  const activity = { n: 0 };

  // Agents per shift; each agent keeps one handle time (the simulator's model).
  const simAgents: SimAgent[] = [];
  const agentCfg: Array<{ id: string; endpoint: string; groups: string[]; state: 'signed-out' }> =
    [];
  const shiftOf = new Map<string, { from: number; to: number }>();
  sc.shifts.forEach((sh, s) => {
    for (let i = 0; i < sh.agents; i++) {
      const id = `s${s}a${i}`;
      const endpoint = `SIM/${id}`;
      simAgents.push({
        id,
        endpoint,
        answerAfterMs: Math.round(between(rng, sc.agent_answer_s) * 1000),
        answers: true,
        handleTimeMs: Math.round(between(rng, sc.handle_time_s) * 1000),
      });
      agentCfg.push({ id, endpoint, groups: [TARGET], state: 'signed-out' });
      shiftOf.set(id, { from: minuteOfDay(sh.from), to: minuteOfDay(sh.to) });
    }
  });

  const cfg = resolveConfig({
    office_hours: { always: { _timezone: 'UTC', _bh_regular1: 'Mon-Sun 00:00-24:00' } },
    services: {
      [SERVICE]: {
        _call_direction: 'USERTERMINATED',
        _business_hours_service: 'always',
        _allow_extensions: true,
        _max_queued_callbacks_per_service: 0,
        _throttle_callbacks_per_service_1: 0,
        _throttle_callbacks_per_service_2: 0,
        _throttle_request_parameters_limit: 0,
        ...sc.service,
        _target: TARGET,
      },
    },
    agents: agentCfg,
  });
  const service = cfg.services[0];

  const c = sc.customers;
  const telephony = new SimulatorTelephony({
    clock,
    rng: mulberry32(sc.seed + 1),
    agents: simAgents,
    random: {
      human: c.human,
      machine: c.machine,
      busy: c.busy,
      noAnswer: c.no_answer,
      answerAfterMs: { min: c.answer_after_s.min * 1000, max: c.answer_after_s.max * 1000 },
      amdAfterMs: { min: c.amd_after_s.min * 1000, max: c.amd_after_s.max * 1000 },
    },
  });
  telephony.subscribe(() => activity.n++);
  // A what-if run needs no durability: a scratch store, in memory and gone with the process
  // (see SqliteStoreOptions.scratch for why not plain `:memory:`). Its measures come from the
  // final rows and the live message stream, never from a callback's history or a kept stream.
  const store = countingStore(
    openSqliteStore({ scratch: true, history: false, messages: false }),
    activity,
  );
  const meanHandle = ((sc.handle_time_s.min + sc.handle_time_s.max) / 2) * 1000;
  const engine = new Engine({
    clock,
    store,
    telephony,
    logger: silentLogger(),
    services: cfg.services,
    agents: cfg.agents as Array<AgentConfig & { initialState?: 'signed-out' }>,
    nodeId: 'sim',
    defaultHandleMs: Math.max(1000, meanHandle),
    idleMs: opts.sessionIdleMs ?? SESSION_IDLE_MS,
  });

  const ewtAtStart = new Map<string, number>();
  engine.subscribe({}, (m) => {
    activity.n++;
    if (m.kind !== 'status') return;
    const d = m.data as { _callback_state?: string };
    if (d._callback_state === 'QUEUED' && !ewtAtStart.has(m.callbackId))
      ewtAtStart.set(m.callbackId, engine.ewt.get(TARGET));
  });

  await telephony.start();
  await engine.resume();

  // Demand: arrival times drawn uniformly inside each hour.
  const created: Array<{ id: string; scheduled: boolean }> = [];
  const rejected: Record<string, number> = {};
  let tried = 0;
  let pendingCreates = 0;
  const counts = perHour(sc.bookings_per_day, sc.hourly_profile);
  const arrivals: Array<{ at: number; scheduled: boolean; ahead: number }> = [];
  counts.forEach((n, h) => {
    for (let i = 0; i < n; i++) {
      const at = dayStart + h * 3600_000 + Math.floor(rng() * 3600_000);
      const scheduled = rng() < sc.scheduled_share;
      const ahead = between(rng, sc.schedule_ahead_min) * MINUTE;
      arrivals.push({ at, scheduled, ahead });
    }
  });
  // One arrival timer at a time, each setting the next: a timer per booking from the start
  // made the clock's heap 100,000 deep all morning. Sorting is stable, so ties keep their order.
  arrivals.sort((a, b) => a.at - b.at);
  let nextArrival = 0;
  const arrive = (): void => {
    const { scheduled, ahead } = arrivals[nextArrival++];
    if (nextArrival < arrivals.length) clock.setTimer(arrivals[nextArrival].at, arrive);
    const k = tried++;
    const fields: Record<string, string> = {
      _customer_number: `+336${String(10_000_000 + k).padStart(8, '0')}`,
    };
    if (scheduled) fields._desired_time = new Date(clock.now() + ahead).toISOString();
    pendingCreates++;
    engine.create(SERVICE, fields).then(
      (r) => {
        pendingCreates--;
        created.push({ id: r._id, scheduled });
      },
      (err: unknown) => {
        pendingCreates--;
        const name = err instanceof DialbackError ? err.name : 'Error';
        rejected[name] = (rejected[name] ?? 0) + 1;
      },
    );
  };
  if (arrivals.length > 0) clock.setTimer(arrivals[0].at, arrive);

  // Shifts: sign in and go ready at the start; sign out at the end, once off the call.
  const signOut = (id: string): void => {
    engine.agentCommand(id, 'sign-out').catch(() => {
      // Still on a call or reserved: try again a minute later.
      clock.setTimer(clock.now() + MINUTE, () => signOut(id));
    });
  };
  const refusedShiftStarts: string[] = [];
  for (const [id, sh] of shiftOf) {
    clock.setTimer(dayStart + sh.from * MINUTE, () => {
      void engine
        .agentCommand(id, 'sign-in')
        .then(() => engine.agentCommand(id, 'ready'))
        // A shift starting while the agent is still on a call is simply skipped, as in a centre.
        .catch((err: unknown) => refusedShiftStarts.push(`${id}: ${String(err)}`));
    });
    if (sh.to < 24 * 60) clock.setTimer(dayStart + sh.to * MINUTE, () => signOut(id));
  }

  const occupancy: OccupancySample[] = [];
  const sample = (): void => {
    const f = engine.pool.figures(TARGET);
    occupancy.push({
      at: clock.now(),
      signedIn: f.signedIn,
      busy: f.busy,
      reserved: f.reserved,
      ready: f.ready,
      waiting: f.waiting,
      ewtMs: engine.ewt.get(TARGET),
    });
    if (clock.now() + SAMPLE_EVERY_MS <= dayStart + DAY)
      clock.setTimer(clock.now() + SAMPLE_EVERY_MS, sample);
  };
  clock.setTimer(dayStart, sample);

  // Drains the actors after a clock step. Each round is one turn of the event loop: a step
  // costs a few rounds of real work, and the quiet rounds of the fallback used to be most of
  // a step's rounds (three per step, over a day of almost a million steps).
  const settle = async (): Promise<void> => {
    let quiet = 0;
    for (let r = 0; r < MAX_ROUNDS && quiet < QUIET_ROUNDS; r++) {
      const before = activity.n + clock.activity;
      await new Promise((res) => setImmediate(res));
      if (pendingCreates === 0 && immediatesPending && !immediatesPending()) return;
      quiet = activity.n + clock.activity === before && pendingCreates === 0 ? quiet + 1 : 0;
    }
  };

  let steps = 0;
  let lastProgress = 0;
  const stepMs = opts.stepMs ?? 0;
  await settle();
  for (;;) {
    const next = clock.nextDue();
    if (next === undefined || next > end) break;
    clock.advanceTo(Math.min(end, next + stepMs));
    await settle();
    steps++;
    if (clock.now() >= dayStart + DAY && steps % 200 === 0 && store.countOpen(SERVICE) === 0) break;
    // Twice a second: counting the open callbacks walks an index of them all.
    if (opts.onProgress && performance.now() - lastProgress > 500) {
      lastProgress = performance.now();
      opts.onProgress((clock.now() - dayStart) / (end - dayStart), {
        created: created.length,
        open: store.countOpen(SERVICE),
      });
    }
  }
  opts.onProgress?.(1, { created: created.length, open: store.countOpen(SERVICE) });

  const outcomes: CallbackOutcome[] = [];
  for (const cb of created) {
    const row = store.get(cb.id);
    if (!row) continue;
    const st = row.state;
    outcomes.push({
      id: cb.id,
      scheduled: cb.scheduled,
      createdAt: row.createdAt,
      desiredTime: row.desiredTime,
      startedAt: st.startedAt ?? null,
      customerAnsweredAt: st.customerAnsweredAt ?? null,
      bridgedAt: st.bridgedAt ?? null,
      ewtAtStartMs: ewtAtStart.get(cb.id) ?? null,
      reason: row.gms === 'COMPLETED' ? (row.reason ?? 'COMPLETED') : `open (${row.gms})`,
      dialAttempts: st.dialAttempts,
    });
  }
  const bucket = service.options._request_time_bucket;
  const booked = store.bookedCounts(SERVICE, dayStart, dayStart + DAY + sc.drain_min * MINUTE);
  const slots: { start: number; booked: number }[] = [];
  for (let t = dayStart; t < dayStart + DAY; t += bucket * MINUTE)
    slots.push({ start: t, booked: booked.get(t) ?? 0 });

  await engine.stop();
  await telephony.stop();
  store.close();
  return {
    refusedShiftStarts,
    scenario: sc,
    dayStart,
    endedAt: clock.now(),
    wallMs: performance.now() - wall0,
    steps,
    bookingsTried: tried,
    rejected,
    outcomes,
    occupancy,
    slots,
    slotCapacity: service.options._max_request_by_time_bucket,
    slotMinutes: bucket,
    agents: simAgents.length,
  };
}
