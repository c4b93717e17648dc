// AMI against the real lab Asterisk (`npm run lab:up` first): app_queue figures, agent presence,
// and a real call to agent1 seen as in use by both, then idle again.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SystemClock } from '../../src/clock';
import { createLogger } from '../../src/logger';
import { AmiClient, amiString } from '../../src/telephony/ami/ami-client';
import { AmiPresence, type DeviceState } from '../../src/telephony/ami/presence';
import { AmiQueueStats } from '../../src/telephony/ami/queue-stats';

interface LabState {
  ami: { host: string; port: number; username: string; secret: string };
  asterisk: { queue: string };
}

const LAB_DIR = process.env.DIALBACK_LAB_DIR ?? join(homedir(), '.cache/dialback-lab/run');
const NOT_UP = 'the telephony lab is not up: run `npm run lab:up` first';

function labState(): LabState {
  try {
    return JSON.parse(readFileSync(join(LAB_DIR, 'lab-state.json'), 'utf8')) as LabState;
  } catch (err) {
    throw new Error(`${NOT_UP} (no readable ${join(LAB_DIR, 'lab-state.json')}: ${String(err)})`);
  }
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('AMI against the lab Asterisk', function () {
  this.timeout(60_000);
  const logger = createLogger({ level: process.env.DIALBACK_LOG_LEVEL ?? 'warn', name: 'lab-ami' });
  const clock = new SystemClock();
  let lab: LabState;
  let client: AmiClient;
  let presence: AmiPresence;
  let stats: AmiQueueStats;
  const states: Array<[string, DeviceState]> = [];
  const reports = new Map<string, boolean>();

  before(async () => {
    lab = labState();
    client = new AmiClient({ ...lab.ami, clock, logger, loginTimeoutMs: 3_000 });
    presence = new AmiPresence({
      client,
      logger,
      agents: [1, 2, 3, 4].map((i) => ({ id: `agent${i}`, endpoint: `PJSIP/agent${i}` })),
      onPresence: (id, available) => reports.set(id, available),
      onDeviceState: (id, s) => states.push([id, s]),
    });
    stats = new AmiQueueStats({
      client,
      clock,
      logger,
      targets: [{ target: 'support', queue: lab.asterisk.queue }],
      pollIntervalMs: 60_000,
    });
    presence.start();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.start(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${NOT_UP} (no AMI login at ${lab.ami.host}:${lab.ami.port})`)),
            5_000,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  });

  after(async () => {
    stats?.stop();
    presence?.stop();
    await client?.close();
  });

  it('reads QueueSummary for the support queue with its 4 members logged in and free', async () => {
    await stats.poll();
    const f = stats.figures(lab.asterisk.queue);
    assert.ok(f, 'QueueSummary returned the support queue');
    assert.equal(f.loggedIn, 4);
    assert.equal(f.available, 4);
    assert.equal(f.callers, 0);
    assert.equal(stats.ewtMs('support'), 0);
  });

  it('lists the 4 queue members with QueueStatus', async () => {
    const events = await client.listAction(
      'QueueStatus',
      { Queue: lab.asterisk.queue },
      'QueueStatusComplete',
    );
    const members = events
      .filter((e) => e.name === 'QueueMember')
      .map((e) => amiString(e.fields, 'stateinterface'))
      .sort();
    assert.deepEqual(members, ['PJSIP/agent1', 'PJSIP/agent2', 'PJSIP/agent3', 'PJSIP/agent4']);
  });

  it('reports agent1 available from the initial device state list', async () => {
    await waitFor(() => reports.get('agent1') !== undefined, 'agent1 presence');
    assert.equal(reports.get('agent1'), true);
    assert.equal(presence.state('agent1'), 'NOT_INUSE');
  });

  it('sees a call to agent1 as in use (presence and queue), then available again', async () => {
    states.length = 0;
    // Application Wait: Asterisk itself holds the answered call for 3 s, then hangs up.
    const res = await client.action('Originate', {
      Channel: 'PJSIP/agent1',
      Application: 'Wait',
      Data: '3',
      Async: 'true',
      Timeout: '10000',
    });
    assert.equal(amiString(res, 'response'), 'Success');
    await waitFor(() => presence.state('agent1') === 'INUSE', 'agent1 in use');
    assert.equal(reports.get('agent1'), true, 'a busy agent is still reachable');

    await stats.poll();
    assert.equal(stats.figures(lab.asterisk.queue)?.available, 3, 'one member fewer is free');

    await waitFor(() => presence.state('agent1') === 'NOT_INUSE', 'agent1 idle again');
    assert.deepEqual(
      states.filter(([id]) => id === 'agent1').map(([, s]) => s),
      ['RINGING', 'INUSE', 'NOT_INUSE'],
    );
    await stats.poll();
    assert.equal(stats.figures(lab.asterisk.queue)?.available, 4);
  });
});
