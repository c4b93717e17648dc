// WAL checkpoints off the event loop. By default SQLite checkpoints inside whichever COMMIT
// pushes the WAL past 1000 pages, so every few hundred bookings one commit on the event loop
// also copies the WAL into the database file and syncs it. A worker thread with its own
// connection runs PASSIVE checkpoints instead: they never block the writer (nor wait for it),
// and the writer reuses the WAL from its start once a checkpoint has caught up.
// Under a steady stream of writes a PASSIVE checkpoint never quite catches up (the writer
// appends while it copies), so SQLite never starts the WAL over and the file grows as long as
// the stream lasts: 800 MB in 8 s of creates at full rate. Once the WAL is past
// `restartFrames`, the worker therefore ends a pass that left little to copy with a RESTART
// checkpoint, which copies the rest and makes the next writer start the WAL over (the store's
// journal_size_limit then cuts the file back). It holds the writer back while it copies, hence
// "little": and only when the WAL is four times too long does it wait for no such moment.
// If the worker cannot run (no write access, no threads), the store checkpoints as before.

import { Worker } from 'node:worker_threads';
import type { Logger } from '../logger';

/** How often the worker checkpoints. */
const DEFAULT_INTERVAL_MS = 250;
/** WAL frames past which the worker makes the WAL start over: 64 MiB of 4 KiB pages. */
const DEFAULT_RESTART_FRAMES = 16_384;
/** Frames left behind by a pass that a RESTART may copy while the writer waits: 8 MiB. */
const LITTLE_LEFT = 2_000;
/** How long a pass keeps trying to catch the writer between two transactions. */
const RESTART_TRY_MS = 50;
/** How long closing the store waits for the worker to close its connection. */
const STOP_WAIT_MS = 2000;

// Plain JavaScript evaluated in the worker: it must not depend on the TypeScript loader.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
let db;
try {
  db = new Database(workerData.file, { timeout: 0 });
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('wal_checkpoint(PASSIVE)');
} catch (err) {
  parentPort.postMessage({ type: 'failed', message: String(err && err.message || err) });
  process.exit(0);
}
parentPort.postMessage({ type: 'ready' });
let failures = 0;
const { restartFrames, littleLeft, restartTryMs } = workerData;
const timer = setInterval(() => {
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    if (r.log >= restartFrames && (r.log - r.checkpointed <= littleLeft || r.log >= 4 * restartFrames)) {
      // A busy writer lets go of its lock only for a moment between two transactions: SQLite's
      // busy handler, which sleeps between tries, would miss it. Tries in a loop instead.
      const until = Date.now() + restartTryMs;
      while (db.pragma('wal_checkpoint(RESTART)')[0].busy && Date.now() < until);
    }
    failures = 0;
  } catch (err) {
    // SQLITE_BUSY: another checkpoint runs; anything else is reported once it repeats.
    if (++failures === 20) parentPort.postMessage({ type: 'trouble', message: String(err && err.message || err) });
  }
}, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m === 'stop') {
    clearInterval(timer);
    try { db.close(); } catch (_) {}
    // The store's close() waits on this: the database files are ours no longer.
    Atomics.store(workerData.closed, 0, 1);
    Atomics.notify(workerData.closed, 0);
    parentPort.close();
  }
});
`;

export interface Checkpointer {
  /** Stops checkpointing; returns once the worker has closed the database (at most 2 s). */
  stop(): void;
}

/**
 * Starts checkpointing `file` in a worker thread. `onUnavailable` runs (once) when the worker
 * cannot do it, so the caller can give checkpoints back to its own connection.
 */
export function startCheckpointer(opts: {
  file: string;
  logger: Logger;
  onUnavailable: () => void;
  intervalMs?: number;
  /** WAL frames past which the WAL is made to start over (default 16,384). */
  restartFrames?: number;
}): Checkpointer {
  let stopped = false;
  let fellBack = false;
  const closed = new Int32Array(new SharedArrayBuffer(4));
  const fallBack = (why: string) => {
    if (fellBack || stopped) return;
    fellBack = true;
    opts.logger.warn({ why }, 'checkpoint worker unavailable: checkpointing on commit');
    opts.onUnavailable();
  };
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        file: opts.file,
        driver: require.resolve('better-sqlite3'),
        intervalMs: opts.intervalMs ?? DEFAULT_INTERVAL_MS,
        restartFrames: opts.restartFrames ?? DEFAULT_RESTART_FRAMES,
        littleLeft: Math.min(LITTLE_LEFT, opts.restartFrames ?? LITTLE_LEFT),
        restartTryMs: RESTART_TRY_MS,
        closed,
      },
    });
  } catch (err) {
    fallBack(String(err));
    return { stop: () => undefined };
  }
  worker.unref();
  worker.on('message', (m: { type: string; message?: string }) => {
    if (m.type === 'failed') fallBack(m.message ?? 'failed');
    else if (m.type === 'trouble')
      opts.logger.warn({ err: m.message }, 'checkpoints keep failing in the worker');
  });
  worker.on('error', (err) => fallBack(String(err)));
  worker.on('exit', (code) => {
    if (!stopped) fallBack(`worker exited (${code})`);
  });
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      if (fellBack) return;
      worker.postMessage('stop');
      // Synchronous on purpose: when the store's close() returns, no other connection of ours
      // holds the files (a caller may delete them at once). Bounded, should the worker hang.
      Atomics.wait(closed, 0, 0, STOP_WAIT_MS);
    },
  };
}
