// `dialback simulate`: parses its options, runs the simulated day with its progress on stderr
// (a bar on a terminal, a line per tenth elsewhere) and writes the HTML report.

import fs from 'node:fs';
import path from 'node:path';
import { progressTo } from './progress';
import { renderReport } from './report';
import { runSimulation } from './run';
import { loadScenario, ScenarioError, type ScenarioFlags } from './scenario';

export const SIMULATE_USAGE = `usage: dialback simulate [options]

  --scenario FILE        YAML scenario (see src/simulate/scenario.ts for keys and defaults)
  --bookings N           bookings over the day
  --agents N             N agents all day (replaces the scenario's shifts)
  --handle SECONDS       one handle time for every agent
  --scheduled-share X    share of bookings with a desired time (0..1)
  --date YYYY-MM-DD      the simulated day (UTC)
  --seed N               random seed
  --step-ms MS           group timers within MS of virtual time in one step (default 0: exact)
  --out FILE             the HTML report (default simulate-report.html)
  --json FILE            also write the raw figures as JSON
  --quiet                no progress bar
`;

/** Returns the process exit code. */
export async function simulateCommand(
  args: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const f: ScenarioFlags = {};
  let outFile = 'simulate-report.html';
  let jsonFile: string | undefined;
  let quiet = false;
  let stepMs = 0;
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n)) throw new ScenarioError(name, 'must be a number');
    return n;
  };
  try {
    for (let i = 0; i < args.length; i++) {
      const [flag, inline] = args[i].includes('=')
        ? args[i].split(/=(.*)/s, 2)
        : [args[i], undefined];
      const value = (): string | undefined => inline ?? args[++i];
      switch (flag) {
        case '--scenario':
          f.file = value();
          break;
        case '--bookings':
          f.bookings = num(flag, value());
          break;
        case '--agents':
          f.agents = num(flag, value());
          break;
        case '--handle':
          f.handleS = num(flag, value());
          break;
        case '--scheduled-share':
          f.scheduledShare = num(flag, value());
          break;
        case '--date':
          f.date = value();
          break;
        case '--seed':
          f.seed = num(flag, value());
          break;
        case '--step-ms':
          stepMs = num(flag, value());
          break;
        case '--out':
          outFile = value() ?? outFile;
          break;
        case '--json':
          jsonFile = value();
          break;
        case '--quiet':
          quiet = true;
          break;
        case '--help':
        case '-h':
          out.write(SIMULATE_USAGE);
          return 0;
        default:
          err.write(`unknown option: ${args[i]}\n\n${SIMULATE_USAGE}`);
          return 2;
      }
    }
    const scenario = loadScenario(f);
    const progress = quiet ? undefined : progressTo(err);
    const result = await runSimulation(scenario, {
      stepMs,
      ...(progress ? { onProgress: (x, info) => progress.update(x, info) } : {}),
    });
    progress?.done();
    fs.writeFileSync(outFile, renderReport(result));
    if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify(result));
    const connected = result.outcomes.filter((o) => o.reason === 'AGENT_CONNECTED').length;
    out.write(
      `simulated ${result.bookingsTried} bookings, ${result.outcomes.length} accepted, ${connected} connected, ` +
        `in ${(result.wallMs / 1000).toFixed(1)} s; report: ${path.resolve(outFile)}\n`,
    );
    return 0;
  } catch (e) {
    if (e instanceof ScenarioError) {
      err.write(`dialback: ${e.message}\n`);
      return 78;
    }
    throw e;
  }
}
