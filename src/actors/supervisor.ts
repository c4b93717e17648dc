// One supervisor per callback service: it routes messages by callback id and spawns the
// session actor on demand (a booking, a wake-up, an API call, a telephony event). Sessions
// stop when idle, so dormant bookings are store rows rather than live actors.

import { dispatch, spawn, type Ref } from 'nact';
import type { Logger } from '../logger';
import { spawnSession, type SessionDeps, type SessionMsg } from './session-actor';

export type SupervisorMsg = { type: 'route'; id: string; msg: SessionMsg };

export function spawnSupervisor(
  parent: Ref<unknown>,
  service: string,
  deps: SessionDeps,
  logger: Logger,
): Ref<SupervisorMsg> {
  return spawn(
    parent,
    (_state: undefined, msg: SupervisorMsg, ctx): undefined => {
      let child = ctx.children.get(msg.id) as Ref<SessionMsg> | undefined;
      if (!child) child = spawnSession(ctx.self, msg.id, deps);
      dispatch(child, msg.msg);
      return undefined;
    },
    `service-${encodeURIComponent(service)}`,
    {
      onCrash: (msg, err, ctx) => {
        logger.error({ err, service, msg }, 'supervisor could not route a message');
        return ctx.resume;
      },
    },
  );
}
