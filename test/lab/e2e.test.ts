// End to end against the lab (`npm run lab:up` first; fails, never skips, without it): the real
// service in-process (SQLite, engine, HTTP on loopback, ARI to the lab's Asterisk 22) driven
// with fetch exactly as a GMS client would, while a second ARI application watches what really
// happens on the wire. Run: npx mocha --config .mocharc.lab.json test/lab/e2e.test.ts

import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  AriObserver,
  AriRest,
  CallbackWatch,
  GmsClient,
  NOANSWER_TARGET,
  SUPPORT_AGENTS,
  TEST_OPTIONS,
  ctrlPortOf,
  firstSseEvent,
  phoneCommand,
  recordingOf,
  run,
  sleep,
  soxStat,
  startE2eService,
  type E2eService,
  resetLab,
} from './e2e-helpers';
import { numberOf, requireLab, type LabState } from './lab-state';

describe('dialback end to end over HTTP, with the lab Asterisk', function () {
  this.timeout(120_000);

  let lab: LabState;
  let e2e: E2eService;
  let gms: GmsClient;
  let ari: AriRest;
  let observer: AriObserver;
  let human: string;
  const created = new Set<string>();
  const watches: CallbackWatch[] = [];
  const timings: string[] = [];

  const iso = (ms: number): string => new Date(ms).toISOString();
  const note = (what: string): void => {
    timings.push(what);
  };

  async function book(
    service: string,
    number: string,
    extra: Record<string, string> = {},
  ): Promise<CallbackWatch> {
    const t = Date.now();
    const id = await gms.create(service, { _customer_number: number, ...extra });
    created.add(id);
    const w = new CallbackWatch(gms, id, t);
    watches.push(w);
    return w;
  }

  async function agentHolding(id: string): Promise<string> {
    const a = (await gms.agents()).find((x) => x.callbackId === id);
    assert.ok(a, `no agent holds ${id}`);
    return a.id;
  }

  /** The engine's bridge, as Asterisk has it. */
  async function bridgeMembers(id: string): Promise<string[]> {
    const r = await ari.request('GET', `/bridges/${id}-b`);
    assert.equal(r.status, 200, `bridge ${id}-b is not in Asterisk`);
    return [...((r.body as { channels: string[] }).channels ?? [])].sort();
  }

  /** From AMD's verdict on the customer leg to both legs in the bridge (Asterisk's clock). */
  function verdictToBridge(id: string, customer = `${id}-c1`): number | undefined {
    const verdict = observer.first(
      (e) => e.type === 'ChannelVarset' && e.channel?.id === customer && e.variable === 'AMDSTATUS',
    );
    const entered = observer.events.filter(
      (e) => e.type === 'ChannelEnteredBridge' && e.bridge?.id === `${id}-b`,
    );
    if (!verdict || entered.length < 2) return undefined;
    return Math.max(...entered.map((e) => e.at)) - verdict.at;
  }

  function amdVerdicts(id: string): string[] {
    return observer.events
      .filter(
        (e) =>
          e.type === 'ChannelVarset' &&
          e.channel?.id.startsWith(`${id}-c`) &&
          e.variable === 'AMDSTATUS',
      )
      .map((e) => String(e.value));
  }

  async function setAgents(ids: string[], command: 'ready' | 'not-ready'): Promise<void> {
    for (const a of ids) await gms.agent(a, command);
  }

  before(async function () {
    lab = await requireLab();
    human = numberOf(lab, 'customer-human');
    ari = new AriRest(lab);
    observer = new AriObserver(lab);
    await observer.open();
    e2e = await startE2eService(lab);
    gms = new GmsClient(e2e.url);
    assert.equal(await gms.readyz(), 200, 'the service is not ready on the lab');
  });

  afterEach(async function () {
    for (const w of watches.splice(0)) await w.stop();
    // Whatever a failed test left: open callbacks, their calls, agents not ready.
    await resetLab(gms, ari, created);
  });

  after(async function () {
    for (const w of watches.splice(0)) await w.stop();
    await ari?.cleanup(created).catch((err: unknown) => console.warn('lab clean-up failed', err));
    // Closing an ARI socket while Asterisk dispatches to it has deadlocked Asterisk before
    // (asterisk/asterisk#2170, with device-state subscriptions): close once the lab is quiet.
    await observer?.quiet(1500, 10_000);
    await e2e?.close();
    await observer?.close();
    if (timings.length > 0) console.log(`      timings:\n        ${timings.join('\n        ')}`);
  });

  it('connects a Not Delayed callback to a human and an agent, and the agent hears the customer', async function () {
    const w = await book('user-scheduled-now', human, { _desired_time: iso(Date.now() + 1000) });
    const id = w.id;
    const processing = await w.waitState('PROCESSING', 30_000);
    const agent = await agentHolding(id);
    assert.ok(SUPPORT_AGENTS.includes(agent), `${agent} is not a support agent`);
    assert.deepEqual(await bridgeMembers(id), [`${id}-a1`, `${id}-c1`]);
    assert.deepEqual(amdVerdicts(id), ['HUMAN']);
    const bridgeMs = verdictToBridge(id);
    note(`not delayed: create → PROCESSING ${processing.at - w.createdAt} ms`);
    note(`not delayed: HUMAN verdict → both legs bridged ${bridgeMs ?? '?'} ms (Asterisk clock)`);
    // Let the customer talk (the lab's human voice keeps speaking after "Hello?").
    const talkStart = Date.now();
    await sleep(4000);
    assert.equal(await ari.hangup(`${id}-a1`), 204);
    const done = await w.waitState('COMPLETED', 10_000);
    assert.equal(done.data._callback_reason, 'AGENT_CONNECTED');
    assert.deepEqual(w.states(), ['QUEUED', 'ROUTING', 'PROCESSING', 'COMPLETED/AGENT_CONNECTED']);
    const v = await gms.view('user-scheduled-now', id);
    assert.equal(v._callback_state, 'COMPLETED');
    assert.equal(v._callback_reason, 'AGENT_CONNECTED');
    assert.equal(v._dial_attempts, 1);
    // The engine hangs up the customer leg itself once the agent left.
    await observer.waitDestroyed(`${id}-c1`, 5000);
    await sleep(1000);
    const rec = recordingOf(agent);
    assert.ok(
      fs.statSync(rec).mtimeMs >= talkStart - 10_000,
      `${rec} was not written by this call`,
    );
    const stat = await soxStat(rec);
    note(
      `not delayed: ${agent} heard max amplitude ${stat.maxAmplitude}, RMS ${stat.rms} over ${stat.seconds} s`,
    );
    assert.ok(stat.maxAmplitude > 0.1, `${rec} is silent (max amplitude ${stat.maxAmplitude})`);
    assert.ok(stat.rms > 0.01, `${rec} is nearly silent (RMS ${stat.rms})`);
  });

  it('asks a Delayed Scheduled customer to confirm on the event stream, then connects them', async function () {
    const desired = Date.now() + 2000;
    const w = await book('user-scheduled', human, { _desired_time: iso(desired) });
    const id = w.id;
    const dialog = await firstSseEvent(e2e.url, id, 'dialog', 30_000);
    assert.equal(dialog._action, 'ConfirmationDialog');
    assert.equal(dialog._id, id);
    const dialogAt = Date.now();
    assert.ok(dialogAt >= desired - 1000, 'the dialog came long before the desired time');
    const answer = await gms.action(id, 'connect');
    assert.equal(answer._action, 'ConfirmationDialog');
    assert.equal(answer._text, 'You will receive the call shortly');
    const processing = await w.waitState('PROCESSING', 30_000);
    assert.deepEqual(await bridgeMembers(id), [`${id}-a1`, `${id}-c1`]);
    note(`delayed confirm: connect → PROCESSING ${processing.seenAt - dialogAt} ms`);
    note(`delayed confirm: HUMAN verdict → both legs bridged ${verdictToBridge(id) ?? '?'} ms`);
    // The customer hangs up from the phone itself.
    const hung = await phoneCommand(ctrlPortOf('customer-human'), 'hangup');
    assert.equal(hung.ok, true, JSON.stringify(hung));
    const done = await w.waitState('COMPLETED', 10_000);
    assert.equal(done.data._callback_reason, 'AGENT_CONNECTED');
    await observer.waitDestroyed(`${id}-a1`, 5000);
  });

  it('retries an answering machine and then fails the callback, after two customer calls', async function () {
    const w = await book('user-scheduled-now', numberOf(lab, 'customer-machine'));
    const id = w.id;
    const done = await w.waitState('COMPLETED', 60_000);
    assert.equal(done.data._callback_reason, 'FAIL_CALL_TO_CUSTOMER');
    assert.deepEqual(observer.channelsCreated(id).sort(), [`${id}-c1`, `${id}-c2`]);
    assert.deepEqual(amdVerdicts(id), ['MACHINE', 'MACHINE']);
    assert.equal((await gms.view('user-scheduled-now', id))._dial_attempts, 2);
    note(`machine: create → FAIL_CALL_TO_CUSTOMER ${done.at - w.createdAt} ms`);
  });

  it('fails a busy customer quickly after the attempts', async function () {
    const w = await book('user-scheduled-now', numberOf(lab, 'customer-busy'));
    const id = w.id;
    const done = await w.waitState('COMPLETED', 30_000);
    assert.equal(done.data._callback_reason, 'FAIL_CALL_TO_CUSTOMER');
    const took = done.at - w.createdAt;
    note(`busy: create → FAIL_CALL_TO_CUSTOMER ${took} ms`);
    // Two near-instant 486s and one retry wait: nowhere near a ring timeout.
    assert.ok(took < TEST_OPTIONS._dial_retry_timeout * 1000 + 3000, `took ${took} ms`);
    assert.deepEqual(observer.channelsCreated(id).sort(), [`${id}-c1`, `${id}-c2`]);
    const causes = new Map(
      observer.events
        .filter((e) => e.type === 'ChannelDestroyed' && e.channel?.id.startsWith(`${id}-c`))
        .map((e) => [e.channel?.id, e.cause]),
    );
    assert.deepEqual([...causes.values()], [17, 17], 'cause 17: user busy');
  });

  it('fails an absent customer after the ring timeouts', async function () {
    const w = await book('user-scheduled-now', numberOf(lab, 'customer-absent'));
    const id = w.id;
    const done = await w.waitState('COMPLETED', 60_000);
    assert.equal(done.data._callback_reason, 'FAIL_CALL_TO_CUSTOMER');
    const took = done.at - w.createdAt;
    note(`absent: create → FAIL_CALL_TO_CUSTOMER ${took} ms`);
    const ring = TEST_OPTIONS._call_timeguard_timeout;
    const minimum = 2 * ring + TEST_OPTIONS._dial_retry_timeout * 1000;
    assert.ok(took >= minimum - 500, `took ${took} ms, less than two ring timeouts`);
    assert.ok(took < minimum + 5000, `took ${took} ms`);
    assert.deepEqual(observer.channelsCreated(id).sort(), [`${id}-c1`, `${id}-c2`]);
  });

  it('ends FAIL_AGENT_CONNECT when the customer hangs up while waiting for an agent', async function () {
    await setAgents(SUPPORT_AGENTS, 'not-ready');
    const w = await book('user-scheduled-now', human);
    const id = w.id;
    await w.waitState('ROUTING', 30_000);
    // The customer is on the line hearing the waiting treatment.
    const playing = await observer.waitFor(
      (e) => e.type === 'PlaybackStarted' && e.playback?.target_uri === `channel:${id}-c1`,
      5000,
    );
    assert.ok(playing);
    await sleep(1000);
    assert.equal(await ari.hangup(`${id}-c1`), 204);
    const done = await w.waitState('COMPLETED', 10_000);
    assert.equal(done.data._callback_reason, 'FAIL_AGENT_CONNECT');
    assert.deepEqual(w.states(), ['QUEUED', 'ROUTING', 'COMPLETED/FAIL_AGENT_CONNECT']);
    assert.deepEqual(observer.channelsCreated(`${id}-a`), [], 'no agent was dialled');
  });

  it('gives the call to the next agent when the first one does not answer', async function () {
    // agent-noanswer ready first: it is the longest idle of its group.
    await gms.agent('agent-noanswer', 'ready');
    await sleep(20);
    await gms.agent('agent1', 'not-ready');
    await gms.agent('agent1', 'ready');
    const before = new Map((await gms.agents()).map((a) => [a.id, a]));
    assert.ok(
      (before.get('agent-noanswer')?.since ?? Infinity) < (before.get('agent1')?.since ?? 0),
    );
    const w = await book('e2e-noanswer', human);
    const id = w.id;
    const processing = await w.waitState('PROCESSING', 40_000);
    assert.deepEqual(observer.channelsCreated(`${id}-a`).sort(), [`${id}-a1`, `${id}-a2`]);
    assert.match(String(observer.channelName(`${id}-a1`)), /^PJSIP\/agent-noanswer-/);
    assert.match(String(observer.channelName(`${id}-a2`)), /^PJSIP\/agent1-/);
    const created = (cid: string): number =>
      observer.first((e) => e.type === 'ChannelCreated' && e.channel?.id === cid)?.at ?? NaN;
    const gap = created(`${id}-a2`) - created(`${id}-a1`);
    note(`no-answer: first agent rang ${gap} ms before the next was dialled`);
    assert.ok(gap >= TEST_OPTIONS._agent_reserve_timeout * 1000 - 500, `gap ${gap} ms`);
    assert.deepEqual(await bridgeMembers(id), [`${id}-a2`, `${id}-c1`]);
    const agents = new Map((await gms.agents()).map((a) => [a.id, a]));
    assert.equal(agents.get('agent-noanswer')?.state, 'not-ready');
    assert.equal(agents.get('agent1')?.callbackId, id);
    note(`no-answer: create → PROCESSING ${processing.at - w.createdAt} ms`);
    assert.equal(await ari.hangup(`${id}-a2`), 204);
    const done = await w.waitState('COMPLETED', 10_000);
    assert.equal(done.data._callback_reason, 'AGENT_CONNECTED');
    assert.equal(
      (await gms.view('e2e-noanswer', id))._target,
      NOANSWER_TARGET,
      'the callback was routed on its own target',
    );
  });

  it('rides out an Asterisk restart: readiness drops and returns, waiting sessions complete', async function () {
    await setAgents(SUPPORT_AGENTS, 'not-ready');
    const a = await book('e2e-wait', human);
    const b = await book('e2e-wait', human);
    await a.waitState('QUEUED', 10_000);
    await b.waitState('QUEUED', 10_000);

    const readiness: Array<{ at: number; status: number }> = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const status = await gms.readyz().catch(() => 0);
        if (readiness[readiness.length - 1]?.status !== status)
          readiness.push({ at: Date.now(), status });
        await sleep(100);
      }
    })();
    const t0 = Date.now();
    const restart = await run('bash', ['scripts/lab/restart-asterisk.sh', '--pause', '2'], 90_000);
    assert.equal(restart.code, 0, restart.out);
    const scriptMs = Date.now() - t0;
    const until = Date.now() + 30_000;
    while (readiness[readiness.length - 1]?.status !== 200 || readiness.length < 3) {
      if (Date.now() > until) break;
      await sleep(100);
    }
    polling = false;
    await poller;
    const statuses = readiness.map((r) => r.status);
    assert.deepEqual(statuses, [200, 503, 200], `readiness seen: ${JSON.stringify(readiness)}`);
    note(
      `restart: script ${scriptMs} ms (2 s paused); /readyz 503 for ${readiness[2].at - readiness[1].at} ms`,
    );
    await requireLab();

    for (const w of [a, b]) {
      const v = await gms.view('e2e-wait', w.id);
      assert.equal(v._callback_state, 'QUEUED', `${w.id} did not wait through the restart`);
    }
    // One agent: the sessions are served in order, one after the other.
    const back = Date.now();
    await gms.agent('agent1', 'ready');
    for (const w of [a, b]) {
      const p = await w.waitState('PROCESSING', 40_000);
      note(
        `restart: ${w === a ? 'first' : 'second'} session PROCESSING ${p.at - back} ms after agent1 ready`,
      );
      assert.deepEqual(await bridgeMembers(w.id), [`${w.id}-a1`, `${w.id}-c1`]);
      await sleep(1000);
      assert.equal(await ari.hangup(`${w.id}-a1`), 204);
      const done = await w.waitState('COMPLETED', 10_000);
      assert.equal(done.data._callback_reason, 'AGENT_CONNECTED');
      await observer.waitDestroyed(`${w.id}-c1`, 5000);
    }
  });
});
