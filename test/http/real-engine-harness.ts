// The HTTP app over the real engine: actors, an in-memory SQLite store and the simulator on a
// virtual clock, with the demo services (plus any a test adds) built by resolveConfig exactly
// as `dialback start` builds them. Requests go through `app.inject`; time moves only when the
// test moves it.

import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { VirtualClock } from '../../src/clock';
import { DEMO_CONFIG, resolveConfig, type AppConfig } from '../../src/config';
import { Engine } from '../../src/actors/engine';
import type { OutboundDelivery } from '../../src/actors/notifier-actor';
import type { StreamMessage } from '../../src/engine-api';
import { buildApp } from '../../src/http/app';
import { silentLogger, type Logger } from '../../src/logger';
import { createMetrics, type EngineMetrics } from '../../src/metrics';
import { openSqliteStore } from '../../src/store/sqlite-store';
import type { Store } from '../../src/store/store';
import { simulatorOptionsFromConfig } from '../../src/telephony/simulator/from-config';
import { SimulatorTelephony } from '../../src/telephony/simulator/simulator-adapter';
import { advance, runUntil, settle } from '../helpers/settle';

/** Monday 2030-01-07 09:00 UTC. */
export const MONDAY_9 = Date.UTC(2030, 0, 7, 9, 0, 0);
export const WEEK_MS = 7 * 86_400_000;

export const iso = (ms: number): string => new Date(ms).toISOString();

export interface RealHarnessOptions {
  /** Virtual start time; default MONDAY_9. */
  start?: number;
  /** Extra callback services (raw config, on top of the demo's). */
  services?: Record<string, Record<string, unknown>>;
  /** Extra office-hours services. */
  officeHours?: Record<string, Record<string, string>>;
  outbound?: OutboundDelivery;
  logger?: Logger;
}

export class RealHarness {
  readonly clock: VirtualClock;
  readonly store: Store;
  readonly telephony: SimulatorTelephony;
  readonly engine: Engine;
  readonly metrics: EngineMetrics;
  readonly config: AppConfig;
  readonly messages: StreamMessage[] = [];
  private appInstance: FastifyInstance | undefined;

  private constructor(opts: RealHarnessOptions) {
    const logger = opts.logger ?? silentLogger();
    this.clock = new VirtualClock(opts.start ?? MONDAY_9);
    this.store = openSqliteStore({ file: ':memory:' });
    this.config = resolveConfig(
      {
        ...DEMO_CONFIG,
        office_hours: { ...DEMO_CONFIG.office_hours, ...opts.officeHours },
        services: { ...DEMO_CONFIG.services, ...opts.services },
      },
      {},
    );
    const sim = this.config.telephony.simulator;
    this.telephony = new SimulatorTelephony(
      simulatorOptionsFromConfig(sim, this.config.agents, { clock: this.clock }),
    );
    const store = this.store;
    this.metrics = createMetrics({
      countByState: () => store.countByState(),
      liveSessions: () => this.engine.liveSessions(),
    });
    this.engine = new Engine({
      clock: this.clock,
      store: this.store,
      telephony: this.telephony,
      logger,
      services: this.config.services,
      agents: this.config.agents,
      nodeId: this.config.nodeId,
      metrics: this.metrics,
      idleMs: 60 * 60_000,
      ...(opts.outbound ? { outbound: opts.outbound } : {}),
    });
    this.engine.subscribe({}, (m) => this.messages.push(m));
  }

  static async start(opts: RealHarnessOptions = {}): Promise<RealHarness> {
    const h = new RealHarness(opts);
    await h.telephony.start();
    await h.engine.resume();
    await settle();
    h.appInstance = await buildApp({
      engine: h.engine,
      logger: opts.logger ?? silentLogger(),
      metrics: h.metrics.registry,
    });
    return h;
  }

  get app(): FastifyInstance {
    if (!this.appInstance) throw new Error('harness not started');
    return this.appInstance;
  }

  inject(opts: InjectOptions): Promise<LightMyRequestResponse> {
    return this.app.inject(opts);
  }

  /** Runs virtual time timer by timer until `done()` holds. */
  async until(done: () => boolean, what: string, maxMs = 3600_000): Promise<void> {
    await runUntil(this.clock, done, maxMs, what);
  }

  advance(ms: number): Promise<void> {
    return advance(this.clock, ms);
  }

  state(id: string): string {
    return String(this.engine.get(id)?._callback_state);
  }

  reason(id: string): string | null {
    return (this.engine.get(id)?._callback_reason as string | null | undefined) ?? null;
  }

  dialogs(id: string): StreamMessage[] {
    return this.messages.filter((m) => m.callbackId === id && m.kind === 'dialog');
  }

  /** Customer legs dialled for one callback. */
  customerDials(id: string): string[] {
    return this.telephony
      .calls()
      .map((c) => c.callId)
      .filter((c) => c.startsWith(`${id}-c`));
  }

  async stop(): Promise<void> {
    await this.appInstance?.close();
    await this.engine.stop();
    await this.telephony.stop();
    this.store.close();
  }
}

/** A JSON create on `service`; returns the reply as is. */
export function createReq(
  h: RealHarness,
  service: string,
  fields: Record<string, string>,
): Promise<LightMyRequestResponse> {
  return h.inject({
    method: 'POST',
    url: `/genesys/1/service/callback/${service}`,
    payload: fields,
  });
}
