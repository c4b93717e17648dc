// Estimated wait time for the next callback of a target, from live agent figures.
//
// Formula: callbacks ahead that a ready agent can take at once wait 0. The rest wait for agents
// working the queue (ready + busy) to free up: the first round waits half a handle time on
// average (a busy agent is on average half-way through its call), each further round a full
// handle time. So wait = avg/2 + (ceil(need / servers) − 1) · avg, need = queueAhead − ready + 1.
// It grows with the queue and shrinks with more agents; with nobody to work the queue it is the
// cap (a number, never Infinity, so timers and JSON stay sane).

export const DEFAULT_EWT_CAP_MS = 3_600_000;

export interface EwtFigures {
  ready: number;
  busy: number;
  signedIn: number;
  avgHandleMs: number;
  /** Callbacks of the target ahead of this one. */
  queueAhead: number;
}

export function estimateWaitMs(f: EwtFigures, capMs = DEFAULT_EWT_CAP_MS): number {
  const n = (x: number): number => (Number.isFinite(x) && x > 0 ? Math.floor(x) : 0);
  const ready = n(f.ready);
  const queueAhead = n(f.queueAhead);
  if (queueAhead < ready) return 0;
  const servers = ready + n(f.busy);
  if (n(f.signedIn) === 0 || servers === 0) return capMs;
  // An unknown handle time gives no estimate: the cap, as when nobody works the queue.
  if (!Number.isFinite(f.avgHandleMs)) return capMs;
  const avg = Math.max(0, f.avgHandleMs);
  const rounds = Math.ceil((queueAhead - ready + 1) / servers);
  return Math.min(capMs, Math.round(avg / 2 + (rounds - 1) * avg));
}

/** Exponentially weighted moving average of handle times, starting from a configured value. */
export class HandleTimeAverage {
  private current: number;

  constructor(
    initialMs: number,
    /** Weight of each new observation (0 < alpha ≤ 1). */
    private readonly alpha = 0.2,
  ) {
    if (!(alpha > 0 && alpha <= 1)) throw new RangeError('alpha must be in (0, 1]');
    this.current = Number.isFinite(initialMs) && initialMs >= 0 ? initialMs : 0;
  }

  /** Ignores values that are not a finite, non-negative duration (a clock glitch, a bad event). */
  observe(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.current += this.alpha * (ms - this.current);
  }

  value(): number {
    return this.current;
  }
}
