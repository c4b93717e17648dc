// A typed wrapper over asterisk-manager 0.2.0 (the only module that imports it): login, reconnect
// with capped exponential backoff that never gives up, a timeout on every action, list actions
// collected from their events, and up/down notifications. Each connection attempt gets a fresh
// Manager object, so nothing from a dead socket (late events, a late 'close') reaches the next one.

import Manager from 'asterisk-manager';
import type { Clock, TimerHandle } from '../../clock';
import { DialbackError, assertNever } from '../../errors';
import type { Logger } from '../../logger';

/** A message as asterisk-manager parses it: lower-cased keys, repeated keys as arrays. */
export type AmiMessage = Readonly<Manager.Message>;

export interface AmiEvent {
  /** The `Event:` header as Asterisk spells it, e.g. `QueueSummary`. */
  readonly name: string;
  /** Set on events that answer a list action. */
  readonly actionId?: string;
  readonly fields: AmiMessage;
}

export type AmiActionFields = Record<string, string | number | undefined>;

export type AmiErrorCode =
  'AMI_LOGIN_FAILED' | 'AMI_TIMEOUT' | 'AMI_NOT_CONNECTED' | 'AMI_ACTION_FAILED' | 'AMI_CLOSED';

/** AMI trouble: telephony statistics are unavailable for now (503 if it ever reaches HTTP). */
export class AmiError extends DialbackError {
  constructor(
    readonly code: AmiErrorCode,
    message: string,
    /** The error response Asterisk sent, when there was one. */
    readonly response?: AmiMessage,
  ) {
    super('CallbackExceptionServiceUnavailable', message);
  }
}

export function isAmiError(e: unknown, code?: AmiErrorCode): e is AmiError {
  return e instanceof AmiError && (code === undefined || e.code === code);
}

/** The first value of a header (keys are matched case-insensitively). */
export function amiString(m: AmiMessage, key: string): string | undefined {
  const v = m[key.toLowerCase()];
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v[0];
  return undefined;
}

/** A header as a finite number, or undefined when absent or not numeric. */
export function amiNumber(m: AmiMessage, key: string): number | undefined {
  const s = amiString(m, key);
  if (s === undefined || s.trim() === '') return undefined;
  const n = Number(s.trim());
  return Number.isFinite(n) ? n : undefined;
}

export interface AmiClientOptions {
  host: string;
  port: number;
  username: string;
  secret: string;
  clock: Clock;
  logger: Logger;
  /** Default timeout of an action (a list action: until its completion event). */
  actionTimeoutMs?: number;
  /** Connect + login must finish within this, or the attempt counts as failed. */
  loginTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** A `Ping` this often detects a half-open socket (TCP alone may never notice); 0 disables. */
  pingIntervalMs?: number;
  /**
   * The unsolicited events the listeners act on. After every login Asterisk is asked (a
   * `Filter` action) to send only these: otherwise AMI sends every event of every channel, and
   * the AMD dialplan alone sets some thirty variables a call (1,720 events for 20 calls, of
   * which presence needed 120). Replies to actions, list events included, are not filtered. An
   * AMI user without the `system` write permission is refused the filter and gets every event,
   * as without this option.
   */
  events?: readonly string[];
}

export interface AmiClientEvents {
  /** Logged in (first time and after every reconnect). */
  up: () => void;
  /** The logged-in connection is gone; a reconnect is already scheduled unless closed. */
  down: (reason: string) => void;
  /** Every event Asterisk sends, list-action events included (they carry `actionId`). */
  event: (e: AmiEvent) => void;
}

type ConnState =
  | { kind: 'idle' }
  | { kind: 'connecting'; gen: number; manager: Manager.Instance; timer: TimerHandle }
  | { kind: 'up'; gen: number; manager: Manager.Instance; pingTimer?: TimerHandle }
  | { kind: 'waiting'; timer: TimerHandle }
  | { kind: 'closed' };

interface Pending {
  name: string;
  manager: Manager.Instance;
  timer: TimerHandle;
  reject: (e: AmiError) => void;
  onEvent?: (e: AmiEvent) => void;
}

export class AmiClient {
  private state: ConnState = { kind: 'idle' };
  private gen = 0;
  private nextActionId = 1;
  private failures = 0;
  private everUp = false;
  private startWaiter?: { resolve: () => void; reject: (e: AmiError) => void };
  private readonly pending = new Map<string, Pending>();
  private readonly listeners: { [K in keyof AmiClientEvents]: Set<AmiClientEvents[K]> } = {
    up: new Set(),
    down: new Set(),
    event: new Set(),
  };
  private readonly log: Logger;
  private readonly actionTimeoutMs: number;
  private readonly loginTimeoutMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly pingIntervalMs: number;

  constructor(private readonly opts: AmiClientOptions) {
    this.log = opts.logger.child({ component: 'ami', ami: `${opts.host}:${opts.port}` });
    this.actionTimeoutMs = opts.actionTimeoutMs ?? 5_000;
    this.loginTimeoutMs = opts.loginTimeoutMs ?? 5_000;
    this.backoffInitialMs = opts.backoffInitialMs ?? 500;
    this.backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    this.pingIntervalMs = opts.pingIntervalMs ?? 20_000;
  }

  /**
   * Connects and keeps connecting. Resolves at the first successful login; rejects only when
   * Asterisk refuses the credentials at that first login (a configuration error: retrying
   * cannot help) or when close() comes first. A refused or lost connection is retried forever.
   */
  start(): Promise<void> {
    if (this.state.kind !== 'idle') {
      return Promise.reject(new Error(`AMI client already ${this.state.kind}`));
    }
    return new Promise<void>((resolve, reject) => {
      this.startWaiter = { resolve, reject };
      this.connect();
    });
  }

  isReady(): boolean {
    return this.state.kind === 'up';
  }

  on<K extends keyof AmiClientEvents>(type: K, listener: AmiClientEvents[K]): () => void {
    const set = this.listeners[type] as Set<AmiClientEvents[K]>;
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /** Sends an action and resolves with its response; an `Error` response rejects. */
  action(
    name: string,
    fields: AmiActionFields = {},
    opts: { timeoutMs?: number } = {},
  ): Promise<AmiMessage> {
    return new Promise<AmiMessage>((resolve, reject) => {
      const id = this.send(name, fields, opts.timeoutMs, reject, undefined, (err, res) => {
        if (!this.settle(id)) return;
        if (err) reject(this.actionFailed(name, err));
        else resolve(res);
      });
    });
  }

  /**
   * Sends a list action (QueueSummary, QueueStatus, DeviceStateList…) and resolves with the
   * events that carry its ActionID, once `completeEvent` arrives. Asterisk answers such actions
   * with `Response: Success` + `EventList: start`: the response itself holds no figures.
   */
  listAction(
    name: string,
    fields: AmiActionFields,
    completeEvent: string,
    opts: { timeoutMs?: number } = {},
  ): Promise<AmiEvent[]> {
    const complete = completeEvent.toLowerCase();
    return new Promise<AmiEvent[]>((resolve, reject) => {
      const items: AmiEvent[] = [];
      let id = '';
      const onEvent = (e: AmiEvent): void => {
        if (e.name.toLowerCase() !== complete) {
          items.push(e);
          return;
        }
        if (this.settle(id)) resolve(items);
      };
      id = this.send(name, fields, opts.timeoutMs, reject, onEvent, (err, res) => {
        if (err) {
          if (this.settle(id)) reject(this.actionFailed(name, err));
          return;
        }
        // A success without a list announced means no events will follow.
        if (amiString(res, 'eventlist')?.toLowerCase() !== 'start' && this.settle(id)) {
          resolve(items);
        }
      });
    });
  }

  /** Stops for good: no reconnect; pending actions reject with AMI_CLOSED. */
  async close(): Promise<void> {
    const st = this.state;
    if (st.kind === 'closed') return;
    this.state = { kind: 'closed' };
    this.gen++;
    switch (st.kind) {
      case 'idle':
        break;
      case 'waiting':
        this.opts.clock.clearTimer(st.timer);
        break;
      case 'connecting':
        this.opts.clock.clearTimer(st.timer);
        this.dispose(st.manager);
        break;
      case 'up':
        if (st.pingTimer) this.opts.clock.clearTimer(st.pingTimer);
        this.dispose(st.manager);
        break;
      default:
        assertNever(st);
    }
    this.rejectPending('AMI_CLOSED', 'AMI client closed');
    this.startWaiter?.reject(new AmiError('AMI_CLOSED', 'AMI client closed before logging in'));
    this.startWaiter = undefined;
    if (st.kind === 'up') this.emitDown('closed');
    this.log.info('AMI client closed');
  }

  // ---- sending ---------------------------------------------------------------------------------

  /** Returns the ActionID, or '' when the action was rejected at once (not connected). */
  private send(
    name: string,
    fields: AmiActionFields,
    timeoutMs: number | undefined,
    reject: (e: AmiError) => void,
    onEvent: ((e: AmiEvent) => void) | undefined,
    onResponse: (err: AmiMessage | undefined, res: AmiMessage) => void,
  ): string {
    const st = this.state;
    // asterisk-manager would hold the action until the next login and send it then, long after
    // our timeout gave up on it: fail fast instead.
    if (st.kind !== 'up') {
      reject(new AmiError('AMI_NOT_CONNECTED', `AMI ${name}: not connected (${st.kind})`));
      return '';
    }
    const id = `dialback-${process.pid}-${this.nextActionId++}`;
    const ms = timeoutMs ?? this.actionTimeoutMs;
    const timer = this.opts.clock.setTimer(this.opts.clock.now() + ms, () => {
      if (!this.settle(id)) return;
      this.log.warn({ action: name, actionId: id, timeoutMs: ms }, 'AMI action timed out');
      reject(new AmiError('AMI_TIMEOUT', `AMI ${name} got no complete answer within ${ms} ms`));
    });
    this.pending.set(id, { name, manager: st.manager, timer, reject, onEvent });
    st.manager.action({ ...fields, action: name, actionid: id }, (err, res) => {
      if (!this.pending.has(id)) return;
      onResponse(err, res);
    });
    return id;
  }

  /** Forgets a pending action; false when it was already settled (timed out, dropped). */
  private settle(id: string): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    this.opts.clock.clearTimer(p.timer);
    p.manager.removeAllListeners(id);
    return true;
  }

  private actionFailed(name: string, err: AmiMessage): AmiError {
    const msg = amiString(err, 'message') ?? 'error response';
    return new AmiError('AMI_ACTION_FAILED', `AMI ${name} failed: ${msg}`, err);
  }

  private rejectPending(code: AmiErrorCode, why: string): void {
    for (const [id, p] of [...this.pending]) {
      this.settle(id);
      p.reject(new AmiError(code, `AMI ${p.name}: ${why}`));
    }
  }

  // ---- connection lifecycle --------------------------------------------------------------------

  private connect(): void {
    const gen = ++this.gen;
    const { host, port, username, secret, clock } = this.opts;
    // No port: asterisk-manager would otherwise connect and log in on its own, and its own
    // reconnect (keepConnected) logs with console.log and backs off in 10 s steps.
    const m = Manager(undefined, host, username, secret, true);
    m.on('managerevent', (raw) => {
      if (gen === this.gen) this.onRawEvent(raw as Manager.Message);
    });
    let socketError: string | undefined;
    m.on('close', () =>
      this.lost(gen, socketError ? `connection closed: ${socketError}` : 'connection closed'),
    );
    m.on('error', (err) => {
      socketError = err instanceof Error ? err.message : String(err);
      if (gen === this.gen) this.log.debug({ err }, 'AMI socket error');
    });
    const timer = clock.setTimer(clock.now() + this.loginTimeoutMs, () =>
      this.lost(gen, `no login within ${this.loginTimeoutMs} ms`),
    );
    this.state = { kind: 'connecting', gen, manager: m, timer };
    m.connect(port, host, () => {
      if (gen !== this.gen) {
        // The attempt was abandoned while the socket was still opening: close it now.
        m.disconnect();
        return;
      }
      m.login((err) => {
        if (gen !== this.gen) return;
        if (err) this.loginRefused(gen, err);
        else this.loggedIn(gen);
      });
    });
  }

  private loggedIn(gen: number): void {
    const st = this.state;
    if (st.kind !== 'connecting' || st.gen !== gen) return;
    this.opts.clock.clearTimer(st.timer);
    this.state = { kind: 'up', gen, manager: st.manager };
    this.failures = 0;
    this.everUp = true;
    this.log.info('AMI logged in');
    // Sent before the `up` listeners' own actions: Asterisk applies a session's actions in order.
    if (this.opts.events?.length) this.filterEvents(this.opts.events);
    this.armPing(gen);
    this.startWaiter?.resolve();
    this.startWaiter = undefined;
    for (const l of [...this.listeners.up]) this.safely('up', () => l());
  }

  private filterEvents(names: readonly string[]): void {
    this.action('Filter', { operation: 'Add', filter: `Event: (${names.join('|')})` }).then(
      () => this.log.debug({ events: names }, 'AMI sends only the events listened to'),
      (err: unknown) =>
        this.log.info(
          { err },
          'AMI refused the event filter: every event comes (the user needs the system write permission)',
        ),
    );
  }

  private loginRefused(gen: number, err: AmiMessage): void {
    const st = this.state;
    if (st.kind !== 'connecting' || st.gen !== gen) return;
    const why = amiString(err, 'message') ?? 'error response';
    const message = `AMI login as '${this.opts.username}' at ${this.opts.host}:${this.opts.port} refused: ${why}`;
    if (!this.everUp && this.startWaiter) {
      // Wrong credentials at boot are a configuration error: report it instead of retrying.
      this.opts.clock.clearTimer(st.timer);
      this.dispose(st.manager);
      this.gen++;
      this.state = { kind: 'closed' };
      this.log.error({ reason: why }, 'AMI login refused');
      this.startWaiter.reject(new AmiError('AMI_LOGIN_FAILED', message, err));
      this.startWaiter = undefined;
      return;
    }
    this.log.error({ reason: why }, 'AMI login refused after a reconnect; retrying');
    this.lost(gen, message);
  }

  /** The current attempt or connection is over: tell, clean up, and schedule the next try. */
  private lost(gen: number, reason: string): void {
    const st = this.state;
    if ((st.kind !== 'connecting' && st.kind !== 'up') || st.gen !== gen) return;
    this.gen++;
    if (st.kind === 'connecting') this.opts.clock.clearTimer(st.timer);
    if (st.kind === 'up' && st.pingTimer) this.opts.clock.clearTimer(st.pingTimer);
    this.dispose(st.manager);
    const delay = Math.min(
      this.backoffMaxMs,
      this.backoffInitialMs * 2 ** Math.min(this.failures, 30),
    );
    this.failures++;
    const timer = this.opts.clock.setTimer(this.opts.clock.now() + delay, () => {
      if (this.state.kind === 'waiting') this.connect();
    });
    this.state = { kind: 'waiting', timer };
    this.rejectPending('AMI_NOT_CONNECTED', `connection lost (${reason})`);
    if (st.kind === 'up') {
      this.log.warn({ reason, retryInMs: delay }, 'AMI connection lost');
      this.emitDown(reason);
    } else {
      this.log.warn({ reason, retryInMs: delay, failures: this.failures }, 'AMI connect failed');
    }
  }

  private armPing(gen: number): void {
    if (this.pingIntervalMs <= 0) return;
    const st = this.state;
    if (st.kind !== 'up' || st.gen !== gen) return;
    const { clock } = this.opts;
    st.pingTimer = clock.setTimer(clock.now() + this.pingIntervalMs, () => {
      this.action('Ping').then(
        () => this.armPing(gen),
        (err: unknown) => {
          if (isAmiError(err, 'AMI_TIMEOUT')) this.lost(gen, 'ping unanswered');
          else this.log.debug({ err }, 'AMI ping failed');
        },
      );
    });
  }

  private dispose(m: Manager.Instance): void {
    m.removeAllListeners();
    // A late socket error on a discarded connection must not throw as an unhandled 'error'.
    m.on('error', (err) => this.log.debug({ err }, 'AMI socket error after disconnect'));
    m.disconnect();
  }

  private emitDown(reason: string): void {
    for (const l of [...this.listeners.down]) this.safely('down', () => l(reason));
  }

  private onRawEvent(raw: Manager.Message): void {
    const name = raw.event;
    if (typeof name !== 'string') return;
    const actionId = typeof raw.actionid === 'string' ? raw.actionid : undefined;
    const e: AmiEvent = { name, actionId, fields: raw };
    if (actionId) this.pending.get(actionId)?.onEvent?.(e);
    for (const l of [...this.listeners.event]) this.safely('event', () => l(e));
  }

  /** A throwing listener must not break the socket reader or the other listeners. */
  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err, listener: what }, 'AMI listener threw');
    }
  }
}
