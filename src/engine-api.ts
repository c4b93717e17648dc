// What the HTTP layer (and the CLI) may ask of the engine. The HTTP code sees only this
// facade: no actor refs, no store rows, no telephony objects.

import type { CallbackReason, DeviceDialog, GmsState } from './domain/session-types';
import type { ServiceOptions } from './domain/options';

/** One callback as the GMS query API shows it: its `_`-keys plus every user-data key. */
export type CallbackView = Record<string, string | number | boolean | null>;

export interface SlotView {
  /** Slot start, epoch ms. */
  start: number;
  /** Remaining capacity. */
  capacity: number;
  /** Total capacity of the slot. */
  total: number;
}

export interface AvailabilityQuery {
  /** Legacy: the open period around this time. */
  timestamp?: number;
  start?: number;
  end?: number;
  numberOfDays?: number;
  maxTimeSlots?: number;
  /** Include slots with no capacity left. */
  reportBusy?: boolean;
}

export interface AvailabilityResult {
  durationMin: number;
  /** The office's IANA zone. */
  timezone: string;
  slots: SlotView[];
}

export interface QueryCondition {
  key: string;
  value: string;
  negate: boolean;
}

export interface AdminQueueQuery {
  target?: string;
  startTime?: number;
  endTime?: number;
  states?: GmsState[];
  max?: number;
}

export interface QueuePosition {
  _position: number;
  _eta: number;
  _total_waiting: number;
  _agent_ready_threshold_passed: boolean;
}

export type AgentStateName = 'signed-out' | 'ready' | 'reserved' | 'busy' | 'wrap-up' | 'not-ready';

export interface AgentView {
  id: string;
  endpoint: string;
  groups: string[];
  state: AgentStateName;
  /** The callback the agent is reserved for or talking to. */
  callbackId?: string;
  since: number;
}

export interface ServiceView {
  name: string;
  options: ServiceOptions;
  officeHours: { name: string | null; timezone: string; rules: Record<string, string> };
  capacity: { name: string | null };
}

/** A message on a callback's event stream: a dialog pushed to the device or a status change. */
export interface StreamMessage {
  /** Monotonic per node; SSE `id` and `Last-Event-ID`. */
  seq: number;
  callbackId: string;
  service: string;
  kind: 'dialog' | 'status' | 'preview';
  data:
    | DeviceDialog
    | { _id: string; _callback_state: GmsState; _callback_reason?: CallbackReason }
    | { _id: string; _action: 'AgentPreview'; _agent_id: string; _timeout: number };
  at: number;
}

/** `_id`, plus for User Originated the number to call and, when asked for, the access code. */
export interface CreateResult {
  _id: string;
  _tel_number?: string;
  _access_code?: string;
}

export interface EngineHealth {
  store: boolean;
  telephony: boolean;
}

export interface CallbackEngine {
  listServices(): ServiceView[];
  /** Throws CallbackExceptionServiceNotFound. */
  getService(name: string): ServiceView;
  availability(service: string, query: AvailabilityQuery): AvailabilityResult;
  /** Fields as sent (names with leading underscores). Resolves once the booking is durable. */
  create(service: string, fields: Record<string, string>): Promise<CreateResult>;
  get(id: string): CallbackView | undefined;
  query(
    service: string | undefined,
    conditions: QueryCondition[],
    operand: 'AND' | 'OR',
  ): CallbackView[];
  cancel(service: string, id: string): Promise<void>;
  /** `_new_desired_time` plus other keys to update. */
  reschedule(service: string, id: string, fields: Record<string, string>): Promise<CallbackView>;
  /** The device (or an agent, for preview actions) answering a notification. */
  action(
    id: string,
    action: string,
    fields: Record<string, string>,
  ): Promise<Record<string, unknown>>;
  queuePosition(id: string): QueuePosition;
  adminQueues(query: AdminQueueQuery): Record<string, CallbackView[]>;
  bulkCancel(
    ids: string[],
    reason: string,
  ): Promise<{ cancelled: string[]; notFound: string[]; alreadyCompleted: string[] }>;
  listAgents(): AgentView[];
  agentCommand(
    agentId: string,
    command: 'sign-in' | 'sign-out' | 'ready' | 'not-ready',
  ): Promise<AgentView>;
  /** Messages of one callback (or of one service when `callbackId` is undefined) after `afterSeq`. */
  messagesAfter(
    filter: { callbackId?: string; service?: string },
    afterSeq: number,
  ): StreamMessage[];
  /** Live messages; returns an unsubscribe function. */
  subscribe(
    filter: { callbackId?: string; service?: string },
    listener: (m: StreamMessage) => void,
  ): () => void;
  health(): EngineHealth;
}
