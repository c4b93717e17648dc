// The simulation's virtual clock: the same contract as VirtualClock (time moves only when told,
// timers fire in due order, ties in the order they were set) on a binary heap with lazy
// cancellation, because a simulated day holds hundreds of thousands of timers and
// VirtualClock's linear scans make each step O(timers).

import type { Clock, TimerHandle } from '../clock';

interface Entry {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export class SimClock implements Clock {
  private current: number;
  private nextId = 1;
  private seq = 0;
  private readonly heap: Entry[] = [];
  private readonly live = new Set<number>();
  /** Incremented by every setTimer / clearTimer: the run loop uses it to detect quiet. */
  activity = 0;

  constructor(start: number) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(at: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    this.activity++;
    this.live.add(id);
    this.push({ id, at: Math.max(at, this.current), seq: this.seq++, fn });
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    this.activity++;
    this.live.delete(handle.id);
  }

  pending(): number {
    return this.live.size;
  }

  nextDue(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.at;
  }

  /** Fires every timer due up to `to` (inclusive) in order, then sets the time to `to`. */
  advanceTo(to: number): void {
    for (;;) {
      this.dropCancelled();
      const top = this.heap[0];
      if (!top || top.at > to) break;
      this.pop();
      this.live.delete(top.id);
      this.current = Math.max(this.current, top.at);
      top.fn();
    }
    this.current = Math.max(this.current, to);
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && !this.live.has(this.heap[0].id)) this.pop();
  }

  private push(e: Entry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (h.length === 0 || !last) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l], h[m])) m = l;
      if (r < h.length && before(h[r], h[m])) m = r;
      if (m === i) return;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
}
