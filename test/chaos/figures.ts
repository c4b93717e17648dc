// Figures measured by the chaos suite, merged section by section into
// test-artifacts/chaos.json so RELIABILITY.md can quote what was measured, never estimated.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ARTIFACT = path.join(__dirname, '..', '..', 'test-artifacts', 'chaos.json');

export function recordFigures(section: string, figures: Record<string, unknown>): void {
  fs.mkdirSync(path.dirname(ARTIFACT), { recursive: true });
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(fs.readFileSync(ARTIFACT, 'utf8')) as Record<string, unknown>;
  } catch {
    // First section of this run (or an unreadable file): start afresh.
  }
  all.machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
  all[section] = { ...figures, measuredAt: new Date().toISOString() };
  fs.writeFileSync(ARTIFACT, `${JSON.stringify(all, null, 2)}\n`);
  process.stdout.write(`      figures ${section}: ${JSON.stringify(figures)}\n`);
}

/**
 * The run profile: `ci` (CHAOS_PROFILE=ci) is the smallest run that still meets every promise's
 * floor (20 kills, 10,000 fuzzed requests) and keeps the suite well under 10 minutes on 2 cores;
 * `full`, the default, doubles both.
 */
export const PROFILE: 'ci' | 'full' = process.env.CHAOS_PROFILE === 'ci' ? 'ci' : 'full';
