// Drives asynchronous work on a virtual clock: actors run on setImmediate and promises, the
// simulator and the engine's timers on the virtual clock. `settle` lets the former drain;
// `runUntil` alternates draining with moving the clock to the next due timer.

import type { VirtualClock } from '../../src/clock';

export async function settle(rounds = 40): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/**
 * Advances virtual time timer by timer until `done()` holds, or fails after `maxMs` of virtual
 * time. Returns the virtual milliseconds that passed.
 */
export async function runUntil(
  clock: VirtualClock,
  done: () => boolean,
  maxMs: number,
  what = 'condition',
): Promise<number> {
  const start = clock.now();
  const limit = start + maxMs;
  await settle();
  while (!done()) {
    const next = clock.nextDue();
    if (next === undefined || next > limit) {
      throw new Error(
        `${what} not reached after ${Math.round((clock.now() - start) / 1000)} s of virtual time`,
      );
    }
    clock.advanceTo(next);
    await settle();
  }
  return clock.now() - start;
}

/** Advances virtual time by `ms`, firing and draining everything due on the way. */
export async function advance(clock: VirtualClock, ms: number): Promise<void> {
  const target = clock.now() + ms;
  await settle();
  for (;;) {
    const next = clock.nextDue();
    if (next === undefined || next > target) break;
    clock.advanceTo(next);
    await settle();
  }
  clock.advanceTo(target);
  await settle();
}
