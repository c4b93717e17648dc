// Helpers for the end-to-end lab tests: the real service booted from docker/lab-config.yaml
// with test timings, a GMS client over fetch, an ARI observer that sees every channel and
// bridge of the lab Asterisk, ARI clean-up, and `sox stat` for the phones' recordings.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import YAML from 'yaml';
import { startService, type RunningService } from '../../src/cli';
import { resolveConfig } from '../../src/config';
import { createLogger, silentLogger } from '../../src/logger';
import { labStateFile, type LabState } from './lab-state';

const REPO = path.resolve(__dirname, '..', '..');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Short timings so that retries, ring timeouts and agent timeouts fit in a test. */
export const TEST_OPTIONS = {
  _call_timeguard_timeout: 8000,
  _dial_retry_timeout: 2,
  _max_dial_attempts: 2,
  _agent_reserve_timeout: 6,
  _user_confirm_timeout: 20,
  _max_transfer_to_agent_attempts: 3,
};

/** The group only agent-noanswer and agent1 serve (agent1 is in `support` too). */
export const NOANSWER_TARGET = 'e2e-noanswer';
export const SUPPORT_AGENTS = ['agent1', 'agent2', 'agent3', 'agent4'];

// ---- the service ---------------------------------------------------------------------------------

export interface E2eService {
  svc: RunningService;
  url: string;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * docker/lab-config.yaml with port 0 on loopback, a temp data dir, TEST_OPTIONS on every
 * service, two extra services (wait for an agent without confirmation; the no-answer group),
 * and agent-noanswer moved out of `support` so that only the test meant for it can reach it.
 */
export function e2eRawConfig(lab: LabState, dataDir: string): Record<string, unknown> {
  const raw = YAML.parse(fs.readFileSync(path.join(REPO, 'docker', 'lab-config.yaml'), 'utf8')) as {
    services: Record<string, Record<string, unknown>>;
    telephony: { ari: Record<string, unknown> } & Record<string, unknown>;
  } & Record<string, unknown>;
  const services: Record<string, Record<string, unknown>> = {};
  for (const [name, s] of Object.entries(raw.services)) services[name] = { ...s, ...TEST_OPTIONS };
  const now = raw.services['user-scheduled-now'];
  services['e2e-wait'] = {
    ...now,
    ...TEST_OPTIONS,
    _wait_for_agent: true,
    _wait_for_user_confirm: false,
  };
  services['e2e-noanswer'] = { ...now, ...TEST_OPTIONS, _target: NOANSWER_TARGET };
  return {
    ...raw,
    port: 0,
    host: '127.0.0.1',
    data_dir: dataDir,
    log_level: process.env.DIALBACK_LOG_LEVEL ?? 'error',
    telephony: {
      ...raw.telephony,
      ari: {
        ...raw.telephony.ari,
        url: lab.ari.url,
        username: lab.ari.username,
        password: lab.ari.password,
        app: lab.ari.app,
        amd_context: lab.asterisk.amdContext,
        amd_extension: lab.asterisk.amdExtension,
        reconnect_max_ms: 1000,
      },
    },
    // A handled call makes the agent ready again at once: the next test may need it.
    engine: { wrap_up_ms: 0 },
    services,
    agents: [
      { id: 'agent1', endpoint: 'PJSIP/agent1', groups: ['support', NOANSWER_TARGET] },
      ...SUPPORT_AGENTS.slice(1).map((id) => ({
        id,
        endpoint: `PJSIP/${id}`,
        groups: ['support'],
      })),
      { id: 'agent-noanswer', endpoint: 'PJSIP/agent-noanswer', groups: [NOANSWER_TARGET] },
    ].map((a) => ({ ...a, state: 'ready' })),
  };
}

/**
 * Starts the service on the lab. `tweak` may rewrite the raw config first (labRawConfig does,
 * for the benchmark and the fault tests on their own phones and ARI application).
 */
export async function startE2eService(
  lab: LabState,
  tweak?: (raw: Record<string, unknown>) => Record<string, unknown>,
): Promise<E2eService> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dialback-e2e-'));
  const raw = e2eRawConfig(lab, dataDir);
  const cfg = resolveConfig(tweak ? tweak(raw) : raw, {}, 'e2e lab test');
  const logger =
    cfg.logLevel === 'silent' ? silentLogger() : createLogger({ level: cfg.logLevel, name: 'e2e' });
  const svc = await startService(cfg, logger);
  return {
    svc,
    url: svc.url,
    dataDir,
    close: async () => {
      await svc.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---- the lab's own phones (bench/lab.ts, test/lab/ari-cut.test.ts) --------------------------

/**
 * The ARI application, AMD context, agent group and service of the runs on the `lab-customer-*`
 * and `lab-agent-*` phones. Their own application name: Asterisk gives an application one
 * websocket, so a second service on `dialback` would take the other lab tests' events away.
 */
export const LAB_APP = 'dialback-lab';
export const LAB_AMD_CONTEXT = 'dialback-lab-amd';
export const LAB_TARGET = 'lab-bench';
export const LAB_SERVICE = 'lab-now';

/** The lab phones whose name starts with `prefix`, in name order (from the state file). */
export function labPhones(lab: LabState, prefix: string): string[] {
  return Object.keys(lab.phones)
    .filter((n) => n.startsWith(prefix))
    .sort();
}

/**
 * Rewrites e2eRawConfig for a run on the lab's own phones: ARI application `dialback-lab`
 * (at `ariUrl`, e.g. a proxy, if given), the `agents` alone in group `lab-bench`, and the
 * service `lab-now` (Not Delayed, no confirmation, TEST_OPTIONS, target `lab-bench`).
 */
export function labRawConfig(
  agents: string[],
  opts: { ariUrl?: string; service?: Record<string, unknown> } = {},
): (raw: Record<string, unknown>) => Record<string, unknown> {
  return (raw) => {
    const telephony = raw.telephony as { ari: Record<string, unknown> } & Record<string, unknown>;
    const services = raw.services as Record<string, Record<string, unknown>>;
    return {
      ...raw,
      telephony: {
        ...telephony,
        ari: {
          ...telephony.ari,
          ...(opts.ariUrl ? { url: opts.ariUrl } : {}),
          app: LAB_APP,
          amd_context: LAB_AMD_CONTEXT,
        },
      },
      services: {
        [LAB_SERVICE]: {
          ...services['user-scheduled-now'],
          _target: LAB_TARGET,
          ...opts.service,
        },
      },
      agents: agents.map((id) => ({
        id,
        endpoint: `PJSIP/${id}`,
        groups: [LAB_TARGET],
        state: 'ready',
      })),
    };
  };
}

// ---- the GMS client ------------------------------------------------------------------------------

export type View = Record<string, unknown>;

export interface StreamMessage {
  seq: number;
  callbackId: string;
  service: string;
  kind: 'dialog' | 'status' | 'preview';
  data: Record<string, unknown>;
  at: number;
}

export interface AgentView {
  id: string;
  state: string;
  callbackId?: string;
  since: number;
}

async function body(res: Response, what: string, expect = 200): Promise<unknown> {
  const text = await res.text();
  if (res.status !== expect) throw new Error(`${what}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as unknown;
}

export class GmsClient {
  constructor(readonly base: string) {}

  /** POST as multipart, like the GMS sample client. */
  async create(service: string, fields: Record<string, string>): Promise<string> {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    const res = await fetch(`${this.base}/genesys/1/service/callback/${service}`, {
      method: 'POST',
      body: form,
    });
    const b = (await body(res, `create on ${service}`)) as { _id?: unknown };
    if (typeof b._id !== 'string') throw new Error(`create answered no _id: ${JSON.stringify(b)}`);
    return b._id;
  }

  async view(service: string, id: string): Promise<View> {
    const res = await fetch(`${this.base}/genesys/1/service/callback/${service}?_id=${id}`);
    const rows = (await body(res, `query ${id}`)) as View[];
    if (rows.length !== 1) throw new Error(`query ${id} answered ${rows.length} rows`);
    return rows[0];
  }

  /** Across services, by id; undefined when the engine does not know it. */
  async find(id: string): Promise<View | undefined> {
    const res = await fetch(`${this.base}/genesys/1/service/callback?_id=${id}`);
    const rows = (await body(res, `query ${id}`)) as View[];
    return rows[0];
  }

  async action(id: string, action: string): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.base}/genesys/1/service/${id}/${action}`, { method: 'POST' });
    return (await body(res, `${action} ${id}`)) as Record<string, unknown>;
  }

  async cancel(service: string, id: string): Promise<number> {
    const res = await fetch(`${this.base}/genesys/1/service/callback/${service}/${id}`, {
      method: 'DELETE',
    });
    await res.text();
    return res.status;
  }

  /** One long-poll of the callback's messages after `after`. */
  async poll(id: string, after: number, waitS: number): Promise<StreamMessage[]> {
    const res = await fetch(
      `${this.base}/genesys/1/service/${id}/events?mode=poll&after=${after}&wait=${waitS}`,
    );
    return ((await body(res, `poll ${id}`)) as { messages: StreamMessage[] }).messages;
  }

  async agents(): Promise<AgentView[]> {
    return (await body(await fetch(`${this.base}/dialback/1/agents`), 'agents')) as AgentView[];
  }

  async agent(id: string, command: 'sign-in' | 'sign-out' | 'ready' | 'not-ready'): Promise<void> {
    const res = await fetch(`${this.base}/dialback/1/agents/${id}/${command}`, { method: 'POST' });
    await body(res, `agent ${id} ${command}`);
  }

  async readyz(): Promise<number> {
    const res = await fetch(`${this.base}/readyz`, { signal: AbortSignal.timeout(2000) });
    await res.text();
    return res.status;
  }
}

/**
 * Follows one callback with long-polls, as a client without EventSource does, keeping every
 * message with the time it arrived here.
 */
export class CallbackWatch {
  readonly messages: Array<StreamMessage & { seenAt: number }> = [];
  private stopped = false;
  private readonly loop: Promise<void>;
  private error: Error | undefined;

  constructor(
    private readonly gms: GmsClient,
    readonly id: string,
    readonly createdAt: number,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let after = 0;
    let failures = 0;
    while (!this.stopped) {
      try {
        const got = await this.gms.poll(this.id, after, 2);
        failures = 0;
        const now = Date.now();
        for (const m of got) {
          if (m.seq <= after) continue;
          after = m.seq;
          this.messages.push({ ...m, seenAt: now });
        }
      } catch (err) {
        if (this.stopped) return;
        if (++failures > 5) {
          this.error = err as Error;
          return;
        }
        await sleep(200);
      }
    }
  }

  states(): string[] {
    return this.messages
      .filter((m) => m.kind === 'status')
      .map((m) => {
        const r = m.data._callback_reason;
        return `${String(m.data._callback_state)}${r ? `/${String(r)}` : ''}`;
      });
  }

  /** The first status message in `state`; its `at` is the engine's own time. */
  async waitState(state: string, timeoutMs: number): Promise<StreamMessage & { seenAt: number }> {
    return this.waitFor(
      (m) => m.kind === 'status' && m.data._callback_state === state,
      `${state} for ${this.id}`,
      timeoutMs,
    );
  }

  async waitFor(
    pred: (m: StreamMessage) => boolean,
    what: string,
    timeoutMs: number,
  ): Promise<StreamMessage & { seenAt: number }> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const m = this.messages.find(pred);
      if (m) return m;
      if (this.error) throw new Error(`watch of ${this.id} failed: ${this.error.message}`);
      if (Date.now() > until)
        throw new Error(
          `no ${what} within ${timeoutMs} ms; states seen: ${this.states().join(' → ')}`,
        );
      await sleep(25);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

export { firstSseEvent } from '../helpers/sse';

// ---- ARI: an observer and clean-up ---------------------------------------------------------------

export interface AriEvent {
  type: string;
  /** Asterisk's own timestamp, in ms. */
  at: number;
  channel?: { id: string; name?: string; state?: string };
  bridge?: { id: string; channels?: string[] };
  variable?: string;
  value?: string;
  cause?: number;
  playback?: { id: string; target_uri?: string };
}

/**
 * A second ARI application subscribed to every channel and bridge: it sees the engine's calls
 * (created, AMD variables, bridge entries, destruction) without touching them, and reconnects
 * by itself when Asterisk restarts. Not `subscribeAll`: that adds a device-state subscription,
 * and closing such a websocket while a device-state message is being dispatched deadlocks
 * Asterisk's ARI (asterisk/asterisk#2170, seen in this lab with 22.10.1).
 */
export class AriObserver {
  readonly events: AriEvent[] = [];
  private ws: WebSocket | undefined;
  private closed = false;
  private readonly app = `dialback-e2e-observer-${process.pid}`;

  constructor(private readonly lab: LabState) {}

  async open(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.connect(resolve, reject));
  }

  private connect(resolve?: () => void, reject?: (err: Error) => void): void {
    if (this.closed) return;
    const base = this.lab.ari.url.replace(/^http/, 'ws');
    const q = new URLSearchParams({
      app: this.app,
      api_key: `${this.lab.ari.username}:${this.lab.ari.password}`,
    });
    const ws = new WebSocket(`${base}/ari/events?${q.toString()}`);
    this.ws = ws;
    ws.on('open', () => {
      // `channel:` and `bridge:` without a name: all of them.
      this.subscribe(['channel:', 'bridge:']).then(
        () => resolve?.(),
        (err: unknown) => reject?.(err as Error),
      );
    });
    ws.on('message', (data) => {
      try {
        const ev = JSON.parse(String(data)) as Omit<AriEvent, 'at'> & { timestamp?: string };
        this.events.push({ ...ev, at: ev.timestamp ? Date.parse(ev.timestamp) : Date.now() });
      } catch {
        // not JSON: not an ARI event
      }
    });
    ws.on('error', (err) => {
      if (reject) reject(err);
      reject = undefined;
    });
    ws.on('close', () => {
      if (this.ws !== ws || this.closed) return;
      resolve = undefined;
      setTimeout(() => this.connect(), 250);
    });
  }

  private async subscribe(sources: string[]): Promise<void> {
    const auth = Buffer.from(`${this.lab.ari.username}:${this.lab.ari.password}`).toString(
      'base64',
    );
    // One parameter, comma-separated: ARI keeps only the last of repeated ones.
    const q = `eventSource=${sources.map((x) => encodeURIComponent(x)).join(',')}`;
    // The socket's `open` can come before Asterisk has registered the application it names: the
    // subscription then answers 404 for a moment (seen once in CI). The adapter reconnects and
    // subscribes again; the observer tries again for up to 2 s.
    const until = Date.now() + 2000;
    for (;;) {
      const res = await fetch(
        `${this.lab.ari.url}/ari/applications/${this.app}/subscription?${q}`,
        {
          method: 'POST',
          headers: { authorization: `Basic ${auth}` },
          signal: AbortSignal.timeout(3000),
        },
      );
      if (res.ok) return;
      if (res.status !== 404 || Date.now() >= until)
        throw new Error(`ARI subscription for ${this.app}: HTTP ${res.status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves once nothing has happened on the wire for `quietMs` (at most `timeoutMs`). */
  async quiet(quietMs: number, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let count = -1;
    let since = Date.now();
    while (Date.now() < until) {
      if (this.events.length !== count) {
        count = this.events.length;
        since = Date.now();
      } else if (Date.now() - since >= quietMs) return;
      await sleep(50);
    }
  }

  /** Distinct channel ids created that start with `prefix`. */
  channelsCreated(prefix: string): string[] {
    const ids = this.events
      .filter((e) => e.type === 'ChannelCreated' && e.channel?.id.startsWith(prefix))
      .map((e) => (e.channel as { id: string }).id);
    return [...new Set(ids)];
  }

  /** The channel's name as Asterisk gave it (e.g. `PJSIP/agent1-0000001a`). */
  channelName(id: string): string | undefined {
    return this.events.find((e) => e.channel?.id === id && e.channel.name)?.channel?.name;
  }

  first(pred: (e: AriEvent) => boolean): AriEvent | undefined {
    return this.events.find(pred);
  }

  async waitFor(pred: (e: AriEvent) => boolean, timeoutMs: number): Promise<AriEvent> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const e = this.events.find(pred);
      if (e) return e;
      if (Date.now() > until) throw new Error(`no such ARI event within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  waitDestroyed(channelId: string, timeoutMs: number): Promise<AriEvent> {
    return this.waitFor(
      (e) => e.type === 'ChannelDestroyed' && e.channel?.id === channelId,
      timeoutMs,
    ).catch(() => {
      throw new Error(`channel ${channelId} was not destroyed within ${timeoutMs} ms`);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
    }
  }
}

/**
 * From AMD's verdict on the customer leg (the AMDSTATUS ChannelVarset) to the second leg
 * entering the callback's bridge `<id>-b`, on Asterisk's clock; undefined until both happened.
 */
export function verdictToBridgeMs(
  observer: AriObserver,
  id: string,
  customer = `${id}-c1`,
): number | undefined {
  const verdict = observer.first(
    (e) => e.type === 'ChannelVarset' && e.channel?.id === customer && e.variable === 'AMDSTATUS',
  );
  const entered = observer.events.filter(
    (e) => e.type === 'ChannelEnteredBridge' && e.bridge?.id === `${id}-b`,
  );
  if (!verdict || entered.length < 2) return undefined;
  return Math.max(...entered.map((e) => e.at)) - verdict.at;
}

export class AriRest {
  private readonly auth: string;

  constructor(private readonly lab: LabState) {
    this.auth = Buffer.from(`${lab.ari.username}:${lab.ari.password}`).toString('base64');
  }

  async request(method: string, p: string): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.lab.ari.url}/ari${p}`, {
      method,
      headers: { authorization: `Basic ${this.auth}` },
      signal: AbortSignal.timeout(3000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  /** Hangs up one channel; 404 (already gone) is fine. */
  async hangup(channelId: string): Promise<number> {
    return (await this.request('DELETE', `/channels/${encodeURIComponent(channelId)}`)).status;
  }

  async channelIds(): Promise<string[]> {
    const r = await this.request('GET', '/channels');
    return (r.body as Array<{ id: string }>).map((c) => c.id);
  }

  async bridgeIds(): Promise<string[]> {
    const r = await this.request('GET', '/bridges');
    return (r.body as Array<{ id: string }>).map((b) => b.id);
  }

  /** Hangs up every channel and removes every bridge whose id starts with one of `prefixes`. */
  async cleanup(prefixes: Iterable<string>): Promise<string[]> {
    const ps = [...prefixes];
    const removed: string[] = [];
    if (ps.length === 0) return removed;
    const mine = (id: string): boolean => ps.some((p) => id.startsWith(p));
    for (const id of (await this.channelIds()).filter(mine)) {
      await this.hangup(id);
      removed.push(id);
    }
    for (const id of (await this.bridgeIds()).filter(mine)) {
      await this.request('DELETE', `/bridges/${encodeURIComponent(id)}`);
      removed.push(id);
    }
    return removed;
  }
}

// ---- the phones ---------------------------------------------------------------------------------

/**
 * A baresip ctrl_tcp command (netstring-framed JSON), e.g. `hangup`, or `dial` with the URI as
 * `params`; resolves with the phone's answer.
 */
export function phoneCommand(
  ctrlPort: number,
  command: string,
  params = '',
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(ctrlPort, '127.0.0.1');
    const json = JSON.stringify({ command, params, token: `e2e-${Date.now()}` });
    let buf = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`phone on ${ctrlPort}: no answer to ${command}`));
    }, 3000);
    socket.on('connect', () => socket.write(`${Buffer.byteLength(json)}:${json},`));
    socket.on('data', (d) => {
      buf += d.toString();
      // Several netstrings may arrive (events, then the response): take the response.
      for (;;) {
        const colon = buf.indexOf(':');
        if (colon < 0) return;
        const len = Number(buf.slice(0, colon));
        if (buf.length < colon + 1 + len + 1) return;
        const msg = JSON.parse(buf.slice(colon + 1, colon + 1 + len)) as Record<string, unknown>;
        buf = buf.slice(colon + 1 + len + 1);
        if (msg.response === true) {
          clearTimeout(timer);
          socket.end();
          resolve(msg);
          return;
        }
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** A lab phone's ctrl_tcp port from the state file. */
export function ctrlPortOf(phone: string): number {
  const raw = JSON.parse(fs.readFileSync(labStateFile(), 'utf8')) as {
    phones: Record<string, { ctrlPort?: number | null }>;
  };
  const port = raw.phones[phone]?.ctrlPort;
  if (!port) throw new Error(`lab phone ${phone} has no ctrl_tcp port in ${labStateFile()}`);
  return port;
}

// ---- recordings ----------------------------------------------------------------------------------

/** Where a lab phone writes what it heard (rewritten on each call). */
export function recordingOf(phone: string): string {
  const raw = JSON.parse(fs.readFileSync(labStateFile(), 'utf8')) as {
    phones: Record<string, { recording?: string | null }>;
  };
  const rec = raw.phones[phone]?.recording;
  if (!rec) throw new Error(`lab phone ${phone} has no recording path in ${labStateFile()}`);
  return rec;
}

export interface AudioStat {
  maxAmplitude: number;
  rms: number;
  seconds: number;
}

/** `sox FILE -n stat` (it reports on stderr). */
export function soxStat(file: string): Promise<AudioStat> {
  return new Promise((resolve, reject) => {
    execFile('sox', [file, '-n', 'stat'], { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err) return reject(new Error(`sox ${file}: ${err.message} ${stderr}`));
      const num = (label: string): number => {
        const m = new RegExp(`^${label}:\\s+(-?[0-9.]+)`, 'm').exec(stderr);
        if (!m) throw new Error(`sox stat of ${file} has no "${label}": ${stderr}`);
        return Number(m[1]);
      };
      try {
        resolve({
          maxAmplitude: num('Maximum amplitude'),
          rms: num('RMS\\s+amplitude'),
          seconds: num('Length \\(seconds\\)'),
        });
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

/** Runs a command to its end; resolves with its exit code and output. */
export function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, cwd: REPO }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

export const REPO_ROOT = REPO;

/**
 * After a lab test, whatever it left: cancels its callbacks still open, hangs up their calls in
 * Asterisk, and makes every agent ready again; then lets the phones settle (baresip carries one
 * call at a time). Clean-up failures are reported, not thrown.
 */
export async function resetLab(
  gms: GmsClient,
  ari: AriRest,
  created: Iterable<string>,
): Promise<void> {
  const warn = (err: unknown) => console.warn('lab clean-up:', String(err));
  for (const id of created) {
    const v = await gms.find(id).catch(warn);
    if (v && v._callback_state !== 'COMPLETED')
      await gms.cancel(String(v._service_name), id).catch(warn);
  }
  await ari.cleanup(created).catch(warn);
  for (const a of await gms.agents())
    if (a.state === 'not-ready' || a.state === 'signed-out') {
      if (a.state === 'signed-out') await gms.agent(a.id, 'sign-in');
      await gms.agent(a.id, 'ready');
    }
  await sleep(500);
}
