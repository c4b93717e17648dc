import assert from 'node:assert/strict';
import { SystemClock } from '../../../src/clock';
import { silentLogger } from '../../../src/logger';
import { AmiClient } from '../../../src/telephony/ami/ami-client';
import {
  AmiPresence,
  type DeviceState,
  deviceStateFromCode,
  deviceStateFromExtensionStatus,
  deviceStateFromName,
  isReachable,
} from '../../../src/telephony/ami/presence';
import { FakeAmi, amiFixture } from '../../helpers/fake-ami';
import { waitFor } from './wait-for';

describe('device state mapping', () => {
  it('reads DeviceStateChange names, IDLE as NOT_INUSE', () => {
    assert.equal(deviceStateFromName('NOT_INUSE'), 'NOT_INUSE');
    assert.equal(deviceStateFromName('idle'), 'NOT_INUSE');
    assert.equal(deviceStateFromName('RINGINUSE'), 'RINGINUSE');
    assert.equal(deviceStateFromName('SOMETHING'), undefined);
  });

  it('reads QueueMemberStatus codes in enum ast_device_state order', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(deviceStateFromCode), [
      'UNKNOWN',
      'NOT_INUSE',
      'INUSE',
      'BUSY',
      'INVALID',
      'UNAVAILABLE',
      'RINGING',
      'RINGINUSE',
      'ONHOLD',
      undefined,
    ]);
  });

  it('reads ExtensionStatus bit masks', () => {
    assert.deepEqual([-2, -1, 0, 1, 2, 4, 8, 9, 16, 17].map(deviceStateFromExtensionStatus), [
      'INVALID',
      'INVALID',
      'NOT_INUSE',
      'INUSE',
      'BUSY',
      'UNAVAILABLE',
      'RINGING',
      'RINGINUSE',
      'ONHOLD',
      'ONHOLD',
    ]);
  });

  it('counts busy states as reachable and only UNAVAILABLE and INVALID as not', () => {
    const all: DeviceState[] = [
      'UNKNOWN',
      'NOT_INUSE',
      'INUSE',
      'BUSY',
      'INVALID',
      'UNAVAILABLE',
      'RINGING',
      'RINGINUSE',
      'ONHOLD',
    ];
    assert.deepEqual(
      all.filter((s) => !isReachable(s)),
      ['INVALID', 'UNAVAILABLE'],
    );
  });
});

describe('AMI agent presence (against a fake AMI replaying recorded Asterisk events)', () => {
  let fake: FakeAmi;
  let client: AmiClient;
  let presence: AmiPresence;
  let reports: Array<[string, boolean]>;
  let states: Array<[string, DeviceState]>;

  const agents = [
    { id: 'a1', endpoint: 'PJSIP/agent1' },
    { id: 'a2', endpoint: 'PJSIP/agent2' },
    { id: 'ghost', endpoint: 'PJSIP/nobody' },
  ];

  beforeEach(async () => {
    fake = await FakeAmi.start();
    client = new AmiClient({
      host: '127.0.0.1',
      port: fake.port,
      username: 'dialback',
      secret: 'dialback',
      clock: new SystemClock(),
      logger: silentLogger(),
      backoffInitialMs: 20,
      backoffMaxMs: 50,
      pingIntervalMs: 0,
    });
    reports = [];
    states = [];
    presence = new AmiPresence({
      client,
      logger: silentLogger(),
      agents,
      onPresence: (id, available) => reports.push([id, available]),
      onDeviceState: (id, s) => states.push([id, s]),
    });
  });

  afterEach(async () => {
    presence.stop();
    await client.close();
    await fake.close();
  });

  it('reports every configured agent from the recorded DeviceStateList, unknown devices as unavailable', async () => {
    presence.start();
    await client.start();
    await waitFor(() => reports.length === 3, 'three presence reports');
    assert.deepEqual([...reports].sort(), [
      ['a1', true],
      ['a2', true],
      ['ghost', false],
    ]);
    assert.equal(presence.state('a1'), 'NOT_INUSE');
    assert.equal(presence.state('ghost'), 'INVALID');
  });

  it('follows the recorded call to agent1: ringing, in use, idle — reachable throughout', async () => {
    presence.start();
    await client.start();
    await waitFor(() => reports.length === 3, 'the initial list');
    states.length = 0;
    fake.push(amiFixture('call-agent1-events.txt'));
    await waitFor(() => states.length === 3, 'three device states');
    assert.deepEqual(states, [
      ['a1', 'RINGING'],
      ['a1', 'INUSE'],
      ['a1', 'NOT_INUSE'],
    ]);
    assert.equal(reports.length, 3, 'a busy agent is not reported unavailable');
    assert.equal(presence.available('a1'), true);
  });

  it('reports an agent unavailable and back from live events of each kind', async () => {
    presence.start();
    await client.start();
    await waitFor(() => reports.length === 3, 'the initial list');
    // Hand-written in the recorded format: the lab phones never go unregistered.
    fake.push(
      'Event: DeviceStateChange\nPrivilege: call,all\nDevice: PJSIP/agent1\nState: UNAVAILABLE\n',
    );
    await waitFor(() => reports.length === 4, 'agent1 unavailable');
    fake.push(
      'Event: QueueMemberStatus\nPrivilege: agent,all\nQueue: support\nMemberName: PJSIP/agent1\nInterface: PJSIP/agent1\nStateInterface: PJSIP/agent1\nStatus: 1\nPaused: 0\n',
    );
    await waitFor(() => reports.length === 5, 'agent1 back');
    fake.push(
      'Event: ExtensionStatus\nPrivilege: call,all\nExten: 2002\nContext: agents\nHint: PJSIP/agent2\nStatus: 4\nStatusText: Unavailable\n',
    );
    await waitFor(() => reports.length === 6, 'agent2 unavailable');
    assert.deepEqual(reports.slice(3), [
      ['a1', false],
      ['a1', true],
      ['a2', false],
    ]);
  });

  it('ignores aggregate hints and devices of no configured agent', async () => {
    presence.start();
    await client.start();
    await waitFor(() => reports.length === 3, 'the initial list');
    fake.push(
      'Event: ExtensionStatus\nExten: 1\nContext: x\nHint: PJSIP/agent1&PJSIP/agent2\nStatus: 4\n\n' +
        'Event: DeviceStateChange\nDevice: PJSIP/customer-human\nState: UNAVAILABLE\n\n' +
        'Event: DeviceStateChange\nDevice: PJSIP/agent2\nState: INUSE\n',
    );
    await waitFor(() => presence.state('a2') === 'INUSE', 'the last event');
    assert.equal(reports.length, 3);
    assert.equal(presence.state('a1'), 'NOT_INUSE');
  });

  it('reads the list again after a reconnect and reports what changed while AMI was down', async () => {
    presence.start();
    await client.start();
    await waitFor(() => reports.length === 3, 'the initial list');
    fake.reply(
      'DeviceStateList',
      amiFixture('device-state-list.txt').replace(
        'Device: PJSIP/agent2\nState: NOT_INUSE',
        'Device: PJSIP/agent2\nState: UNAVAILABLE',
      ),
    );
    fake.drop();
    await waitFor(() => reports.length === 4, 'the change seen by the second list');
    assert.deepEqual(reports[3], ['a2', false]);
    assert.equal(fake.actionsNamed('DeviceStateList').length, 2);
  });
});
