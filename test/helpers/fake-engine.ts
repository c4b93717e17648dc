// A plain in-memory CallbackEngine for HTTP tests: records every call, answers from what the
// test put in it, and throws whatever error a test queues for a method.
import { randomUUID } from 'node:crypto';
import { DEFAULT_OPTIONS } from '../../src/domain/options';
import type {
  AdminQueueQuery,
  AgentView,
  AvailabilityQuery,
  AvailabilityResult,
  CallbackEngine,
  CallbackView,
  EngineHealth,
  QueryCondition,
  QueuePosition,
  ServiceView,
  SlotView,
  StreamMessage,
} from '../../src/engine-api';
import { DialbackError } from '../../src/errors';

type Filter = { callbackId?: string; service?: string };
type Listener = { filter: Filter; fn: (m: StreamMessage) => void };

export interface RecordedCall {
  method: keyof CallbackEngine;
  args: unknown[];
}

function matches(filter: Filter, m: StreamMessage): boolean {
  if (filter.callbackId !== undefined && m.callbackId !== filter.callbackId) return false;
  if (filter.service !== undefined && m.service !== filter.service) return false;
  return true;
}

export class FakeEngine implements CallbackEngine {
  readonly calls: RecordedCall[] = [];
  readonly callbacks = new Map<string, CallbackView>();
  readonly messages: StreamMessage[] = [];
  readonly services = new Map<string, ServiceView>();
  slots: SlotView[] = [];
  durationMin = 60;
  timezone = 'Europe/Paris';
  healthState: EngineHealth = { store: true, telephony: true };
  agents: AgentView[] = [
    { id: 'a1', endpoint: 'PJSIP/agent1', groups: ['sales'], state: 'signed-out', since: 0 },
  ];
  private listeners: Listener[] = [];
  private readonly failures = new Map<keyof CallbackEngine, unknown>();
  private seq = 0;

  constructor(serviceNames: string[] = ['user-scheduled']) {
    for (const name of serviceNames) {
      this.services.set(name, {
        name,
        options: { ...DEFAULT_OPTIONS, _target: 'sales' },
        officeHours: {
          name: 'office',
          timezone: this.timezone,
          rules: { _bh_regular1: 'Mon-Fri 9:00-17:00' },
        },
        capacity: { name: null },
      });
    }
  }

  /** The next call of `method` throws `err` (once). */
  failNext(method: keyof CallbackEngine, err: unknown): void {
    this.failures.set(method, err);
  }

  callsOf(method: keyof CallbackEngine): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  listenerCount(): number {
    return this.listeners.length;
  }

  /** Appends a message to the log and delivers it to live subscribers. */
  publish(m: Omit<StreamMessage, 'seq' | 'at'>): StreamMessage {
    const full: StreamMessage = { ...m, seq: ++this.seq, at: Date.now() };
    this.messages.push(full);
    for (const l of [...this.listeners]) if (matches(l.filter, full)) l.fn(full);
    return full;
  }

  /** Publishes the seed's ConfirmationDialog for `id`. */
  publishDialog(id: string, service = 'user-scheduled'): StreamMessage {
    return this.publish({
      callbackId: id,
      service,
      kind: 'dialog',
      data: {
        _id: id,
        _action: 'ConfirmationDialog',
        _dialog_id: '0',
        _text: 'You will receive the call shortly',
        _ok_title: 'Ok',
      },
    });
  }

  private record(method: keyof CallbackEngine, args: unknown[]): void {
    this.calls.push({ method, args });
    if (this.failures.has(method)) {
      const err = this.failures.get(method);
      this.failures.delete(method);
      throw err;
    }
  }

  private requireService(name: string): ServiceView {
    const s = this.services.get(name);
    if (!s)
      throw new DialbackError('CallbackExceptionServiceNotFound', `service ${name} not found`);
    return s;
  }

  private requireCallback(id: string): CallbackView {
    const c = this.callbacks.get(id);
    if (!c) throw new DialbackError('CallbackExceptionNotFound', `callback ${id} not found`);
    return c;
  }

  listServices(): ServiceView[] {
    this.record('listServices', []);
    return [...this.services.values()];
  }

  getService(name: string): ServiceView {
    this.record('getService', [name]);
    return this.requireService(name);
  }

  availability(service: string, query: AvailabilityQuery): AvailabilityResult {
    this.record('availability', [service, query]);
    this.requireService(service);
    const slots = query.reportBusy ? this.slots : this.slots.filter((s) => s.capacity > 0);
    return { durationMin: this.durationMin, timezone: this.timezone, slots };
  }

  async create(service: string, fields: Record<string, string>): Promise<{ _id: string }> {
    this.record('create', [service, fields]);
    this.requireService(service);
    if (!fields._customer_number) {
      throw new DialbackError('CallbackExceptionMissingField', '_customer_number is mandatory');
    }
    const id = `440-${randomUUID()}`;
    this.callbacks.set(id, {
      ...fields,
      _id: id,
      _service: service,
      _callback_state: fields._desired_time ? 'SCHEDULED' : 'QUEUED',
    });
    return { _id: id };
  }

  get(id: string): CallbackView | undefined {
    this.record('get', [id]);
    return this.callbacks.get(id);
  }

  query(
    service: string | undefined,
    conditions: QueryCondition[],
    operand: 'AND' | 'OR',
  ): CallbackView[] {
    this.record('query', [service, conditions, operand]);
    if (service !== undefined) this.requireService(service);
    return [...this.callbacks.values()].filter((v) => {
      if (service !== undefined && v._service !== service) return false;
      const results = conditions.map((c) => (String(v[c.key]) === c.value) !== c.negate);
      if (results.length === 0) return true;
      return operand === 'AND' ? results.every(Boolean) : results.some(Boolean);
    });
  }

  async cancel(service: string, id: string): Promise<void> {
    this.record('cancel', [service, id]);
    this.requireService(service);
    const v = this.requireCallback(id);
    v._callback_state = 'COMPLETED';
    v._callback_reason = 'CANCELLED';
  }

  async reschedule(
    service: string,
    id: string,
    fields: Record<string, string>,
  ): Promise<CallbackView> {
    this.record('reschedule', [service, id, fields]);
    this.requireService(service);
    const v = this.requireCallback(id);
    const { _new_desired_time, ...rest } = fields;
    Object.assign(v, rest);
    if (_new_desired_time !== undefined) v._desired_time = _new_desired_time;
    return v;
  }

  async action(
    id: string,
    action: string,
    fields: Record<string, string>,
  ): Promise<Record<string, unknown>> {
    this.record('action', [id, action, fields]);
    this.requireCallback(id);
    if (action !== 'connect') {
      throw new DialbackError('CallbackExceptionInvalidAction', `unknown action ${action}`);
    }
    return {
      _dialog_id: '0',
      _action: 'ConfirmationDialog',
      _text: 'You will receive the call shortly',
      _ok_title: 'Ok',
      _id: id,
    };
  }

  queuePosition(id: string): QueuePosition {
    this.record('queuePosition', [id]);
    this.requireCallback(id);
    return { _position: 1, _eta: 42, _total_waiting: 3, _agent_ready_threshold_passed: false };
  }

  adminQueues(query: AdminQueueQuery): Record<string, CallbackView[]> {
    this.record('adminQueues', [query]);
    const out: Record<string, CallbackView[]> = {};
    for (const v of this.callbacks.values()) (out[String(v._service)] ??= []).push(v);
    return out;
  }

  async bulkCancel(ids: string[], reason: string) {
    this.record('bulkCancel', [ids, reason]);
    const cancelled: string[] = [];
    const notFound: string[] = [];
    const alreadyCompleted: string[] = [];
    for (const id of ids) {
      const v = this.callbacks.get(id);
      if (!v) notFound.push(id);
      else if (v._callback_state === 'COMPLETED') alreadyCompleted.push(id);
      else {
        v._callback_state = 'COMPLETED';
        v._callback_reason = 'CANCELLED_BY_ADMIN';
        cancelled.push(id);
      }
    }
    return { cancelled, notFound, alreadyCompleted };
  }

  listAgents(): AgentView[] {
    this.record('listAgents', []);
    return this.agents;
  }

  async agentCommand(
    agentId: string,
    command: 'sign-in' | 'sign-out' | 'ready' | 'not-ready',
  ): Promise<AgentView> {
    this.record('agentCommand', [agentId, command]);
    const a = this.agents.find((x) => x.id === agentId);
    if (!a) throw new DialbackError('CallbackExceptionAgentNotFound', `agent ${agentId} not found`);
    a.state = command === 'sign-in' ? 'not-ready' : command === 'sign-out' ? 'signed-out' : command;
    return a;
  }

  messagesAfter(filter: Filter, afterSeq: number): StreamMessage[] {
    this.record('messagesAfter', [filter, afterSeq]);
    return this.messages.filter((m) => m.seq > afterSeq && matches(filter, m));
  }

  subscribe(filter: Filter, listener: (m: StreamMessage) => void): () => void {
    this.record('subscribe', [filter]);
    const entry: Listener = { filter, fn: listener };
    this.listeners.push(entry);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== entry);
    };
  }

  health(): EngineHealth {
    this.record('health', []);
    return this.healthState;
  }
}
