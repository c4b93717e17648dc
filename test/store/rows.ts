// Callback rows and session states for the store's tests: a waiting session of `sales` unless
// a spec says otherwise.

import { DEFAULT_OPTIONS } from '../../src/domain/options';
import {
  type CallbackReason,
  GMS_STATE_OF,
  type Phase,
  type SessionState,
} from '../../src/domain/session-types';
import type { CallbackRow } from '../../src/store/store';

export const T0 = Date.UTC(2026, 5, 1, 9, 0, 0);
export const MIN = 60_000;

export function session(
  id: string,
  service: string,
  phase: Phase,
  reason?: CallbackReason,
): SessionState {
  return {
    id,
    service,
    phase,
    gms: GMS_STATE_OF[phase],
    ...(reason ? { reason } : {}),
    options: { ...DEFAULT_OPTIONS, _target: 'support' },
    customerNumber: '+15551230000',
    createdAt: T0,
    timers: {},
    dialAttempts: 0,
    confirmAttempts: 0,
    agentAttempts: 0,
  };
}

export interface RowSpec {
  service?: string;
  phase?: Phase;
  reason?: CallbackReason;
  customerNumber?: string;
  userData?: Record<string, string>;
  desiredTime?: number | null;
  nextWakeAt?: number | null;
  target?: string;
  createdAt?: number;
}

export function row(id: string, spec: RowSpec = {}): CallbackRow {
  const service = spec.service ?? 'sales';
  const state = session(id, service, spec.phase ?? 'waiting-start', spec.reason);
  state.customerNumber = spec.customerNumber ?? '+15551230000';
  return {
    id,
    service,
    state,
    userData: spec.userData ?? {},
    gms: state.gms,
    reason: state.reason ?? null,
    customerNumber: state.customerNumber,
    desiredTime: spec.desiredTime ?? null,
    slotStart: null,
    target: spec.target ?? 'support',
    createdAt: spec.createdAt ?? T0,
    updatedAt: spec.createdAt ?? T0,
    nextWakeAt: spec.nextWakeAt ?? null,
  };
}
