import { MinHeap } from './min-heap';

// Time is always injected: production uses the system clock, tests and the simulator a
// virtual clock that only moves when told to.

export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once at `at` (epoch ms) or as soon as possible if `at` is past. */
  setTimer(at: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** setTimeout cannot wait more than 2^31-1 ms: longer waits are re-armed in chunks. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class SystemClock implements Clock {
  private nextId = 1;
  private readonly timers = new Map<number, NodeJS.Timeout>();

  now(): number {
    return Date.now();
  }

  setTimer(at: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    const arm = (): void => {
      const delay = Math.max(0, at - Date.now());
      const t = setTimeout(
        () => {
          if (at - Date.now() > 0) {
            arm();
            return;
          }
          this.timers.delete(id);
          fn();
        },
        Math.min(delay, MAX_TIMEOUT_MS),
      );
      this.timers.set(id, t);
    };
    arm();
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    const t = this.timers.get(handle.id);
    if (t) clearTimeout(t);
    this.timers.delete(handle.id);
  }
}

interface VirtualTimer {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that moves only when the test (or the simulation) advances it. Timers fire in due
 * order, ties in the order they were set; callbacks may set further timers. A heap with lazy
 * cancellation keeps a step cheap with hundreds of thousands of timers (a simulated day).
 */
export class VirtualClock implements Clock {
  private current: number;
  private nextId = 1;
  private seq = 0;
  private readonly heap = new MinHeap<VirtualTimer>(
    (a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq),
  );
  private readonly live = new Set<number>();
  /** Incremented by every setTimer and clearTimer: lets a run loop detect quiet. */
  activity = 0;

  constructor(start: number = Date.UTC(2030, 0, 7, 9, 0, 0)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(at: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    this.activity++;
    this.live.add(id);
    this.heap.push({ id, at: Math.max(at, this.current), seq: this.seq++, fn });
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    this.activity++;
    this.live.delete(handle.id);
  }

  /** Number of timers still waiting. */
  pending(): number {
    return this.live.size;
  }

  /** Due time of the earliest timer, if any. */
  nextDue(): number | undefined {
    this.dropCancelled();
    return this.heap.peek()?.at;
  }

  /** Fires every timer due up to `to` (inclusive) in order, then sets the time to `to`. */
  advanceTo(to: number): void {
    for (;;) {
      this.dropCancelled();
      const top = this.heap.peek();
      if (!top || top.at > to) break;
      this.heap.pop();
      this.live.delete(top.id);
      this.current = Math.max(this.current, top.at);
      top.fn();
    }
    this.current = Math.max(this.current, to);
  }

  advance(ms: number): void {
    this.advanceTo(this.current + ms);
  }

  /** Jumps the clock without firing anything (a wall-clock jump). */
  jump(to: number): void {
    this.current = to;
  }

  private dropCancelled(): void {
    for (let top = this.heap.peek(); top && !this.live.has(top.id); top = this.heap.peek())
      this.heap.pop();
  }
}

/**
 * A view of a clock whose timers can all be cancelled at once: what a component hands to its
 * parts so that stopping it leaves no timer behind to fire or keep the process alive.
 */
export class ScopedClock implements Clock {
  private readonly live = new Map<number, TimerHandle>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly inner: Clock) {}

  now(): number {
    return this.inner.now();
  }

  setTimer(at: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    if (this.closed) return { id };
    const handle = this.inner.setTimer(at, () => {
      this.live.delete(id);
      fn();
    });
    this.live.set(id, handle);
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    const inner = this.live.get(handle.id);
    if (inner) this.inner.clearTimer(inner);
    this.live.delete(handle.id);
  }

  /** Cancels every pending timer; later ones are never armed. */
  close(): void {
    this.closed = true;
    for (const h of this.live.values()) this.inner.clearTimer(h);
    this.live.clear();
  }
}
