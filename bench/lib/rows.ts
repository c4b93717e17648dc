// Scheduled callback rows exactly as the engine writes them for a booking (phase waiting-start,
// a `start` timer, nextWakeAt), so benchmarks can fill a store without going through HTTP.

import path from 'node:path';
import { loadConfig } from '../../src/config';
import type { ServiceDefinition } from '../../src/actors/engine';
import { initialState } from '../../src/domain/session-machine';
import type { CallbackRow } from '../../src/store/store';
import { ROOT } from './common';

export function benchService(): ServiceDefinition {
  const cfg = loadConfig(path.join(ROOT, 'bench', 'config.yaml'), {});
  const s = cfg.services.find((x) => x.name === 'bench');
  if (!s) throw new Error('bench/config.yaml has no service bench');
  return s;
}

export function scheduledRow(
  s: ServiceDefinition,
  i: number,
  due: number,
  now: number,
  nodeId = '440',
): CallbackRow {
  const id = `${nodeId}-bench-${String(i).padStart(9, '0')}`;
  const number = `+336${String(i % 100_000_000).padStart(8, '0')}`;
  const state = initialState({
    id,
    service: s.name,
    options: s.options,
    customerNumber: number,
    desiredTime: due,
    now,
  });
  state.timers = { start: due };
  return {
    id,
    service: s.name,
    state,
    userData: { first_name: 'Bench', last_name: `Customer${i}` },
    gms: state.gms,
    reason: null,
    customerNumber: number,
    desiredTime: due,
    slotStart: null,
    target: s.options._target,
    createdAt: now,
    updatedAt: now,
    nextWakeAt: due,
  };
}
