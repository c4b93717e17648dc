// The agent-pool actor: the single writer of the AgentPool. It grants agents to waiting
// callbacks, expires reservations nobody settled, reconciles holdings against the durable
// sessions (a reservation whose session no longer wants it is the classic stuck-agent bug),
// and republishes the EWT of every target after each change. Messages go through a PoolInbox,
// handled in order, one at a time, never inside the sender's call: everything sent during one
// task is handled together right after it, so a burst of requests (twenty customers answering
// at once) is granted in the same event-loop turn rather than one nact turn per request.

import type { Clock, TimerHandle } from '../clock';
import type { AgentPool, Grant } from '../domain/agent-pool';
import { estimateWaitMs, HandleTimeAverage } from '../domain/ewt';
import type { AgentReleaseOutcome } from '../domain/session-types';
import type { AgentView } from '../engine-api';
import { assertNever } from '../errors';
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
  /**
   * Of these holdings, the callbacks whose session still holds its agent (durable state): used
   * by reconciliation, which asks about every held agent at once.
   */
  stillHeld: (held: ReadonlyArray<{ callbackId: string; agentId: string }>) => ReadonlySet<string>;
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

/**
 * The way into the pool. A nact actor runs one message per event-loop turn, each turn as long
 * as everything else the process does in it: twenty requests sent at once were granted over
 * twenty turns (hundreds of milliseconds on a busy host). Here what is sent during one task is
 * handled in a microtask right after it, in order, and never inside the sender's own call.
 */
export class PoolInbox {
  private queue: PoolMsg[] = [];
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly turn: (batch: PoolMsg[]) => void,
    private readonly onClose: () => void = () => undefined,
  ) {}

  send(msg: PoolMsg): void {
    if (this.closed) return;
    this.queue.push(msg);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.drain());
  }

  /** Drops what is queued, refuses what comes and cancels the pool's timers (engine stop). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.onClose();
  }

  private drain(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (!this.closed && batch.length > 0) this.turn(batch);
  }
}

interface PoolActorState {
  deadline?: { at: number; handle: TimerHandle };
  reconcileTimer?: TimerHandle;
  handle: Map<string, HandleTimeAverage>;
}

export function spawnAgentPool(deps: PoolDeps): PoolInbox {
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

  const s: PoolActorState = { handle: new Map() };
  // Its own timers come back through the inbox, in order with everything else.
  const later = (at: number, msg: PoolMsg): TimerHandle =>
    clock.setTimer(at, () => inbox.send(msg));

  /** Applies one message to the pool (grants and EWT follow once per turn). */
  const handle = (msg: PoolMsg, now: number): void => {
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
      case 'reconcile': {
        // A fresh grant is on its way to the session and not yet in its durable state.
        const settled = pool.holdings().filter((h) => now - h.since >= deps.reconcileEveryMs);
        const held = settled.length > 0 ? deps.stillHeld(settled) : new Set<string>();
        for (const h of settled) {
          if (held.has(h.callbackId)) continue;
          deps.logger.warn(h, 'agent held for a session that no longer wants it: released');
          pool.release(h.agentId, h.callbackId, 'unused', now);
        }
        s.reconcileTimer = later(now + deps.reconcileEveryMs, { type: 'reconcile' });
        break;
      }
      default:
        assertNever(msg);
    }
  };

  /** One turn: the batch in order, then grants, EWT and the next deadline once. */
  const turn = (batch: PoolMsg[]): void => {
    const now = clock.now();
    for (const msg of batch) {
      // One bad message must not take the rest of the turn's messages down with it.
      try {
        handle(msg, now);
      } catch (err) {
        deps.logger.error({ err, msg: msg.type }, 'agent pool message failed');
        if (msg.type === 'command') msg.reply(err instanceof Error ? err : new Error(String(err)));
      }
    }
    try {
      for (const g of pool.match(now)) {
        deps.granted(g);
      }
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
          next === undefined ? undefined : { at: next, handle: later(next, { type: 'tick' }) };
      }
    } catch (err) {
      // Thrown from a microtask it would end the process: the next turn tries again.
      deps.logger.error({ err }, 'agent pool turn failed');
    }
  };

  const inbox = new PoolInbox(turn, () => {
    if (s.deadline) clock.clearTimer(s.deadline.handle);
    if (s.reconcileTimer) clock.clearTimer(s.reconcileTimer);
  });
  return inbox;
}
