// The agent-pool actor: the single writer of the AgentPool. It grants agents to waiting
// callbacks, expires reservations nobody settled, reconciles holdings against the durable
// sessions (a reservation whose session no longer wants it is the classic stuck-agent bug),
// and republishes the EWT of every target after each change.

import { dispatch, spawn, type Ref } from 'nact';
import type { Clock, TimerHandle } from '../clock';
import type { AgentPool, Grant } from '../domain/agent-pool';
import { estimateWaitMs, HandleTimeAverage } from '../domain/ewt';
import type { AgentReleaseOutcome } from '../domain/session-types';
import type { AgentView } from '../engine-api';
import type { Logger } from '../logger';

export type PoolMsg =
  | { type: 'request'; callbackId: string; target: string; priority: number }
  | { type: 'withdraw'; callbackId: string }
  | { type: 'release'; callbackId: string; agentId: string; outcome: AgentReleaseOutcome }
  | { type: 'busy'; callbackId: string; agentId: string }
  | { type: 'restore'; callbackId: string; agentId: string; busy: boolean }
  | {
      type: 'command';
      agentId: string;
      command: 'sign-in' | 'sign-out' | 'ready' | 'not-ready';
      reply: (r: AgentView | Error) => void;
    }
  | { type: 'presence'; agentId: string; available: boolean }
  | { type: 'tick' }
  | { type: 'reconcile' };

export interface PoolDeps {
  pool: AgentPool;
  clock: Clock;
  logger: Logger;
  /** Delivers a grant or a lost reservation to the session. */
  granted: (g: Grant) => void;
  lost: (callbackId: string, agentId: string) => void;
  /** True when the session still holds this agent (durable state): used by reconciliation. */
  stillHolds: (callbackId: string, agentId: string) => boolean;
  ewt: EwtBoard;
  reconcileEveryMs: number;
  defaultHandleMs: number;
  onEwt?: (target: string, ms: number) => void;
}

/**
 * EWT per target, written by the pool actor, read synchronously by sessions and the API. A
 * target served by an outside queue (Asterisk app_queue via AMI) has an external estimate,
 * which wins over the pool's own while it is fresh.
 */
export class EwtBoard {
  private readonly values = new Map<string, number>();
  private readonly external = new Map<string, number>();
  get(target: string): number {
    return this.external.get(target) ?? this.values.get(target) ?? 0;
  }
  set(target: string, ms: number): void {
    this.values.set(target, ms);
  }
  /** An outside estimate for the target; undefined returns it to the pool's own. */
  setExternal(target: string, ms: number | undefined): void {
    if (ms === undefined) this.external.delete(target);
    else this.external.set(target, ms);
  }
  entries(): Array<[string, number]> {
    const targets = new Set([...this.values.keys(), ...this.external.keys()]);
    return [...targets].map((t) => [t, this.get(t)]);
  }
}

interface PoolActorState {
  deadline?: { at: number; handle: TimerHandle };
  reconcileTimer?: TimerHandle;
  handle: Map<string, HandleTimeAverage>;
}

export function spawnAgentPool(parent: Ref<unknown>, deps: PoolDeps): Ref<PoolMsg> {
  const { pool, clock } = deps;
  const avgFor = (s: PoolActorState, target: string): HandleTimeAverage => {
    let a = s.handle.get(target);
    if (!a) {
      a = new HandleTimeAverage(deps.defaultHandleMs);
      s.handle.set(target, a);
    }
    return a;
  };

  const targetOf = (agentId: string): string[] => pool.get(agentId)?.groups ?? [];

  return spawn(
    parent,
    (state: PoolActorState | undefined, msg: PoolMsg, ctx): PoolActorState => {
      const s: PoolActorState = state ?? { handle: new Map() };
      const self = ctx.self as Ref<PoolMsg>;
      const now = clock.now();
      switch (msg.type) {
        case 'request':
          pool.request(msg.callbackId, msg.target, msg.priority);
          break;
        case 'withdraw':
          pool.withdraw(msg.callbackId);
          break;
        case 'release': {
          const r = pool.release(msg.agentId, msg.callbackId, msg.outcome, now);
          if (r.handledMs !== undefined)
            for (const t of targetOf(msg.agentId)) avgFor(s, t).observe(r.handledMs);
          break;
        }
        case 'busy':
          pool.markBusy(msg.agentId, msg.callbackId, now);
          break;
        case 'restore':
          if (!pool.restore(msg.agentId, msg.callbackId, msg.busy, now))
            deps.lost(msg.callbackId, msg.agentId);
          break;
        case 'command': {
          const ok = pool.command(msg.agentId, msg.command, now);
          const view = pool.get(msg.agentId);
          if (!view) msg.reply(new Error('unknown agent'));
          else if (!ok) msg.reply(new Error(`agent ${msg.agentId} is ${view.state}`));
          else msg.reply(view);
          break;
        }
        case 'presence':
          pool.setReachable(msg.agentId, msg.available);
          break;
        case 'tick':
          s.deadline = undefined;
          for (const l of pool.expire(now)) {
            deps.logger.warn(l, 'agent reservation expired');
            deps.lost(l.callbackId, l.agentId);
          }
          break;
        case 'reconcile':
          for (const h of pool.holdings()) {
            // A fresh grant is on its way to the session and not yet in its durable state.
            if (now - h.since < deps.reconcileEveryMs) continue;
            if (deps.stillHolds(h.callbackId, h.agentId)) continue;
            deps.logger.warn(h, 'agent held for a session that no longer wants it: released');
            pool.release(h.agentId, h.callbackId, 'unused', now);
          }
          s.reconcileTimer = clock.setTimer(now + deps.reconcileEveryMs, () =>
            dispatch(self, { type: 'reconcile' }),
          );
          break;
      }
      for (const g of pool.match(now)) deps.granted(g);
      for (const t of pool.targets()) {
        const f = pool.figures(t);
        const ms = estimateWaitMs({
          ready: f.ready,
          busy: f.busy + f.reserved,
          signedIn: f.signedIn,
          avgHandleMs: avgFor(s, t).value(),
          queueAhead: f.waiting,
        });
        deps.ewt.set(t, ms);
        deps.onEwt?.(t, deps.ewt.get(t));
      }
      const next = pool.nextDeadline();
      if (next !== s.deadline?.at) {
        if (s.deadline) clock.clearTimer(s.deadline.handle);
        s.deadline =
          next === undefined
            ? undefined
            : { at: next, handle: clock.setTimer(next, () => dispatch(self, { type: 'tick' })) };
      }
      return s;
    },
    'agent-pool',
  );
}
