// The persistence port: what the actors need from durable storage, synchronous on purpose (the
// embedded SQLite store answers in microseconds and a synchronous write is what makes
// "persisted before the effects run" trivially true). No database import here.

import type { CallbackReason, GmsState, SessionState } from '../domain/session-types';
import { DialbackError } from '../errors';

export interface CallbackRow {
  id: string;
  service: string;
  state: SessionState;
  userData: Record<string, string>;
  gms: GmsState;
  reason: CallbackReason | null;
  customerNumber: string;
  /** Epoch ms; null for an immediate callback. */
  desiredTime: number | null;
  /** Start of the capacity slot the callback holds (epoch ms); null when it holds none. */
  slotStart: number | null;
  target: string;
  createdAt: number;
  updatedAt: number;
  /** When the session must next be woken (epoch ms); null when nothing is armed. */
  nextWakeAt: number | null;
}

export interface Booking {
  slotStart: number;
  /** Seats the slot may hold in total (this booking included). */
  limit: number;
}

export interface QueryCondition {
  key: string;
  value: string;
  /** `key=!value`: matches callbacks whose key is absent or different. */
  negate: boolean;
}

export interface CallbackQuery {
  /** Absent: across every service. */
  service?: string;
  conditions: QueryCondition[];
  operand: 'AND' | 'OR';
  limit: number;
}

export type HistoryEvent = { type: string } & Record<string, unknown>;

export interface HistoryEntry {
  at: number;
  /** The event that produced this state; null for the state written at creation. */
  event: unknown;
  gms: GmsState;
  phase: string;
}

export type MessageKind = 'dialog' | 'status' | 'preview';

export interface NewMessage {
  callbackId: string;
  service: string;
  kind: MessageKind;
  data: unknown;
  at: number;
}

export interface StoredMessage extends NewMessage {
  /** Monotonic for the whole store (SSE `id`). */
  seq: number;
}

export interface DueEntry {
  id: string;
  service: string;
  nextWakeAt: number;
}

/** What a session holds, read without the rest of its row: who owns a call or an agent. */
export interface SessionHoldings {
  gms: GmsState;
  phase: SessionState['phase'];
  agentId?: string;
  customerCallId?: string;
  agentCallId?: string;
}

export interface AdminWindowQuery {
  target?: string;
  /** Window over the callback's time: its desired time, or its creation for an immediate one. */
  from: number;
  to: number;
  states?: GmsState[];
  max: number;
}

export interface Store {
  /**
   * Inserts a new callback and, when `booking` is given, takes one seat of that slot atomically:
   * throws SlotFullError if the slot already holds `limit` bookings (nothing is written then).
   */
  insertCallback(row: CallbackRow, booking?: Booking): void;
  /**
   * Persists a session's new state (write-ahead, before its effects run), appends the event to
   * the history and updates gms/reason/nextWakeAt/updatedAt. A cancelled session
   * (CANCELLED / CANCELLED_BY_ADMIN) releases its seat; any other ending keeps it (the slot was used).
   * `previous`, when given, is the state this one replaces as the store holds it: when its GMS
   * state, reason and options are the same, those columns are not written.
   */
  saveSession(
    id: string,
    state: SessionState,
    event: HistoryEvent | null,
    nextWakeAt: number | null,
    at: number,
    previous?: SessionState,
  ): void;
  /**
   * Reschedule: moves the seat to another slot atomically (SlotFullError if full, and then
   * nothing changes), replaces desiredTime and the user data, and saves the state. `nextWakeAt`
   * defaults to the earliest armed timer of `state`.
   */
  moveBooking(
    id: string,
    booking: Booking | null,
    desiredTime: number | null,
    state: SessionState,
    userData: Record<string, string>,
    at: number,
    nextWakeAt?: number | null,
  ): void;
  get(id: string): CallbackRow | undefined;
  /** The service of a callback, without reading its row (routing asks this very often). */
  serviceOf(id: string): string | undefined;
  /** The agent and calls a session holds, without decoding the whole row. */
  holdings(id: string): SessionHoldings | undefined;
  /** `holdings` of many callbacks in one read; unknown ids are absent from the map. */
  holdingsOf(ids: readonly string[]): Map<string, SessionHoldings>;
  /**
   * Query by any stored key: `_id`, `_callback_state`, `_callback_reason`, `_customer_number`,
   * `_desired_time` (ISO 8601 or epoch ms), `_service_name`, `_target`, or any user-data key.
   * Oldest first, at most `limit` rows.
   */
  query(q: CallbackQuery): CallbackRow[];
  /**
   * Sessions past their start (QUEUED, ROUTING, PROCESSING), ordered by id, one page after the
   * cursor: what a restart must resume. SCHEDULED ones only need their timer.
   */
  startedSessions(afterId: string | null, limit: number): CallbackRow[];
  /**
   * Open sessions with from <= nextWakeAt <= until, ordered by (nextWakeAt, id). To read the
   * next window without skipping ties, pass the last entry returned as `after`.
   */
  dueBetween(
    from: number,
    until: number,
    limit: number,
    after?: { nextWakeAt: number; id: string },
  ): DueEntry[];
  /** Seats taken per slot start, for slots in [from, to). Slots with none are absent. */
  bookedCounts(service: string, from: number, to: number): Map<number, number>;
  /**
   * A number that changes whenever any seat may have been taken or given back (a booking, a
   * move, a release, a rolled-back write): equal values mean `bookedCounts` answers the same.
   */
  seatsVersion(): number;
  countOpen(service: string): number;
  /** Callbacks per service and GMS state (COMPLETED included), for metrics and dashboards. */
  countByState(): Array<{ service: string; gms: GmsState; n: number }>;
  countCreatedSince(service: string, since: number): number;
  /** Open callbacks of a service whose key (`_customer_number` or a user-data key) equals value. */
  countOpenByKey(service: string, key: string, value: string): number;
  /** Records a dial attempt; false when that callId was already recorded (never dial it again). */
  recordDial(callId: string, callbackId: string, at: number): boolean;
  dialRecorded(callId: string): boolean;
  /** Returns the message's seq. */
  appendMessage(m: NewMessage): number;
  messagesAfter(
    filter: { callbackId?: string; service?: string },
    afterSeq: number,
    limit: number,
  ): StoredMessage[];
  history(id: string): HistoryEntry[];
  adminWindow(q: AdminWindowQuery): CallbackRow[];
  /**
   * Calls back once every write made so far is committed (at once when none is pending), with
   * the error when the commit failed and those writes were lost. Acknowledgements and effects
   * that depend on a write wait for this.
   */
  afterCommit(cb: (err?: Error) => void): void;
  /** Commits pending writes now. */
  commit(): void;
  /** Runs fn in one transaction (groups writes); nested calls join the outer one. */
  transaction<T>(fn: () => T): T;
  /** False once the store is closed, unreadable, or its last write failed for want of storage. */
  isHealthy(): boolean;
  close(): void;
}

/** A slot already holds as many bookings as its capacity allows. */
export class SlotFullError extends DialbackError {
  readonly code = 'SLOT_FULL';
  constructor(readonly slotStart: number) {
    super(
      'CallbackExceptionSlotFull',
      `The time slot ${new Date(slotStart).toISOString()} is full`,
    );
  }
}

/**
 * The store cannot read or write (disk full, read-only file, I/O error, closed, locked too long).
 * Nothing of the failed operation was written; retrying later may succeed.
 */
export class StoreUnavailableError extends DialbackError {
  readonly code = 'STORE_UNAVAILABLE';
  constructor(
    message: string,
    /** The database's own error code, e.g. SQLITE_FULL or SQLITE_READONLY. */
    readonly storeCode: string,
    options?: { cause?: unknown },
  ) {
    super('CallbackExceptionStoreUnavailable', message);
    if (options && 'cause' in options) {
      Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false });
    }
  }
}

export function isStoreUnavailable(e: unknown): e is StoreUnavailableError {
  return e instanceof StoreUnavailableError;
}
