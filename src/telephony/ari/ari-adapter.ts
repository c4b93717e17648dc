// The ARI adapter: the TelephonyPort over a real Asterisk. REST goes through ari-client (every
// call under a timeout: its promises hang while Asterisk is down); events come from our own
// websocket (ari-client's own reconnect gives up after 10 tries), subscribed right after every
// (re)connect to all channels and bridges (a busy line destroys its channel before any
// per-channel subscription could land, test/fixtures/ari/README.md) and to the agents' endpoint
// technologies. Never subscribeAll: its device-state subscription can deadlock Asterisk's ARI
// when the socket closes (asterisk/asterisk#2170). After every (re)connect a reconcile pass
// re-reads channels and bridges: ARI drops the events of the time the socket was down.
// User Originated calls arrive as a StasisStart with args `inbound,<digits>` for a channel we
// did not originate (the access-number dialplan, docker/asterisk/extensions.conf); from then on
// they are ours like the calls we place. listCalls adopts the calls an earlier process placed.
// While an agent's phone rings, the callback's bridge (`<callbackId>-b`, the engine's naming) is
// created ahead, so that bridging the answered agent costs one REST call rather than two.

import WebSocket from 'ws';
import { connect as ariConnect, type AriClientInstance, type AriOperation } from 'ari-client';
import type { Clock, TimerHandle } from '../../clock';
import { silentLogger, type Logger } from '../../logger';
import {
  DIALBACK_CALL_ID,
  type CallSnapshot,
  type DialAgentRequest,
  type DialCustomerRequest,
  type LiveCall,
  type TelephonyEvent,
  type TelephonyListener,
  type TelephonyPort,
} from '../port';
import { TelephonyError } from '../telephony-error';
import { Q850, dialFailure, parseAmdStatus } from './q850';

export interface AriAgent {
  id: string;
  /** As dialled and as Asterisk names the device, e.g. `PJSIP/agent1`. */
  endpoint: string;
}

export interface AriTelephonyOptions {
  /** Asterisk's HTTP server, e.g. `http://127.0.0.1:8088`. */
  url: string;
  username: string;
  password: string;
  /** The Stasis application name (the AMD dialplan hands channels to it). */
  app: string;
  /** Dialplan context running AMD() then Stasis(app,amd,STATUS,CAUSE). Default `dialback-amd`. */
  amdContext?: string;
  amdExtension?: string;
  /** Dial string for customers, `{number}` replaced: `PJSIP/{number}` or `PJSIP/{number}@trunk`. */
  customerEndpoint?: string;
  /** Upper bound for any REST request. Default 5000. */
  requestTimeoutMs?: number;
  /** Reconnect backoff, doubled after each failure. Default 250 ms → 10 s. */
  reconnect?: { initialMs: number; maxMs: number };
  /** start() resolves once connected, or after this long (the loop keeps trying). Default 10 s. */
  startWaitMs?: number;
  /** Websocket ping interval; a missing pong by the next ping drops the socket. 0 = off. Default 10 s. */
  heartbeatMs?: number;
  /** Agents whose endpoint state is reported as agent.presence. */
  agents?: AriAgent[];
  /** Media played when a treatment cannot be played. */
  fallbackMedia?: string;
  clock: Clock;
  logger?: Logger;
}

// ---- vendor shapes (plain JSON as Asterisk sends it) --------------------------------------------

interface AriChannelJson {
  id: string;
  state?: string;
  caller?: { number?: string; name?: string };
  dialplan?: { context?: string; app_name?: string; app_data?: string };
}

/**
 * The ARI event types the adapter acts on (onEvent). After subscribing, the app asks Asterisk
 * to send only these: the AMD dialplan alone sets some thirty variables per call. Between the
 * first verdict and the last bridge of 20 calls answered at once, the service parsed 1,136
 * event messages, 586 of them ChannelVarset and 116 ChannelDialplan; with the filter, 324–336.
 * onEvent switches on this union, so a handler for another type does not compile until the
 * type is added here.
 */
export const ARI_EVENT_TYPES = [
  'ChannelStateChange',
  'Dial',
  'StasisStart',
  'ChannelHangupRequest',
  'ChannelDestroyed',
  'ChannelEnteredBridge',
  'ChannelLeftBridge',
  'PlaybackFinished',
  'EndpointStateChange',
] as const;
type AriEventType = (typeof ARI_EVENT_TYPES)[number];

interface AriEventJson {
  type: AriEventType;
  channel?: AriChannelJson;
  peer?: AriChannelJson;
  args?: string[];
  cause?: number;
  dialstatus?: string;
  bridge?: { id: string; channels?: string[] };
  playback?: { id: string; state?: string };
  endpoint?: { technology: string; resource: string; state?: string };
}

interface AriRest {
  channels: Record<'originate' | 'get' | 'hangup' | 'list' | 'play' | 'answer', AriOperation>;
  bridges: Record<'createWithId' | 'addChannel' | 'list' | 'get' | 'destroy', AriOperation>;
  playbacks: Record<'stop' | 'get', AriOperation>;
  endpoints: Record<'list', AriOperation>;
  applications: Record<'subscribe' | 'filter', AriOperation>;
}

// ---- our bookkeeping ----------------------------------------------------------------------------

/**
 * dialling: originated, nothing heard; ringing: the far end rings; up: the far end answered and
 * AMD is listening; answered: in Stasis, ours to use; ended: gone (an event was emitted).
 */
type Phase = 'dialling' | 'ringing' | 'up' | 'answered' | 'ended';

interface Call {
  callId: string;
  leg: 'customer' | 'agent';
  phase: Phase;
  /** Set by hangup(): an end before the answer is then ours, not a failed dial. */
  hungUpByUs: boolean;
  /** Asterisk has answered our originate (or sent an event): a missing channel is now news. */
  originated: boolean;
  hangupCause?: number;
  dialStatus?: string;
  bridgeId?: string;
  /** A User Originated call: the caller and the digits keyed in. */
  inbound?: { from: string; digits?: string };
}

interface PlaybackLoop {
  callId: string;
  media: string;
  seq: number;
  playbackId: string;
}

interface PreparedBridge {
  agentCallId: string;
  /** Settles true once the bridge exists (created, or found there), false if that failed. */
  created: Promise<boolean>;
}

interface PendingJoin {
  bridgeId: string;
  callIds: string[];
}

type UnstampedEvent = TelephonyEvent extends infer E
  ? E extends unknown
    ? Omit<E, 'at'>
    : never
  : never;

type RestFailure = 'not-found' | 'exists' | 'not-in-stasis' | 'allocation' | 'http' | 'transport';

/** ari-client turns an HTTP error into `new Error(body)`: the status is lost, the body says it. */
export function classifyRestError(err: unknown): RestFailure {
  if (err instanceof TelephonyError) return 'transport';
  const text = err instanceof Error ? err.message : typeof err === 'string' ? err : '';
  let body: { message?: unknown; error?: unknown } | undefined;
  try {
    body = JSON.parse(text) as { message?: unknown; error?: unknown };
  } catch {
    body = undefined;
  }
  const m = body ? String(body.message ?? body.error ?? '') : '';
  if (!body || !m) return 'transport';
  if (/not found/i.test(m)) return 'not-found';
  if (/already exists/i.test(m)) return 'exists';
  if (/stasis/i.test(m)) return 'not-in-stasis';
  if (/allocation failed/i.test(m)) return 'allocation';
  return 'http';
}

/** The number part of a dial string: E.164 or digits only, whatever validated it before. */
const SAFE_NUMBER = /^\+?[0-9]{1,20}$/;
/** Agent endpoints come from config; still nothing that would split a dial string. */
const SAFE_ENDPOINT = /^[A-Za-z0-9_-]+\/[A-Za-z0-9_+.@:-]+$/;
/** Ended calls remembered (so an id is never dialled twice) before the oldest are forgotten. */
const MAX_REMEMBERED = 50_000;

export class AriTelephony implements TelephonyPort {
  readonly name = 'ari';

  private readonly clock: Clock;
  private readonly log: Logger;
  /**
   * Debug level: each event the engine hears and each agent dial and bridge join it sends are
   * logged, so the engine's own time between them can be measured (bench/lab.ts).
   */
  private readonly traceCalls: boolean;
  private readonly requestTimeoutMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly amdContext: string;
  private readonly amdExtension: string;
  private readonly customerEndpoint: string;
  private readonly heartbeatMs: number;
  private readonly fallbackMedia: string;
  private readonly agentByEndpoint = new Map<string, string>();
  /** What the app subscribes to after every (re)connect: one comma-separated eventSource. */
  private readonly eventSource: string;

  private client: AriRest | undefined;
  private ws: WebSocket | undefined;
  private started = false;
  private up = false;
  private connecting = false;
  private delayMs: number;
  private retryTimer: TimerHandle | undefined;
  private heartbeatTimer: TimerHandle | undefined;
  private awaitingPong = false;
  private readonly pendingTimers = new Set<TimerHandle>();
  private readonly upWaiters = new Set<() => void>();

  private readonly calls = new Map<string, Call>();
  private readonly loops = new Map<string, PlaybackLoop>();
  private readonly joins = new Map<string, PendingJoin>();
  /** Bridges this adapter created: destroyed once the last channel has left them. */
  private readonly ownBridges = new Set<string>();
  /** Bridges created ahead for a ringing agent leg and not yet asked for by bridge(). */
  private readonly prepared = new Map<string, PreparedBridge>();
  private readonly presence = new Map<string, boolean>();
  private readonly listeners = new Set<TelephonyListener>();

  constructor(private readonly opts: AriTelephonyOptions) {
    this.clock = opts.clock;
    this.log = (opts.logger ?? silentLogger()).child({ adapter: 'ari' });
    this.traceCalls = this.log.isLevelEnabled('debug');
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5000;
    this.backoff = opts.reconnect ?? { initialMs: 250, maxMs: 10_000 };
    this.delayMs = this.backoff.initialMs;
    this.amdContext = opts.amdContext ?? 'dialback-amd';
    this.amdExtension = opts.amdExtension ?? 's';
    this.customerEndpoint = opts.customerEndpoint ?? 'PJSIP/{number}';
    this.heartbeatMs = opts.heartbeatMs ?? 10_000;
    this.fallbackMedia = opts.fallbackMedia ?? 'tone:ring';
    if (!this.customerEndpoint.includes('{number}'))
      throw new Error(`customerEndpoint ${this.customerEndpoint} has no {number} placeholder`);
    for (const a of opts.agents ?? []) this.agentByEndpoint.set(a.endpoint, a.id);
    // `channel:`/`bridge:` without a name: all of them. Endpoints by technology: on Asterisk
    // 22.10 a bare `endpoint:` is accepted but sent no EndpointStateChange while an agent's
    // call came and went, `endpoint:PJSIP` did (lab-checked). It also repeats every event of
    // that technology's channels (lab-checked): each handler below is idempotent.
    const techs = new Set([...this.agentByEndpoint.keys()].map((e) => e.split('/')[0] ?? ''));
    this.eventSource = ['channel:', 'bridge:', ...[...techs].map((t) => `endpoint:${t}`)].join(',');
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const connected = new Promise<void>((resolve) => this.upWaiters.add(resolve));
    void this.connectLoop();
    let timer: TimerHandle | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = this.clock.setTimer(this.clock.now() + (this.opts.startWaitMs ?? 10_000), resolve);
    });
    await Promise.race([connected, waited]);
    if (timer) this.clock.clearTimer(timer);
    if (!this.up) this.log.warn({ url: this.opts.url }, 'ARI not reachable yet: still trying');
  }

  async stop(): Promise<void> {
    this.started = false;
    if (this.retryTimer) this.clock.clearTimer(this.retryTimer);
    this.retryTimer = undefined;
    this.stopHeartbeat();
    for (const t of this.pendingTimers) this.clock.clearTimer(t);
    this.pendingTimers.clear();
    const ws = this.ws;
    this.ws = undefined;
    this.up = false;
    if (ws) {
      ws.removeAllListeners();
      // A late 'error' from a dying socket must not become an uncaught exception.
      ws.on('error', () => undefined);
      ws.terminate();
    }
    for (const w of this.upWaiters) w();
    this.upWaiters.clear();
  }

  isReady(): boolean {
    return this.started && this.up;
  }

  subscribe(listener: TelephonyListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // ---- commands --------------------------------------------------------------------------------

  async dialCustomer(req: DialCustomerRequest): Promise<void> {
    this.ensureUp('dialCustomer');
    if (!SAFE_NUMBER.test(req.number))
      throw new TelephonyError(
        'INVALID_DIAL_STRING',
        `refusing to dial ${JSON.stringify(req.number)}`,
      );
    if (this.isKnown(req.callId)) return;
    const call = this.track(req.callId, 'customer');
    const params: Record<string, unknown> = {
      endpoint: this.customerEndpoint.replace('{number}', req.number),
      channelId: req.callId,
      timeout: Math.max(1, Math.ceil(req.timeoutMs / 1000)),
      ...(req.amd
        ? { context: this.amdContext, extension: this.amdExtension, priority: 1 }
        : { app: this.opts.app, appArgs: 'dial' }),
    };
    const callerId = formatCallerId(req.callerId, req.callerName);
    if (callerId) params.callerId = callerId;
    await this.originate(call, params);
  }

  async dialAgent(req: DialAgentRequest): Promise<void> {
    this.ensureUp('dialAgent');
    if (!SAFE_ENDPOINT.test(req.endpoint))
      throw new TelephonyError(
        'INVALID_DIAL_STRING',
        `refusing endpoint ${JSON.stringify(req.endpoint)}`,
      );
    if (this.isKnown(req.callId)) return;
    const call = this.track(req.callId, 'agent');
    this.prepareBridge(`${req.callbackId}-b`, req.callId);
    if (this.traceCalls) this.log.debug({ callId: req.callId }, 'originating the agent leg');
    await this.originate(call, {
      endpoint: req.endpoint,
      channelId: req.callId,
      timeout: Math.max(1, Math.ceil(req.timeoutMs / 1000)),
      app: this.opts.app,
      appArgs: 'agent',
    });
  }

  async bridge(bridgeId: string, callIds: string[]): Promise<void> {
    this.ensureUp('bridge');
    for (const id of callIds) {
      const c = this.calls.get(id);
      if (c?.phase === 'ended')
        throw new TelephonyError('CALL_NOT_FOUND', `bridge: call ${id} has ended`);
      if (c && c.phase !== 'answered')
        throw new TelephonyError('CALL_NOT_ANSWERED', `call ${id} is not answered yet`);
    }
    const prepared = this.prepared.get(bridgeId);
    this.prepared.delete(bridgeId);
    const ready = prepared ? await prepared.created : false;
    if (!ready) await this.createBridge(bridgeId);
    this.joins.set(bridgeId, { bridgeId, callIds: [...callIds] });
    const toAdd = callIds.filter((id) => this.calls.get(id)?.bridgeId !== bridgeId);
    if (toAdd.length > 0) {
      const add = (): Promise<unknown> =>
        this.rest('bridges.addChannel', (c) =>
          c.bridges.addChannel({ bridgeId, channel: toAdd.join(',') }),
        );
      if (this.traceCalls)
        this.log.debug({ bridgeId, callIds: toAdd }, 'adding legs to the bridge');
      try {
        await add();
      } catch (err) {
        let failure: unknown = err;
        // The bridge made ahead is gone (removed with an earlier agent leg as this one came):
        // make it again, once.
        if (ready && classifyRestError(err) === 'not-found') {
          try {
            await this.createBridge(bridgeId);
            await add();
            failure = undefined;
          } catch (again) {
            failure = again;
          }
        }
        if (failure !== undefined) {
          this.joins.delete(bridgeId);
          throw this.commandError('bridge', failure);
        }
      }
    }
    this.later(0, () => this.checkJoin(bridgeId));
    // ChannelEnteredBridge normally settles it within milliseconds; if the events were lost,
    // ask the bridge itself.
    this.later(2000, () => void this.verifyJoin(bridgeId));
  }

  /** Creates a mixing bridge of ours; one already there is fine (a retried command). */
  private async createBridge(bridgeId: string): Promise<void> {
    try {
      await this.rest('bridges.createWithId', (c) =>
        c.bridges.createWithId({ bridgeId, type: 'mixing', name: bridgeId }),
      );
    } catch (err) {
      if (classifyRestError(err) !== 'exists') throw this.commandError('bridge', err);
    }
    this.ownBridges.add(bridgeId);
  }

  /**
   * Creates the callback's bridge while its agent's phone rings. Only a head start: bridge()
   * creates it anyway if this failed, and one never asked for is removed with the agent leg.
   */
  private prepareBridge(bridgeId: string, agentCallId: string): void {
    if (this.prepared.has(bridgeId) || this.ownBridges.has(bridgeId)) return;
    const created = this.createBridge(bridgeId).then(
      () => true,
      (err: unknown) => {
        this.log.debug({ err: errText(err), bridgeId }, 'could not create the bridge ahead');
        return false;
      },
    );
    this.prepared.set(bridgeId, { agentCallId, created });
  }

  /** The agent leg ended before bridge() asked for the bridge made for it: remove that bridge. */
  private dropPrepared(agentCallId: string): void {
    for (const [bridgeId, p] of this.prepared) {
      if (p.agentCallId !== agentCallId) continue;
      this.prepared.delete(bridgeId);
      void p.created.then((ok) => {
        if (!ok || this.prepared.has(bridgeId) || this.joins.has(bridgeId)) return;
        if ([...this.calls.values()].some((c) => c.bridgeId === bridgeId)) return;
        this.destroyBridge(bridgeId);
      });
    }
  }

  async play(callId: string, media: string): Promise<void> {
    this.ensureUp('play');
    const c = this.calls.get(callId);
    if (c?.phase === 'ended')
      throw new TelephonyError('CALL_NOT_FOUND', `play: call ${callId} has ended`);
    if (c && c.phase !== 'answered')
      throw new TelephonyError('CALL_NOT_ANSWERED', `call ${callId} is not answered yet`);
    const previous = this.loops.get(callId);
    const loop: PlaybackLoop = { callId, media, seq: (previous?.seq ?? 0) + 1, playbackId: '' };
    this.loops.set(callId, loop);
    if (previous) await this.stopPlaybackId(previous.playbackId);
    try {
      await this.startPlayback(loop);
    } catch (err) {
      this.loops.delete(callId);
      throw this.commandError('play', err);
    }
  }

  async stopPlayback(callId: string): Promise<void> {
    this.ensureUp('stopPlayback');
    const loop = this.loops.get(callId);
    if (!loop) return;
    this.loops.delete(callId);
    await this.stopPlaybackId(loop.playbackId);
  }

  async hangup(callId: string): Promise<void> {
    this.ensureUp('hangup');
    let c = this.calls.get(callId);
    if (c?.phase === 'ended') return;
    const adopted = !c;
    // A call from before a restart: adopt it so its ChannelDestroyed becomes call.ended.
    if (!c) c = this.track(callId, 'customer', 'answered');
    c.hungUpByUs = true;
    const call = c;
    try {
      await this.rest('channels.hangup', (cl) => cl.channels.hangup({ channelId: callId }));
    } catch (err) {
      if (classifyRestError(err) !== 'not-found') throw this.commandError('hangup', err);
      if (adopted) {
        this.calls.delete(callId);
        return;
      }
      // Gone already: its ChannelDestroyed may be on the way; if not, end it ourselves.
      this.later(1000, () => this.finish(call, call.hangupCause ?? Q850.normalClearing));
    }
  }

  async getCall(callId: string): Promise<CallSnapshot | undefined> {
    this.ensureUp('getCall');
    const c = this.calls.get(callId);
    if (c?.phase === 'ended') return { callId, status: 'ended' };
    let ch: AriChannelJson;
    try {
      ch = asChannel(
        await this.rest('channels.get', (cl) => cl.channels.get({ channelId: callId })),
      );
    } catch (err) {
      if (classifyRestError(err) === 'not-found') return undefined;
      throw this.commandError('getCall', err);
    }
    const inStasis = ch.state === 'Up' && ch.dialplan?.app_name === 'Stasis';
    const answered = c ? c.phase === 'answered' : inStasis;
    if (!answered) return { callId, status: 'ringing' };
    const bridgeId = c?.bridgeId ?? (await this.findBridgeOf(callId));
    return bridgeId ? { callId, status: 'bridged', bridgeId } : { callId, status: 'answered' };
  }

  async listCalls(): Promise<LiveCall[]> {
    this.ensureUp('listCalls');
    let channels: unknown;
    let bridges: unknown;
    try {
      [channels, bridges] = await Promise.all([
        this.rest('channels.list', (c) => c.channels.list()),
        this.rest('bridges.list', (c) => c.bridges.list()),
      ]);
    } catch (err) {
      throw this.commandError('listCalls', err);
    }
    const bridgeOf = bridgeMembership(bridges);
    const out: LiveCall[] = [];
    for (const raw of asArray(channels)) {
      const ch = asChannel(raw);
      const call = this.calls.get(ch.id) ?? (this.provablyOurs(ch) ? this.adopt(ch) : undefined);
      // Ended in our books (its hang-up on the way): nothing left to settle.
      if (!call || call.phase === 'ended') continue;
      const bridgeId = bridgeOf.get(ch.id);
      if (bridgeId) call.bridgeId = bridgeId;
      out.push({
        callId: ch.id,
        status: bridgeId ? 'bridged' : call.phase === 'answered' ? 'answered' : 'ringing',
        ...(bridgeId ? { bridgeId } : {}),
        ...(call.inbound ? { inbound: { ...call.inbound } } : {}),
      });
    }
    return out;
  }

  // ---- connection ------------------------------------------------------------------------------

  private async connectLoop(): Promise<void> {
    if (this.connecting || !this.started) return;
    this.connecting = true;
    try {
      await this.connectOnce();
      this.delayMs = this.backoff.initialMs;
    } catch (err) {
      const delay = this.delayMs;
      this.delayMs = Math.min(this.delayMs * 2, this.backoff.maxMs);
      this.log.warn({ err: errText(err), retryInMs: delay }, 'ARI connect failed');
      this.scheduleReconnect(delay);
    } finally {
      this.connecting = false;
    }
  }

  private scheduleReconnect(delay: number): void {
    if (!this.started || this.retryTimer) return;
    this.retryTimer = this.clock.setTimer(this.clock.now() + delay, () => {
      this.retryTimer = undefined;
      void this.connectLoop();
    });
  }

  private async connectOnce(): Promise<void> {
    if (!this.client) {
      const raw = await this.withTimeout(
        'connect',
        ariConnect(this.opts.url, this.opts.username, this.opts.password),
        this.requestTimeoutMs * 2,
      );
      this.client = asRest(raw);
    }
    const ws = await this.openSocket();
    if (!this.started) {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      return;
    }
    this.ws = ws;
    ws.on('message', (data) => this.onMessage(data));
    ws.on('pong', () => {
      this.awaitingPong = false;
    });
    ws.on('error', (err) => this.log.warn({ err: errText(err) }, 'ARI websocket error'));
    ws.on('close', (code) => this.onSocketClosed(ws, code));
    try {
      await this.rest('applications.subscribe', (c) =>
        c.applications.subscribe({ applicationName: this.opts.app, eventSource: this.eventSource }),
      );
    } catch (err) {
      // Without the subscription the app sees only channels in Stasis: no busy, no ringing.
      if (this.ws === ws) this.ws = undefined;
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
      throw err;
    }
    await this.filterEvents();
    if (!this.started || this.ws !== ws) return;
    this.setUp(true);
    this.startHeartbeat();
    await this.reconcile();
  }

  /**
   * Asks Asterisk to send the app only the event types it acts on (ARI_EVENT_TYPES). Only a
   * saving: an Asterisk without event filters (before 13.26 and 16.3) sends everything, and
   * onEvent ignores the rest as before.
   */
  private async filterEvents(): Promise<void> {
    try {
      await this.rest('applications.filter', (c) =>
        c.applications.filter({
          applicationName: this.opts.app,
          filter: { allowed: ARI_EVENT_TYPES.map((type) => ({ type })) },
        }),
      );
    } catch (err) {
      this.log.info(
        { err: errText(err) },
        'Asterisk did not take the event filter: all events come',
      );
    }
  }

  private openSocket(): Promise<WebSocket> {
    const base = this.opts.url.replace(/^http/, 'ws').replace(/\/+$/, '');
    const q = new URLSearchParams({
      app: this.opts.app,
      api_key: `${this.opts.username}:${this.opts.password}`,
    });
    return new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`${base}/ari/events?${q.toString()}`, {
        handshakeTimeout: this.requestTimeoutMs,
      });
      const fail = (err: Error | string): void => {
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        reject(err instanceof Error ? err : new Error(err));
      };
      ws.on('open', () => {
        ws.removeAllListeners();
        resolve(ws);
      });
      ws.on('error', fail);
      ws.on('close', (code) => fail(`websocket closed during the handshake (${code})`));
    });
  }

  private onSocketClosed(ws: WebSocket, code: number): void {
    if (this.ws !== ws) return;
    this.ws = undefined;
    this.stopHeartbeat();
    ws.removeAllListeners();
    ws.on('error', () => undefined);
    this.log.warn({ code }, 'ARI websocket closed: reconnecting');
    this.setUp(false);
    this.scheduleReconnect(this.delayMs);
  }

  private setUp(up: boolean): void {
    if (this.up === up) return;
    this.up = up;
    this.log.info({ up }, 'ARI connection changed');
    if (up) {
      for (const w of this.upWaiters) w();
      this.upWaiters.clear();
    }
    this.emit({ type: 'connection.changed', up });
  }

  private startHeartbeat(): void {
    if (this.heartbeatMs <= 0) return;
    this.awaitingPong = false;
    const beat = (): void => {
      const ws = this.ws;
      if (!ws) return;
      if (this.awaitingPong) {
        // A half-open socket never closes by itself: drop it and let the close handler reconnect.
        this.log.warn('ARI websocket missed a pong: dropping it');
        ws.terminate();
        return;
      }
      this.awaitingPong = true;
      ws.ping();
      this.heartbeatTimer = this.clock.setTimer(this.clock.now() + this.heartbeatMs, beat);
    };
    this.heartbeatTimer = this.clock.setTimer(this.clock.now() + this.heartbeatMs, beat);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) this.clock.clearTimer(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Re-reads what Asterisk has, to settle everything whose events were lost while down. */
  private async reconcile(): Promise<void> {
    // Only calls Asterisk had acknowledged before the lists were asked for can be judged by them.
    const known = [...this.calls.values()].filter((c) => c.phase !== 'ended' && c.originated);
    try {
      const [channels, bridges, endpoints] = await Promise.all([
        this.rest('channels.list', (c) => c.channels.list()),
        this.rest('bridges.list', (c) => c.bridges.list()),
        this.agentByEndpoint.size > 0
          ? this.rest('endpoints.list', (c) => c.endpoints.list())
          : Promise.resolve([]),
      ]);
      const byId = new Map(asArray(channels).map((x) => [asChannel(x).id, asChannel(x)]));
      const bridgeOf = bridgeMembership(bridges);
      for (const call of known) {
        if (call.phase === 'ended') continue;
        const ch = byId.get(call.callId);
        if (!ch) {
          this.log.info(
            { callId: call.callId, phase: call.phase },
            'call vanished while ARI was down',
          );
          this.finish(call, call.hangupCause, true);
          continue;
        }
        if (ch.state === 'Ringing') this.ringing(call);
        if (ch.state === 'Up' && (call.phase === 'dialling' || call.phase === 'ringing'))
          call.phase = 'up';
        if (ch.dialplan?.app_name === 'Stasis' && call.phase !== 'answered')
          // Stasis(app,amd,HUMAN,HUMAN-800-800): the args of the StasisStart we missed.
          this.answered(call, (ch.dialplan.app_data ?? '').split(',').slice(1));
        const b = bridgeOf.get(call.callId);
        if (b) call.bridgeId = b;
        else if (call.bridgeId) delete call.bridgeId;
      }
      for (const bridgeId of [...this.joins.keys()]) this.checkJoin(bridgeId);
      // Callers who reached the access number while the socket was down: their StasisStart
      // was lost, they are waiting in the application.
      for (const ch of byId.values())
        if (!this.calls.has(ch.id) && this.inboundArgs(ch)) this.adopt(ch, true);
      for (const e of asArray(endpoints)) {
        const ej = e as { technology?: unknown; resource?: unknown; state?: unknown };
        if (typeof ej.technology === 'string' && typeof ej.resource === 'string')
          this.endpointState(`${ej.technology}/${ej.resource}`, ej.state === 'online');
      }
      for (const loop of [...this.loops.values()]) await this.resumeLoop(loop);
    } catch (err) {
      // The socket is up but REST is not: try the whole connection again.
      this.log.warn({ err: errText(err) }, 'ARI reconcile failed: reconnecting');
      this.ws?.terminate();
    }
  }

  // ---- events ----------------------------------------------------------------------------------

  private onMessage(data: unknown): void {
    let ev: AriEventJson;
    try {
      ev = JSON.parse(String(data)) as AriEventJson;
    } catch (err) {
      this.log.warn({ err: errText(err) }, 'ARI sent a message that is not JSON');
      return;
    }
    try {
      this.onEvent(ev);
    } catch (err) {
      this.log.error({ err, type: ev.type }, 'ARI event handling failed');
    }
  }

  private onEvent(ev: AriEventJson): void {
    switch (ev.type) {
      case 'ChannelStateChange': {
        const call = this.live(ev.channel?.id);
        if (!call) return;
        if (ev.channel?.state === 'Ringing') this.ringing(call);
        else if (
          ev.channel?.state === 'Up' &&
          (call.phase === 'dialling' || call.phase === 'ringing')
        )
          call.phase = 'up';
        return;
      }
      case 'Dial': {
        const call = this.live(ev.peer?.id);
        if (!call) return;
        if (ev.dialstatus === 'RINGING') this.ringing(call);
        else if (ev.dialstatus) call.dialStatus = ev.dialstatus;
        return;
      }
      case 'StasisStart': {
        const call = this.live(ev.channel?.id);
        if (call) this.answered(call, ev.args ?? []);
        else if (ev.channel?.id && !this.calls.has(ev.channel.id))
          this.adopt(
            {
              ...asChannel(ev.channel),
              dialplan: { app_name: 'Stasis', app_data: stasisData(this.opts.app, ev.args) },
            },
            true,
          );
        return;
      }
      case 'ChannelHangupRequest': {
        const call = this.live(ev.channel?.id);
        if (call && ev.cause) call.hangupCause = ev.cause;
        return;
      }
      case 'ChannelDestroyed': {
        const call = this.live(ev.channel?.id);
        if (call) this.finish(call, ev.cause || call.hangupCause);
        return;
      }
      case 'ChannelEnteredBridge': {
        const call = this.live(ev.channel?.id);
        if (!call || !ev.bridge) return;
        call.bridgeId = ev.bridge.id;
        this.checkJoin(ev.bridge.id);
        return;
      }
      case 'ChannelLeftBridge': {
        const call = this.live(ev.channel?.id);
        if (call && ev.bridge && call.bridgeId === ev.bridge.id) delete call.bridgeId;
        if (ev.bridge && ev.bridge.channels?.length === 0) this.destroyBridge(ev.bridge.id);
        return;
      }
      case 'PlaybackFinished':
        if (ev.playback) this.playbackFinished(ev.playback.id, ev.playback.state);
        return;
      case 'EndpointStateChange':
        if (ev.endpoint)
          this.endpointState(
            `${ev.endpoint.technology}/${ev.endpoint.resource}`,
            ev.endpoint.state === 'online',
          );
        return;
      default:
        // Dozens of other event types (varsets, dialplan steps, other apps' traffic): not ours.
        return;
    }
  }

  /**
   * Takes over a channel we have no record of: a caller in the application (User Originated),
   * or a call of ours an earlier process placed. Anything else is not ours: undefined.
   * `announce`: report what happened to it (call.incoming, call.answered), as its events would.
   */
  private adopt(ch: AriChannelJson, announce = false): Call | undefined {
    const args = this.stasisArgs(ch);
    const inbound = args?.[0] === 'inbound' ? args : undefined;
    if (inbound) {
      const call = this.track(ch.id, 'customer', 'answered');
      const digits = inbound[1] ?? '';
      call.inbound = { from: ch.caller?.number ?? '', ...(digits ? { digits } : {}) };
      // The access-number dialplan answers; one that does not leaves the caller ringing.
      if (ch.state !== 'Up')
        this.rest('channels.answer', (c) => c.channels.answer({ channelId: ch.id })).catch(
          (err: unknown) => {
            this.log.warn({ err: errText(err), callId: ch.id }, 'could not answer an inbound call');
          },
        );
      this.log.info({ callId: ch.id, digits: !!digits }, 'inbound call');
      if (announce) this.emit({ type: 'call.incoming', callId: ch.id, ...call.inbound });
      return call;
    }
    const m = DIALBACK_CALL_ID.exec(ch.id);
    if (!m) return undefined;
    const phase: Phase = ch.state === 'Up' ? 'up' : ch.state === 'Ringing' ? 'ringing' : 'dialling';
    const call = this.track(ch.id, m[2] === 'a' ? 'agent' : 'customer', phase);
    call.originated = true;
    this.log.info({ callId: ch.id, state: ch.state }, 'adopted a call of an earlier run');
    if (args) {
      if (announce) this.answered(call, args);
      else call.phase = 'answered';
    }
    return call;
  }

  /**
   * A channel we have no record of is ours only where it stands in our application or our AMD
   * dialplan: another application on the same Asterisk may use ids of the same form, and a
   * channel still ringing shows nothing of who placed it (if it is answered, it comes to us).
   */
  private provablyOurs(ch: AriChannelJson): boolean {
    return this.stasisArgs(ch) !== undefined || ch.dialplan?.context === this.amdContext;
  }

  /** The Stasis args of a channel in our application, undefined when it is not in it. */
  private stasisArgs(ch: AriChannelJson): string[] | undefined {
    if (ch.dialplan?.app_name !== 'Stasis') return undefined;
    const [app, ...args] = (ch.dialplan.app_data ?? '').split(',');
    return app === this.opts.app ? args : undefined;
  }

  private inboundArgs(ch: AriChannelJson): boolean {
    return this.stasisArgs(ch)?.[0] === 'inbound';
  }

  private ringing(call: Call): void {
    if (call.phase !== 'dialling') return;
    call.phase = 'ringing';
    this.emit({ type: 'call.ringing', callId: call.callId });
  }

  private answered(call: Call, args: readonly string[]): void {
    if (call.phase === 'answered' || call.phase === 'ended') return;
    if (args[0] === 'amd') {
      const status = parseAmdStatus(args[1]);
      if (status === 'HANGUP') {
        // AMD heard the far end hang up: the port reports that as a plain end.
        this.finish(call, Q850.normalClearing);
        void this.rest('channels.hangup', (c) =>
          c.channels.hangup({ channelId: call.callId }),
        ).catch((err: unknown) => {
          if (classifyRestError(err) !== 'not-found')
            this.log.warn(
              { err: errText(err), callId: call.callId },
              'hang-up after AMD HANGUP failed',
            );
        });
        return;
      }
      call.phase = 'answered';
      this.emit({
        type: 'call.answered',
        callId: call.callId,
        ...(status ? { amd: status } : { amd: 'NOTSURE' as const }),
        ...(args[2] ? { amdCause: args[2] } : {}),
      });
      return;
    }
    call.phase = 'answered';
    this.emit({ type: 'call.answered', callId: call.callId });
  }

  /** The call is gone: one call.ended (it was live, or we hung up) or call.failed (never connected). */
  private finish(call: Call, cause: number | undefined, vanished = false): void {
    if (call.phase === 'ended') return;
    const wasLive = call.phase === 'up' || call.phase === 'answered' || call.hungUpByUs;
    call.phase = 'ended';
    delete call.bridgeId;
    const loop = this.loops.get(call.callId);
    if (loop) this.loops.delete(call.callId);
    if (call.leg === 'agent') this.dropPrepared(call.callId);
    if (wasLive) {
      this.emit({ type: 'call.ended', callId: call.callId, ...(cause ? { cause } : {}) });
    } else {
      const failure =
        vanished && !cause && !call.dialStatus ? 'failed' : dialFailure(cause, call.dialStatus);
      this.emit({ type: 'call.failed', callId: call.callId, failure, ...(cause ? { cause } : {}) });
    }
    this.forgetOldCalls();
  }

  private checkJoin(bridgeId: string): void {
    const join = this.joins.get(bridgeId);
    if (!join) return;
    if (!join.callIds.every((id) => this.calls.get(id)?.bridgeId === bridgeId)) return;
    this.joins.delete(bridgeId);
    this.emit({ type: 'bridge.joined', bridgeId, callIds: [...join.callIds] });
  }

  private async verifyJoin(bridgeId: string): Promise<void> {
    const join = this.joins.get(bridgeId);
    if (!join || !this.up) return;
    try {
      const b = (await this.rest('bridges.get', (c) => c.bridges.get({ bridgeId }))) as {
        channels?: unknown;
      };
      const members = Array.isArray(b.channels) ? b.channels : [];
      for (const id of join.callIds) {
        const call = this.live(id);
        if (call && members.includes(id)) call.bridgeId = bridgeId;
      }
      this.checkJoin(bridgeId);
    } catch (err) {
      this.log.warn({ err: errText(err), bridgeId }, 'could not verify a bridge join');
    }
  }

  /** An empty bridge of ours would stay in Asterisk forever: remove it. */
  private destroyBridge(bridgeId: string): void {
    if (!this.ownBridges.delete(bridgeId)) return;
    this.rest('bridges.destroy', (c) => c.bridges.destroy({ bridgeId })).catch((err: unknown) => {
      if (classifyRestError(err) !== 'not-found')
        this.log.warn({ err: errText(err), bridgeId }, 'could not remove an empty bridge');
    });
  }

  private endpointState(endpoint: string, available: boolean): void {
    const agentId = this.agentByEndpoint.get(endpoint);
    if (!agentId || this.presence.get(agentId) === available) return;
    this.presence.set(agentId, available);
    this.emit({ type: 'agent.presence', agentId, available });
  }

  // ---- treatments ------------------------------------------------------------------------------

  private async startPlayback(loop: PlaybackLoop): Promise<void> {
    loop.playbackId = `${loop.callId}-pb${loop.seq}`;
    await this.rest('channels.play', (c) =>
      c.channels.play({ channelId: loop.callId, media: loop.media, playbackId: loop.playbackId }),
    );
  }

  private playbackFinished(playbackId: string, state: string | undefined): void {
    const loop = [...this.loops.values()].find((l) => l.playbackId === playbackId);
    if (!loop || this.calls.get(loop.callId)?.phase !== 'answered') return;
    if (state === 'failed') {
      if (loop.media === this.fallbackMedia) {
        this.log.warn({ callId: loop.callId }, 'fallback treatment failed too: stopping the loop');
        this.loops.delete(loop.callId);
        return;
      }
      this.log.warn({ callId: loop.callId, media: loop.media }, 'treatment failed: falling back');
      loop.media = this.fallbackMedia;
    }
    loop.seq++;
    this.startPlayback(loop).catch((err: unknown) => {
      this.log.warn({ err: errText(err), callId: loop.callId }, 'treatment could not restart');
    });
  }

  /** After a reconnect the PlaybackFinished may have been lost: restart a loop that stopped. */
  private async resumeLoop(loop: PlaybackLoop): Promise<void> {
    try {
      await this.rest('playbacks.get', (c) => c.playbacks.get({ playbackId: loop.playbackId }));
    } catch (err) {
      if (classifyRestError(err) !== 'not-found') throw err;
      if (this.loops.get(loop.callId) !== loop) return;
      loop.seq++;
      await this.startPlayback(loop);
    }
  }

  private async stopPlaybackId(playbackId: string): Promise<void> {
    try {
      await this.rest('playbacks.stop', (c) => c.playbacks.stop({ playbackId }));
    } catch (err) {
      if (classifyRestError(err) !== 'not-found') throw this.commandError('stopPlayback', err);
    }
  }

  // ---- helpers ---------------------------------------------------------------------------------

  private async originate(call: Call, params: Record<string, unknown>): Promise<void> {
    try {
      await this.rest('channels.originate', (c) => c.channels.originate(params));
      call.originated = true;
    } catch (err) {
      const kind = classifyRestError(err);
      switch (kind) {
        case 'exists':
          // Asterisk answers 409 for a live channel with this id: the call exists (placed by an
          // earlier run of ours); follow it instead of placing another.
          this.log.warn({ callId: call.callId }, 'channel id already live: following it');
          call.phase = 'up';
          call.originated = true;
          this.later(0, () => void this.refresh(call));
          return;
        case 'transport':
          // The call may or may not exist: keep it and let a fresh look decide.
          this.log.warn({ err: errText(err), callId: call.callId }, 'originate outcome unknown');
          this.later(this.requestTimeoutMs, () => void this.refresh(call));
          return;
        case 'allocation':
        case 'not-found':
          this.log.warn({ err: errText(err), callId: call.callId }, 'endpoint refused by Asterisk');
          this.later(0, () => this.finish(call, Q850.unallocatedNumber));
          return;
        case 'not-in-stasis':
        case 'http':
          this.log.warn({ err: errText(err), callId: call.callId }, 'originate refused');
          this.later(0, () => this.finish(call, undefined));
          return;
      }
    }
  }

  /** One call's state from Asterisk, for when its events may not come. */
  private async refresh(call: Call): Promise<void> {
    if (call.phase === 'ended' || !this.up) return;
    try {
      const ch = asChannel(
        await this.rest('channels.get', (c) => c.channels.get({ channelId: call.callId })),
      );
      if (ch.dialplan?.app_name === 'Stasis' && call.phase !== 'answered')
        this.answered(call, (ch.dialplan.app_data ?? '').split(',').slice(1));
    } catch (err) {
      if (classifyRestError(err) === 'not-found') this.finish(call, call.hangupCause, true);
      else this.log.warn({ err: errText(err), callId: call.callId }, 'could not refresh a call');
    }
  }

  private async findBridgeOf(callId: string): Promise<string | undefined> {
    const bridges = asArray(await this.rest('bridges.list', (c) => c.bridges.list()));
    for (const b of bridges) {
      const bj = b as { id?: unknown; channels?: unknown };
      if (typeof bj.id === 'string' && Array.isArray(bj.channels) && bj.channels.includes(callId))
        return bj.id;
    }
    return undefined;
  }

  /** A REST call through ari-client, bounded by the request timeout. */
  private rest(op: string, fn: (client: AriRest) => Promise<unknown>): Promise<unknown> {
    const client = this.client;
    if (!client)
      return Promise.reject(new TelephonyError('TELEPHONY_DOWN', `${op}: not connected`));
    return this.withTimeout(op, fn(client), this.requestTimeoutMs);
  }

  private withTimeout<T>(op: string, p: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimer(this.clock.now() + ms, () => {
        reject(
          new TelephonyError('TELEPHONY_DOWN', `${op}: no answer from Asterisk within ${ms} ms`),
        );
      });
      p.then(
        (v) => {
          this.clock.clearTimer(timer);
          resolve(v);
        },
        (err: unknown) => {
          this.clock.clearTimer(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  private commandError(op: string, err: unknown): Error {
    if (err instanceof TelephonyError) return err;
    switch (classifyRestError(err)) {
      case 'not-found':
        return new TelephonyError('CALL_NOT_FOUND', `${op}: ${errText(err)}`);
      case 'not-in-stasis':
        return new TelephonyError('CALL_NOT_ANSWERED', `${op}: ${errText(err)}`);
      case 'transport':
        return new TelephonyError('TELEPHONY_DOWN', `${op}: ${errText(err)}`);
      default:
        return err instanceof Error ? err : new Error(`${op}: ${errText(err)}`);
    }
  }

  private ensureUp(op: string): void {
    if (!this.isReady())
      throw new TelephonyError(
        'TELEPHONY_DOWN',
        `${op}: ARI is ${this.started ? 'disconnected' : 'not started'}`,
      );
  }

  /** A second dial of a known id (live or ended) must never place a second call. */
  private isKnown(callId: string): boolean {
    if (!this.calls.has(callId)) return false;
    this.log.warn({ callId }, 'call id already dialled: no second call');
    return true;
  }

  private track(callId: string, leg: Call['leg'], phase: Phase = 'dialling'): Call {
    const call: Call = { callId, leg, phase, hungUpByUs: false, originated: phase !== 'dialling' };
    this.calls.set(callId, call);
    return call;
  }

  private live(callId: string | undefined): Call | undefined {
    if (!callId) return undefined;
    const c = this.calls.get(callId);
    if (!c || c.phase === 'ended') return undefined;
    c.originated = true;
    return c;
  }

  private forgetOldCalls(): void {
    if (this.calls.size <= MAX_REMEMBERED) return;
    for (const [id, c] of this.calls) {
      if (this.calls.size <= MAX_REMEMBERED * 0.9) break;
      if (c.phase === 'ended') this.calls.delete(id);
    }
  }

  /** Runs `fn` later on the clock (never inside the command that caused it); cancelled by stop(). */
  private later(delayMs: number, fn: () => void): void {
    const handle = this.clock.setTimer(this.clock.now() + delayMs, () => {
      this.pendingTimers.delete(handle);
      if (this.started) fn();
    });
    this.pendingTimers.add(handle);
  }

  private emit(event: UnstampedEvent): void {
    const e = { ...event, at: this.clock.now() } as TelephonyEvent;
    if (this.traceCalls) this.log.debug({ event: e }, 'telephony event');
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        this.log.error({ err, event: e.type }, 'telephony listener threw');
      }
    }
  }
}

function asRest(raw: AriClientInstance): AriRest {
  for (const r of ['channels', 'bridges', 'playbacks', 'endpoints', 'applications'])
    if (typeof raw[r] !== 'object' || raw[r] === null)
      throw new Error(`ari-client has no ${r} resource: is this an Asterisk ARI endpoint?`);
  return raw as unknown as AriRest;
}

function asArray(x: unknown): unknown[] {
  return Array.isArray(x) ? x : [];
}

/** Which bridge each channel is in, from a bridges.list answer. */
function bridgeMembership(bridges: unknown): Map<string, string> {
  const bridgeOf = new Map<string, string>();
  for (const b of asArray(bridges)) {
    const bj = b as { id?: unknown; channels?: unknown };
    if (typeof bj.id !== 'string' || !Array.isArray(bj.channels)) continue;
    for (const ch of bj.channels) if (typeof ch === 'string') bridgeOf.set(ch, bj.id);
  }
  return bridgeOf;
}

/** A StasisStart's args as the channel's app_data would show them. */
function stasisData(app: string, args: readonly string[] | undefined): string {
  return [app, ...(args ?? [])].join(',');
}

/** Plain data out of an ari-client Channel (or raw JSON): nothing vendor-made escapes. */
function asChannel(x: unknown): AriChannelJson {
  const o = (x ?? {}) as { id?: unknown; state?: unknown; dialplan?: unknown; caller?: unknown };
  const d = (o.dialplan ?? {}) as { context?: unknown; app_name?: unknown; app_data?: unknown };
  const c = (o.caller ?? {}) as { number?: unknown; name?: unknown };
  return {
    id: typeof o.id === 'string' ? o.id : '',
    ...(typeof o.state === 'string' ? { state: o.state } : {}),
    caller: {
      ...(typeof c.number === 'string' ? { number: c.number } : {}),
      ...(typeof c.name === 'string' ? { name: c.name } : {}),
    },
    dialplan: {
      ...(typeof d.context === 'string' ? { context: d.context } : {}),
      ...(typeof d.app_name === 'string' ? { app_name: d.app_name } : {}),
      ...(typeof d.app_data === 'string' ? { app_data: d.app_data } : {}),
    },
  };
}

/** `"Name" <number>` with anything that could break the header removed. */
export function formatCallerId(number?: string, name?: string): string | undefined {
  const num = (number ?? '').replace(/[^+0-9]/g, '');
  const nm = (name ?? '').replace(/["<>\\\r\n\t]/g, '').trim();
  if (!num && !nm) return undefined;
  return nm ? `"${nm}" <${num}>` : `<${num}>`;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
