// Test-only preload for the chaos fuzz server child (never loaded by dialback itself): on
// SIGUSR2 it forces full GCs (the child runs with --expose-gc) and writes process.memoryUsage()
// and V8's heap spaces with a sequence number to the file named by DIALBACK_HEAP_PROBE, so the
// test reads the heap that is really live, not garbage waiting for a collection.

import fs from 'node:fs';
import v8 from 'node:v8';

const file = process.env.DIALBACK_HEAP_PROBE;
const gc = (globalThis as { gc?: () => void }).gc;
let seq = 0;

if (file && gc) {
  process.on('SIGUSR2', () => {
    gc();
    gc();
    seq++;
    fs.writeFileSync(
      `${file}.tmp`,
      JSON.stringify({
        seq,
        ...process.memoryUsage(),
        spaces: Object.fromEntries(
          v8.getHeapSpaceStatistics().map((x) => [x.space_name, x.space_used_size]),
        ),
      }),
    );
    // Renamed into place so the reader never sees half a file.
    fs.renameSync(`${file}.tmp`, file);
  });
}
