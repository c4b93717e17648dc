// The telephony port: the one interface every adapter (simulator, ARI) implements, and the
// one event union they emit. Nothing outside src/telephony/<adapter> sees a vendor object.

import type { DialableNumber } from '../domain/phone';

/** AMD verdicts as Asterisk's AMD() reports them (HANGUP is reported as call.ended). */
export type AmdVerdict = 'HUMAN' | 'MACHINE' | 'NOTSURE';

/** Why a call did not connect, from Q.850 causes and dial statuses. */
export type DialFailure =
  'busy' | 'no-answer' | 'rejected' | 'unreachable' | 'congestion' | 'failed';

export interface DialCustomerRequest {
  /** Deterministic: `${callbackId}-c${attempt}`; dialling the same id twice never makes two calls. */
  callId: string;
  callbackId: string;
  number: DialableNumber;
  /** Run answering-machine detection and report its verdict on call.answered. */
  amd: boolean;
  /** Give up ringing after this long (reported as call.failed no-answer). */
  timeoutMs: number;
  callerId?: string;
  callerName?: string;
}

export interface DialAgentRequest {
  /** Deterministic: `${callbackId}-a${n}`. */
  callId: string;
  callbackId: string;
  agentId: string;
  /** Adapter-specific address of the agent's phone, e.g. `PJSIP/agent1`. */
  endpoint: string;
  timeoutMs: number;
}

export type CallStatus = 'ringing' | 'answered' | 'bridged' | 'ended';

export interface CallSnapshot {
  callId: string;
  status: CallStatus;
  bridgeId?: string;
}

/** A call the switch still has up, as listCalls reports it. */
export interface LiveCall extends CallSnapshot {
  status: Exclude<CallStatus, 'ended'>;
  /** Set for a User Originated call: who called and the digits keyed in. */
  inbound?: { from: string; digits?: string };
}

/**
 * The ids dialback gives the calls it places: `${callbackId}-c${n}` (customer) and
 * `${callbackId}-a${n}` (agent). The owning callback is group 1.
 */
export const DIALBACK_CALL_ID = /^(.+)-([ca])(\d+)$/;

export type TelephonyEvent =
  | { type: 'call.ringing'; callId: string; at: number }
  | { type: 'call.answered'; callId: string; at: number; amd?: AmdVerdict; amdCause?: string }
  | { type: 'call.failed'; callId: string; at: number; failure: DialFailure; cause?: number }
  | { type: 'call.ended'; callId: string; at: number; cause?: number }
  /** A customer called in (User Originated): answered and held by the adapter, awaiting routing. */
  | { type: 'call.incoming'; callId: string; at: number; from: string; digits?: string }
  | { type: 'bridge.joined'; bridgeId: string; callIds: string[]; at: number }
  | { type: 'agent.presence'; agentId: string; available: boolean; at: number }
  | { type: 'connection.changed'; up: boolean; at: number };

export type TelephonyListener = (event: TelephonyEvent) => void;

export interface TelephonyPort {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True while the adapter can place calls (for /readyz). */
  isReady(): boolean;
  dialCustomer(req: DialCustomerRequest): Promise<void>;
  dialAgent(req: DialAgentRequest): Promise<void>;
  /** Joins calls in one mixing bridge (created on first use). */
  bridge(bridgeId: string, callIds: string[]): Promise<void>;
  /** Plays a treatment (a media URI such as `sound:queue-periodic-announce`) on a call, looping until stopped. */
  play(callId: string, media: string): Promise<void>;
  stopPlayback(callId: string): Promise<void>;
  hangup(callId: string): Promise<void>;
  /** What the adapter knows about a call: used to reconcile after a crash or reconnect. */
  getCall(callId: string): Promise<CallSnapshot | undefined>;
  /**
   * Every call the switch still has up that is dialback's: placed by it (an id of the
   * DIALBACK_CALL_ID form, whichever process placed it) or a User Originated call held in its
   * application. Calls from before a restart are adopted: their events are reported from then
   * on. The engine ends those no session owns any more (see Engine.endOrphanCalls).
   */
  listCalls(): Promise<LiveCall[]>;
  subscribe(listener: TelephonyListener): () => void;
}
