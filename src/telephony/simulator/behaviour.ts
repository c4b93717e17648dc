// What a simulated customer does when dialled: scripted per number and attempt, drawn from
// seeded rates, or built from the config's behaviour names. Pure: no clock, no I/O.

import { assertNever } from '../../errors';

export type CustomerBehaviour =
  | {
      kind: 'human' | 'machine' | 'notsure';
      /** Ringing time before the far end picks up. */
      answerAfterMs: number;
      /** How long AMD listens after the answer before giving its verdict (only when amd is on). */
      amdAfterMs: number;
      /** The customer hangs up this long after answering; omitted = stays until we hang up. */
      hangUpAfterMs?: number;
    }
  | { kind: 'busy'; afterMs: number }
  /** Rings until the request's timeoutMs, then call.failed no-answer. */
  | { kind: 'no-answer' }
  | { kind: 'rejected' | 'unreachable' | 'congestion'; afterMs: number };

export type CustomerKind = CustomerBehaviour['kind'];

/** Chooses the behaviour of one dial; `attempt` counts dials of this number for one callback, from 1. */
export type CustomerScript = (number: string, attempt: number) => CustomerBehaviour | undefined;

/** Q.850 causes, as Asterisk reports them on hang-up. */
export const Q850 = {
  unallocatedNumber: 1,
  noRouteToDestination: 3,
  normalClearing: 16,
  userBusy: 17,
  noAnswer: 19,
  callRejected: 21,
  congestion: 34,
} as const;

/** AMDCAUSE values of the shape Asterisk's AMD() gives. */
export const AMD_CAUSES = {
  HUMAN: 'HUMAN-800-800',
  MACHINE: 'MAXWORDS-3-2',
  NOTSURE: 'TOOLONG-5000',
} as const;

export const DEFAULT_CUSTOMER: CustomerBehaviour = {
  kind: 'human',
  answerAfterMs: 2000,
  amdAfterMs: 1500,
};

/**
 * A script keyed by number. A list scripts successive attempts ("machine on attempt 1, human
 * on attempt 2"); attempts past its end repeat the last entry.
 */
export function scriptedCustomers(
  script:
    | Map<string, CustomerBehaviour | CustomerBehaviour[]>
    | Record<string, CustomerBehaviour | CustomerBehaviour[]>,
): CustomerScript {
  const table = script instanceof Map ? script : new Map(Object.entries(script));
  return (number, attempt) => {
    const entry = table.get(number);
    if (entry === undefined) return undefined;
    if (!Array.isArray(entry)) return entry;
    if (entry.length === 0) return undefined;
    return entry[Math.min(Math.max(attempt, 1), entry.length) - 1];
  };
}

export interface Timings {
  answerAfterMs: number;
  amdAfterMs: number;
  /** How long an answered customer stays before hanging up; omitted = until we hang up. */
  talkMs?: number;
  /** Delay of a busy / rejected / unreachable / congestion answer. */
  failAfterMs?: number;
}

/** Builds a behaviour from its name (the config's `default_behaviour` / `numbers` values). */
export function customerBehaviourFromKind(kind: CustomerKind, t: Timings): CustomerBehaviour {
  const failAfterMs = t.failAfterMs ?? 50;
  switch (kind) {
    case 'human':
    case 'machine':
    case 'notsure':
      return {
        kind,
        answerAfterMs: t.answerAfterMs,
        amdAfterMs: t.amdAfterMs,
        ...(t.talkMs !== undefined ? { hangUpAfterMs: t.talkMs } : {}),
      };
    case 'busy':
    case 'rejected':
    case 'unreachable':
    case 'congestion':
      return { kind, afterMs: failAfterMs };
    case 'no-answer':
      return { kind };
    default:
      return assertNever(kind);
  }
}

export interface Range {
  min: number;
  max: number;
}

/** Relative weights (they need not sum to 1) and timing ranges of the random mode. */
export interface RandomCustomers {
  human: number;
  machine: number;
  busy: number;
  noAnswer: number;
  notsure?: number;
  rejected?: number;
  unreachable?: number;
  congestion?: number;
  answerAfterMs?: Range;
  amdAfterMs?: Range;
  /** Customers hang up this long after answering; omitted = they stay until we hang up. */
  talkMs?: Range;
  failAfterMs?: Range;
}

function inRange(r: Range, x: number): number {
  return Math.round(r.min + (r.max - r.min) * x);
}

/**
 * Draws one behaviour. It always consumes the same number of values from `rng`, so one seed
 * gives the same sequence whatever kinds come out.
 */
export function drawCustomer(rates: RandomCustomers, rng: () => number): CustomerBehaviour {
  const weights: Array<[CustomerKind, number]> = [
    ['human', rates.human],
    ['machine', rates.machine],
    ['notsure', rates.notsure ?? 0],
    ['busy', rates.busy],
    ['no-answer', rates.noAnswer],
    ['rejected', rates.rejected ?? 0],
    ['unreachable', rates.unreachable ?? 0],
    ['congestion', rates.congestion ?? 0],
  ];
  const total = weights.reduce((s, [, w]) => s + Math.max(0, w), 0);
  const [xKind, xAnswer, xAmd, xTalk, xFail] = [rng(), rng(), rng(), rng(), rng()];
  const timings: Timings = {
    answerAfterMs: inRange(rates.answerAfterMs ?? { min: 1000, max: 8000 }, xAnswer),
    amdAfterMs: inRange(rates.amdAfterMs ?? { min: 1500, max: 3000 }, xAmd),
    ...(rates.talkMs ? { talkMs: inRange(rates.talkMs, xTalk) } : {}),
    failAfterMs: inRange(rates.failAfterMs ?? { min: 20, max: 2000 }, xFail),
  };
  if (total <= 0) return customerBehaviourFromKind('human', timings);
  let pick = xKind * total;
  let last: CustomerKind = 'human';
  for (const [kind, w] of weights) {
    if (w <= 0) continue;
    last = kind;
    pick -= w;
    if (pick < 0) return customerBehaviourFromKind(kind, timings);
  }
  // Only reached through rounding at the very top of the range.
  return customerBehaviourFromKind(last, timings);
}
