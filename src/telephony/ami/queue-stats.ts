// Asterisk app_queue statistics over AMI, polled with `QueueSummary`, as an EWT source for
// targets whose agents live in an Asterisk queue (config: `{ target: 'support', queue: 'support' }`).
//
// EWT for the next caller of a queue, from app_queue's own figures:
//   loggedIn = 0              → the cap (nobody can answer; a number, never Infinity)
//   available > callers       → 0 (a free member takes the next caller at once)
//   otherwise, with handle = TalkTime (app_queue's running average; a configured default until
//   Asterisk has measured one) and need = callers − available + 1 (callers, this one included,
//   who must wait for a member to free up):
//     model = handle/2 + (ceil(need / loggedIn) − 1) · handle
//   (the first member frees up half a call in on average, each further round a full call), and
//   EWT = min(cap, max(model, HoldTime)): HoldTime, app_queue's average wait of recently answered
//   callers, is what callers really waited while the queue was loaded and floors the model.
// Figures older than `staleAfterMs` (AMI down, polls failing) give no estimate (undefined), so the
// engine falls back to its own.

import type { Clock, TimerHandle } from '../../clock';
import type { Logger } from '../../logger';
import { type AmiClient, type AmiEvent, amiNumber, amiString } from './ami-client';

export interface QueueFigures {
  queue: string;
  /** Members free to take a call now (not paused, not in use). */
  available: number;
  /** Callers waiting in the queue. */
  callers: number;
  /** app_queue's average wait of answered callers, seconds. */
  holdTimeSec: number;
  /** app_queue's average talk time, seconds. */
  talkTimeSec: number;
  /** Members whose device is reachable (paused or not). */
  loggedIn: number;
  /** How long the caller at the head has waited, seconds. */
  longestHoldSec: number;
  /** When these figures were read (clock ms). */
  at: number;
}

/** Where the engine's EWT board can read (and be told about) estimated wait times. */
export interface EwtSource {
  /** Milliseconds, or undefined when the target is unknown or its figures are missing or stale. */
  ewtMs(target: string): number | undefined;
  /** Called whenever a target's estimate changes; returns the unsubscribe function. */
  subscribe(listener: (target: string, ms: number) => void): () => void;
}

export interface QueueTarget {
  target: string;
  queue: string;
}

export interface QueueEwtOptions {
  /** Handle time assumed until app_queue has measured one, seconds. */
  defaultTalkTimeSec: number;
  capMs: number;
}

export const DEFAULT_QUEUE_EWT: QueueEwtOptions = { defaultTalkTimeSec: 180, capMs: 3_600_000 };

/** The EWT formula of the module header, in milliseconds. */
export function queueEwtMs(f: QueueFigures, opts: QueueEwtOptions = DEFAULT_QUEUE_EWT): number {
  const n = (x: number): number => (Number.isFinite(x) && x > 0 ? x : 0);
  const loggedIn = Math.floor(n(f.loggedIn));
  const available = Math.floor(n(f.available));
  const callers = Math.floor(n(f.callers));
  if (loggedIn === 0) return opts.capMs;
  if (available > callers) return 0;
  const handleSec = n(f.talkTimeSec) > 0 ? n(f.talkTimeSec) : n(opts.defaultTalkTimeSec);
  const need = callers - available + 1;
  const rounds = Math.ceil(need / loggedIn);
  const modelSec = handleSec / 2 + (rounds - 1) * handleSec;
  const sec = Math.max(modelSec, n(f.holdTimeSec));
  return Math.min(opts.capMs, Math.round(sec * 1000));
}

/** Reads the `QueueSummary` events of one QueueSummary action. */
export function parseQueueSummary(events: readonly AmiEvent[], at: number): QueueFigures[] {
  const out: QueueFigures[] = [];
  for (const e of events) {
    if (e.name.toLowerCase() !== 'queuesummary') continue;
    const queue = amiString(e.fields, 'queue');
    if (!queue) continue;
    const num = (key: string): number => amiNumber(e.fields, key) ?? 0;
    out.push({
      queue,
      available: num('available'),
      callers: num('callers'),
      holdTimeSec: num('holdtime'),
      talkTimeSec: num('talktime'),
      loggedIn: num('loggedin'),
      longestHoldSec: num('longestholdtime'),
      at,
    });
  }
  return out;
}

/** The part of AmiClient the poller uses (a plain fake can stand in). */
export type QueueStatsClient = Pick<AmiClient, 'listAction' | 'isReady' | 'on'>;

export interface AmiQueueStatsOptions {
  client: QueueStatsClient;
  clock: Clock;
  logger: Logger;
  targets: readonly QueueTarget[];
  pollIntervalMs?: number;
  /** Figures older than this give no estimate; default three poll intervals. */
  staleAfterMs?: number;
  ewt?: Partial<QueueEwtOptions>;
}

export class AmiQueueStats implements EwtSource {
  private readonly byQueue = new Map<string, QueueFigures>();
  private readonly lastEwt = new Map<string, number>();
  private readonly listeners = new Set<(target: string, ms: number) => void>();
  private readonly queues: string[];
  private readonly pollIntervalMs: number;
  private readonly staleAfterMs: number;
  private readonly ewtOpts: QueueEwtOptions;
  private readonly log: Logger;
  private timer?: TimerHandle;
  private offUp?: () => void;
  private inFlight?: Promise<void>;
  private readonly missingWarned = new Set<string>();

  constructor(private readonly opts: AmiQueueStatsOptions) {
    this.queues = [...new Set(opts.targets.map((t) => t.queue))];
    this.pollIntervalMs = opts.pollIntervalMs ?? 5_000;
    this.staleAfterMs = opts.staleAfterMs ?? 3 * this.pollIntervalMs;
    this.ewtOpts = { ...DEFAULT_QUEUE_EWT, ...opts.ewt };
    this.log = opts.logger.child({ component: 'ami-queue-stats' });
  }

  /** Polls every interval, and at once after every (re)connect so figures resume quickly. */
  start(): void {
    if (this.offUp) return;
    this.offUp = this.opts.client.on('up', () => void this.poll());
    this.arm();
    if (this.opts.client.isReady()) void this.poll();
  }

  stop(): void {
    this.offUp?.();
    this.offUp = undefined;
    if (this.timer) this.opts.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** One poll of every configured queue; never rejects (failures are logged, figures age). */
  poll(): Promise<void> {
    this.inFlight ??= this.pollAll().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  figures(queue: string): QueueFigures | undefined {
    const f = this.byQueue.get(queue);
    return f && !this.isStale(f) ? { ...f } : undefined;
  }

  ewtMs(target: string): number | undefined {
    const t = this.opts.targets.find((x) => x.target === target);
    const f = t && this.byQueue.get(t.queue);
    if (!f || this.isStale(f)) return undefined;
    return queueEwtMs(f, this.ewtOpts);
  }

  subscribe(listener: (target: string, ms: number) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private arm(): void {
    const { clock } = this.opts;
    this.timer = clock.setTimer(clock.now() + this.pollIntervalMs, () => {
      this.timer = undefined;
      if (!this.offUp) return;
      void this.poll();
      this.arm();
    });
  }

  private isStale(f: QueueFigures): boolean {
    return this.opts.clock.now() - f.at > this.staleAfterMs;
  }

  private async pollAll(): Promise<void> {
    if (!this.opts.client.isReady()) {
      this.log.debug('AMI not connected: queue poll skipped');
      return;
    }
    await Promise.all(this.queues.map((q) => this.pollQueue(q)));
    this.publish();
  }

  private async pollQueue(queue: string): Promise<void> {
    try {
      const events = await this.opts.client.listAction(
        'QueueSummary',
        { Queue: queue },
        'QueueSummaryComplete',
      );
      const f = parseQueueSummary(events, this.opts.clock.now()).find((x) => x.queue === queue);
      if (!f) {
        if (!this.missingWarned.has(queue)) this.log.warn({ queue }, 'Asterisk has no such queue');
        this.missingWarned.add(queue);
        return;
      }
      this.missingWarned.delete(queue);
      this.byQueue.set(queue, f);
    } catch (err) {
      this.log.warn({ err, queue }, 'QueueSummary failed; keeping the last figures');
    }
  }

  private publish(): void {
    for (const { target } of this.opts.targets) {
      const ms = this.ewtMs(target);
      if (ms === undefined || this.lastEwt.get(target) === ms) continue;
      this.lastEwt.set(target, ms);
      for (const l of [...this.listeners]) {
        try {
          l(target, ms);
        } catch (err) {
          this.log.error({ err, target }, 'EWT listener threw');
        }
      }
    }
  }
}
