// A real engine process for the restart test: `create` books a mix of callbacks and keeps
// running until killed; `resume` reopens the same store and lets every session finish. Every
// acknowledged booking is appended to acked.log, every dial to dials.log (by the simulator).

import fs from 'node:fs';
import path from 'node:path';
import { SystemClock } from '../../src/clock';
import { resolveConfig } from '../../src/config';
import { Engine } from '../../src/actors/engine';
import { createLogger } from '../../src/logger';
import { openSqliteStore } from '../../src/store/sqlite-store';
import {
  SimulatorTelephony,
  type CustomerBehaviour,
} from '../../src/telephony/simulator/simulator-adapter';

const [, , phase, dir, countArg] = process.argv;
const count = Number(countArg ?? 1000);
const AGENTS = 100;

const HUMAN: CustomerBehaviour = { kind: 'human', answerAfterMs: 300, amdAfterMs: 200 };
const MACHINE: CustomerBehaviour = { kind: 'machine', answerAfterMs: 300, amdAfterMs: 200 };

const protection = {
  _max_queued_callbacks_per_service: 0,
  _throttle_callbacks_per_service_1: 0,
  _throttle_callbacks_per_service_2: 0,
  _throttle_request_parameters_limit: 0,
  _reject_future_desired_time: '1w',
  _max_request_by_time_bucket: 1000,
};

export const RESTART_CONFIG = {
  office_hours: { always: { _timezone: 'UTC', _bh_regular1: 'Mon-Sun 00:00-24:00' } },
  services: {
    now: {
      _call_direction: 'USERTERMINATED',
      _business_hours_service: 'always',
      _target: 'support',
      _max_dial_attempts: 2,
      _dial_retry_timeout: 1,
      ...protection,
    },
    delayed: {
      _call_direction: 'USERTERMINATED',
      _wait_for_agent: true,
      _wait_for_user_confirm: true,
      _user_confirm_timeout: 1,
      _max_number_of_user_availability_confirmation_attempts: 1,
      _max_dial_attempts: 2,
      _dial_retry_timeout: 1,
      _business_hours_service: 'always',
      _target: 'support',
      ...protection,
    },
  },
  agents: Array.from({ length: AGENTS }, (_, i) => ({
    id: `agent${i + 1}`,
    endpoint: `SIM/agent${i + 1}`,
    groups: ['support'],
    state: 'ready' as const,
  })),
};

async function main(): Promise<void> {
  const clock = new SystemClock();
  const logger = createLogger({ level: process.env.DIALBACK_LOG_LEVEL ?? 'error' });
  const cfg = resolveConfig(RESTART_CONFIG);
  const store = openSqliteStore({ dir });
  const telephony = new SimulatorTelephony({
    clock,
    logger,
    dialLogPath: path.join(dir, 'dials.log'),
    customers: (number) => (number.endsWith('99') ? MACHINE : HUMAN),
    agents: cfg.agents.map((a) => ({
      id: a.id,
      endpoint: a.endpoint,
      answerAfterMs: 100,
      answers: true,
      handleTimeMs: 400,
    })),
  });
  await telephony.start();
  const engine = new Engine({
    clock,
    store,
    telephony,
    logger,
    services: cfg.services,
    agents: cfg.agents,
    nodeId: '440',
    idleMs: 2000,
  });
  const resumed = await engine.resume();
  process.stdout.write(`RESUMED ${JSON.stringify(resumed)}\n`);
  if (phase !== 'create') return;

  const acked = fs.openSync(path.join(dir, 'acked.log'), 'a');
  const now = Date.now();
  const jobs: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    const kind = i % 10;
    const number = `+336${String(i).padStart(6, '0')}${kind === 9 ? '99' : '10'}`;
    let service = 'now';
    const fields: Record<string, string> = { _customer_number: number, n: String(i) };
    if (kind === 1 || kind === 2) service = 'delayed';
    if (kind === 3 || kind === 4)
      fields._desired_time = new Date(now + 1000 + (i % 50) * 150).toISOString();
    if (kind === 5) fields._desired_time = new Date(now + 2 * 86400_000 + i * 60_000).toISOString();
    jobs.push(
      engine.create(service, fields).then((r) => {
        fs.writeSync(acked, `${r._id} ${kind}\n`);
      }),
    );
    // Spread the bookings over the first second so the kill finds sessions in every state.
    if (i % 100 === 99) await new Promise((r) => setTimeout(r, 100));
  }
  await Promise.all(jobs);
  process.stdout.write('CREATED\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
