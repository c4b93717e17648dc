// AMI wired into a running engine: device states reach the agent pool, and the queue's
// statistics become the EWT of the target that lives in that queue.

import assert from 'node:assert/strict';
import { SystemClock } from '../../../src/clock';
import { silentLogger } from '../../../src/logger';
import { startAmiSources, type AmiSink } from '../../../src/telephony/ami/ami-sources';
import { FakeAmi, amiFixture } from '../../helpers/fake-ami';
import { waitFor } from './wait-for';

describe('AMI sources wired to the engine', () => {
  let fake: FakeAmi;
  afterEach(async () => {
    await fake?.close();
  });

  it('reports agent presence and the queue EWT, and withdraws the EWT when stopped', async () => {
    fake = await FakeAmi.start();
    fake.reply('queuesummary', amiFixture('queue-summary-waiting.txt'));
    const presence = new Map<string, boolean>();
    const ewt = new Map<string, number | undefined>();
    const sink: AmiSink = {
      setAgentPresence: (id, available) => presence.set(id, available),
      setExternalEwt: (target, ms) => ewt.set(target, ms),
    };
    const sources = startAmiSources(
      {
        host: '127.0.0.1',
        port: fake.port,
        username: 'dialback',
        secret: 'dialback',
        queues: [{ target: 'support', queue: 'support' }],
        pollMs: 500,
      },
      [
        { id: 'agent1', endpoint: 'PJSIP/agent1' },
        { id: 'ghost', endpoint: 'PJSIP/ghost' },
      ],
      sink,
      { clock: new SystemClock(), logger: silentLogger() },
    );
    try {
      await waitFor(
        () => sources.isReady() && presence.size === 2 && ewt.has('support'),
        'presence and the queue EWT',
        5000,
      );
      assert.equal(presence.get('agent1'), true);
      assert.equal(presence.get('ghost'), false, 'a device Asterisk does not list is unreachable');
      assert.ok((ewt.get('support') ?? 0) > 0, 'callers are waiting in the recorded queue');
    } finally {
      await sources.stop();
    }
    assert.equal(ewt.get('support'), undefined, 'the pool estimate takes over again');
  });
});
