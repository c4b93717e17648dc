// Wake-up lateness of the real timer actor (one heap, one OS timer) on the system clock at a
// steady rate: wake-ups are scheduled ahead through the actor's mailbox, as sessions do, and
// each wake records how late it came (now − due). An in-memory store: the timer only reads it
// at load. Several runs; medians of their percentiles.
//   npx tsx bench/timers.ts [--rate 2000] [--seconds 10] [--runs 3]

import path from 'node:path';
import { dispatch, start, stop } from 'nact';
import { SystemClock } from '../src/clock';
import { spawnTimer } from '../src/actors/timer-actor';
import { silentLogger } from '../src/logger';
import { openSqliteStore } from '../src/store/sqlite-store';
import {
  ROOT,
  flags,
  median,
  numFlag,
  percentile,
  printTable,
  round,
  sleep,
  writeResult,
} from './lib/common';

export interface LatenessRun {
  wakeUps: number;
  fired: number;
  p50: number;
  p99: number;
  max: number;
  /** Wake-ups that came before their due time (must be 0). */
  early: number;
}

/** One run: `rate` wake-ups per second for `seconds`, starting `leadMs` from now. */
export async function timerRun(rate: number, seconds: number, leadMs = 1000): Promise<LatenessRun> {
  const clock = new SystemClock();
  const store = openSqliteStore({ file: ':memory:' });
  const system = start();
  const n = Math.round(rate * seconds);
  const late = new Float64Array(n);
  let fired = 0;
  let early = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  const timer = spawnTimer(system, {
    clock,
    store,
    logger: silentLogger(),
    horizonMs: 3600_000,
    wake: (_id, dueAt) => {
      // performance.timeOrigin + now() is a sub-millisecond wall clock.
      const l = performance.timeOrigin + performance.now() - dueAt;
      if (l < 0) early++;
      late[fired++] = Math.max(0, l);
      if (fired === n) done();
    },
  });
  dispatch(timer, { type: 'load' });
  await sleep(50);
  const t0 = Date.now() + leadMs;
  // Due times are fractional: a wake-up every 1/rate s, not bunched on millisecond edges.
  for (let i = 0; i < n; i++) {
    dispatch(timer, { type: 'schedule', id: `w${i}`, at: t0 + (i * 1000) / rate });
    // Schedule in chunks so the mailbox never holds the whole run at once.
    if (i % 5000 === 4999) await new Promise((r) => setImmediate(r));
  }
  const timeout = sleep(leadMs + seconds * 1000 + 10_000).then(() => 'timeout');
  await Promise.race([finished, timeout]);
  stop(system);
  store.close();
  const got = late.subarray(0, fired);
  return {
    wakeUps: n,
    fired,
    p50: round(percentile(got, 50), 2),
    p99: round(percentile(got, 99), 2),
    max: round(percentile(got, 100), 2),
    early,
  };
}

export async function main(argv = process.argv.slice(2)): Promise<Record<string, unknown>> {
  const f = flags(argv);
  const rate = numFlag(f, 'rate', 2000);
  const seconds = numFlag(f, 'seconds', 10);
  const runs = numFlag(f, 'runs', 3);
  const results: LatenessRun[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await timerRun(rate, seconds);
    results.push(r);
    process.stdout.write(
      `run ${i + 1}/${runs}: ${r.fired}/${r.wakeUps} fired, lateness p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms\n`,
    );
  }
  const med = {
    p50: median(results.map((r) => r.p50)),
    p99: median(results.map((r) => r.p99)),
    max: median(results.map((r) => r.max)),
    allFired: results.every((r) => r.fired === r.wakeUps),
    early: results.reduce((s, r) => s + r.early, 0),
  };
  process.stdout.write(
    `\nwake-up lateness at ${rate}/s for ${seconds} s (median of ${runs} runs)\n`,
  );
  printTable([
    { 'p50 ms': med.p50, 'p99 ms': med.p99, 'max ms': med.max, 'all fired': med.allFired },
  ]);
  const result = {
    settings: { rate, seconds, runs, clock: 'SystemClock', store: 'sqlite :memory:' },
    median: med,
    runs: results,
    targets: { p99Le10ms: med.p99 <= 10 },
  };
  const file = writeResult('timers', result);
  process.stdout.write(`written ${path.relative(ROOT, file)}\n`);
  return result;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
