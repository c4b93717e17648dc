// The ARI connection cut mid-call, against the lab's real Asterisk (`npm run lab:up` first;
// fails, never skips, without it). The service's ARI URL points at a loopback TCP proxy
// (tcp-cut-proxy.ts) in front of Asterisk's HTTP port: REST and the events websocket both go
// through it. The test resets every proxied connection and refuses new ones for a few seconds
// at chosen moments of a call, then lets them through again, and checks what RELIABILITY.md
// promises: the adapter reconnects and reconciles, the session ends in the right final state,
// no call id is dialled twice, and nothing of the callback is left in Asterisk. A second ARI
// application (the observer) watches Asterisk directly, not through the proxy.
// Phones: lab-customer-20, lab-agent-19/20 only (the other lab tests use customer-human and
// agent1..4); ARI application `dialback-lab`. Do not run it at the same time as bench/lab.ts.
//   npx mocha --no-config -r tsx/cjs --extension ts --timeout 180000 --exit test/lab/ari-cut.test.ts

import assert from 'node:assert/strict';
import {
  AriObserver,
  AriRest,
  CallbackWatch,
  GmsClient,
  LAB_SERVICE,
  labRawConfig,
  sleep,
  startE2eService,
  verdictToBridgeMs,
  type E2eService,
  resetLab,
} from './e2e-helpers';
import { numberOf, requireLab, type LabState } from './lab-state';
import { TcpCutProxy } from './tcp-cut-proxy';

const CUSTOMER = 'lab-customer-20';
const AGENTS = ['lab-agent-19', 'lab-agent-20'];
/** How long the proxy refuses new connections after a cut. */
const OUTAGE_MS = 3000;

describe('the ARI connection cut mid-call, through a loopback proxy, with the lab Asterisk', function () {
  this.timeout(120_000);

  let lab: LabState;
  let proxy: TcpCutProxy;
  let e2e: E2eService;
  let gms: GmsClient;
  let ari: AriRest;
  let observer: AriObserver;
  const created = new Set<string>();
  const watches: CallbackWatch[] = [];
  const notes: string[] = [];

  async function book(): Promise<CallbackWatch> {
    const t = Date.now();
    const id = await gms.create(LAB_SERVICE, { _customer_number: numberOf(lab, CUSTOMER) });
    created.add(id);
    const w = new CallbackWatch(gms, id, t);
    watches.push(w);
    return w;
  }

  /** /readyz as seen every 100 ms, as a list of changes, until stop(). */
  function watchReadiness(): {
    seen: Array<{ at: number; status: number }>;
    stop(): Promise<void>;
  } {
    const seen: Array<{ at: number; status: number }> = [];
    let on = true;
    const loop = (async () => {
      while (on) {
        const status = await gms.readyz().catch(() => 0);
        if (seen[seen.length - 1]?.status !== status) seen.push({ at: Date.now(), status });
        await sleep(100);
      }
    })();
    return {
      seen,
      stop: async () => {
        on = false;
        await loop;
      },
    };
  }

  /**
   * Cuts the ARI connection for `outageMs` and waits until the service is ready again. Asserts
   * that the cut dropped live connections, that readiness went 200 → 503 → 200, and that the
   * adapter came back through the proxy (new connections accepted after the outage).
   */
  async function cutAndRecover(
    what: string,
    outageMs = OUTAGE_MS,
  ): Promise<{ cutAt: number; backAt: number }> {
    const readiness = watchReadiness();
    await sleep(150);
    const acceptedBefore = proxy.counts.accepted;
    const cutAt = Date.now();
    const dropped = proxy.cut(outageMs);
    assert.ok(dropped >= 1, 'the cut found no ARI connection to drop');
    const until = Date.now() + 30_000;
    for (;;) {
      const s = readiness.seen;
      if (s.length >= 3 && s[s.length - 1].status === 200) break;
      if (Date.now() > until) break;
      await sleep(50);
    }
    await readiness.stop();
    const statuses = readiness.seen.map((r) => r.status);
    assert.deepEqual(statuses, [200, 503, 200], `readiness: ${JSON.stringify(readiness.seen)}`);
    const backAt = readiness.seen[2].at;
    assert.ok(backAt - cutAt >= outageMs - 200, `ready again ${backAt - cutAt} ms after the cut`);
    assert.ok(
      proxy.counts.accepted > acceptedBefore,
      'the adapter did not reconnect through the proxy',
    );
    notes.push(
      `${what}: ${dropped} connections dropped, ${proxy.counts.refused} refused so far, /readyz 503 for ${backAt - readiness.seen[1].at} ms, ready ${backAt - cutAt} ms after the cut`,
    );
    return { cutAt, backAt };
  }

  /** Every channel of the callback was created once, is destroyed, and nothing is left. */
  async function assertNothingLeft(id: string): Promise<void> {
    const counts = new Map<string, number>();
    for (const e of observer.events)
      if (e.type === 'ChannelCreated' && e.channel?.id.startsWith(id))
        counts.set(e.channel.id, (counts.get(e.channel.id) ?? 0) + 1);
    for (const [ch, n] of counts) assert.equal(n, 1, `call id ${ch} was dialled ${n} times`);
    for (const ch of counts.keys()) await observer.waitDestroyed(ch, 10_000);
    // The adapter removes an empty bridge of its own once the last channel has left it.
    const until = Date.now() + 5000;
    for (;;) {
      const channels = (await ari.channelIds()).filter((c) => c.startsWith(id));
      const bridges = (await ari.bridgeIds()).filter((b) => b.startsWith(id));
      if (channels.length === 0 && bridges.length === 0) return;
      if (Date.now() > until)
        assert.fail(
          `left in Asterisk: channels ${channels.join(',')} bridges ${bridges.join(',')}`,
        );
      await sleep(200);
    }
  }

  async function bridgeMembers(id: string): Promise<string[]> {
    const r = await ari.request('GET', `/bridges/${id}-b`);
    assert.equal(r.status, 200, `bridge ${id}-b is not in Asterisk`);
    return [...((r.body as { channels?: string[] }).channels ?? [])].sort();
  }

  before(async function () {
    lab = await requireLab();
    for (const p of [CUSTOMER, ...AGENTS])
      assert.ok(
        lab.phones[p],
        `lab phone ${p} missing: re-run \`bash scripts/lab/up.sh --restart\``,
      );
    const target = new URL(lab.ari.url);
    proxy = new TcpCutProxy(target.hostname, Number(target.port || 80));
    const proxyUrl = await proxy.start();
    ari = new AriRest(lab);
    observer = new AriObserver(lab);
    await observer.open();
    e2e = await startE2eService(lab, labRawConfig(AGENTS, { ariUrl: proxyUrl }));
    gms = new GmsClient(e2e.url);
    assert.equal(await gms.readyz(), 200, 'the service is not ready on the lab');
    assert.ok(proxy.counts.accepted >= 1, 'the service does not talk to ARI through the proxy');
  });

  afterEach(async function () {
    for (const w of watches.splice(0)) await w.stop();
    // Whatever a failed test left: open callbacks, their calls, agents not ready.
    await resetLab(gms, ari, created);
  });

  after(async function () {
    for (const w of watches.splice(0)) await w.stop();
    await ari?.cleanup(created).catch((err: unknown) => console.warn('lab clean-up failed', err));
    await observer?.quiet(1500, 10_000);
    await e2e?.close();
    await observer?.close();
    await proxy?.stop();
    if (notes.length > 0) console.log(`      figures:\n        ${notes.join('\n        ')}`);
  });

  for (const moment of ['rings', 'answers'] as const) {
    it(`reconnects, reconciles and connects the customer when the socket is cut as the customer's phone ${moment}`, async function () {
      const w = await book();
      const id = w.id;
      // Rings: the customer leg exists (baresip answers within milliseconds, so this is the
      // dialling/ringing moment). Answers: the leg is up and AMD is listening (~1.3 s).
      await observer.waitFor(
        (e) =>
          e.channel?.id === `${id}-c1` &&
          (moment === 'rings'
            ? e.type === 'ChannelCreated'
            : e.type === 'ChannelStateChange' && e.channel.state === 'Up'),
        15_000,
      );
      await cutAndRecover(`cut as the customer ${moment}`);
      const processing = await w.waitState('PROCESSING', 60_000);
      // AMD's verdict came during the cut: Stasis() failed ("app not active") and the
      // dialplan retried it every 0.5 s (docker/asterisk/extensions.conf) until the adapter
      // was back, so the customer's first line is the one bridged: never dialled again.
      assert.deepEqual(observer.channelsCreated(`${id}-c`), [`${id}-c1`]);
      assert.deepEqual(await bridgeMembers(id), [`${id}-a1`, `${id}-c1`]);
      const verdict = observer.first(
        (e) =>
          e.type === 'ChannelVarset' && e.channel?.id === `${id}-c1` && e.variable === 'AMDSTATUS',
      );
      assert.equal(verdict?.value, 'HUMAN');
      const stasisFailed = observer.events.some(
        (e) =>
          e.type === 'ChannelVarset' &&
          e.channel?.id === `${id}-c1` &&
          e.variable === 'STASISSTATUS' &&
          e.value === 'FAILED',
      );
      assert.ok(
        stasisFailed,
        'the verdict did not come during the cut: the test missed its moment',
      );
      notes.push(
        `cut as the customer ${moment}: create → PROCESSING ${processing.at - w.createdAt} ms, HUMAN → bridged ${verdictToBridgeMs(observer, id) ?? '?'} ms, Stasis() refused during the cut and retried`,
      );
      await sleep(1000);
      assert.equal(await ari.hangup(`${id}-a1`), 204);
      const done = await w.waitState('COMPLETED', 15_000);
      assert.equal(done.data._callback_reason, 'AGENT_CONNECTED', w.states().join(' → '));
      assert.deepEqual(w.states(), [
        'QUEUED',
        'ROUTING',
        'PROCESSING',
        'COMPLETED/AGENT_CONNECTED',
      ]);
      assert.equal((await gms.view(LAB_SERVICE, id))._dial_attempts, 1);
      await observer.waitDestroyed(`${id}-c1`, 5000);
      await assertNothingLeft(id);
    });
  }

  it("dials the customer again when a cut outlasts the dialplan's 10 s of Stasis retries, and connects the second line", async function () {
    const w = await book();
    const id = w.id;
    await observer.waitFor(
      (e) =>
        e.channel?.id === `${id}-c1` && e.type === 'ChannelStateChange' && e.channel.state === 'Up',
      15_000,
    );
    const outage = 13_000;
    const { backAt } = await cutAndRecover('long cut as the customer answers', outage);
    // The dialplan gave up and hung up on the customer before the adapter was back: the
    // reconcile pass finds the leg gone and the session dials again with a new call id.
    const gone = await observer.waitDestroyed(`${id}-c1`, 1000);
    assert.ok(gone.at < backAt, 'the first line outlived the cut');
    const processing = await w.waitState('PROCESSING', 30_000);
    assert.deepEqual(observer.channelsCreated(`${id}-c`).sort(), [`${id}-c1`, `${id}-c2`]);
    assert.deepEqual(await bridgeMembers(id), [`${id}-a1`, `${id}-c2`]);
    notes.push(
      `long cut (${outage} ms): first line hung up by the dialplan, second line PROCESSING ${processing.seenAt - backAt} ms after the reconnect`,
    );
    await sleep(500);
    assert.equal(await ari.hangup(`${id}-a1`), 204);
    const done = await w.waitState('COMPLETED', 15_000);
    assert.equal(done.data._callback_reason, 'AGENT_CONNECTED');
    // A line lost through no fault of the customer still counts as an attempt (RELIABILITY.md C).
    assert.equal((await gms.view(LAB_SERVICE, id))._dial_attempts, 2);
    await assertNothingLeft(id);
  });

  it('keeps a bridged call through the cut, and completes it AGENT_CONNECTED when the agent hangs up after it', async function () {
    const w = await book();
    const id = w.id;
    await w.waitState('PROCESSING', 30_000);
    const before = await bridgeMembers(id);
    assert.deepEqual(before, [`${id}-a1`, `${id}-c1`]);
    await cutAndRecover('cut while bridged');
    // The call went on in Asterisk while nobody listened.
    assert.deepEqual(await bridgeMembers(id), before);
    assert.equal((await gms.view(LAB_SERVICE, id))._callback_state, 'PROCESSING');
    await sleep(1000);
    assert.equal(await ari.hangup(`${id}-a1`), 204);
    const done = await w.waitState('COMPLETED', 10_000);
    assert.equal(done.data._callback_reason, 'AGENT_CONNECTED');
    assert.deepEqual(w.states(), ['QUEUED', 'ROUTING', 'PROCESSING', 'COMPLETED/AGENT_CONNECTED']);
    assert.equal((await gms.view(LAB_SERVICE, id))._dial_attempts, 1);
    await assertNothingLeft(id);
  });

  it('finds on reconnect that the agent hung up during the cut, completes AGENT_CONNECTED and hangs up the customer', async function () {
    const w = await book();
    const id = w.id;
    await w.waitState('PROCESSING', 30_000);
    assert.deepEqual(await bridgeMembers(id), [`${id}-a1`, `${id}-c1`]);
    const readiness = watchReadiness();
    await sleep(150);
    const cutAt = Date.now();
    assert.ok(proxy.cut(OUTAGE_MS) >= 1);
    // The agent leaves while the service hears nothing: its ChannelDestroyed is lost.
    assert.equal(await ari.hangup(`${id}-a1`), 204);
    await observer.waitDestroyed(`${id}-a1`, 5000);
    await sleep(OUTAGE_MS / 2);
    assert.equal(
      (await gms.view(LAB_SERVICE, id))._callback_state,
      'PROCESSING',
      'the service heard of the hang-up through a cut connection',
    );
    const done = await w.waitState('COMPLETED', 30_000);
    await readiness.stop();
    assert.equal(done.data._callback_reason, 'AGENT_CONNECTED');
    assert.ok(done.seenAt - cutAt >= OUTAGE_MS - 200, 'completed before the connection was back');
    assert.deepEqual(
      readiness.seen.map((r) => r.status).slice(0, 2),
      [200, 503],
      JSON.stringify(readiness.seen),
    );
    // The engine ends the customer's leg itself once it learns the agent left.
    await observer.waitDestroyed(`${id}-c1`, 10_000);
    notes.push(
      `agent hung up during the cut: COMPLETED ${done.seenAt - cutAt} ms after the cut (outage ${OUTAGE_MS} ms)`,
    );
    assert.equal((await gms.view(LAB_SERVICE, id))._dial_attempts, 1);
    await assertNothingLeft(id);
  });
});
