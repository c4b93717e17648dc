// A whole engine on virtual time: the real actors, an in-memory SQLite store and the
// simulator, with services built from config exactly as `dialback start` builds them.

import { VirtualClock } from '../../src/clock';
import { resolveConfig } from '../../src/config';
import { Engine } from '../../src/actors/engine';
import type { StreamMessage } from '../../src/engine-api';
import pino from 'pino';
import { openSqliteStore } from '../../src/store/sqlite-store';
import type { Store } from '../../src/store/store';
import {
  SimulatorTelephony,
  scriptedCustomers,
  type CustomerBehaviour,
  type SimAgent,
} from '../../src/telephony/simulator/simulator-adapter';
import type { TelephonyEvent } from '../../src/telephony/port';
import { runUntil, settle } from '../helpers/settle';

export const START = Date.UTC(2030, 0, 7, 9, 0, 0); // a Monday

export const HUMAN: CustomerBehaviour = { kind: 'human', answerAfterMs: 3000, amdAfterMs: 1500 };
export const MACHINE: CustomerBehaviour = {
  kind: 'machine',
  answerAfterMs: 3000,
  amdAfterMs: 2500,
};
export const BUSY: CustomerBehaviour = { kind: 'busy', afterMs: 500 };

export interface HarnessOptions {
  /** Options of the service `svc` (on top of GMS defaults and a 24x7 office). */
  service?: Record<string, unknown>;
  customers?: Record<string, CustomerBehaviour | CustomerBehaviour[]>;
  agents?: Array<Partial<SimAgent> & { id: string }>;
  store?: Store;
  clock?: VirtualClock;
  /** How long a session without work stays live; default an hour. */
  idleMs?: number;
}

export class Harness {
  readonly clock: VirtualClock;
  readonly store: Store;
  readonly telephony: SimulatorTelephony;
  readonly engine: Engine;
  readonly messages: StreamMessage[] = [];
  readonly telephonyEvents: TelephonyEvent[] = [];
  /** Errors the engine logged: a healthy run logs none (a crashed actor logs one). */
  readonly errors: string[] = [];

  constructor(opts: HarnessOptions = {}) {
    this.clock = opts.clock ?? new VirtualClock(START);
    this.store = opts.store ?? openSqliteStore({ file: ':memory:' });
    const agents = opts.agents ?? [{ id: 'agent1' }, { id: 'agent2' }];
    const cfg = resolveConfig({
      office_hours: { always: { _timezone: 'Europe/Paris', _bh_regular1: 'Mon-Sun 00:00-24:00' } },
      services: {
        svc: {
          _call_direction: 'USERTERMINATED',
          _business_hours_service: 'always',
          _target: 'support',
          _allow_extensions: true,
          ...opts.service,
        },
      },
      agents: agents.map((a) => ({
        id: a.id,
        endpoint: a.endpoint ?? `SIM/${a.id}`,
        groups: ['support'],
        state: 'ready',
      })),
    });
    this.telephony = new SimulatorTelephony({
      clock: this.clock,
      customers: scriptedCustomers(opts.customers ?? {}),
      defaultCustomer: HUMAN,
      agents: agents.map((a) => ({
        endpoint: `SIM/${a.id}`,
        answerAfterMs: 1000,
        answers: true,
        handleTimeMs: 60_000,
        ...a,
      })),
    });
    this.telephony.subscribe((e) => this.telephonyEvents.push(e));
    this.engine = new Engine({
      clock: this.clock,
      store: this.store,
      telephony: this.telephony,
      logger: pino({ level: 'error' }, { write: (line: string) => this.errors.push(line) }),
      services: cfg.services,
      agents: cfg.agents,
      nodeId: '440',
      idleMs: opts.idleMs ?? 60 * 60_000,
    });
    this.engine.subscribe({}, (m) => this.messages.push(m));
  }

  async start(): Promise<this> {
    await this.telephony.start();
    await this.engine.resume();
    await settle();
    return this;
  }

  async stop(): Promise<void> {
    await this.engine.stop();
    await this.telephony.stop();
    if (this.errors.length > 0)
      throw new Error(`the engine logged errors:\n${this.errors.join('')}`);
  }

  create(fields: Record<string, string>): Promise<string> {
    return this.engine
      .create('svc', { _customer_number: '+33612345678', ...fields })
      .then((r) => r._id);
  }

  state(id: string): string {
    const v = this.engine.get(id);
    if (!v) throw new Error(`no callback ${id}`);
    return String(v._callback_state);
  }

  reason(id: string): string | null {
    return (this.engine.get(id)?._callback_reason as string | null) ?? null;
  }

  /** Runs virtual time until the callback is COMPLETED; returns its reason. */
  async complete(id: string, maxMs = 6 * 3600_000): Promise<string | null> {
    await runUntil(this.clock, () => this.state(id) === 'COMPLETED', maxMs, `${id} COMPLETED`);
    return this.reason(id);
  }

  async until(done: () => boolean, what: string, maxMs = 3600_000): Promise<void> {
    await runUntil(this.clock, done, maxMs, what);
  }

  dialogs(id: string): StreamMessage[] {
    return this.messages.filter((m) => m.callbackId === id && m.kind === 'dialog');
  }

  statuses(id: string): string[] {
    return this.messages
      .filter((m) => m.callbackId === id && m.kind === 'status')
      .map((m) => String((m.data as { _callback_state: string })._callback_state));
  }

  /** Customer dials of one callback, in order. */
  customerDials(id: string): string[] {
    return this.telephony
      .calls()
      .map((c) => c.callId)
      .filter((c) => c.startsWith(`${id}-c`));
  }
}
