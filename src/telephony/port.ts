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
  subscribe(listener: TelephonyListener): () => void;
}
