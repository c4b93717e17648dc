// Reads the running lab's state file (written by `npm run lab:up`) and fails loudly, never
// silently skipping, when the lab is not there.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface LabState {
  ari: { url: string; username: string; password: string; app: string };
  asterisk: { amdContext: string; amdExtension: string; pid: number };
  phones: Record<string, { endpoint: string; number?: string; kind: string }>;
}

export function labStateFile(): string {
  const dir =
    process.env.DIALBACK_LAB_DIR ??
    path.join(
      process.env.DIALBACK_LAB_CACHE ?? path.join(os.homedir(), '.cache', 'dialback-lab'),
      'run',
    );
  return path.join(dir, 'lab-state.json');
}

export async function requireLab(): Promise<LabState> {
  const file = labStateFile();
  let state: LabState;
  try {
    state = JSON.parse(fs.readFileSync(file, 'utf8')) as LabState;
  } catch (err) {
    throw new Error(
      `the telephony lab is not up (no state file at ${file}: ${(err as Error).message}); run \`npm run lab:up\` first`,
    );
  }
  const auth = Buffer.from(`${state.ari.username}:${state.ari.password}`).toString('base64');
  try {
    const res = await fetch(`${state.ari.url}/ari/asterisk/info`, {
      headers: { authorization: `Basic ${auth}` },
      signal: AbortSignal.timeout(3000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    throw new Error(
      `the telephony lab's ARI at ${state.ari.url} does not answer (${(err as Error).message}); run \`npm run lab:up\` first`,
    );
  }
  return state;
}

/** The number a lab phone is dialled by (docker/softphones/phones.tsv `number` column). */
export function numberOf(state: LabState, phone: string): string {
  const n = state.phones[phone]?.number;
  if (!n)
    throw new Error(
      `lab phone ${phone} has no number in the state file: re-run \`bash scripts/lab/up.sh --restart\``,
    );
  return n;
}
