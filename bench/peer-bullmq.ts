// Side by side with what a team would otherwise use for "do this later": BullMQ delayed jobs on
// a local Redis, against dialback's timer path, on the same machine in the same run (rounds
// interleaved). The workload: K jobs due evenly over a window, scheduled one by one with a
// bounded number in flight, then fired; we measure schedule throughput and fire lateness.
//
// dialback's side is durable on both ends: a schedule is a committed SQLite (WAL) row plus a
// message to the timer actor, a fire is the timer's wake-up plus a committed state write (what
// a session does first). Redis runs without persistence (`--save '' --appendonly no`), which
// favours BullMQ.
//   npx tsx bench/peer-bullmq.ts [--jobs 20000] [--window 10] [--lead 10] [--runs 3]

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { dispatch, start, stop } from 'nact';
import { ScopedClock, SystemClock } from '../src/clock';
import { spawnTimer } from '../src/actors/timer-actor';
import { silentLogger } from '../src/logger';
import { openSqliteStore } from '../src/store/sqlite-store';
import {
  ROOT,
  flags,
  freePort,
  median,
  numFlag,
  percentile,
  printTable,
  round,
  sleep,
  startChild,
  tempDir,
  type Child,
  writeResult,
} from './lib/common';
import { benchService, scheduledRow } from './lib/rows';

interface PeerRun {
  scheduleSeconds: number;
  schedulePerS: number;
  fired: number;
  /** Jobs whose schedule call returned after their due time. */
  scheduledLate: number;
  p50: number;
  p99: number;
  max: number;
}

const wallNow = (): number => performance.timeOrigin + performance.now();

function ensureRedis(): string {
  const found = (): string | undefined => {
    try {
      return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
    } catch {
      return undefined;
    }
  };
  let bin = found();
  if (bin) return bin;
  process.stdout.write('redis-server missing: installing Debian redis-server…\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    execFileSync('apt-get', ['install', '-y', 'redis-server'], { stdio: 'ignore', env });
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'ignore', env });
    execFileSync('apt-get', ['install', '-y', 'redis-server'], { stdio: 'ignore', env });
  }
  bin = found();
  if (!bin) throw new Error('redis-server could not be installed');
  return bin;
}

async function startRedis(bin: string, port: number): Promise<Child> {
  const child = startChild(bin, [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  for (let i = 0; i < 200; i++) {
    if (/Ready to accept connections/.test(child.output())) return child;
    if (child.proc.exitCode !== null) break;
    await sleep(25);
  }
  await child.stop('SIGKILL');
  throw new Error(`redis-server did not start:\n${child.output()}`);
}

/** Waits for `finished` or `ms`, whichever comes first, and leaves no timer behind. */
async function finishedOrTimeout(finished: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([finished, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn(i)` for i < n with at most `inFlight` pending promises. */
async function pool(n: number, inFlight: number, fn: (i: number) => Promise<unknown>) {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, lane));
}

function summarise(
  late: Float64Array,
  fired: number,
  scheduleMs: number,
  n: number,
  scheduledLate: number,
): PeerRun {
  const got = late.subarray(0, fired);
  return {
    scheduleSeconds: round(scheduleMs / 1000, 2),
    schedulePerS: round(n / (scheduleMs / 1000), 0),
    fired,
    scheduledLate,
    p50: round(percentile(got, 50), 2),
    p99: round(percentile(got, 99), 2),
    max: round(percentile(got, 100), 2),
  };
}

async function bullmqRun(
  redisPort: number,
  n: number,
  windowS: number,
  leadS: number,
  inFlight: number,
  round_: number,
): Promise<PeerRun> {
  const connection = { host: '127.0.0.1', port: redisPort };
  const name = `peer-${round_}`;
  const queue = new Queue(name, { connection });
  const late = new Float64Array(n);
  let fired = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  const worker = new Worker(
    name,
    async (job) => {
      late[fired++] = Math.max(0, wallNow() - (job.data as { due: number }).due);
      if (fired === n) done();
    },
    { connection, concurrency: 100 },
  );
  await worker.waitUntilReady();
  const t0 = Date.now() + leadS * 1000;
  let scheduledLate = 0;
  const s0 = performance.now();
  await pool(n, inFlight, async (i) => {
    const due = t0 + (i * windowS * 1000) / n;
    await queue.add(
      'wake',
      { due },
      { delay: Math.max(0, due - Date.now()), removeOnComplete: true, removeOnFail: 1000 },
    );
    if (wallNow() > due) scheduledLate++;
  });
  const scheduleMs = performance.now() - s0;
  await finishedOrTimeout(finished, leadS * 1000 + windowS * 1000 + 30_000);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return summarise(late, fired, scheduleMs, n, scheduledLate);
}

async function dialbackRun(
  n: number,
  windowS: number,
  leadS: number,
  inFlight: number,
): Promise<PeerRun> {
  const dir = tempDir('peer');
  const store = openSqliteStore({ dir });
  const s = benchService();
  // Scoped: closing it clears the timer actor's clock timers, which stopping nact does not.
  const clock = new ScopedClock(new SystemClock());
  const system = start();
  const late = new Float64Array(n);
  let fired = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  const rows = new Map<string, ReturnType<typeof scheduledRow>>();
  const timer = spawnTimer(system, {
    clock,
    store,
    logger: silentLogger(),
    horizonMs: 3600_000,
    wake: (id, dueAt) => {
      late[fired++] = Math.max(0, wallNow() - dueAt);
      // What a session does first on its start timer: persist the new state, durably.
      const row = rows.get(id);
      if (row) {
        const now = Date.now();
        store.saveSession(
          id,
          { ...row.state, phase: 'waiting-agent', gms: 'QUEUED', timers: {}, startedAt: now },
          { type: 'timer', timer: 'start' },
          null,
          now,
        );
        rows.delete(id);
      }
      if (fired === n) done();
    },
  });
  dispatch(timer, { type: 'load' });
  await sleep(50);
  const t0 = Date.now() + leadS * 1000;
  let scheduledLate = 0;
  const s0 = performance.now();
  const now = Date.now();
  // The same in-flight bound as BullMQ: a booking is acknowledged once its row is committed.
  await pool(n, inFlight, async (i) => {
    await new Promise((r) => setImmediate(r));
    const due = t0 + (i * windowS * 1000) / n;
    const row = scheduledRow(s, i, due, now);
    store.insertCallback(row);
    rows.set(row.id, row);
    dispatch(timer, { type: 'schedule', id: row.id, at: due });
    if (wallNow() > due) scheduledLate++;
  });
  const scheduleMs = performance.now() - s0;
  await finishedOrTimeout(finished, leadS * 1000 + windowS * 1000 + 30_000);
  stop(system);
  clock.close();
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return summarise(late, fired, scheduleMs, n, scheduledLate);
}

export async function main(argv = process.argv.slice(2)): Promise<Record<string, unknown>> {
  const f = flags(argv);
  const n = numFlag(f, 'jobs', 20_000);
  const windowS = numFlag(f, 'window', 10);
  const leadS = numFlag(f, 'lead', 10);
  const runs = numFlag(f, 'runs', 3);
  const inFlight = numFlag(f, 'in-flight', 100);
  try {
    require.resolve('ioredis');
  } catch {
    // BullMQ loads ioredis lazily and, without it, its workers retry forever.
    throw new Error('BullMQ needs the ioredis package, which is not installed (npm i -D ioredis)');
  }
  const bin = ensureRedis();
  const redisVersion = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  const port = await freePort();
  const redis = await startRedis(bin, port);
  const bull: PeerRun[] = [];
  const dial: PeerRun[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      bull.push(await bullmqRun(port, n, windowS, leadS, inFlight, i));
      dial.push(await dialbackRun(n, windowS, leadS, inFlight));
      const b = bull[i];
      const d = dial[i];
      process.stdout.write(
        `run ${i + 1}/${runs}: BullMQ ${b.schedulePerS} sched/s, lateness p50 ${b.p50} p99 ${b.p99} max ${b.max} ms (${b.fired}/${n}); ` +
          `dialback ${d.schedulePerS} sched/s, p50 ${d.p50} p99 ${d.p99} max ${d.max} ms (${d.fired}/${n})\n`,
      );
    }
  } finally {
    await redis.stop('SIGTERM');
  }
  const med = (xs: PeerRun[], k: keyof PeerRun): number => median(xs.map((x) => x[k]));
  const ratio = (k: keyof PeerRun): number =>
    round(median(dial.map((d, i) => d[k] / Math.max(bull[i][k], 0.01))), 2);
  const side = (xs: PeerRun[]) => ({
    schedulePerS: med(xs, 'schedulePerS'),
    p50: med(xs, 'p50'),
    p99: med(xs, 'p99'),
    max: med(xs, 'max'),
    fired: med(xs, 'fired'),
    scheduledLate: med(xs, 'scheduledLate'),
  });
  const d = side(dial);
  const b = side(bull);
  const ratios = {
    scheduleThroughput: ratio('schedulePerS'),
    latenessP50: ratio('p50'),
    latenessP99: ratio('p99'),
  };
  process.stdout.write(
    `\n${n} jobs due over ${windowS} s (${round(n / windowS, 0)}/s), ${inFlight} in flight, median of ${runs} runs\n`,
  );
  printTable([
    {
      system: 'dialback (timer + SQLite WAL)',
      'schedule/s': d.schedulePerS,
      'late p50 ms': d.p50,
      'late p99 ms': d.p99,
      'late max ms': d.max,
      fired: d.fired,
    },
    {
      system: `BullMQ (Redis, no persistence)`,
      'schedule/s': b.schedulePerS,
      'late p50 ms': b.p50,
      'late p99 ms': b.p99,
      'late max ms': b.max,
      fired: b.fired,
    },
    {
      system: 'dialback / BullMQ',
      'schedule/s': ratios.scheduleThroughput,
      'late p50 ms': ratios.latenessP50,
      'late p99 ms': ratios.latenessP99,
      'late max ms': '',
      fired: '',
    },
  ]);
  const result = {
    settings: { jobs: n, windowS, leadS, runs, inFlight, redis: redisVersion, bullmq: '6.7.0' },
    dialback: { ...d, runs: dial },
    bullmq: { ...b, runs: bull },
    ratios,
    targets: {
      moreThroughput: ratios.scheduleThroughput > 1,
      lowerLatenessP99: d.p99 < b.p99,
    },
  };
  const file = writeResult('peer-bullmq', result);
  process.stdout.write(`written ${path.relative(ROOT, file)}\n`);
  return result;
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
