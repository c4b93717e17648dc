// The ARI adapter against a fake Asterisk (test/helpers/fake-ari.ts) replaying recorded lab
// traffic: the telephony contract, then what only a real-time, reconnecting adapter has —
// REST timeouts, a dropped websocket, the reconcile pass, dial-string hygiene, treatments.

import { strict as assert } from 'node:assert';
import pino from 'pino';
import { SystemClock } from '../../src/clock';
import type { DialableNumber } from '../../src/domain/phone';
import {
  ARI_EVENT_TYPES,
  AriTelephony,
  type AriTelephonyOptions,
} from '../../src/telephony/ari/ari-adapter';
import type { TelephonyEvent } from '../../src/telephony/port';
import { isTelephonyError } from '../../src/telephony/telephony-error';
import { FakeAri } from '../helpers/fake-ari';
import { realTimeEvents, telephonyContract, type ContractHarness } from './contract';

const n = (s: string): DialableNumber => s as DialableNumber;
const HUMAN = n('7001');
const MACHINE = n('7002');
const BUSY = n('7003');
const SILENT = n('7004');
const ABSENT = n('7005');
const AGENTS = [
  { id: 'agent1', endpoint: 'PJSIP/agent1' },
  { id: 'agent2', endpoint: 'PJSIP/agent2' },
  { id: 'agent-noanswer', endpoint: 'PJSIP/agent-noanswer' },
];

interface World {
  fake: FakeAri;
  port: AriTelephony;
  ev: ReturnType<typeof realTimeEvents>;
  close(): Promise<void>;
}

async function world(extra: Partial<AriTelephonyOptions> = {}, fake?: FakeAri): Promise<World> {
  const f = fake ?? new FakeAri();
  const url = fake ? f.url : await f.listen();
  const port = new AriTelephony({
    url,
    username: 'dialback',
    password: 'dialback',
    app: 'dialback',
    customerEndpoint: 'PJSIP/{number}',
    requestTimeoutMs: 400,
    reconnect: { initialMs: 30, maxMs: 200 },
    heartbeatMs: 0,
    agents: AGENTS,
    clock: new SystemClock(),
    ...extra,
  });
  const ev = realTimeEvents(port, 5);
  await port.start();
  return {
    fake: f,
    port,
    ev,
    async close() {
      ev.dispose();
      await port.stop();
      if (!fake) await f.close();
    },
  };
}

const of =
  (callId: string, type?: TelephonyEvent['type']) =>
  (e: TelephonyEvent): boolean =>
    'callId' in e && e.callId === callId && (type === undefined || e.type === type);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Drops the adapter's websocket and waits until it is down and then up again. */
async function reconnect(w: World): Promise<void> {
  w.fake.dropWebsockets();
  await w.ev.waitFor((e) => e.type === 'connection.changed' && !e.up, 1000);
  const before = w.ev.events().length;
  await w.ev.waitFor(
    (e) => e.type === 'connection.changed' && e.up && w.ev.events().indexOf(e) >= before,
    2000,
  );
}

telephonyContract('ari (fake asterisk)', async (): Promise<ContractHarness> => {
  const w = await world();
  return {
    port: w.port,
    numbers: { human: HUMAN, machine: MACHINE, busy: BUSY, absent: ABSENT },
    agents: {
      answering: [{ id: 'agent1', endpoint: 'PJSIP/agent1' }],
      noAnswer: { id: 'agent-noanswer', endpoint: 'PJSIP/agent-noanswer' },
    },
    events: w.ev.events,
    waitFor: w.ev.waitFor,
    pass: w.ev.pass,
    now: w.ev.now,
    cleanup: () => w.close(),
    timeouts: { ring: 1000, answer: 1500, command: 1000 },
  };
});

describe('ARI adapter (fake asterisk)', function () {
  let w: World;
  afterEach(async function () {
    await w?.close();
  });

  const dial = (id: string, number: DialableNumber, amd = true, timeoutMs = 1000) =>
    w.port.dialCustomer({ callId: id, callbackId: 'cb', number, amd, timeoutMs });

  /** Callback `cb`'s customer (`cb-c1`) then agent1 (`cb-a1`), both answered, not bridged. */
  const answeredPair = async (cb: string): Promise<void> => {
    await dial(`${cb}-c1`, HUMAN);
    await w.ev.waitFor(of(`${cb}-c1`, 'call.answered'), 2000);
    await w.port.dialAgent({
      callId: `${cb}-a1`,
      callbackId: cb,
      agentId: 'agent1',
      endpoint: 'PJSIP/agent1',
      timeoutMs: 1000,
    });
    await w.ev.waitFor(of(`${cb}-a1`, 'call.answered'), 2000);
  };

  it('originates a customer into the AMD context with the call id as channel id', async function () {
    w = await world();
    await w.port.dialCustomer({
      callId: 'cb1-c1',
      callbackId: 'cb1',
      number: HUMAN,
      amd: true,
      timeoutMs: 2500,
      callerId: '5551000',
      callerName: 'dialback',
    });
    const req = w.fake.requests.find((r) => r.path === '/ari/channels' && r.method === 'POST');
    assert.ok(req);
    assert.equal(req.query.get('endpoint'), 'PJSIP/7001');
    assert.equal(req.query.get('channelId'), 'cb1-c1');
    assert.equal(req.query.get('context'), 'dialback-amd');
    assert.equal(req.query.get('extension'), 's');
    assert.equal(req.query.get('priority'), '1');
    assert.equal(req.query.get('timeout'), '3');
    assert.equal(req.query.get('callerId'), '"dialback" <5551000>');
    assert.equal(req.query.get('app'), null);
  });

  it('originates into the app with args dial when AMD is off, and reports no verdict', async function () {
    w = await world();
    await dial('c-noamd', HUMAN, false);
    const e = await w.ev.waitFor(of('c-noamd', 'call.answered'), 2000);
    assert.equal(e.type === 'call.answered' && e.amd, undefined);
    const req = w.fake.requests.find((r) => r.query.get('channelId') === 'c-noamd');
    assert.equal(req?.query.get('app'), 'dialback');
    assert.equal(req?.query.get('appArgs'), 'dial');
    assert.equal(req?.query.get('context'), null);
  });

  it('maps the recorded human, machine and silent verdicts with their AMD causes', async function () {
    w = await world();
    await dial('c-h', HUMAN);
    await dial('c-m', MACHINE);
    await dial('c-s', SILENT);
    const h = await w.ev.waitFor(of('c-h', 'call.answered'), 2000);
    const m = await w.ev.waitFor(of('c-m', 'call.answered'), 2000);
    const s = await w.ev.waitFor(of('c-s', 'call.answered'), 2000);
    assert.deepEqual(
      [h, m, s].map((e) => (e.type === 'call.answered' ? [e.amd, e.amdCause] : [])),
      [
        ['HUMAN', 'HUMAN-800-800'],
        ['MACHINE', 'MAXWORDS-3-2'],
        ['MACHINE', 'INITIALSILENCE-2500-2500'],
      ],
    );
    assert.ok(w.ev.events().some(of('c-h', 'call.ringing')), 'the recorded Ringing is reported');
  });

  it('maps busy to cause 17 at once and absent to cause 19 at the originate timeout', async function () {
    w = await world();
    const t0 = Date.now();
    await dial('c-busy', BUSY);
    await dial('c-absent', ABSENT);
    const b = await w.ev.waitFor(of('c-busy', 'call.failed'), 2000);
    assert.ok(b.type === 'call.failed');
    assert.deepEqual([b.failure, b.cause], ['busy', 17]);
    assert.ok(b.at - t0 < 500);
    const a = await w.ev.waitFor(of('c-absent', 'call.failed'), 3000);
    assert.ok(a.type === 'call.failed');
    assert.deepEqual([a.failure, a.cause], ['no-answer', 19]);
    assert.ok(a.at - t0 >= 900, `absent failed after ${a.at - t0} ms`);
  });

  it('maps an agent who never answers to no-answer', async function () {
    w = await world();
    await w.port.dialAgent({
      callId: 'a-na',
      callbackId: 'cb',
      agentId: 'agent-noanswer',
      endpoint: 'PJSIP/agent-noanswer',
      timeoutMs: 1000,
    });
    const t0 = Date.now();
    const e = await w.ev.waitFor(of('a-na', 'call.failed'), 3000);
    assert.ok(Date.now() - t0 >= 900, 'only once the ring timeout is over');
    assert.ok(e.type === 'call.failed' && e.failure === 'no-answer' && e.cause === 19);
    assert.ok(w.ev.events().some(of('a-na', 'call.ringing')));
  });

  it('reports an endpoint Asterisk cannot allocate as unreachable', async function () {
    w = await world();
    await dial('c-nowhere', n('7999'));
    const e = await w.ev.waitFor(of('c-nowhere'), 2000);
    assert.ok(e.type === 'call.failed' && e.failure === 'unreachable');
  });

  it('refuses a dial string with anything but digits and a leading plus, without calling Asterisk', async function () {
    w = await world();
    for (const bad of ['5115&PJSIP/other', '7001,1', '70 01', '']) {
      await assert.rejects(dial(`c-bad-${bad.length}`, n(bad)), (e: unknown) =>
        isTelephonyError(e, 'INVALID_DIAL_STRING'),
      );
    }
    await assert.rejects(
      w.port.dialAgent({
        callId: 'a-bad',
        callbackId: 'cb',
        agentId: 'x',
        endpoint: 'PJSIP/agent1&PJSIP/agent2',
        timeoutMs: 1000,
      }),
      (e: unknown) => isTelephonyError(e, 'INVALID_DIAL_STRING'),
    );
    assert.equal(
      w.fake.requests.filter((r) => r.path === '/ari/channels' && r.method === 'POST').length,
      0,
    );
  });

  it('follows the live channel instead of placing a second call when a restarted adapter dials the same id', async function () {
    w = await world();
    await dial('c-dup', HUMAN);
    await w.ev.waitFor(of('c-dup', 'call.answered'), 2000);
    // A second process (after a crash) knows nothing and dials the same deterministic id.
    const second = await world({}, w.fake);
    try {
      await second.port.dialCustomer({
        callId: 'c-dup',
        callbackId: 'cb',
        number: HUMAN,
        amd: true,
        timeoutMs: 1000,
      });
      assert.equal(w.fake.originates('c-dup'), 2, 'the second originate reached Asterisk');
      assert.equal(w.fake.channels.size, 1, 'Asterisk refused it (409): still one channel');
      const answered = await second.ev.waitFor(of('c-dup', 'call.answered'), 1000);
      assert.ok(answered.type === 'call.answered' && answered.amd === 'HUMAN');
      await second.port.hangup('c-dup');
      await second.ev.waitFor(of('c-dup', 'call.ended'), 1000);
    } finally {
      await second.close();
    }
  });

  it('creates the bridge once when bridge is retried and reports bridge.joined once per command', async function () {
    w = await world();
    await dial('c-b', HUMAN);
    await w.port.dialAgent({
      callId: 'a-b',
      callbackId: 'cb',
      agentId: 'agent1',
      endpoint: 'PJSIP/agent1',
      timeoutMs: 1000,
    });
    await w.ev.waitFor(of('c-b', 'call.answered'), 2000);
    await w.ev.waitFor(of('a-b', 'call.answered'), 2000);
    const t0 = Date.now();
    await w.port.bridge('cb-b', ['c-b', 'a-b']);
    const joined = await w.ev.waitFor((e) => e.type === 'bridge.joined', 1000);
    const tookMs = joined.at - t0;
    await w.port.bridge('cb-b', ['c-b', 'a-b']);
    await sleep(50);
    assert.equal(w.fake.bridges.size, 1);
    assert.deepEqual([...(w.fake.bridges.get('cb-b') ?? [])].sort(), ['a-b', 'c-b']);
    assert.equal(w.ev.events().filter((e) => e.type === 'bridge.joined').length, 2);
    assert.ok(tookMs < 200, `bridge.joined after ${tookMs} ms`);
    const snap = await w.port.getCall('a-b');
    assert.deepEqual(snap, { callId: 'a-b', status: 'bridged', bridgeId: 'cb-b' });
    await w.port.hangup('c-b');
    await w.port.hangup('a-b');
    await w.ev.waitFor(of('a-b', 'call.ended'), 1000);
    await sleep(30);
    assert.equal(w.fake.bridges.size, 0, 'the emptied bridge is removed');
  });

  it("creates the callback's bridge while the agent rings, so that bridging asks Asterisk only to add the calls", async function () {
    w = await world();
    await answeredPair('cp');
    assert.ok(w.fake.bridges.has('cp-b'), 'made while the agent rang');
    const before = w.fake.requests.length;
    await w.port.bridge('cp-b', ['cp-c1', 'cp-a1']);
    await w.ev.waitFor((e) => e.type === 'bridge.joined' && e.bridgeId === 'cp-b', 1000);
    const asked = w.fake.requests.slice(before).filter((r) => r.method === 'POST');
    assert.deepEqual(
      asked.map((r) => r.path),
      ['/ari/bridges/cp-b/addChannel'],
    );
    assert.deepEqual([...(w.fake.bridges.get('cp-b') ?? [])].sort(), ['cp-a1', 'cp-c1']);
  });

  it('logs at debug level when it hears each event and sends the agent dial and the bridge join', async function () {
    // bench/lab.ts reads these lines to measure the engine's own time from HUMAN to bridge.
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    w = await world({ logger });
    await answeredPair('ct');
    await w.port.bridge('ct-b', ['ct-c1', 'ct-a1']);
    const heard = (callId: string) =>
      lines.find(
        (l) =>
          l.msg === 'telephony event' &&
          (l.event as TelephonyEvent).type === 'call.answered' &&
          (l.event as { callId: string }).callId === callId,
      );
    assert.equal((heard('ct-c1')?.event as { amd?: string }).amd, 'HUMAN');
    assert.ok(heard('ct-a1'));
    const dial = lines.find((l) => l.msg === 'originating the agent leg');
    assert.equal(dial?.callId, 'ct-a1');
    const join = lines.find((l) => l.msg === 'adding legs to the bridge');
    assert.equal(join?.bridgeId, 'ct-b');
    assert.deepEqual(join?.callIds, ['ct-c1', 'ct-a1']);
    for (const l of [heard('ct-c1'), dial, join]) assert.equal(typeof l?.time, 'number');
    assert.ok((heard('ct-c1')?.time as number) <= (dial?.time as number));
  });

  it('logs none of them above debug level', async function () {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    w = await world({ logger });
    await answeredPair('cu');
    await w.port.bridge('cu-b', ['cu-c1', 'cu-a1']);
    assert.deepEqual(
      lines.filter((l) => /telephony event|originating the agent leg|adding legs/.test(l)),
      [],
    );
  });

  it('removes the bridge made ahead when the agent leg ends without being bridged', async function () {
    w = await world();
    await w.port.dialAgent({
      callId: 'cn-a1',
      callbackId: 'cn',
      agentId: 'agent-noanswer',
      endpoint: 'PJSIP/agent-noanswer',
      timeoutMs: 500,
    });
    await sleep(100);
    assert.ok(w.fake.bridges.has('cn-b'), 'made while the agent rang');
    await w.ev.waitFor(of('cn-a1', 'call.failed'), 3000);
    await sleep(50);
    assert.equal(w.fake.bridges.has('cn-b'), false);
  });

  it('makes the bridge again when the one made ahead was removed before the agent was bridged', async function () {
    w = await world();
    await answeredPair('cr');
    w.fake.bridges.delete('cr-b'); // as if removed with an earlier agent leg a moment ago
    await w.port.bridge('cr-b', ['cr-c1', 'cr-a1']);
    await w.ev.waitFor((e) => e.type === 'bridge.joined' && e.bridgeId === 'cr-b', 1000);
    assert.deepEqual([...(w.fake.bridges.get('cr-b') ?? [])].sort(), ['cr-a1', 'cr-c1']);
  });

  it('refuses to bridge a call that is still ringing', async function () {
    w = await world();
    await dial('c-ring', ABSENT);
    await assert.rejects(w.port.bridge('b-x', ['c-ring']), (e: unknown) =>
      isTelephonyError(e, 'CALL_NOT_ANSWERED'),
    );
  });

  it('answers getCall with undefined for a channel Asterisk does not know (404)', async function () {
    w = await world();
    assert.equal(await w.port.getCall('never-dialled'), undefined);
    assert.ok(w.fake.requests.some((r) => r.path === '/ari/channels/never-dialled'));
  });

  it('reads an untracked live channel from Asterisk (after a restart) as answered', async function () {
    w = await world();
    await dial('c-old', HUMAN);
    await w.ev.waitFor(of('c-old', 'call.answered'), 2000);
    const second = await world({}, w.fake);
    try {
      assert.deepEqual(await second.port.getCall('c-old'), { callId: 'c-old', status: 'answered' });
    } finally {
      await second.close();
    }
  });

  it('gives up on a REST call that never answers after the request timeout, with TELEPHONY_DOWN', async function () {
    w = await world({ requestTimeoutMs: 300 });
    w.fake.hangRest = true;
    const t0 = Date.now();
    await assert.rejects(w.port.getCall('whatever'), (e: unknown) =>
      isTelephonyError(e, 'TELEPHONY_DOWN'),
    );
    const took = Date.now() - t0;
    assert.ok(took >= 280 && took < 1000, `rejected after ${took} ms`);
    w.fake.hangRest = false;
    w.fake.releaseHung();
  });

  it('reconnects after the websocket drops: connection.changed down then up, isReady false then true', async function () {
    w = await world();
    assert.equal(w.port.isReady(), true);
    w.fake.refuseWebsockets = true;
    w.fake.dropWebsockets();
    await w.ev.waitFor((e) => e.type === 'connection.changed' && !e.up, 1000);
    assert.equal(w.port.isReady(), false);
    await assert.rejects(dial('c-down', HUMAN), (e: unknown) =>
      isTelephonyError(e, 'TELEPHONY_DOWN'),
    );
    await sleep(300); // a few refused attempts: the loop must keep trying
    w.fake.refuseWebsockets = false;
    const before = w.ev.events().length;
    await w.ev.waitFor(
      (e) => e.type === 'connection.changed' && e.up && w.ev.events().indexOf(e) >= before,
      2000,
    );
    assert.equal(w.port.isReady(), true);
    const changes = w.ev
      .events()
      .filter((e) => e.type === 'connection.changed')
      .map((e) => (e.type === 'connection.changed' ? e.up : undefined));
    assert.deepEqual(changes, [true, false, true]);
    await dial('c-after', HUMAN);
    await w.ev.waitFor(of('c-after', 'call.answered'), 2000);
  });

  it('subscribes its app to all channels, bridges and the agents endpoints on connect and after a reconnect, never with subscribeAll', async function () {
    w = await world();
    const source = 'channel:,bridge:,endpoint:PJSIP';
    assert.deepEqual(w.fake.subscriptions(), [source]);
    await reconnect(w);
    assert.deepEqual(w.fake.subscriptions(), [source, source]);
    assert.equal(w.fake.websocketQueries.length, 2);
    for (const q of w.fake.websocketQueries) {
      assert.equal(q.get('app'), 'dialback');
      assert.equal(q.has('subscribeAll'), false);
    }
    // The fake sends a socket nothing until its app subscribed: a busy line proves it did.
    await dial('c-busy-after', BUSY);
    const failed = await w.ev.waitFor(of('c-busy-after', 'call.failed'), 2000);
    assert.ok(failed.type === 'call.failed' && failed.failure === 'busy');
  });

  it('subscribes to channels and bridges only when no agents are configured', async function () {
    w = await world({ agents: [] });
    assert.deepEqual(w.fake.subscriptions(), ['channel:,bridge:']);
  });

  it('asks Asterisk for only the event types it acts on, on connect and after a reconnect', async function () {
    w = await world();
    const filters = () =>
      w.fake.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/eventFilter'));
    assert.equal(filters().length, 1);
    assert.equal(filters()[0]?.path, '/ari/applications/dialback/eventFilter');
    assert.deepEqual(
      [...(w.fake.eventFilters.get('dialback') ?? [])].sort(),
      [...ARI_EVENT_TYPES].sort(),
    );
    assert.ok(!w.fake.eventFilters.get('dialback')?.has('ChannelVarset'));
    await reconnect(w);
    assert.equal(filters().length, 2, 'the filter is asked for again after the reconnect');
    // With only those types sent, a call is still followed from ringing to its end.
    await dial('c-filtered', HUMAN);
    await w.ev.waitFor(of('c-filtered', 'call.answered'), 2000);
    await w.port.hangup('c-filtered');
    await w.ev.waitFor(of('c-filtered', 'call.ended'), 2000);
    assert.ok(w.ev.events().some(of('c-filtered', 'call.ringing')));
  });

  it('goes up with every event type on an Asterisk that has no event filters', async function () {
    const fake = new FakeAri();
    await fake.listen();
    fake.refuseEventFilters = true;
    w = await world({}, fake);
    const close = w.close;
    w.close = async () => {
      await close();
      await fake.close();
    };
    assert.equal(w.port.isReady(), true);
    assert.equal(fake.eventFilters.size, 0);
    await dial('c-unfiltered', BUSY);
    const failed = await w.ev.waitFor(of('c-unfiltered', 'call.failed'), 2000);
    assert.ok(failed.type === 'call.failed' && failed.failure === 'busy');
  });

  it('drops the socket and keeps retrying while the subscription is refused', async function () {
    const fake = new FakeAri();
    await fake.listen();
    fake.refuseSubscriptions = true;
    w = await world({ startWaitMs: 300 }, fake);
    const close = w.close;
    w.close = async () => {
      await close();
      await fake.close();
    };
    assert.equal(w.port.isReady(), false, 'not ready without the subscription');
    assert.ok(fake.subscriptions().length >= 2, `tried ${fake.subscriptions().length} times`);
    fake.refuseSubscriptions = false;
    await w.ev.waitFor((e) => e.type === 'connection.changed' && e.up, 2000);
    await sleep(50);
    assert.equal(fake.socketCount(), 1, 'the refused sockets were closed');
  });

  it('reports each call event once and loops a treatment once when Asterisk repeats every event', async function () {
    const fake = new FakeAri();
    fake.repeatEvents = true;
    fake.playbackMs = 30;
    await fake.listen();
    w = await world({}, fake);
    const close = w.close;
    w.close = async () => {
      await close();
      await fake.close();
    };
    await dial('r-busy', BUSY);
    await dial('r-human', HUMAN);
    await w.port.dialAgent({
      callId: 'r-agent',
      callbackId: 'cb',
      agentId: 'agent1',
      endpoint: 'PJSIP/agent1',
      timeoutMs: 2000,
    });
    await w.ev.waitFor(of('r-busy', 'call.failed'), 2000);
    await w.ev.waitFor(of('r-human', 'call.answered'), 2000);
    await w.ev.waitFor(of('r-agent', 'call.answered'), 2000);
    await w.port.play('r-human', 'sound:queue-periodic-announce');
    await sleep(100);
    await w.port.stopPlayback('r-human');
    await w.port.bridge('r-bridge', ['r-human', 'r-agent']);
    await w.ev.waitFor((e) => e.type === 'bridge.joined', 2000);
    await w.port.hangup('r-human');
    await w.ev.waitFor(of('r-human', 'call.ended'), 2000);
    await sleep(50);
    const count = (p: (e: TelephonyEvent) => boolean) => w.ev.events().filter(p).length;
    assert.equal(count(of('r-busy')), 1, 'busy: one call.failed');
    assert.equal(count(of('r-human', 'call.answered')), 1);
    assert.equal(count(of('r-human', 'call.ended')), 1);
    assert.equal(
      count((e) => e.type === 'bridge.joined'),
      1,
    );
    // 100 ms of 30 ms sounds: about four plays; a loop restarted per copy would double each time.
    const plays = fake.requests.filter((r) => r.path === '/ari/channels/r-human/play').length;
    assert.ok(plays >= 2 && plays <= 6, `played ${plays} times`);
  });

  it('ends a call that vanished while the websocket was down, and fails one that was still ringing', async function () {
    w = await world();
    await dial('c-live', HUMAN);
    await dial('c-ringing', ABSENT, true, 5000);
    await w.ev.waitFor(of('c-live', 'call.answered'), 2000);
    await dial('c-stays', HUMAN);
    await w.ev.waitFor(of('c-stays', 'call.answered'), 2000);
    w.fake.refuseWebsockets = true;
    w.fake.dropWebsockets();
    await w.ev.waitFor((e) => e.type === 'connection.changed' && !e.up, 1000);
    assert.ok(w.fake.vanish('c-live'));
    assert.ok(w.fake.vanish('c-ringing'));
    w.fake.refuseWebsockets = false;
    const ended = await w.ev.waitFor(of('c-live', 'call.ended'), 2000);
    assert.equal(ended.type, 'call.ended');
    const failed = await w.ev.waitFor(of('c-ringing', 'call.failed'), 2000);
    assert.ok(failed.type === 'call.failed' && failed.failure === 'failed');
    assert.equal(
      w.ev.events().some(of('c-stays', 'call.ended')),
      false,
      'a surviving call stays up',
    );
    assert.equal((await w.port.getCall('c-stays'))?.status, 'answered');
  });

  it('loops a treatment until stopped and falls back to tone:ring when the sound is missing', async function () {
    w = await world();
    w.fake.playbackMs = 30;
    await dial('c-play', HUMAN);
    await w.ev.waitFor(of('c-play', 'call.answered'), 2000);
    await w.port.play('c-play', 'sound:queue-periodic-announce');
    await sleep(120);
    const plays = () =>
      w.fake.requests
        .filter((r) => r.path === '/ari/channels/c-play/play')
        .map((r) => r.query.get('media'));
    assert.ok(plays().length >= 3, `played ${plays().length} times`);
    await w.port.stopPlayback('c-play');
    const count = plays().length;
    await sleep(100);
    assert.equal(plays().length, count, 'no restart after stopPlayback');

    w.fake.missingMedia.add('sound:nope');
    await w.port.play('c-play', 'sound:nope');
    await sleep(60);
    assert.ok(
      plays().slice(count).includes('tone:ring'),
      `played ${plays().slice(count).join(',')}`,
    );
    await w.port.stopPlayback('c-play');
  });

  it('reports agent presence from the endpoint list and EndpointStateChange', async function () {
    w = await world();
    const first = await w.ev.waitFor(
      (e) => e.type === 'agent.presence' && e.agentId === 'agent1',
      1000,
    );
    assert.ok(first.type === 'agent.presence' && first.available);
    w.fake.broadcast({
      type: 'EndpointStateChange',
      endpoint: { technology: 'PJSIP', resource: 'agent1', state: 'offline', channel_ids: [] },
    });
    const off = await w.ev.waitFor(
      (e) => e.type === 'agent.presence' && e.agentId === 'agent1' && !e.available,
      1000,
    );
    assert.ok(off);
    w.fake.broadcast({
      type: 'EndpointStateChange',
      endpoint: {
        technology: 'PJSIP',
        resource: 'customer-human',
        state: 'offline',
        channel_ids: [],
      },
    });
    await sleep(30);
    assert.equal(
      w.ev
        .events()
        .filter(
          (e) =>
            e.type === 'agent.presence' &&
            e.agentId !== 'agent1' &&
            e.agentId !== 'agent2' &&
            e.agentId !== 'agent-noanswer',
        ).length,
      0,
      'only agents are reported',
    );
  });

  it('keeps trying to connect while Asterisk is away at start, and becomes ready when it comes', async function () {
    const fake = new FakeAri();
    await fake.listen();
    fake.refuseWebsockets = true;
    w = await world({ startWaitMs: 200 }, fake);
    const close = w.close;
    w.close = async () => {
      await close();
      await fake.close();
    };
    assert.equal(w.port.isReady(), false);
    fake.refuseWebsockets = false;
    await w.ev.waitFor((e) => e.type === 'connection.changed' && e.up, 2000);
    assert.equal(w.port.isReady(), true);
  });

  describe('calls of an earlier run (listCalls)', function () {
    it('lists the channels with dialback call ids in its application or AMD dialplan, with status and bridge', async function () {
      w = await world();
      w.fake.addChannel('cb9-c1', { inStasis: true, appArgs: ['amd', 'HUMAN', 'HUMAN-800-800'] });
      w.fake.addChannel('cb9-a2', { inStasis: true });
      w.fake.bridges.set('cb9-b', new Set(['cb9-c1', 'cb9-a2']));
      w.fake.addChannel('cb8-c3', { inAmd: true });
      // Not provably ours: still ringing, in another application, or not a dialback id.
      w.fake.addChannel('cb8-c4', {});
      w.fake.addChannel('cb8-c5', { inStasis: true, app: 'dialback-lab' });
      w.fake.addChannel('1763980000.42', { inStasis: true });
      w.fake.addChannel('someone-elses-call', {});
      const calls = await w.port.listCalls();
      assert.deepEqual(
        [...calls].sort((a, b) => a.callId.localeCompare(b.callId)),
        [
          { callId: 'cb8-c3', status: 'ringing' },
          { callId: 'cb9-a2', status: 'bridged', bridgeId: 'cb9-b' },
          { callId: 'cb9-c1', status: 'bridged', bridgeId: 'cb9-b' },
        ],
      );
      assert.ok(w.fake.requests.some((r) => r.method === 'GET' && r.path === '/ari/channels'));
    });

    it('adopts the listed calls: their hang-up is reported, and they are never dialled again', async function () {
      w = await world();
      w.fake.addChannel('cb7-c1', { inStasis: true });
      w.fake.addChannel('cb7-a1', { inAmd: true });
      await w.port.listCalls();
      assert.ok(w.fake.remoteHangup('cb7-c1'));
      const ended = await w.ev.waitFor(of('cb7-c1'), 2000);
      assert.equal(ended.type, 'call.ended');
      assert.ok(w.fake.remoteHangup('cb7-a1'));
      const endedInAmd = await w.ev.waitFor(of('cb7-a1'), 2000);
      assert.equal(endedInAmd.type, 'call.ended');
      await dial('cb7-c1', HUMAN);
      assert.equal(w.fake.originates('cb7-c1'), 0);
    });

    it('reports a call of an earlier run that reaches the application as answered', async function () {
      w = await world();
      w.fake.addChannel('cb6-c1', {});
      w.fake.broadcast({
        type: 'StasisStart',
        args: ['amd', 'HUMAN', 'HUMAN-800-800'],
        channel: { id: 'cb6-c1', state: 'Up' },
      });
      const e = await w.ev.waitFor(of('cb6-c1'), 2000);
      assert.ok(e.type === 'call.answered' && e.amd === 'HUMAN');
    });

    it('refuses to list while disconnected, with TELEPHONY_DOWN', async function () {
      w = await world();
      w.fake.refuseWebsockets = true;
      w.fake.dropWebsockets();
      await w.ev.waitFor((e) => e.type === 'connection.changed' && !e.up, 1000);
      await assert.rejects(w.port.listCalls(), (e: unknown) =>
        isTelephonyError(e, 'TELEPHONY_DOWN'),
      );
      w.fake.refuseWebsockets = false;
    });
  });

  describe('User Originated calls', function () {
    it('reports a caller sent to the application as call.incoming with the number and digits', async function () {
      w = await world();
      w.fake.incoming('1763980000.7', { from: '+33612345678', digits: '123456' });
      const e = await w.ev.waitFor(of('1763980000.7'), 2000);
      assert.deepEqual(
        { ...e, at: 0 },
        {
          type: 'call.incoming',
          callId: '1763980000.7',
          from: '+33612345678',
          digits: '123456',
          at: 0,
        },
      );
      assert.equal(
        w.fake.requests.some((r) => r.path.endsWith('/answer')),
        false,
        'the dialplan answered it already',
      );
      assert.deepEqual(await w.port.listCalls(), [
        {
          callId: '1763980000.7',
          status: 'answered',
          inbound: { from: '+33612345678', digits: '123456' },
        },
      ]);
    });

    it('answers a caller the dialplan left ringing, and reports no digits when none were keyed', async function () {
      w = await world();
      w.fake.incoming('1763980000.8', { from: '7001', digits: '', answered: false });
      const e = await w.ev.waitFor(of('1763980000.8'), 2000);
      assert.ok(e.type === 'call.incoming');
      assert.equal(e.from, '7001');
      assert.equal('digits' in e, false);
      await sleep(50);
      assert.ok(w.fake.requests.some((r) => r.path === '/ari/channels/1763980000.8/answer'));
      assert.equal(w.fake.channels.get('1763980000.8')?.json.state, 'Up');
    });

    it('bridges, plays to and hangs up an inbound call like its own, and reports its end', async function () {
      w = await world();
      w.fake.incoming('1763980000.9', { from: '7001', digits: '42' });
      await w.ev.waitFor(of('1763980000.9', 'call.incoming'), 2000);
      assert.deepEqual(await w.port.getCall('1763980000.9'), {
        callId: '1763980000.9',
        status: 'answered',
      });
      await w.port.play('1763980000.9', 'sound:hold');
      await w.port.dialAgent({
        callId: 'cb5-a1',
        callbackId: 'cb5',
        agentId: 'agent1',
        endpoint: 'PJSIP/agent1',
        timeoutMs: 2000,
      });
      await w.ev.waitFor(of('cb5-a1', 'call.answered'), 2000);
      await w.port.bridge('cb5-b', ['1763980000.9', 'cb5-a1']);
      const joined = await w.ev.waitFor((e) => e.type === 'bridge.joined', 2000);
      assert.ok(joined.type === 'bridge.joined');
      assert.deepEqual([...joined.callIds].sort(), ['1763980000.9', 'cb5-a1']);
      assert.ok(w.fake.remoteHangup('1763980000.9'));
      const ended = await w.ev.waitFor(of('1763980000.9', 'call.ended'), 2000);
      assert.equal(ended.type, 'call.ended');
      await w.port.hangup('cb5-a1');
      await w.ev.waitFor(of('cb5-a1', 'call.ended'), 2000);
    });

    it('reports a caller who arrived while the websocket was down once it is back', async function () {
      w = await world();
      w.fake.refuseWebsockets = true;
      w.fake.dropWebsockets();
      await w.ev.waitFor((e) => e.type === 'connection.changed' && !e.up, 1000);
      w.fake.incoming('1763980000.10', { from: '7001', digits: '9', silently: true });
      w.fake.refuseWebsockets = false;
      const e = await w.ev.waitFor(of('1763980000.10'), 2000);
      assert.ok(e.type === 'call.incoming' && e.digits === '9');
      assert.equal(w.ev.events().filter(of('1763980000.10')).length, 1);
    });

    it('leaves alone a channel in another application and one it did not originate', async function () {
      w = await world();
      w.fake.incoming('1763980000.11', { from: '7001', digits: '1', app: 'other-app' });
      w.fake.broadcast({
        type: 'StasisStart',
        args: ['dial'],
        channel: { id: '1763980000.12', state: 'Up' },
      });
      await sleep(100);
      assert.equal(w.ev.events().some(of('1763980000.11')), false);
      assert.equal(w.ev.events().some(of('1763980000.12')), false);
      assert.deepEqual(await w.port.listCalls(), []);
    });
  });
});
