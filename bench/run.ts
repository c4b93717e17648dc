// Runs every benchmark in turn (one at a time: the machine has two cores) and prints a summary
// table against the targets of DESIGN.md, and against a few stricter conditions beyond them
// (creates at autocannon's default 10 connections, all 20 lab calls booked in one millisecond),
// marked as such. The lab's Asterisk and 49 phones take CPU even when
// idle, so the others run first with the lab down: the driver then brings the lab up for the
// lab benchmarks and down again. A lab already up is used, and left up.
//   npx tsx bench/run.ts [--quick] [--no-lab]
//   (--quick: shorter runs, 100,000 rows for scale, and the lab only if it is up already)

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { labStateFile } from '../test/lab/lab-state';
import { ROOT, flags, printTable, writeResult } from './lib/common';

type Bench = { name: string; file: string; args: string[] };

/** Runs an npm script of the project in the foreground; returns its exit status. */
function npm(script: string): number | null {
  return spawnSync('npm', ['run', script], { cwd: ROOT, stdio: 'inherit' }).status;
}

async function main(): Promise<void> {
  const quick = flags().has('quick');
  const benches: Bench[] = [
    {
      name: 'http-create',
      file: './http-create',
      args: quick ? ['--runs', '1', '--duration', '5'] : [],
    },
    { name: 'timers', file: './timers', args: quick ? ['--runs', '1'] : [] },
    { name: 'scale', file: './scale', args: quick ? ['--count', '100000', '--runs', '1'] : [] },
    { name: 'peer-bullmq', file: './peer-bullmq', args: quick ? ['--runs', '1'] : [] },
    {
      name: 'sim-day',
      file: './sim-day',
      args: quick ? ['--bookings', '20000', '--runs', '1'] : [],
    },
  ];
  const labBenches: Bench[] = [
    { name: 'lab', file: './lab', args: [] },
    { name: 'lab-burst', file: './lab', args: ['--spread', '0'] },
  ];
  const labWasUp = fs.existsSync(labStateFile());
  if (labWasUp)
    process.stdout.write(
      'the lab is up: its Asterisk and phones share the CPU with every benchmark ' +
        '(`npm run lab:down` first for figures on a quiet machine)\n',
    );

  const results: Record<string, Record<string, unknown> | { error: string }> = {};
  const run = async (b: Bench): Promise<void> => {
    process.stdout.write(`\n=== ${b.name} ===\n`);
    try {
      const mod = (await import(b.file)) as {
        main: (argv: string[]) => Promise<Record<string, unknown>>;
      };
      results[b.name] = await mod.main(b.args);
    } catch (err) {
      results[b.name] = { error: (err as Error).message };
      process.stdout.write(`${b.name} failed: ${(err as Error).message}\n`);
    }
  };
  for (const b of benches) await run(b);

  if (labWasUp) {
    for (const b of labBenches) await run(b);
  } else if (flags().has('no-lab') || quick) {
    process.stdout.write('\nlab benchmarks skipped (lab not up)\n');
  } else {
    process.stdout.write('\n=== lab:up ===\n');
    // Interrupted, the driver still stops the lab it started.
    const onSigint = (): void => {
      npm('lab:down');
      process.exit(130);
    };
    process.once('SIGINT', onSigint);
    const up = npm('lab:up');
    try {
      if (up === 0 && fs.existsSync(labStateFile())) for (const b of labBenches) await run(b);
      else process.stdout.write(`lab benchmarks skipped: \`npm run lab:up\` failed (${up})\n`);
    } finally {
      process.stdout.write('\n=== lab:down ===\n');
      npm('lab:down');
      process.off('SIGINT', onSigint);
    }
  }

  const get = (name: string, p: string): unknown =>
    p
      .split('.')
      .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], results[name]);
  const withinP99 = (v: unknown): unknown => {
    const b = v as { reqPerSec: number; connections: number } | null | undefined;
    return b ? `${b.reqPerSec} (${b.connections} connections)` : b;
  };
  const rows = [
    {
      target: 'creates/s ≥ 5,000 at p99 ≤ 20 ms (now)',
      measured: withinP99(get('http-create', 'createWithinP99')),
      met: get('http-create', 'targets.creates5000PerS'),
    },
    {
      target: 'beyond the targets: creates/s ≥ 5,000 at 10 connections (now)',
      measured: get('http-create', 'create.reqPerSec'),
      met: get('http-create', 'targets.creates5000PerSAtFirstConnections'),
    },
    {
      target: 'create p99 ≤ 20 ms (now)',
      measured: get('http-create', 'create.p99'),
      met: get('http-create', 'targets.createP99Le20ms'),
    },
    {
      target: 'creates/s ≥ 5,000 at p99 ≤ 20 ms (scheduled)',
      measured: withinP99(get('http-create', 'createScheduledWithinP99')),
      met: get('http-create', 'targets.scheduledCreates5000PerS'),
    },
    {
      target: 'beyond the targets: creates/s ≥ 5,000 at 10 connections (scheduled)',
      measured: get('http-create', 'createScheduled.reqPerSec'),
      met: get('http-create', 'targets.scheduledCreates5000PerSAtFirstConnections'),
    },
    {
      target: 'create p99 ≤ 20 ms (scheduled)',
      measured: get('http-create', 'createScheduled.p99'),
      met: get('http-create', 'targets.scheduledCreateP99Le20ms'),
    },
    {
      target: 'availability ≥ 10,000 req/s',
      measured: get('http-create', 'availability.reqPerSec'),
      met: get('http-create', 'targets.availability10000PerS'),
    },
    {
      target: 'wake-up p99 ≤ 10 ms at 2,000/s',
      measured: get('timers', 'median.p99'),
      met: get('timers', 'targets.p99Le10ms'),
    },
    {
      target: 'RSS ≤ 1 GiB (MiB)',
      measured: get('scale', 'restart.rssAfter5sMiB'),
      met: get('scale', 'targets.rssLe1GiB'),
    },
    {
      target: 'restart ≤ 15 s (ms)',
      measured: get('scale', 'restart.readyMs'),
      met: get('scale', 'targets.restartLe15s'),
    },
    {
      target: 'schedule/s > BullMQ (ratio)',
      measured: get('peer-bullmq', 'ratios.scheduleThroughput'),
      met: get('peer-bullmq', 'targets.moreThroughput'),
    },
    {
      target: 'lateness p99 < BullMQ (ratio)',
      measured: get('peer-bullmq', 'ratios.latenessP99'),
      met: get('peer-bullmq', 'targets.lowerLatenessP99'),
    },
    {
      target: 'simulated day ≤ 60 s (s)',
      measured: get('sim-day', 'wallSeconds'),
      met: get('sim-day', 'targets.wallLe60s'),
    },
    {
      target: 'lab: 20 calls up at once (peak)',
      measured: get('lab', 'peakCalls'),
      met: get('lab', 'targets.allCallsUpAtOnce'),
    },
    {
      target: 'lab: 20 concurrent, 0 lost (lost)',
      measured: get('lab', 'lost'),
      met: get('lab', 'targets.noneLost'),
    },
    {
      target: 'lab: HUMAN → bridged median ≤ 50 ms',
      measured: get('lab', 'humanToBridgeMs.median'),
      met: get('lab', 'targets.humanToBridgeMedianLe50ms'),
    },
    {
      target: 'lab: engine time HUMAN → bridge join sent, median ≤ 50 ms',
      measured: get('lab', 'engineMs.median'),
      met: get('lab', 'targets.engineTimeMedianLe50ms'),
    },
    {
      target: 'beyond the targets: lab, all 20 booked in one ms: 0 lost (lost)',
      measured: get('lab-burst', 'lost'),
      met: get('lab-burst', 'targets.noneLost'),
    },
    {
      target: 'beyond the targets: lab, all 20 booked in one ms: HUMAN → bridged ≤ 50 ms',
      measured: get('lab-burst', 'humanToBridgeMs.median'),
      met: get('lab-burst', 'targets.humanToBridgeMedianLe50ms'),
    },
    {
      target: 'beyond the targets: lab, all 20 booked in one ms: engine time ≤ 50 ms',
      measured: get('lab-burst', 'engineMs.median'),
      met: get('lab-burst', 'targets.engineTimeMedianLe50ms'),
    },
  ].map((r) => ({
    ...r,
    measured: r.measured ?? '–',
    // A quick run is shorter and smaller (one 5 s load, a day of 20,000 bookings): its figures
    // are not judged against targets set for the full sizes.
    met:
      r.met === undefined ? 'not run' : quick ? 'quick run: not judged' : r.met ? 'met' : 'NOT met',
  }));
  process.stdout.write('\n=== summary ===\n');
  printTable(rows);
  writeResult('summary', { quick, rows });
}

// Every benchmark stops what it started, yet after several of them in one process a worker
// thread of the tooling (tsx's or esbuild's, the only threads left) has kept the process
// alive with nothing else to run: the driver ends it once the summary is written.
main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
