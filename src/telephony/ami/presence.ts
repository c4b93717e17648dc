// Agent presence from Asterisk device states over AMI: `DeviceStateChange`, `ExtensionStatus`
// (hints naming exactly the agent's endpoint) and `QueueMemberStatus` events, plus a
// `DeviceStateList` after every (re)connect, since events sent while AMI was down are lost.
//
// "Available" means reachable, as the telephony port's `agent.presence` does: UNAVAILABLE and
// INVALID are unavailable; idle and busy states (in use, ringing, on hold) are available — a
// busy agent is still signed in. UNKNOWN counts as available, as app_queue treats it (a device
// whose driver reports no state). A configured endpoint missing from DeviceStateList is one
// Asterisk does not know: unavailable.

import { assertNever } from '../../errors';
import type { Logger } from '../../logger';
import { type AmiClient, type AmiEvent, amiNumber, amiString } from './ami-client';

export type DeviceState =
  | 'UNKNOWN'
  | 'NOT_INUSE'
  | 'INUSE'
  | 'BUSY'
  | 'INVALID'
  | 'UNAVAILABLE'
  | 'RINGING'
  | 'RINGINUSE'
  | 'ONHOLD';

/** The unsolicited AMI events presence acts on (see apply); AmiClient's `events` filter. */
export const PRESENCE_EVENTS = [
  'DeviceStateChange',
  'ExtensionStatus',
  'QueueMemberStatus',
] as const;

const DEVICE_STATES: readonly DeviceState[] = [
  'UNKNOWN',
  'NOT_INUSE',
  'INUSE',
  'BUSY',
  'INVALID',
  'UNAVAILABLE',
  'RINGING',
  'RINGINUSE',
  'ONHOLD',
];

export function isReachable(state: DeviceState): boolean {
  switch (state) {
    case 'UNAVAILABLE':
    case 'INVALID':
      return false;
    case 'UNKNOWN':
    case 'NOT_INUSE':
    case 'INUSE':
    case 'BUSY':
    case 'RINGING':
    case 'RINGINUSE':
    case 'ONHOLD':
      return true;
    default:
      return assertNever(state);
  }
}

/** `State:` of DeviceStateChange (`NOT_INUSE`, `INUSE`…); `IDLE` is accepted as NOT_INUSE. */
export function deviceStateFromName(name: string): DeviceState | undefined {
  const s = name.trim().toUpperCase();
  if (s === 'IDLE') return 'NOT_INUSE';
  return DEVICE_STATES.find((x) => x === s);
}

/** `Status:` of QueueMemberStatus: Asterisk's `enum ast_device_state` in declaration order. */
export function deviceStateFromCode(code: number): DeviceState | undefined {
  return Number.isInteger(code) ? DEVICE_STATES[code] : undefined;
}

/** `Status:` of ExtensionStatus: the `enum ast_extension_states` bit mask. */
export function deviceStateFromExtensionStatus(status: number): DeviceState | undefined {
  if (!Number.isInteger(status)) return undefined;
  if (status < 0) return 'INVALID'; // -1 hint removed, -2 extension removed
  if (status === 0) return 'NOT_INUSE';
  if (status & 4) return 'UNAVAILABLE';
  if (status & 8) return status & 1 ? 'RINGINUSE' : 'RINGING';
  if (status & 16) return 'ONHOLD';
  if (status & 2) return 'BUSY';
  if (status & 1) return 'INUSE';
  return undefined;
}

export interface AgentEndpoint {
  id: string;
  /** The device as Asterisk names it, e.g. `PJSIP/agent1`. */
  endpoint: string;
}

export type PresenceClient = Pick<AmiClient, 'listAction' | 'isReady' | 'on'>;

export interface AmiPresenceOptions {
  client: PresenceClient;
  logger: Logger;
  agents: readonly AgentEndpoint[];
  /** Called once per agent at the first reading, then whenever reachability changes. */
  onPresence: (agentId: string, available: boolean) => void;
  /** Called on every device state change (idle → in use → idle), for finer views. */
  onDeviceState?: (agentId: string, state: DeviceState) => void;
}

export class AmiPresence {
  private readonly byEndpoint = new Map<string, AgentEndpoint>();
  private readonly states = new Map<string, DeviceState>();
  private readonly reported = new Map<string, boolean>();
  private readonly log: Logger;
  private offs: Array<() => void> = [];

  constructor(private readonly opts: AmiPresenceOptions) {
    for (const a of opts.agents) this.byEndpoint.set(a.endpoint.toLowerCase(), a);
    this.log = opts.logger.child({ component: 'ami-presence' });
  }

  /** Listens to events and reads the full list now (if connected) and after every reconnect. */
  start(): void {
    if (this.offs.length) return;
    this.offs = [
      this.opts.client.on('event', (e) => this.onEvent(e)),
      this.opts.client.on('up', () => void this.sync()),
    ];
    if (this.opts.client.isReady()) void this.sync();
  }

  stop(): void {
    for (const off of this.offs) off();
    this.offs = [];
  }

  /** Reads DeviceStateList; never rejects (a failure is logged and the next reconnect retries). */
  async sync(): Promise<void> {
    try {
      const events = await this.opts.client.listAction(
        'DeviceStateList',
        {},
        'DeviceStateListComplete',
      );
      const seen = new Set<string>();
      for (const e of events) {
        const agent = this.apply(e);
        if (agent) seen.add(agent.id);
      }
      for (const a of this.opts.agents) {
        if (!seen.has(a.id)) this.set(a, 'INVALID', 'missing from DeviceStateList');
      }
    } catch (err) {
      this.log.warn({ err }, 'DeviceStateList failed; presence resumes from live events');
    }
  }

  state(agentId: string): DeviceState | undefined {
    return this.states.get(agentId);
  }

  available(agentId: string): boolean | undefined {
    const s = this.states.get(agentId);
    return s === undefined ? undefined : isReachable(s);
  }

  private onEvent(e: AmiEvent): void {
    this.apply(e);
  }

  /** Applies one event; returns the agent it was about, if any. */
  private apply(e: AmiEvent): AgentEndpoint | undefined {
    const f = e.fields;
    let device: string | undefined;
    let state: DeviceState | undefined;
    switch (e.name.toLowerCase()) {
      case 'devicestatechange': {
        device = amiString(f, 'device');
        const s = amiString(f, 'state');
        state = s === undefined ? undefined : deviceStateFromName(s);
        break;
      }
      case 'queuememberstatus': {
        device = amiString(f, 'stateinterface') ?? amiString(f, 'interface');
        const code = amiNumber(f, 'status');
        state = code === undefined ? undefined : deviceStateFromCode(code);
        break;
      }
      case 'extensionstatus': {
        // Only a hint naming exactly one device speaks for it; `A&B` hints are aggregates.
        device = amiString(f, 'hint');
        const code = amiNumber(f, 'status');
        state = code === undefined ? undefined : deviceStateFromExtensionStatus(code);
        break;
      }
      default:
        return undefined;
    }
    const agent = device === undefined ? undefined : this.byEndpoint.get(device.toLowerCase());
    if (!agent) return undefined;
    if (state === undefined) {
      this.log.warn({ event: e.name, device, fields: f }, 'unreadable device state ignored');
      return agent;
    }
    this.set(agent, state, e.name);
    return agent;
  }

  private set(agent: AgentEndpoint, state: DeviceState, source: string): void {
    const before = this.states.get(agent.id);
    this.states.set(agent.id, state);
    if (before !== state) {
      this.log.debug({ agentId: agent.id, state, before, source }, 'agent device state');
      this.opts.onDeviceState?.(agent.id, state);
    }
    const available = isReachable(state);
    if (this.reported.get(agent.id) === available) return;
    this.reported.set(agent.id, available);
    this.log.info({ agentId: agent.id, available, state }, 'agent presence');
    this.opts.onPresence(agent.id, available);
  }
}
