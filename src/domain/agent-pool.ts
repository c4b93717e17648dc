// The agents of a node and the fair queue of callbacks waiting for them. Pure bookkeeping:
// the agent-pool actor feeds it commands and forwards the grants it returns. Fairness rules:
// callbacks of a target are served by (priority, arrival) order, and an agent is only ever
// granted to one callback at a time, so no more customers are dialled than agents are free.

import type { AgentStateName, AgentView } from '../engine-api';

export interface AgentConfig {
  id: string;
  endpoint: string;
  /** Targets (agent groups) this agent serves. */
  groups: string[];
}

interface AgentRecord extends AgentConfig {
  state: AgentStateName;
  since: number;
  callbackId?: string;
  /** Presence reported by telephony: an agent whose phone is unreachable is never granted. */
  reachable: boolean;
  reservedUntil?: number;
  wrapUpUntil?: number;
}

interface Waiter {
  callbackId: string;
  target: string;
  priority: number;
  seq: number;
}

export interface Grant {
  callbackId: string;
  agentId: string;
  endpoint: string;
}

export interface TargetFigures {
  ready: number;
  busy: number;
  reserved: number;
  signedIn: number;
  waiting: number;
}

export interface PoolOptions {
  /** A reservation nobody settles is released after this long (ms). */
  reservationTimeoutMs: number;
  /** Time in wrap-up after a handled call before the agent is ready again (ms). */
  wrapUpMs: number;
}

type Tally = Omit<TargetFigures, 'waiting'>;

/** Which figure an agent counts towards, if any. */
function categoryOf(a: AgentRecord): keyof Tally | undefined {
  if (a.state === 'signed-out') return undefined;
  if (a.state === 'ready' && a.reachable) return 'ready';
  if (a.state === 'busy' || a.state === 'wrap-up') return 'busy';
  if (a.state === 'reserved') return 'reserved';
  return undefined;
}

export class AgentPool {
  private readonly agents = new Map<string, AgentRecord>();
  private waiters: Waiter[] = [];
  private readonly queued = new Set<string>();
  private readonly waitingPerTarget = new Map<string, number>();
  private seq = 0;
  /**
   * Figures per target, kept up to date on every change: the pool actor reads them (and the
   * deadlines) after every message, and scanning every agent each time was most of its cost.
   */
  private readonly tallies = new Map<string, Tally>();
  /** Agents reserved or in wrap-up: the only ones with a deadline. */
  private readonly timed = new Set<AgentRecord>();
  /** Agents ready: the only ones a match looks at (most agents are busy when many wait). */
  private readonly ready = new Set<AgentRecord>();
  private targetList: string[] | undefined;

  constructor(private readonly opts: PoolOptions) {}

  addAgent(cfg: AgentConfig, now: number, state: AgentStateName = 'signed-out'): void {
    const existing = this.agents.get(cfg.id);
    if (existing) {
      this.count(existing, -1);
      existing.endpoint = cfg.endpoint;
      existing.groups = [...cfg.groups];
      this.count(existing, 1);
      this.targetList = undefined;
      return;
    }
    const a: AgentRecord = {
      ...cfg,
      groups: [...cfg.groups],
      state,
      since: now,
      reachable: true,
    };
    this.agents.set(cfg.id, a);
    this.count(a, 1);
    this.file(a);
    this.targetList = undefined;
  }

  hasTarget(target: string): boolean {
    for (const a of this.agents.values()) if (a.groups.includes(target)) return true;
    return false;
  }

  /** Adds (+1) or removes (-1) an agent's contribution to its targets' figures. */
  private count(a: AgentRecord, sign: 1 | -1): void {
    for (const g of a.groups) {
      let t = this.tallies.get(g);
      if (!t) {
        t = { ready: 0, busy: 0, reserved: 0, signedIn: 0 };
        this.tallies.set(g, t);
      }
      if (a.state === 'signed-out') continue;
      t.signedIn += sign;
      const c = categoryOf(a);
      if (c) t[c] += sign;
    }
  }

  get(agentId: string): AgentView | undefined {
    const a = this.agents.get(agentId);
    return a ? view(a) : undefined;
  }

  list(): AgentView[] {
    return [...this.agents.values()].map(view);
  }

  /** Sign in / out, ready / not ready. Returns false for a change that is not allowed now. */
  command(
    agentId: string,
    cmd: 'sign-in' | 'sign-out' | 'ready' | 'not-ready',
    now: number,
  ): boolean {
    const a = this.agents.get(agentId);
    if (!a) return false;
    const engaged = a.state === 'reserved' || a.state === 'busy';
    switch (cmd) {
      case 'sign-in':
        if (a.state === 'signed-out') this.setState(a, 'not-ready', now);
        return true;
      case 'ready':
        if (engaged) return false;
        this.setState(a, 'ready', now);
        return true;
      case 'not-ready':
        if (engaged) return false;
        this.setState(a, 'not-ready', now);
        return true;
      case 'sign-out':
        if (engaged) return false;
        this.setState(a, 'signed-out', now);
        return true;
    }
  }

  setReachable(agentId: string, reachable: boolean): void {
    const a = this.agents.get(agentId);
    if (!a) return;
    this.count(a, -1);
    a.reachable = reachable;
    this.count(a, 1);
  }

  /** Queues a callback for an agent of `target` (lower priority value goes first). */
  request(callbackId: string, target: string, priority: number): void {
    if (this.queued.has(callbackId)) return;
    this.queued.add(callbackId);
    const n = this.waitingPerTarget.get(target) ?? 0;
    if (n === 0) this.targetList = undefined;
    this.waitingPerTarget.set(target, n + 1);
    // Sorted by (priority, arrival): the newcomer goes after everyone of its priority or better.
    let lo = 0;
    let hi = this.waiters.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.waiters[mid].priority <= priority) lo = mid + 1;
      else hi = mid;
    }
    this.waiters.splice(lo, 0, { callbackId, target, priority, seq: this.seq++ });
  }

  withdraw(callbackId: string): void {
    if (!this.queued.has(callbackId)) return;
    const i = this.waiters.findIndex((w) => w.callbackId === callbackId);
    if (i >= 0) this.dequeue(this.waiters.splice(i, 1)[0]);
  }

  private dequeue(w: Waiter): void {
    this.queued.delete(w.callbackId);
    const n = (this.waitingPerTarget.get(w.target) ?? 1) - 1;
    if (n > 0) this.waitingPerTarget.set(w.target, n);
    else {
      this.waitingPerTarget.delete(w.target);
      this.targetList = undefined;
    }
  }

  /** Ends a reservation or a call. `handled` puts the agent in wrap-up, `no-answer` makes it not ready. */
  release(
    agentId: string,
    callbackId: string,
    outcome: 'unused' | 'handled' | 'no-answer' | 'rejected',
    now: number,
  ): { handledMs?: number } {
    const a = this.agents.get(agentId);
    if (!a || a.callbackId !== callbackId) return {};
    const since = a.since;
    a.callbackId = undefined;
    a.reservedUntil = undefined;
    switch (outcome) {
      case 'handled':
        if (this.opts.wrapUpMs > 0) {
          this.setState(a, 'wrap-up', now);
          a.wrapUpUntil = now + this.opts.wrapUpMs;
        } else this.setState(a, 'ready', now);
        return { handledMs: now - since };
      case 'no-answer':
        this.setState(a, 'not-ready', now);
        return {};
      case 'unused':
      case 'rejected':
        this.setState(a, 'ready', now);
        return {};
    }
  }

  /** The reserved agent is now talking (bridged). */
  markBusy(agentId: string, callbackId: string, now: number): void {
    const a = this.agents.get(agentId);
    if (!a || a.callbackId !== callbackId) return;
    this.setState(a, 'busy', now);
    a.callbackId = callbackId;
    a.reservedUntil = undefined;
  }

  /** After a restart: a durable session says it holds this agent. */
  restore(agentId: string, callbackId: string, busy: boolean, now: number): boolean {
    const a = this.agents.get(agentId);
    if (!a) return false;
    if (a.callbackId && a.callbackId !== callbackId) return false;
    this.setState(a, busy ? 'busy' : 'reserved', now);
    a.callbackId = callbackId;
    a.reservedUntil = busy ? undefined : now + this.opts.reservationTimeoutMs;
    this.withdraw(callbackId);
    return true;
  }

  /** Agents held for a callback, for reconciliation against the sessions. */
  holdings(): Array<{ agentId: string; callbackId: string; state: AgentStateName; since: number }> {
    const out: Array<{
      agentId: string;
      callbackId: string;
      state: AgentStateName;
      since: number;
    }> = [];
    for (const a of this.agents.values())
      if (a.callbackId)
        out.push({ agentId: a.id, callbackId: a.callbackId, state: a.state, since: a.since });
    return out;
  }

  /**
   * Expires reservations nobody settled and ends wrap-up; returns the callbacks whose
   * reservation was taken back.
   */
  expire(now: number): Array<{ agentId: string; callbackId: string }> {
    const lost: Array<{ agentId: string; callbackId: string }> = [];
    for (const a of this.agents.values()) {
      if (a.state === 'reserved' && a.reservedUntil !== undefined && a.reservedUntil <= now) {
        lost.push({ agentId: a.id, callbackId: a.callbackId ?? '' });
        a.callbackId = undefined;
        a.reservedUntil = undefined;
        this.setState(a, 'ready', now);
      } else if (a.state === 'wrap-up' && a.wrapUpUntil !== undefined && a.wrapUpUntil <= now) {
        a.wrapUpUntil = undefined;
        this.setState(a, 'ready', now);
      }
    }
    return lost;
  }

  /** Earliest reservation expiry or wrap-up end, to arm a timer for. */
  nextDeadline(): number | undefined {
    let best: number | undefined;
    for (const a of this.timed) {
      const t =
        a.state === 'reserved'
          ? a.reservedUntil
          : a.state === 'wrap-up'
            ? a.wrapUpUntil
            : undefined;
      if (t !== undefined && (best === undefined || t < best)) best = t;
    }
    return best;
  }

  /** Matches waiting callbacks with ready agents, in queue order. */
  match(now: number): Grant[] {
    if (this.waiters.length === 0) return [];
    // Most calls find no agent ready at all (the queue is long because agents are busy):
    // one pass over the agents tells which targets can be served, so waiters of the others
    // cost nothing.
    const servable = new Set<string>();
    for (const [g, t] of this.tallies) if (t.ready > 0) servable.add(g);
    if (servable.size === 0) return [];
    const grants: Grant[] = [];
    const taken: number[] = [];
    // Stops as soon as no target can be served: the queue may hold thousands of callbacks, and
    // most matches grant one agent to the head of the queue.
    for (let i = 0; i < this.waiters.length && servable.size > 0; i++) {
      const w = this.waiters[i];
      if (!servable.has(w.target)) continue;
      const agent = this.longestIdle(w.target);
      if (!agent) {
        servable.delete(w.target);
        continue;
      }
      this.setState(agent, 'reserved', now);
      agent.callbackId = w.callbackId;
      agent.reservedUntil = now + this.opts.reservationTimeoutMs;
      grants.push({ callbackId: w.callbackId, agentId: agent.id, endpoint: agent.endpoint });
      this.dequeue(w);
      taken.push(i);
    }
    for (let k = taken.length - 1; k >= 0; k--) this.waiters.splice(taken[k], 1);
    return grants;
  }

  /** 1-based position of a callback in its target's queue, or 0 when not queued. */
  position(callbackId: string): { position: number; total: number; target?: string } {
    const w = this.waiters.find((x) => x.callbackId === callbackId);
    if (!w) return { position: 0, total: 0 };
    const same = this.waiters.filter((x) => x.target === w.target);
    return { position: same.indexOf(w) + 1, total: same.length, target: w.target };
  }

  figures(target: string): TargetFigures {
    const t = this.tallies.get(target);
    return {
      ready: t?.ready ?? 0,
      busy: t?.busy ?? 0,
      reserved: t?.reserved ?? 0,
      signedIn: t?.signedIn ?? 0,
      waiting: this.waitingPerTarget.get(target) ?? 0,
    };
  }

  targets(): string[] {
    if (!this.targetList) {
      const s = new Set<string>();
      for (const a of this.agents.values()) a.groups.forEach((g) => s.add(g));
      for (const t of this.waitingPerTarget.keys()) s.add(t);
      this.targetList = [...s];
    }
    return [...this.targetList];
  }

  private longestIdle(target: string): AgentRecord | undefined {
    let best: AgentRecord | undefined;
    for (const a of this.ready) {
      if (!a.reachable || !a.groups.includes(target)) continue;
      if (!best || a.since < best.since) best = a;
    }
    return best;
  }

  private setState(a: AgentRecord, state: AgentStateName, now: number): void {
    this.count(a, -1);
    a.state = state;
    a.since = now;
    this.count(a, 1);
    this.file(a);
  }

  /** Files the agent in the sets its state puts it in, and out of the others. */
  private file(a: AgentRecord): void {
    if (a.state === 'reserved' || a.state === 'wrap-up') this.timed.add(a);
    else this.timed.delete(a);
    if (a.state === 'ready') this.ready.add(a);
    else this.ready.delete(a);
  }
}

function view(a: AgentRecord): AgentView {
  return {
    id: a.id,
    endpoint: a.endpoint,
    groups: [...a.groups],
    state: a.state,
    ...(a.callbackId ? { callbackId: a.callbackId } : {}),
    since: a.since,
  };
}
