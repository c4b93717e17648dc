// A fake Asterisk for the ARI adapter's unit tests, in the manner of node-ari-client's own test
// helpers: an HTTP server on 127.0.0.1 serving the recorded api-docs (ari-client loads them
// first), the REST endpoints the adapter calls, and a websocket at /ari/events that replays the
// recorded events of test/fixtures/ari/*.json with the fixture's ids swapped for the test's.
// As in Asterisk without subscribeAll, a socket gets events only once its app has subscribed
// (POST /ari/applications/{app}/subscription), and a new socket starts unsubscribed.
// Faults on demand: REST that never answers, dropped or refused websockets, channels that vanish.

import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'ari');

interface WsClient {
  send(data: string): void;
  terminate(): void;
  on(event: 'close', fn: () => void): unknown;
}
interface WsServer {
  handleUpgrade(
    req: http.IncomingMessage,
    socket: Socket,
    head: Buffer,
    cb: (ws: WsClient) => void,
  ): void;
  close(): void;
}
type WsServerCtor = new (opts: { noServer: true }) => WsServer;
// `ws` as ari-client ships it (there is no @types/ws here): typed by the interfaces above.
const wsModule = createRequire(createRequire(__filename).resolve('ari-client'))('ws') as {
  Server: WsServerCtor;
};

export type Json = Record<string, unknown>;

/** What the far end of an endpoint does, from a recorded scenario. */
export interface EndpointScript {
  /** Fixture file (without .json) whose events are replayed. */
  fixture: string;
  /** The id the fixture's channel has (e.g. `fixture-human`). */
  fixtureId: string;
  /** Stop replaying after this event type (the recording's own hang-up is not replayed). */
  until?: string;
  /** Hold the final ChannelDestroyed until the originate `timeout` is over, like Asterisk. */
  destroyAtTimeout?: boolean;
}

/** The scripts matching the lab's phones. */
export const LAB_SCRIPTS: Record<string, EndpointScript> = {
  'PJSIP/7001': { fixture: 'human', fixtureId: 'fixture-human', until: 'StasisStart' },
  'PJSIP/7002': { fixture: 'machine', fixtureId: 'fixture-machine', until: 'StasisStart' },
  'PJSIP/7003': { fixture: 'busy', fixtureId: 'fixture-busy' },
  'PJSIP/7004': { fixture: 'silent', fixtureId: 'fixture-silent', until: 'StasisStart' },
  'PJSIP/7005': { fixture: 'absent', fixtureId: 'fixture-absent', destroyAtTimeout: true },
  'PJSIP/agent1': { fixture: 'human', fixtureId: 'fixture-human', until: 'StasisStart' },
  'PJSIP/agent2': { fixture: 'human', fixtureId: 'fixture-human', until: 'StasisStart' },
  'PJSIP/agent-noanswer': {
    fixture: 'noanswer',
    fixtureId: 'fixture-noanswer',
    destroyAtTimeout: true,
  },
};

interface FakeChannel {
  json: Json;
  timers: NodeJS.Timeout[];
  inStasis: boolean;
  bridgeId?: string;
}

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
}

export class FakeAri {
  readonly channels = new Map<string, FakeChannel>();
  readonly bridges = new Map<string, Set<string>>();
  readonly playbacks = new Map<string, { channelId: string; timer: NodeJS.Timeout }>();
  readonly requests: FakeRequest[] = [];
  /** The query of every websocket handshake accepted. */
  readonly websocketQueries: URLSearchParams[] = [];
  /** Every REST request (not the api-docs) hangs without an answer while true. */
  hangRest = false;
  /** Every event is sent twice, as Asterisk does for an app subscribed to `endpoint:PJSIP`. */
  repeatEvents = false;
  /** Subscription requests fail (500) while true. */
  refuseSubscriptions = false;
  /** Websocket upgrades are refused while true. */
  refuseWebsockets = false;
  /** Event filters are refused (404), as by an Asterisk before 13.26 and 16.3, while true. */
  refuseEventFilters = false;
  /** Each app's allowed event types (PUT eventFilter); none or empty: every type is sent. */
  readonly eventFilters = new Map<string, Set<string>>();
  /** Gap between replayed events. */
  eventGapMs = 2;
  /** How long a played sound lasts before PlaybackFinished. */
  playbackMs = 40;
  /** Sounds that "do not exist": their playback finishes at once with state failed. */
  readonly missingMedia = new Set<string>();
  readonly endpointStates = new Map<string, string>();

  private server: http.Server;
  private wss: WsServer;
  /** Open websockets, each with its app and whether that app has subscribed since it opened. */
  private readonly sockets = new Map<WsClient, { app: string; subscribed: boolean }>();
  private readonly tcp = new Set<Socket>();
  private readonly hung = new Set<http.ServerResponse>();
  private readonly docs = new Map<string, string>();
  private port = 0;

  constructor(readonly scripts: Record<string, EndpointScript> = LAB_SCRIPTS) {
    this.server = http.createServer((req, res) => this.onRequest(req, res));
    this.wss = new wsModule.Server({ noServer: true });
    this.server.on('connection', (s: Socket) => {
      this.tcp.add(s);
      s.on('close', () => this.tcp.delete(s));
    });
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (this.refuseWebsockets || url.pathname !== '/ari/events') {
        socket.destroy();
        return;
      }
      this.websocketQueries.push(url.searchParams);
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.sockets.set(ws, { app: url.searchParams.get('app') ?? '', subscribed: false });
        ws.on('close', () => this.sockets.delete(ws));
      });
    });
    for (const f of fs.readdirSync(path.join(FIXTURES, 'api-docs')))
      this.docs.set(f, fs.readFileSync(path.join(FIXTURES, 'api-docs', f), 'utf8'));
    for (const ep of Object.keys(scripts)) {
      const [tech, res] = ep.split('/');
      if (tech && res) this.endpointStates.set(ep, 'online');
    }
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const c of this.channels.values()) c.timers.forEach(clearTimeout);
    for (const p of this.playbacks.values()) clearTimeout(p.timer);
    for (const ws of this.sockets.keys()) ws.terminate();
    for (const r of this.hung) r.destroy();
    for (const s of this.tcp) s.destroy();
    this.wss.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Number of websockets currently open. */
  socketCount(): number {
    return this.sockets.size;
  }

  /** Cuts every websocket (as when Asterisk goes away). */
  dropWebsockets(): void {
    for (const ws of this.sockets.keys()) ws.terminate();
  }

  /** Answers the REST requests held while `hangRest` was true. */
  releaseHung(): void {
    for (const r of this.hung) r.destroy();
    this.hung.clear();
  }

  /** A channel disappears without any event reaching the application (e.g. while it was down). */
  vanish(channelId: string): boolean {
    const c = this.channels.get(channelId);
    if (!c) return false;
    c.timers.forEach(clearTimeout);
    this.leaveBridge(channelId, false);
    this.channels.delete(channelId);
    return true;
  }

  /**
   * A caller reaches the access number: the dialplan (answered unless `answered` is false)
   * hands the channel to the app with `inbound,<digits>`, as docker/asterisk/extensions.conf does.
   * With `silently`, the channel is left in the app without any event (as if the socket was down).
   */
  incoming(
    channelId: string,
    opts: { from: string; digits?: string; answered?: boolean; app?: string; silently?: boolean },
  ): void {
    const args = ['inbound', opts.digits ?? ''];
    const json: Json = {
      id: channelId,
      name: `PJSIP/${opts.from}-00000009`,
      state: opts.answered === false ? 'Ring' : 'Up',
      caller: { name: '', number: opts.from },
      dialplan: {
        context: 'dialback-access',
        exten: '8000',
        priority: 3,
        app_name: 'Stasis',
        app_data: [opts.app ?? 'dialback', ...args].join(','),
      },
    };
    this.channels.set(channelId, { json, timers: [], inStasis: true });
    // Asterisk sends a StasisStart only to the application the channel entered.
    const ours = (opts.app ?? 'dialback') === 'dialback';
    if (ours && !opts.silently) this.broadcast({ type: 'StasisStart', args, channel: json });
  }

  /**
   * A live channel of the given id, placed by someone earlier (e.g. a previous process) and
   * left where it is: in an app (`inStasis`, app `dialback` unless `app`), in the AMD
   * dialplan (`inAmd`), or else ringing.
   */
  addChannel(
    channelId: string,
    opts: { inStasis?: boolean; inAmd?: boolean; app?: string; appArgs?: string[] },
  ): void {
    const app = opts.app ?? 'dialback';
    const json: Json = {
      id: channelId,
      name: `PJSIP/7001-0000000a`,
      state: opts.inStasis || opts.inAmd ? 'Up' : 'Ringing',
      caller: { name: '', number: '7001' },
      dialplan: opts.inStasis
        ? {
            context: app === 'dialback' ? 'dialback-amd' : `${app}-amd`,
            exten: 's',
            priority: 2,
            app_name: 'Stasis',
            app_data: [app, ...(opts.appArgs ?? ['dial'])].join(','),
          }
        : opts.inAmd
          ? { context: 'dialback-amd', exten: 's', priority: 1, app_name: 'AMD', app_data: '' }
          : { context: 'dialback-inbound', exten: 's', priority: 1, app_name: '', app_data: '' },
    };
    this.channels.set(channelId, { json, timers: [], inStasis: !!opts.inStasis });
  }

  /** The far end of a live channel hangs up. */
  remoteHangup(channelId: string): boolean {
    const c = this.channels.get(channelId);
    if (!c) return false;
    this.hangupChannel(c, 16);
    return true;
  }

  originates(channelId: string): number {
    return this.requests.filter(
      (r) =>
        r.method === 'POST' && r.path === '/ari/channels' && r.query.get('channelId') === channelId,
    ).length;
  }

  /** The eventSource of every subscription request, in order. */
  subscriptions(): string[] {
    return this.requests
      .filter(
        (r) => r.method === 'POST' && /^\/ari\/applications\/[^/]+\/subscription$/.test(r.path),
      )
      .map((r) => r.query.getAll('eventSource').join('&'));
  }

  /** Sends an event to every open websocket whose app has subscribed. */
  broadcast(event: Json): void {
    const text = JSON.stringify({
      application: 'dialback',
      timestamp: new Date().toISOString(),
      ...event,
    });
    const type = String(event.type);
    for (const [ws, s] of this.sockets) {
      const allowed = this.eventFilters.get(s.app);
      if (allowed?.size && !allowed.has(type)) continue;
      if (s.subscribed) for (let i = this.repeatEvents ? 2 : 1; i > 0; i--) ws.send(text);
    }
  }

  // ---- HTTP --------------------------------------------------------------------------------------

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const docs = /^\/ari\/api-docs\/([A-Za-z]+\.json)$/.exec(url.pathname);
    if (method === 'GET' && docs?.[1] && this.docs.has(docs[1])) {
      // Asterisk writes its own address into basePath: ari-client calls whatever it says.
      const body = (this.docs.get(docs[1]) ?? '').replace(
        /"basePath":\s*"[^"]*"/,
        `"basePath":"${this.url}/ari"`,
      );
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      return;
    }
    this.requests.push({ method, path: url.pathname, query: url.searchParams });
    if (this.hangRest) {
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const [status, body] = this.route(
        method,
        url.pathname,
        url.searchParams,
        Buffer.concat(chunks).toString('utf8'),
      );
      if (body === undefined) res.writeHead(status).end();
      else res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  }

  private route(method: string, p: string, q: URLSearchParams, text = ''): [number, unknown] {
    const m = (re: RegExp): string[] | undefined => {
      const r = re.exec(p);
      return r ? r.slice(1).map(decodeURIComponent) : undefined;
    };
    let a: string[] | undefined;
    if (method === 'POST' && (a = m(/^\/ari\/applications\/([^/]+)\/subscription$/)))
      return this.subscribe(a[0] ?? '', q.getAll('eventSource'));
    if (method === 'PUT' && (a = m(/^\/ari\/applications\/([^/]+)\/eventFilter$/)))
      return this.filter(a[0] ?? '', text);
    if (method === 'POST' && p === '/ari/channels') return this.originate(q);
    if (method === 'GET' && p === '/ari/channels')
      return [200, [...this.channels.values()].map((c) => c.json)];
    if ((a = m(/^\/ari\/channels\/([^/]+)$/))) {
      const c = this.channels.get(a[0] ?? '');
      if (!c) return [404, { message: 'Channel not found' }];
      if (method === 'GET') return [200, c.json];
      if (method === 'DELETE') {
        this.hangupChannel(c, 16);
        return [204, undefined];
      }
    }
    if (method === 'POST' && (a = m(/^\/ari\/channels\/([^/]+)\/answer$/))) {
      const c = this.channels.get(a[0] ?? '');
      if (!c) return [404, { message: 'Channel not found' }];
      c.json.state = 'Up';
      this.broadcast({ type: 'ChannelStateChange', channel: c.json });
      return [204, undefined];
    }
    if (method === 'POST' && (a = m(/^\/ari\/channels\/([^/]+)\/play$/)))
      return this.play(a[0] ?? '', q.get('media') ?? '', q.get('playbackId') ?? 'pb');
    if ((a = m(/^\/ari\/playbacks\/([^/]+)$/))) {
      const pb = this.playbacks.get(a[0] ?? '');
      if (!pb) return [404, { message: 'Playback not found' }];
      if (method === 'GET') return [200, { id: a[0], state: 'playing' }];
      if (method === 'DELETE') {
        clearTimeout(pb.timer);
        this.playbacks.delete(a[0] ?? '');
        this.broadcast({ type: 'PlaybackFinished', playback: { id: a[0], state: 'done' } });
        return [204, undefined];
      }
    }
    if (method === 'GET' && p === '/ari/bridges')
      return [200, [...this.bridges.entries()].map(([id, s]) => this.bridgeJson(id, s))];
    if ((a = m(/^\/ari\/bridges\/([^/]+)$/))) {
      const id = a[0] ?? '';
      if (method === 'POST') {
        if (this.bridges.has(id))
          return [409, { message: `Bridge with id '${id}' already exists` }];
        this.bridges.set(id, new Set());
        this.broadcast({ type: 'BridgeCreated', bridge: this.bridgeJson(id, new Set()) });
        return [200, this.bridgeJson(id, new Set())];
      }
      const b = this.bridges.get(id);
      if (!b) return [404, { message: 'Bridge not found' }];
      if (method === 'GET') return [200, this.bridgeJson(id, b)];
      if (method === 'DELETE') {
        this.bridges.delete(id);
        return [204, undefined];
      }
    }
    if (method === 'POST' && (a = m(/^\/ari\/bridges\/([^/]+)\/addChannel$/)))
      return this.addChannels(a[0] ?? '', (q.get('channel') ?? '').split(','));
    if (method === 'GET' && p === '/ari/endpoints')
      return [
        200,
        [...this.endpointStates.entries()].map(([ep, state]) => {
          const [technology, resource] = ep.split('/');
          return { technology, resource, state, channel_ids: [] };
        }),
      ];
    return [404, { message: `fake ARI: no route ${method} ${p}` }];
  }

  /** Like Asterisk: an `allowed` list of `{ type }` objects; an empty body clears the filter. */
  private filter(app: string, text: string): [number, unknown] {
    if (this.refuseEventFilters) return [404, { message: 'Not found' }];
    if (![...this.sockets.values()].some((s) => s.app === app))
      return [404, { message: `Application '${app}' not found` }];
    let body: { allowed?: Array<{ type?: unknown }> };
    try {
      body = text ? (JSON.parse(text) as typeof body) : {};
    } catch {
      return [400, { message: 'fake ARI: the filter is not JSON' }];
    }
    const allowed = (body.allowed ?? []).map((x) => x.type);
    if (allowed.some((t) => typeof t !== 'string'))
      return [400, { message: 'fake ARI: every filter entry needs a type' }];
    this.eventFilters.set(app, new Set(allowed as string[]));
    return [200, { name: app, events_allowed: allowed.map((type) => ({ type })) }];
  }

  /** Like Asterisk: one eventSource value, comma-separated; repeated params are not combined. */
  private subscribe(app: string, sources: string[]): [number, unknown] {
    const open = [...this.sockets.values()].filter((s) => s.app === app);
    if (this.refuseSubscriptions) return [500, { message: 'fake ARI: subscription refused' }];
    if (open.length === 0) return [404, { message: `Application '${app}' not found` }];
    if (sources.length !== 1 || !sources[0]) return [400, { message: 'Missing parameter' }];
    const uris = sources[0].split(',');
    if (!uris.includes('channel:'))
      return [400, { message: 'fake ARI: only a subscription to all channels is modelled' }];
    for (const s of open) s.subscribed = true;
    return [
      200,
      { name: app, channel_ids: [], bridge_ids: [], endpoint_ids: [], device_names: [] },
    ];
  }

  private bridgeJson(id: string, members: Set<string>): Json {
    return { id, technology: 'simple_bridge', bridge_type: 'mixing', channels: [...members] };
  }

  private originate(q: URLSearchParams): [number, unknown] {
    const id = q.get('channelId') ?? `fake-${Date.now()}`;
    const endpoint = q.get('endpoint') ?? '';
    if (this.channels.has(id))
      return [409, { message: 'Channel with given unique ID already exists' }];
    const script = this.scripts[endpoint];
    if (!script) return [500, { error: 'Allocation failed' }];
    const json: Json = {
      id,
      name: `${endpoint}-00000001`,
      state: 'Down',
      dialplan: {
        context: 'dialback-inbound',
        exten: 's',
        priority: 1,
        app_name: '',
        app_data: '',
      },
    };
    const channel: FakeChannel = { json, timers: [], inStasis: false };
    this.channels.set(id, channel);
    const appArgs = q.get('app') ? (q.get('appArgs') ?? '').split(',') : undefined;
    const timeoutMs = Number(q.get('timeout') ?? '30') * 1000;
    this.replay(channel, script, appArgs, timeoutMs);
    return [200, json];
  }

  private replay(
    channel: FakeChannel,
    script: EndpointScript,
    appArgs: string[] | undefined,
    timeoutMs: number,
  ): void {
    const id = String(channel.json.id);
    const recorded = JSON.parse(
      fs.readFileSync(path.join(FIXTURES, `${script.fixture}.json`), 'utf8'),
    ) as { events: Json[] };
    const events: Json[] = [];
    for (const e of recorded.events) {
      const swapped = swapIds(e, script.fixtureId, id) as Json;
      // Originated into the app rather than the AMD dialplan: the app's own args, no verdict.
      if (swapped.type === 'StasisStart' && appArgs) swapped.args = appArgs;
      events.push(swapped);
      if (script.until && e.type === script.until) break;
    }
    const destroyAt = events.findIndex((e) => e.type === 'ChannelDestroyed');
    events.forEach((e, i) => {
      const late = script.destroyAtTimeout && destroyAt >= 0 && i >= destroyAt;
      const at = late ? timeoutMs + i * this.eventGapMs : (i + 1) * this.eventGapMs;
      channel.timers.push(
        setTimeout(() => {
          if (this.channels.get(id) !== channel) return;
          this.apply(channel, e);
          this.broadcast(e);
        }, at),
      );
    });
  }

  /** Keeps the fake channel's state in step with the events it sends. */
  private apply(channel: FakeChannel, e: Json): void {
    const ch = e.channel as Json | undefined;
    if (!ch || ch.id !== channel.json.id) return;
    if (typeof ch.state === 'string') channel.json.state = ch.state;
    if (ch.dialplan) channel.json.dialplan = ch.dialplan;
    if (e.type === 'StasisStart') {
      channel.inStasis = true;
      const args = (e.args as string[] | undefined) ?? [];
      channel.json.dialplan = { app_name: 'Stasis', app_data: ['dialback', ...args].join(',') };
    }
    if (e.type === 'ChannelDestroyed') {
      channel.timers.forEach(clearTimeout);
      this.channels.delete(String(ch.id));
    }
  }

  private hangupChannel(c: FakeChannel, cause: number): void {
    c.timers.forEach(clearTimeout);
    const id = String(c.json.id);
    const snapshot = { ...c.json };
    this.channels.delete(id);
    setTimeout(() => {
      this.broadcast({ type: 'ChannelHangupRequest', channel: snapshot, cause: 32 });
      this.leaveBridge(id, true, snapshot);
      if (c.inStasis) this.broadcast({ type: 'StasisEnd', channel: snapshot });
      this.broadcast({
        type: 'ChannelDestroyed',
        channel: snapshot,
        cause,
        cause_txt: 'Normal Clearing',
      });
    }, this.eventGapMs);
  }

  private leaveBridge(id: string, announce: boolean, snapshot?: Json): void {
    for (const [bid, members] of this.bridges) {
      if (!members.delete(id)) continue;
      if (announce)
        this.broadcast({
          type: 'ChannelLeftBridge',
          channel: snapshot,
          bridge: this.bridgeJson(bid, members),
        });
    }
  }

  private addChannels(bridgeId: string, ids: string[]): [number, unknown] {
    const members = this.bridges.get(bridgeId);
    if (!members) return [404, { message: 'Bridge not found' }];
    for (const id of ids) {
      const c = this.channels.get(id);
      if (!c) return [400, { message: 'Channel not found' }];
      if (!c.inStasis) return [422, { message: 'Channel not in Stasis application' }];
    }
    for (const id of ids) {
      members.add(id);
      const c = this.channels.get(id);
      if (c) c.bridgeId = bridgeId;
    }
    setTimeout(() => {
      for (const id of ids) {
        const c = this.channels.get(id);
        if (c)
          this.broadcast({
            type: 'ChannelEnteredBridge',
            channel: c.json,
            bridge: this.bridgeJson(bridgeId, members),
          });
      }
    }, this.eventGapMs);
    return [204, undefined];
  }

  private play(channelId: string, media: string, playbackId: string): [number, unknown] {
    if (!this.channels.has(channelId)) return [404, { message: 'Channel not found' }];
    const failed = this.missingMedia.has(media);
    const json = {
      id: playbackId,
      media_uri: media,
      target_uri: `channel:${channelId}`,
      state: 'queued',
    };
    const timer = setTimeout(
      () => {
        this.playbacks.delete(playbackId);
        this.broadcast({
          type: 'PlaybackFinished',
          playback: { ...json, state: failed ? 'failed' : 'done' },
        });
      },
      failed ? this.eventGapMs : this.playbackMs,
    );
    this.playbacks.set(playbackId, { channelId, timer });
    setTimeout(
      () => this.broadcast({ type: 'PlaybackStarted', playback: { ...json, state: 'playing' } }),
      1,
    );
    return [201, json];
  }
}

/** Replaces every string equal to `from` (or starting with `from-`) in a JSON value. */
function swapIds(value: unknown, from: string, to: string): unknown {
  if (typeof value === 'string') return value === from ? to : value;
  if (Array.isArray(value)) return value.map((v) => swapIds(v, from, to));
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) out[k] = swapIds(v, from, to);
    return out;
  }
  return value;
}
