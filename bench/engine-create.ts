// Creates without HTTP: the service of bench/config.yaml started in-process (durable SQLite in a
// temp directory, simulator) and `engine.create` called directly with scheduled bookings, to
// show how much of a create over HTTP is the engine's own. Reports creates/s and CPU per create.
//   npx tsx bench/engine-create.ts [--creates 20000] [--in-flight 50] [--runs 3]

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startService } from '../src/cli';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { ROOT, flags, median, numFlag, printTable, round, writeResult } from './lib/common';

interface Run {
  createsPerS: number;
  cpuUsPerCreate: number;
}

async function once(creates: number, inFlight: number): Promise<Run> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-engine-create-'));
  try {
    const cfg = {
      ...loadConfig(path.join(ROOT, 'bench', 'config.yaml'), {}),
      dataDir: dir,
      port: 0,
    };
    const svc = await startService(cfg, createLogger({ level: 'warn' }));
    try {
      const now = Date.now();
      let next = 0;
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const worker = async (): Promise<void> => {
        while (next < creates) {
          const k = next++;
          // Due 1 h to 28 days ahead, spread over the slots.
          const desired = new Date(now + 3_600_000 + (k % 8000) * 300_000).toISOString();
          await svc.engine.create('bench', {
            _customer_number: String(100_000 + k),
            _desired_time: desired,
          });
        }
      };
      await Promise.all(Array.from({ length: inFlight }, worker));
      const seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      return {
        createsPerS: round(creates / seconds, 0),
        cpuUsPerCreate: round((cpu.user + cpu.system) / creates, 0),
      };
    } finally {
      await svc.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(argv = process.argv.slice(2)): Promise<Record<string, unknown>> {
  const f = flags(argv);
  const creates = numFlag(f, 'creates', 20_000);
  const inFlight = numFlag(f, 'in-flight', 50);
  const runs: Run[] = [];
  for (let i = 0; i < numFlag(f, 'runs', 3); i++) {
    const r = await once(creates, inFlight);
    runs.push(r);
    process.stdout.write(
      `run ${i + 1}: ${r.createsPerS} creates/s, ${r.cpuUsPerCreate} µs CPU per create\n`,
    );
  }
  const result = {
    settings: { creates, inFlight, runs: runs.length },
    createsPerS: median(runs.map((r) => r.createsPerS)),
    cpuUsPerCreate: median(runs.map((r) => r.cpuUsPerCreate)),
    runs,
  };
  printTable([
    {
      creates,
      'in flight': inFlight,
      'creates/s': result.createsPerS,
      'µs CPU': result.cpuUsPerCreate,
    },
  ]);
  writeResult('engine-create', result);
  return result;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
