// A simulated day at scale: 100,000 callbacks and 200 agents through `dialback simulate`'s
// runner (real Engine, simulator, virtual clock). Reports the wall time (target ≤ 60 s).
//   npx tsx bench/sim-day.ts [--bookings 100000] [--agents 200] [--runs 3]
// The wall time reported is the median of the runs: the host is shared and drifts.

import path from 'node:path';
import { progressTo } from '../src/simulate/progress';
import { renderReport } from '../src/simulate/report';
import { loadScenario } from '../src/simulate/scenario';
import {
  ROOT,
  RESULTS_DIR,
  flags,
  median,
  numFlag,
  printTable,
  round,
  serviceCode,
  writeResult,
} from './lib/common';
import fs from 'node:fs';

// The runner as `dialback simulate` runs it: compiled when there is a fresh build.
const code = serviceCode();
const { runSimulation } = (
  code === 'dist'
    ? // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('../dist/simulate/run')
    : // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('../src/simulate/run')
) as typeof import('../src/simulate/run');

export async function main(argv = process.argv.slice(2)): Promise<Record<string, unknown>> {
  const f = flags(argv);
  const bookings = numFlag(f, 'bookings', 100_000);
  const agents = numFlag(f, 'agents', 200);
  const runs = numFlag(f, 'runs', 3);
  // 200 agents all day; short handle times so that 200 agents can serve 100,000 callbacks.
  const scenario = loadScenario({ bookings, agents, handleS: numFlag(f, 'handle', 150) });
  const walls: number[] = [];
  let last: Awaited<ReturnType<typeof runSimulation>> | undefined;
  for (let i = 0; i < runs; i++) {
    const progress = progressTo(process.stderr);
    last = await runSimulation(scenario, {
      onProgress: (x, info) => progress.update(x, info),
    });
    progress.done();
    walls.push(last.wallMs / 1000);
    process.stdout.write(
      `run ${i + 1}/${runs}: ${round(last.wallMs / 1000, 1)} s wall, ${last.steps} clock steps\n`,
    );
  }
  if (!last) throw new Error('no run');
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(path.join(RESULTS_DIR, 'sim-day.html'), renderReport(last));
  const connected = last.outcomes.filter((o) => o.reason === 'AGENT_CONNECTED').length;
  const result = {
    settings: { bookings, agents, runs, handleS: scenario.handle_time_s, code },
    wallSeconds: round(median(walls), 1),
    runs: walls.map((w) => round(w, 1)),
    steps: last.steps,
    accepted: last.outcomes.length,
    connected,
    rejected: last.rejected,
    virtualHours: round((last.endedAt - last.dayStart) / 3600_000, 1),
    targets: { wallLe60s: median(walls) <= 60 },
  };
  printTable([
    {
      bookings,
      agents,
      'wall s': result.wallSeconds,
      accepted: result.accepted,
      connected,
      steps: result.steps,
    },
  ]);
  const file = writeResult('sim-day', result);
  process.stdout.write(`written ${path.relative(ROOT, file)} and bench/results/sim-day.html\n`);
  return result;
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
