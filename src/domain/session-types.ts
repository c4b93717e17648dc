// The vocabulary of one callback's lifecycle: its state, the events it reacts to and the
// effects it asks for. The machine itself (session-machine.ts) is pure; the session actor
// persists the new state and then runs the effects.

import type { AmdVerdict, DialFailure } from '../telephony/port';
import type { ServiceOptions } from './options';

export type GmsState = 'SCHEDULED' | 'QUEUED' | 'ROUTING' | 'PROCESSING' | 'COMPLETED';

export const CALLBACK_REASONS = [
  'AGENT_CONNECTED',
  'CANCELLED',
  'CANCELLED_BY_ADMIN',
  'FAIL_CALL_TO_CUSTOMER',
  'FAIL_USER_NO_CONFIRM',
  'FAIL_TARGET_NOT_FOUND',
  'FAIL_AGENT_CONNECT',
  'FAIL_TIMEOUT_TTL',
  'FAIL_QUEUEING',
  'FAIL_ERROR',
  'NOT_AVAILABLE',
] as const;
export type CallbackReason = (typeof CALLBACK_REASONS)[number];

/** Finer internal states; each maps to exactly one GMS state (see GMS_STATE_OF). */
export type Phase =
  | 'waiting-start'
  | 'waiting-agent'
  | 'agent-preview'
  | 'waiting-confirm'
  | 'snoozed'
  | 'waiting-inbound'
  | 'dialling-customer'
  | 'retry-wait'
  | 'reserving-agent'
  | 'dialling-agent'
  | 'bridging'
  | 'talking'
  | 'completed';

export const GMS_STATE_OF: Record<Phase, GmsState> = {
  'waiting-start': 'SCHEDULED',
  'waiting-agent': 'QUEUED',
  'agent-preview': 'QUEUED',
  'waiting-confirm': 'QUEUED',
  snoozed: 'QUEUED',
  'waiting-inbound': 'QUEUED',
  'dialling-customer': 'QUEUED',
  'retry-wait': 'QUEUED',
  'reserving-agent': 'ROUTING',
  'dialling-agent': 'ROUTING',
  bridging: 'ROUTING',
  talking: 'PROCESSING',
  completed: 'COMPLETED',
};

export type TimerName =
  | 'start'
  | 'ttl'
  | 'confirm'
  | 'snooze'
  | 'retry'
  | 'agent-answer'
  | 'preview'
  | 'preview-retry'
  | 'inbound';

/**
 * The minimal push payloads GMS clients expect: a confirmation before we call (User
 * Terminated), or the number to dial (User Originated Delayed, once an agent is free).
 */
export type DeviceDialog =
  | {
      _id: string;
      _action: 'ConfirmationDialog';
      _dialog_id: string;
      _text: string;
      _ok_title: string;
    }
  | {
      _id: string;
      _action: 'DialNumber';
      _dialog_id: string;
      _text: string;
      _tel_number: string;
      _access_code?: string;
    };

export interface SessionState {
  id: string;
  service: string;
  phase: Phase;
  gms: GmsState;
  reason?: CallbackReason;
  /** The options in force for this callback (service options plus allowed request overrides). */
  options: ServiceOptions;
  /** Validated: E.164 or an allowed internal extension. */
  customerNumber: string;
  desiredTime?: number;
  createdAt: number;
  /** When execution started (SCHEDULED -> QUEUED). */
  startedAt?: number;
  /** Due times of the armed timers (epoch ms). The actor wakes the session at the earliest. */
  timers: Partial<Record<TimerName, number>>;
  /** Customer dials made so far; the current call is `${id}-c${dialAttempts}`. */
  dialAttempts: number;
  /**
   * Of those, dials telephony refused because it was down (never placed): they do not count
   * against `_max_dial_attempts`. Absent in rows written before it existed.
   */
  unplacedDials?: number;
  /** Confirmation pushes sent so far. */
  confirmAttempts: number;
  /** Agents tried so far (reservations granted); the current agent call is `${id}-a${agentAttempts}`. */
  agentAttempts: number;
  customerCallId?: string;
  customerAnsweredAt?: number;
  agentId?: string;
  agentCallId?: string;
  agentAnsweredAt?: number;
  bridgeId?: string;
  bridgedAt?: number;
  /** The dialog pushed to the device that still awaits its answer. */
  dialog?: DeviceDialog;
  /** User Originated: the code the customer may key in when calling the access number. */
  accessCode?: string;
  /** The last dial failure (for the outcome record). */
  lastFailure?: CallFailure | 'machine' | 'notsure';
  completedAt?: number;
}

/**
 * Why a call failed, as the machine sees it: the far end's reasons (DialFailure), plus two that
 * are our own side's doing and never the customer's or the agent's:
 * - `lost`: the call's outcome is unknown after a crash or reconnect and it no longer exists;
 * - `not-placed`: telephony refused the command because it was down (TELEPHONY_DOWN).
 */
export type CallFailure = DialFailure | 'lost' | 'not-placed';

export type SessionEvent =
  /** The booking was accepted and persisted. */
  | { type: 'booked' }
  | { type: 'timer'; timer: TimerName }
  | { type: 'cancel'; by: 'user' | 'admin' }
  | { type: 'reschedule'; desiredTime: number }
  /** The agent pool reserved an agent of the target for this callback. */
  | { type: 'agent.granted'; agentId: string; endpoint: string }
  /** The reservation ended without us (expired, agent signed out). */
  | { type: 'agent.lost'; agentId: string }
  /** The target has no such agent group. */
  | { type: 'target.missing' }
  /** The device answered a dialog (`connect`, `snooze`, `cancel`). */
  | { type: 'user.action'; action: string; dialogId?: string }
  | { type: 'agent.preview-answer'; agentId: string; accept: boolean }
  | { type: 'call.answered'; callId: string; amd?: AmdVerdict }
  | { type: 'call.failed'; callId: string; failure: CallFailure; cause?: number }
  | { type: 'call.ended'; callId: string }
  | { type: 'bridged'; bridgeId: string }
  /** User Originated: the customer's own call to the access number was matched to this callback. */
  | { type: 'inbound.matched'; callId: string }
  /** The process restarted: calls in flight must be reconciled before anything else. */
  | { type: 'resumed' };

export type AgentReleaseOutcome = 'unused' | 'handled' | 'no-answer' | 'rejected';

export type SessionEffect =
  | { type: 'request-agent'; target: string; priority: number }
  | { type: 'withdraw-agent-request' }
  | { type: 'release-agent'; agentId: string; outcome: AgentReleaseOutcome }
  | {
      type: 'dial-customer';
      callId: string;
      attempt: number;
      number: string;
      amd: boolean;
      timeoutMs: number;
    }
  | { type: 'dial-agent'; callId: string; agentId: string; timeoutMs: number }
  | { type: 'bridge'; bridgeId: string; callIds: string[] }
  | { type: 'play'; callId: string; media: string }
  | { type: 'stop-playback'; callId: string }
  | { type: 'hangup'; callId: string }
  | { type: 'reconcile-call'; callId: string }
  | { type: 'notify-device'; dialog: DeviceDialog }
  | { type: 'offer-preview'; agentId: string; timeoutMs: number }
  /** GMS state or reason changed: persisted with the state and sent as a status notification. */
  | { type: 'status-changed'; gms: GmsState; reason?: CallbackReason }
  /** The answer to a user.action or agent.preview-answer. */
  | { type: 'reply'; ok: true; body: Record<string, unknown> }
  | {
      type: 'reply';
      ok: false;
      error: 'CallbackExceptionInvalidState' | 'CallbackExceptionInvalidAction';
      message: string;
    };

export interface MachineContext {
  now: number;
  /** Current estimated wait time of the target, ms. */
  ewtMs: number;
  /**
   * Whether telephony can take commands now. While it is down its events are lost, so the
   * machine neither judges the far end by a timer nor places a call until it is back.
   */
  telephonyUp: boolean;
}

export interface Transition {
  state: SessionState;
  effects: SessionEffect[];
}
