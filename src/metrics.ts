// Prometheus metrics of the engine (prom-client), on a registry of their own so that tests
// and several engines in one process never collide.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface EngineMetrics {
  registry: Registry;
  bookings: Counter<'service'>;
  transitions: Counter<'service' | 'state'>;
  outcomes: Counter<'service' | 'reason'>;
  callbacks: Gauge<'service' | 'state'>;
  ewtSeconds: Gauge<'target'>;
  sessionsLive: Gauge;
  wakeLatenessSeconds: Histogram;
  dials: Counter<'kind'>;
}

export interface MetricsOptions {
  defaultMetrics?: boolean;
  /** Read at each scrape: callbacks per service and GMS state. */
  countByState?: () => Array<{ service: string; gms: string; n: number }>;
  /** Read at each scrape: session actors in memory (the engine is made after its metrics). */
  liveSessions?: () => number;
}

export function createMetrics(opts: MetricsOptions = {}): EngineMetrics {
  const countByState = opts.countByState;
  const liveSessions = opts.liveSessions;
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'dialback_' });
  return {
    registry,
    bookings: new Counter({
      name: 'dialback_bookings_total',
      help: 'Callbacks accepted',
      labelNames: ['service'],
      registers: [registry],
    }),
    transitions: new Counter({
      name: 'dialback_state_changes_total',
      help: 'GMS state changes of callbacks',
      labelNames: ['service', 'state'],
      registers: [registry],
    }),
    outcomes: new Counter({
      name: 'dialback_outcomes_total',
      help: 'Completed callbacks by reason',
      labelNames: ['service', 'reason'],
      registers: [registry],
    }),
    callbacks: new Gauge({
      name: 'dialback_callbacks',
      help: 'Callbacks in the store by service and GMS state',
      labelNames: ['service', 'state'],
      registers: [registry],
      collect() {
        if (!countByState) return;
        this.reset();
        for (const r of countByState()) this.set({ service: r.service, state: r.gms }, r.n);
      },
    }),
    ewtSeconds: new Gauge({
      name: 'dialback_ewt_seconds',
      help: 'Estimated wait time per target',
      labelNames: ['target'],
      registers: [registry],
    }),
    sessionsLive: new Gauge({
      name: 'dialback_sessions_live',
      help: 'Session actors in memory (a booking that sleeps past the idle time has none)',
      registers: [registry],
      collect() {
        if (liveSessions) this.set(liveSessions());
      },
    }),
    wakeLatenessSeconds: new Histogram({
      name: 'dialback_wakeup_lateness_seconds',
      help: 'How late timer wake-ups fired',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    dials: new Counter({
      name: 'dialback_dials_total',
      help: 'Calls placed',
      labelNames: ['kind'],
      registers: [registry],
    }),
  };
}
