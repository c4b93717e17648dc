// One supervisor per callback service: the parent of that service's session actors, which the
// engine spawns on demand (a booking, a wake-up, an API call, a telephony event) and addresses
// directly while they live. Sessions stop when idle, so dormant bookings are store rows rather
// than live actors. A crashed session stops; its state is in the store and the next message
// spawns it afresh.

import { spawn, type Ref } from 'nact';
import type { Logger } from '../logger';

/** Supervisors receive no messages of their own. */
export type SupervisorMsg = { type: 'unused' };

export function spawnSupervisor(
  parent: Ref<unknown>,
  service: string,
  logger: Logger,
): Ref<SupervisorMsg> {
  return spawn(
    parent,
    (_state: undefined, msg: SupervisorMsg): undefined => {
      logger.warn({ service, msg }, 'supervisor received a message');
      return undefined;
    },
    `service-${encodeURIComponent(service)}`,
    {
      onCrash: (msg, err, ctx) => {
        logger.error({ err, service, msg }, 'a session escalated a failure');
        return ctx.resume;
      },
    },
  );
}
