// User Originated on the lab, and calls left behind by a process that died (`npm run lab:up`
// first; fails, never skips, without it). The lab phones' context (dialback-inbound) hands a
// call to the application with the dialled extension as the digits, so the lab's customer
// reaches the access number by dialling the access code itself. Uses only customer-human and
// agent1..4, and a node id of its own so that no other run's calls look like ours.
// Run: npx mocha --no-config -r tsx/cjs --extension ts --timeout 180000 --exit test/lab/inbound.test.ts

import assert from 'node:assert/strict';
import {
  AriObserver,
  AriRest,
  CallbackWatch,
  GmsClient,
  TEST_OPTIONS,
  ctrlPortOf,
  phoneCommand,
  sleep,
  startE2eService,
  type E2eService,
} from './e2e-helpers';
import { numberOf, requireLab, type LabState } from './lab-state';

const NODE = 'inbtest';
const SERVICE = 'e2e-inbound';

/** e2eRawConfig with this file's node id and a User Originated service for the support group. */
function inboundConfig(raw: Record<string, unknown>): Record<string, unknown> {
  const services = raw.services as Record<string, Record<string, unknown>>;
  return {
    ...raw,
    node_id: NODE,
    services: {
      ...services,
      [SERVICE]: {
        ...services['user-scheduled-now'],
        ...TEST_OPTIONS,
        _call_direction: 'USERORIGINATED',
        _access_number: '8000',
      },
    },
  };
}

describe('lab: User Originated calls and calls left by a dead process', function () {
  this.timeout(180_000);

  let lab: LabState;
  let ari: AriRest;
  let observer: AriObserver;
  const services: E2eService[] = [];
  const watches: CallbackWatch[] = [];

  /** The caller's channel, once the dialplan has handed it to the application with `digits`. */
  const callerIn = async (digits: string, timeoutMs: number): Promise<string> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const r = await ari.request('GET', '/channels');
      const ch = (
        r.body as Array<{ id: string; name: string; dialplan?: { app_data?: string } }>
      ).find(
        (c) =>
          c.name.startsWith('PJSIP/customer-human-') &&
          c.dialplan?.app_data === `dialback,inbound,${digits}`,
      );
      if (ch) return ch.id;
      if (Date.now() > until) throw new Error(`no caller in the application with ${digits}`);
      await sleep(100);
    }
  };

  const start = async (): Promise<GmsClient> => {
    const e2e = await startE2eService(lab, inboundConfig);
    services.push(e2e);
    const gms = new GmsClient(e2e.url);
    assert.equal(await gms.readyz(), 200, 'the service is not ready on the lab');
    return gms;
  };

  before(async function () {
    lab = await requireLab();
    ari = new AriRest(lab);
    observer = new AriObserver(lab);
    await observer.open();
  });

  afterEach(async function () {
    for (const w of watches.splice(0)) await w.stop();
    await phoneCommand(ctrlPortOf('customer-human'), 'hangup').catch((err: unknown) =>
      console.warn('lab clean-up: customer-human hangup', err),
    );
    for (const s of services.splice(0)) await s.close();
    await ari.cleanup([`${NODE}-`]).catch((err: unknown) => console.warn('lab clean-up:', err));
    await sleep(500);
  });

  after(async function () {
    await observer?.close();
  });

  it('matches a customer who calls in with the access code and connects them to an agent', async function () {
    const gms = await start();
    const t0 = Date.now();
    const id = await gms.create(SERVICE, {
      _customer_number: numberOf(lab, 'customer-human'),
      _provide_code: 'true',
    });
    const code = String((await gms.view(SERVICE, id))._access_code ?? '');
    assert.match(code, /^\d{6}$/);
    const w = new CallbackWatch(gms, id, t0);
    watches.push(w);
    await w.waitState('QUEUED', 10_000);

    await phoneCommand(ctrlPortOf('customer-human'), 'dial', `sip:${code}@127.0.0.1:5060`);
    const callId = await callerIn(code, 10_000);
    await w.waitState('PROCESSING', 40_000);
    const bridge = await ari.request('GET', `/bridges/${id}-b`);
    assert.equal(bridge.status, 200, 'no bridge in Asterisk');
    const members = (bridge.body as { channels: string[] }).channels;
    assert.ok(members.includes(callId), `the caller ${callId} is not in ${members.join(',')}`);
    assert.ok(
      members.some((m) => m.startsWith(`${id}-a`)),
      'no agent leg in the bridge',
    );
    assert.deepEqual(
      observer.channelsCreated(`${id}-c`),
      [],
      'the customer called us: we never dial them',
    );

    await phoneCommand(ctrlPortOf('customer-human'), 'hangup');
    const done = await w.waitState('COMPLETED', 20_000);
    assert.equal(done.data._callback_reason, 'AGENT_CONNECTED');
  });

  it('hangs up a caller whose code matches no callback', async function () {
    await start();
    const mark = observer.events.length;
    await phoneCommand(ctrlPortOf('customer-human'), 'dial', 'sip:999999@127.0.0.1:5060');
    const callId = await callerIn('999999', 10_000).catch(() => undefined);
    // Hung up at once: it may be gone before it could be seen in the application.
    if (callId) await observer.waitDestroyed(callId, 10_000);
    const created = observer.events
      .slice(mark)
      .find(
        (e) =>
          e.type === 'ChannelCreated' && !!e.channel?.name?.startsWith('PJSIP/customer-human-'),
      );
    assert.ok(created?.channel, 'the call never reached Asterisk');
    await observer.waitDestroyed(created.channel.id, 10_000);
  });

  it('hangs up, once started, the calls a dead process left up that no session owns', async function () {
    const first = await start();
    const t0 = Date.now();
    const id = await first.create('user-scheduled-now', {
      _customer_number: numberOf(lab, 'customer-human'),
    });
    const w = new CallbackWatch(first, id, t0);
    watches.push(w);
    await w.waitState('PROCESSING', 40_000);
    await w.stop();
    watches.splice(0);
    // The process goes away without hanging up (what a crash leaves), its store with it.
    const dead = services.splice(0);
    for (const s of dead) await s.close();
    await sleep(500);
    const left = (await ari.channelIds()).filter((c) => c.startsWith(`${id}-`));
    assert.equal(left.length, 2, `expected both legs still up, got ${left.join(',')}`);

    await start();
    for (const c of left) await observer.waitDestroyed(c, 15_000);
  });
});
