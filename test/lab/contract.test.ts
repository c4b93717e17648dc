// The telephony contract against the real lab: Asterisk 22 over ARI, baresip and SIPp phones.
// Needs `npm run lab:up`; fails (does not skip) without it. Run: npx mocha --config .mocharc.lab.json

import { strict as assert } from 'node:assert';
import { SystemClock } from '../../src/clock';
import type { DialableNumber } from '../../src/domain/phone';
import { AriTelephony } from '../../src/telephony/ari/ari-adapter';
import { realTimeEvents, telephonyContract, type ContractHarness } from '../telephony/contract';
import { numberOf, requireLab, type LabState } from './lab-state';

const AGENTS = ['agent1', 'agent2', 'agent3', 'agent4', 'agent-noanswer'].map((id) => ({
  id,
  endpoint: `PJSIP/${id}`,
}));

function adapter(lab: LabState): AriTelephony {
  return new AriTelephony({
    url: lab.ari.url,
    username: lab.ari.username,
    password: lab.ari.password,
    app: lab.ari.app,
    amdContext: lab.asterisk.amdContext,
    amdExtension: lab.asterisk.amdExtension,
    customerEndpoint: 'PJSIP/{number}',
    agents: AGENTS,
    clock: new SystemClock(),
  });
}

telephonyContract('ari (lab)', async (): Promise<ContractHarness> => {
  const lab = await requireLab();
  const port = adapter(lab);
  const ev = realTimeEvents(port);
  await port.start();
  assert.ok(port.isReady(), `ARI adapter did not connect to ${lab.ari.url}`);
  const num = (p: string): DialableNumber => numberOf(lab, p) as DialableNumber;
  return {
    port,
    numbers: {
      human: num('customer-human'),
      machine: num('customer-machine'),
      busy: num('customer-busy'),
      absent: num('customer-absent'),
    },
    agents: {
      answering: [{ id: 'agent1', endpoint: 'PJSIP/agent1' }],
      noAnswer: { id: 'agent-noanswer', endpoint: 'PJSIP/agent-noanswer' },
    },
    events: ev.events,
    waitFor: ev.waitFor,
    pass: ev.pass,
    now: ev.now,
    async cleanup() {
      ev.dispose();
      await port.stop();
      // Let the phones settle (baresip carries one call at a time).
      await new Promise((r) => setTimeout(r, 300));
    },
    timeouts: { ring: 4000, answer: 8000, command: 2000 },
  };
});

describe('ARI adapter (lab)', function () {
  it('bridges a HUMAN customer and an agent within tens of milliseconds of the verdict', async function () {
    const lab = await requireLab();
    const port = adapter(lab);
    const ev = realTimeEvents(port);
    await port.start();
    const run = Date.now().toString(36);
    const customer = `lab${run}-c1`;
    const agent = `lab${run}-a1`;
    try {
      await port.dialCustomer({
        callId: customer,
        callbackId: `lab${run}`,
        number: numberOf(lab, 'customer-human') as DialableNumber,
        amd: true,
        timeoutMs: 10_000,
      });
      const verdict = await ev.waitFor(
        (e) => e.type === 'call.answered' && e.callId === customer,
        15_000,
      );
      assert.ok(verdict.type === 'call.answered' && verdict.amd === 'HUMAN');
      const t0 = Date.now();
      await port.dialAgent({
        callId: agent,
        callbackId: `lab${run}`,
        agentId: 'agent2',
        endpoint: 'PJSIP/agent2',
        timeoutMs: 10_000,
      });
      await ev.waitFor((e) => e.type === 'call.answered' && e.callId === agent, 10_000);
      const tAgent = Date.now() - t0;
      await port.bridge(`lab${run}-b`, [customer, agent]);
      await ev.waitFor((e) => e.type === 'bridge.joined', 5000);
      const tJoined = Date.now() - t0;
      console.log(
        `      HUMAN verdict → agent answered ${tAgent} ms → bridge.joined ${tJoined} ms`,
      );
      assert.equal((await port.getCall(customer))?.status, 'bridged');
      await port.play(agent, 'sound:queue-periodic-announce');
      await port.stopPlayback(agent);
      await port.hangup(customer);
      await ev.waitFor((e) => e.type === 'call.ended' && e.callId === customer, 5000);
      assert.equal(
        ev.events().some((e) => e.type === 'call.ended' && e.callId === agent),
        false,
        'the agent leg stays up until the engine ends it',
      );
    } finally {
      await port.hangup(agent).catch((err: unknown) => console.warn('lab clean-up:', String(err)));
      await port
        .hangup(customer)
        .catch((err: unknown) => console.warn('lab clean-up:', String(err)));
      ev.dispose();
      await port.stop();
    }
  });

  it('reports agent presence for the configured agents at connect', async function () {
    const lab = await requireLab();
    const port = adapter(lab);
    const ev = realTimeEvents(port);
    await port.start();
    try {
      const e = await ev.waitFor(
        (x) => x.type === 'agent.presence' && x.agentId === 'agent1',
        3000,
      );
      assert.ok(e.type === 'agent.presence' && e.available);
    } finally {
      ev.dispose();
      await port.stop();
    }
  });
});
