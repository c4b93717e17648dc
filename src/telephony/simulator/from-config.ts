// Builds simulator options from the config file's `telephony.simulator` section and the agent
// list, so the CLI does not need to know the simulator's vocabulary.

import type { Clock } from '../../clock';
import type { Logger } from '../../logger';
import {
  customerBehaviourFromKind,
  scriptedCustomers,
  type CustomerBehaviour,
  type CustomerKind,
  type Timings,
} from './behaviour';
import { mulberry32 } from './rng';
import type { SimAgent, SimulatorOptions } from './simulator-adapter';

/** The shape of `telephony.simulator` in the config (all optional). */
export interface SimulatorConfig {
  answer_delay_ms?: number;
  amd_delay_ms?: number;
  agent_answer_delay_ms?: number;
  handle_time_ms?: number;
  default_behaviour?: CustomerKind;
  numbers?: Record<string, CustomerKind>;
  seed?: number;
}

/** Ended calls a service's simulator keeps for inspection and duplicate-dial refusal. */
export const KEEP_ENDED_CALLS = 10_000;

export function simulatorOptionsFromConfig(
  cfg: SimulatorConfig | undefined,
  agents: Array<{ id: string; endpoint: string }>,
  deps: { clock: Clock; logger?: Logger; dialLogPath?: string },
): SimulatorOptions {
  const c = cfg ?? {};
  const timings: Timings = {
    answerAfterMs: c.answer_delay_ms ?? 2000,
    amdAfterMs: c.amd_delay_ms ?? 1500,
  };
  const script: Record<string, CustomerBehaviour> = {};
  for (const [number, kind] of Object.entries(c.numbers ?? {}))
    script[number] = customerBehaviourFromKind(kind, timings);
  const simAgents: SimAgent[] = agents.map((a) => ({
    id: a.id,
    endpoint: a.endpoint,
    answerAfterMs: c.agent_answer_delay_ms ?? 1000,
    answers: true,
    handleTimeMs: c.handle_time_ms ?? 20_000,
  }));
  return {
    clock: deps.clock,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.dialLogPath ? { dialLogPath: deps.dialLogPath } : {}),
    rng: mulberry32(c.seed ?? 1),
    customers: scriptedCustomers(script),
    defaultCustomer: customerBehaviourFromKind(c.default_behaviour ?? 'human', timings),
    agents: simAgents,
    // A service runs for days: it keeps the last ended calls, not one per dial ever made.
    keepEndedCalls: KEEP_ENDED_CALLS,
  };
}
