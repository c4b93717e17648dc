// Holding and restarting: N scheduled callbacks in one node's store. The rows are inserted
// directly through the store in batches (this is not an HTTP benchmark), due from ten minutes to
// thirty days ahead; then the real service is cold-started on that store and we measure the
// time from spawn to /readyz 200 and its resident memory. The same cold start on an empty store
// in the same run is the baseline (Node + tsx + fastify boot).
//   npx tsx bench/scale.ts [--count 1000000] [--batch 10000] [--runs 3]

import fs from 'node:fs';
import path from 'node:path';
import { openSqliteStore } from '../src/store/sqlite-store';
import {
  ROOT,
  flags,
  median,
  numFlag,
  printTable,
  round,
  serviceCode,
  rssOf,
  sleep,
  tempDir,
  writeResult,
  startDialback,
} from './lib/common';
import { benchService, scheduledRow } from './lib/rows';

const MiB = 2 ** 20;

function fill(dir: string, count: number, batch: number): { seconds: number; rowsPerS: number } {
  const s = benchService();
  const store = openSqliteStore({ dir });
  const now = Date.now();
  const from = now + 10 * 60_000;
  const span = 30 * 86_400_000 - 10 * 60_000;
  const t0 = performance.now();
  let lastReport = t0;
  for (let i = 0; i < count; i += batch) {
    const end = Math.min(count, i + batch);
    store.transaction(() => {
      for (let j = i; j < end; j++) {
        // A scrambled order of due times, as bookings arrive in no particular order.
        const due = from + Math.floor(((j * 2654435761) % count) * (span / count));
        store.insertCallback(scheduledRow(s, j, due, now));
      }
    });
    // The store groups the writes of one event-loop tick; this loop never yields, so commit
    // each batch here (one transaction of a million rows would outgrow SQLite's page cache).
    store.commit();
    if (performance.now() - lastReport > 5000) {
      lastReport = performance.now();
      process.stderr.write(`  inserted ${end}/${count}\n`);
    }
  }
  store.close();
  const seconds = (performance.now() - t0) / 1000;
  return { seconds: round(seconds, 1), rowsPerS: round(count / seconds, 0) };
}

interface ColdStart {
  readyMs: number;
  rssAtReadyMiB: number;
  rssAfter5sMiB: number;
}

async function coldStart(dir: string): Promise<ColdStart> {
  const svc = await startDialback({
    configFile: 'bench/config.yaml',
    dataDir: dir,
    readyTimeoutMs: 300_000,
  });
  try {
    const rssAtReady = rssOf(svc.pid);
    await sleep(5000);
    const rssAfter = rssOf(svc.pid);
    return {
      readyMs: round(svc.readyMs, 0),
      rssAtReadyMiB: round(rssAtReady / MiB, 0),
      rssAfter5sMiB: round(rssAfter / MiB, 0),
    };
  } finally {
    await svc.stop('SIGTERM');
  }
}

export async function main(argv = process.argv.slice(2)): Promise<Record<string, unknown>> {
  const f = flags(argv);
  const count = numFlag(f, 'count', 1_000_000);
  const batch = numFlag(f, 'batch', 10_000);
  const runs = numFlag(f, 'runs', 3);
  const dir = tempDir('scale');
  const empty = tempDir('scale-empty');
  try {
    process.stdout.write(`inserting ${count} scheduled callbacks in batches of ${batch}…\n`);
    const ins = fill(dir, count, batch);
    const dbBytes = fs
      .readdirSync(dir)
      .reduce((sum, name) => sum + fs.statSync(path.join(dir, name)).size, 0);
    process.stdout.write(
      `inserted in ${ins.seconds} s (${ins.rowsPerS} rows/s), store ${round(dbBytes / MiB, 0)} MiB\n`,
    );
    const full: ColdStart[] = [];
    const base: ColdStart[] = [];
    for (let i = 0; i < runs; i++) {
      base.push(await coldStart(empty));
      full.push(await coldStart(dir));
      process.stdout.write(
        `run ${i + 1}/${runs}: ready in ${full[i].readyMs} ms (empty store ${base[i].readyMs} ms), ` +
          `RSS ${full[i].rssAtReadyMiB} MiB at ready, ${full[i].rssAfter5sMiB} MiB 5 s later ` +
          `(empty ${base[i].rssAfter5sMiB} MiB)\n`,
      );
    }
    const med = (xs: ColdStart[], k: keyof ColdStart): number => median(xs.map((x) => x[k]));
    const result = {
      settings: {
        count,
        batch,
        runs,
        dueSpread: '10 min .. 30 days ahead',
        code: serviceCode(),
      },
      insert: ins,
      storeMiB: round(dbBytes / MiB, 0),
      restart: {
        readyMs: med(full, 'readyMs'),
        rssAtReadyMiB: med(full, 'rssAtReadyMiB'),
        rssAfter5sMiB: med(full, 'rssAfter5sMiB'),
        runs: full,
      },
      emptyStore: {
        readyMs: med(base, 'readyMs'),
        rssAfter5sMiB: med(base, 'rssAfter5sMiB'),
        runs: base,
      },
      ratios: {
        readyVsEmpty: round(median(full.map((x, i) => x.readyMs / base[i].readyMs)), 2),
        rssVsEmpty: round(median(full.map((x, i) => x.rssAfter5sMiB / base[i].rssAfter5sMiB)), 2),
      },
      targets: {
        rssLe1GiB: Math.max(med(full, 'rssAtReadyMiB'), med(full, 'rssAfter5sMiB')) <= 1024,
        restartLe15s: med(full, 'readyMs') <= 15_000,
      },
    };
    process.stdout.write(`\n${count} scheduled callbacks (median of ${runs} cold starts)\n`);
    printTable([
      {
        store: `${count} rows`,
        'ready ms': result.restart.readyMs,
        'RSS at ready MiB': result.restart.rssAtReadyMiB,
        'RSS +5 s MiB': result.restart.rssAfter5sMiB,
      },
      {
        store: 'empty',
        'ready ms': result.emptyStore.readyMs,
        'RSS at ready MiB': median(base.map((x) => x.rssAtReadyMiB)),
        'RSS +5 s MiB': result.emptyStore.rssAfter5sMiB,
      },
    ]);
    const file = writeResult('scale', result);
    process.stdout.write(`written ${path.relative(ROOT, file)}\n`);
    return result;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(empty, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
