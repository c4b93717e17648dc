// One timer for the whole node: a min-heap of (due time, callback id) and a single clock timer
// for the earliest. Only wake-ups inside a horizon live in memory; later ones stay rows in the
// store (their next_wake_at) and are loaded window by window, so a million far-future bookings
// cost nothing here. setTimeout's 24.8-day limit is handled by the clock (re-armed in chunks).

import { dispatch, spawn, type Ref } from 'nact';
import type { Clock, TimerHandle } from '../clock';
import { MinHeap } from '../min-heap';
import type { Logger } from '../logger';
import type { Store } from '../store/store';

export type TimerMsg =
  { type: 'schedule'; id: string; at: number | null } | { type: 'fire' } | { type: 'load' };

/**
 * How far the timer actor's window reaches: it holds every wake-up due before `until` and none
 * due later, whose rows its next loads read from the store. So a new booking whose first
 * wake-up is at or past `until` need not send it (the timer would only drop it): the row the
 * booking just committed holds it. Written by the timer actor only.
 */
export class WakeWindow {
  until = -Infinity;

  /** Whether a wake-up at `at` belongs in the timer actor's memory now. */
  holds(at: number | null): boolean {
    return at !== null && at < this.until;
  }
}

export interface TimerDeps {
  clock: Clock;
  store: Store;
  logger: Logger;
  /** Shared with the sessions (see WakeWindow); the actor keeps its own when none is given. */
  window?: WakeWindow;
  /** Called for every due callback, in due order. */
  wake: (id: string, dueAt: number) => void;
  /** How far ahead wake-ups are held in memory (ms). */
  horizonMs: number;
  onLateness?: (ms: number) => void;
}

/** Wake-ups keyed by callback id, with lazy deletion: the map holds each id's live due time. */
export class WakeHeap {
  private readonly heap = new MinHeap<{ at: number; id: string }>((a, b) => a.at < b.at);
  private readonly due = new Map<string, number>();

  get size(): number {
    return this.due.size;
  }

  set(id: string, at: number | null): void {
    if (at === null) {
      this.due.delete(id);
      return;
    }
    if (this.due.get(id) === at) return;
    this.due.set(id, at);
    this.heap.push({ at, id });
  }

  has(id: string): boolean {
    return this.due.has(id);
  }

  peek(): number | undefined {
    this.dropStale();
    return this.heap.peek()?.at;
  }

  /** Removes and returns every entry due at or before `now`. */
  popDue(now: number): Array<{ at: number; id: string }> {
    const out: Array<{ at: number; id: string }> = [];
    for (;;) {
      this.dropStale();
      const top = this.heap.peek();
      if (!top || top.at > now) break;
      this.heap.pop();
      this.due.delete(top.id);
      out.push(top);
    }
    return out;
  }

  private dropStale(): void {
    for (let top = this.heap.peek(); top && this.due.get(top.id) !== top.at; top = this.heap.peek())
      this.heap.pop();
  }
}

interface TimerState {
  heap: WakeHeap;
  armed?: { at: number; handle: TimerHandle };
  loadTimer?: TimerHandle;
}

const PAGE = 10_000;

export function spawnTimer(parent: Ref<unknown>, deps: TimerDeps): Ref<TimerMsg> {
  const { clock } = deps;
  const window = deps.window ?? new WakeWindow();
  const rearm = (s: TimerState, self: Ref<TimerMsg>): void => {
    const next = s.heap.peek();
    if (s.armed && s.armed.at === next) return;
    if (s.armed) clock.clearTimer(s.armed.handle);
    s.armed = undefined;
    if (next === undefined) return;
    s.armed = { at: next, handle: clock.setTimer(next, () => dispatch(self, { type: 'fire' })) };
  };

  const load = (s: TimerState, self: Ref<TimerMsg>): void => {
    const until = clock.now() + deps.horizonMs;
    let after: { nextWakeAt: number; id: string } | undefined;
    for (;;) {
      const page = deps.store.dueBetween(0, until, PAGE, after);
      for (const r of page) s.heap.set(r.id, r.nextWakeAt);
      if (page.length < PAGE) break;
      const last = page[page.length - 1];
      after = { nextWakeAt: last.nextWakeAt, id: last.id };
    }
    window.until = until;
    if (s.loadTimer) clock.clearTimer(s.loadTimer);
    s.loadTimer = clock.setTimer(until - Math.floor(deps.horizonMs / 4), () =>
      dispatch(self, { type: 'load' }),
    );
    deps.logger.debug({ held: s.heap.size, until }, 'wake-up window loaded');
  };

  return spawn(
    parent,
    (state: TimerState | undefined, msg: TimerMsg, ctx): TimerState => {
      const s: TimerState = state ?? { heap: new WakeHeap() };
      const self = ctx.self as Ref<TimerMsg>;
      switch (msg.type) {
        case 'schedule':
          s.heap.set(msg.id, window.holds(msg.at) ? msg.at : null);
          break;
        case 'load':
          load(s, self);
          break;
        case 'fire': {
          s.armed = undefined;
          const now = clock.now();
          for (const due of s.heap.popDue(now)) {
            deps.onLateness?.(now - due.at);
            deps.wake(due.id, due.at);
          }
          break;
        }
      }
      rearm(s, self);
      return s;
    },
    'timer',
  );
}
