// What a what-if run simulates: demand over the day, agents and their shifts, handle times,
// customer behaviour rates and the service's options. Read from a YAML file and/or flags,
// validated with TypeBox; a bad value names its key.

import fs from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import YAML from 'yaml';

const Range = Type.Object(
  { min: Type.Number({ minimum: 0 }), max: Type.Number({ minimum: 0 }) },
  { additionalProperties: false },
);

export const ScenarioSchema = Type.Object(
  {
    /** The simulated day (UTC date); the run covers 00:00 to 24:00 plus a drain. */
    date: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
    bookings_per_day: Type.Integer({ minimum: 0 }),
    /** 24 relative weights, one per hour of the day. */
    hourly_profile: Type.Array(Type.Number({ minimum: 0 }), { minItems: 24, maxItems: 24 }),
    /** Share of bookings with a desired time (the rest ask to be called now). */
    scheduled_share: Type.Number({ minimum: 0, maximum: 1 }),
    /** How far ahead a scheduled booking asks, minutes. */
    schedule_ahead_min: Range,
    shifts: Type.Array(
      Type.Object(
        {
          agents: Type.Integer({ minimum: 1 }),
          from: Type.String({ pattern: '^\\d{2}:\\d{2}$' }),
          to: Type.String({ pattern: '^\\d{2}:\\d{2}$' }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
    /** Per agent, drawn once (the simulator's agents have one handle time each), seconds. */
    handle_time_s: Range,
    agent_answer_s: Range,
    customers: Type.Object(
      {
        human: Type.Number({ minimum: 0 }),
        machine: Type.Number({ minimum: 0 }),
        busy: Type.Number({ minimum: 0 }),
        no_answer: Type.Number({ minimum: 0 }),
        answer_after_s: Range,
        amd_after_s: Range,
      },
      { additionalProperties: false },
    ),
    /** Options of the simulated service, on top of GMS defaults (`_target` is set for you). */
    service: Type.Record(Type.String(), Type.Unknown()),
    seed: Type.Integer(),
    /** Virtual time still run after midnight so that late callbacks can finish, minutes. */
    drain_min: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);

export type Scenario = Static<typeof ScenarioSchema>;

/** A typical contact-centre day: two humps, most bookings between 08:00 and 20:00. */
export const DEFAULT_SCENARIO: Scenario = {
  date: '2030-01-07',
  bookings_per_day: 5000,
  hourly_profile: [
    0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 1, 3, 6, 8, 8, 7, 6, 7, 8, 8, 7, 6, 5, 4, 3, 2, 1, 0.5,
  ],
  scheduled_share: 0.4,
  schedule_ahead_min: { min: 30, max: 240 },
  shifts: [
    { agents: 12, from: '07:00', to: '15:00' },
    { agents: 12, from: '12:00', to: '20:00' },
    { agents: 4, from: '20:00', to: '24:00' },
  ],
  handle_time_s: { min: 120, max: 420 },
  agent_answer_s: { min: 1, max: 4 },
  customers: {
    human: 0.75,
    machine: 0.1,
    busy: 0.07,
    no_answer: 0.08,
    answer_after_s: { min: 2, max: 12 },
    amd_after_s: { min: 1.5, max: 3 },
  },
  service: {
    _wait_for_agent: true,
    _wait_for_user_confirm: false,
    _request_time_bucket: 15,
    _max_request_by_time_bucket: 100,
    _max_dial_attempts: 3,
    _dial_retry_timeout: 300,
    _ttl: 28_800,
  },
  seed: 1,
  drain_min: 240,
};

export class ScenarioError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`invalid scenario: ${key}: ${message}`);
    this.name = 'ScenarioError';
  }
}

export interface ScenarioFlags {
  file?: string;
  bookings?: number;
  agents?: number;
  handleS?: number;
  seed?: number;
  date?: string;
  scheduledShare?: number;
}

/** Defaults, then the file (shallow per top-level key), then flags; validated. */
export function loadScenario(f: ScenarioFlags): Scenario {
  let raw: Record<string, unknown> = { ...DEFAULT_SCENARIO };
  if (f.file) {
    let parsed: unknown;
    try {
      parsed = YAML.parse(fs.readFileSync(f.file, 'utf8'));
    } catch (err) {
      throw new ScenarioError('--scenario', `cannot read ${f.file}: ${(err as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new ScenarioError('(root)', 'must be a mapping');
    raw = { ...raw, ...(parsed as Record<string, unknown>) };
  }
  if (f.bookings !== undefined) raw.bookings_per_day = f.bookings;
  if (f.seed !== undefined) raw.seed = f.seed;
  if (f.date !== undefined) raw.date = f.date;
  if (f.scheduledShare !== undefined) raw.scheduled_share = f.scheduledShare;
  if (f.handleS !== undefined) raw.handle_time_s = { min: f.handleS, max: f.handleS };
  if (f.agents !== undefined) {
    // --agents N: N agents all day.
    raw.shifts = [{ agents: f.agents, from: '00:00', to: '24:00' }];
  }
  const first = Value.Errors(ScenarioSchema, raw).First();
  if (first)
    throw new ScenarioError(
      first.path.replace(/^\//, '').replace(/\//g, '.') || '(root)',
      first.message,
    );
  const s = raw as Scenario;
  for (const [i, sh] of s.shifts.entries())
    if (minuteOfDay(sh.to) <= minuteOfDay(sh.from))
      throw new ScenarioError(`shifts.${i}`, 'a shift must end after it starts (same day)');
  for (const key of ['schedule_ahead_min', 'handle_time_s', 'agent_answer_s'] as const)
    if (s[key].max < s[key].min) throw new ScenarioError(key, 'max must not be below min');
  return s;
}

export function minuteOfDay(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  if (h > 24 || m > 59 || (h === 24 && m > 0))
    throw new ScenarioError('shifts', `${hhmm} is not a time of day`);
  return h * 60 + m;
}
