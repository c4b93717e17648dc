import assert from 'node:assert/strict';
import { SystemClock } from '../../../src/clock';
import { silentLogger } from '../../../src/logger';
import {
  AmiClient,
  type AmiClientOptions,
  type AmiEvent,
  amiNumber,
  amiString,
  isAmiError,
} from '../../../src/telephony/ami/ami-client';
import { FakeAmi, amiFixture } from '../../helpers/fake-ami';
import { waitFor } from './wait-for';

describe('AMI client (against a fake AMI replaying recorded Asterisk answers)', () => {
  let fake: FakeAmi;
  const clients: AmiClient[] = [];

  function client(over: Partial<AmiClientOptions> = {}): AmiClient {
    const c = new AmiClient({
      host: '127.0.0.1',
      port: fake.port,
      username: 'dialback',
      secret: 'dialback',
      clock: new SystemClock(),
      logger: silentLogger(),
      actionTimeoutMs: 1_000,
      loginTimeoutMs: 1_000,
      backoffInitialMs: 20,
      backoffMaxMs: 100,
      pingIntervalMs: 0,
      ...over,
    });
    clients.push(c);
    return c;
  }

  beforeEach(async () => {
    fake = await FakeAmi.start();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await fake.close();
  });

  it('logs in and reports itself ready', async () => {
    const c = client();
    let ups = 0;
    c.on('up', () => ups++);
    assert.equal(c.isReady(), false);
    await c.start();
    assert.equal(c.isReady(), true);
    assert.equal(ups, 1);
    const login = fake.actionsNamed('Login')[0];
    assert.equal(login?.username, 'dialback');
    assert.equal(login?.secret, 'dialback');
  });

  it('rejects start with a clear error when Asterisk refuses the credentials, and stops trying', async () => {
    const c = client({ secret: 'wrong' });
    await assert.rejects(c.start(), (e: unknown) => {
      assert.ok(isAmiError(e, 'AMI_LOGIN_FAILED'));
      assert.match(
        e.message,
        /login as 'dialback' at 127\.0\.0\.1:\d+ refused: Authentication failed/,
      );
      return true;
    });
    assert.equal(c.isReady(), false);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(fake.connections, 1, 'no reconnect after a refused login at start');
  });

  it('collects the events of a list action up to its completion event', async () => {
    const c = client();
    await c.start();
    const events = await c.listAction('QueueStatus', { Queue: 'support' }, 'QueueStatusComplete');
    assert.deepEqual(
      events.map((e) => e.name),
      ['QueueParams', 'QueueMember', 'QueueMember', 'QueueMember', 'QueueMember'],
    );
    assert.deepEqual(
      events.filter((e) => e.name === 'QueueMember').map((e) => amiString(e.fields, 'Name')),
      ['PJSIP/agent1', 'PJSIP/agent2', 'PJSIP/agent3', 'PJSIP/agent4'],
    );
    assert.equal(amiNumber(events[0]!.fields, 'Calls'), 0);
    const sent = fake.actionsNamed('QueueStatus')[0];
    assert.equal(sent?.queue, 'support');
    assert.ok(events.every((e) => e.actionId === sent?.actionid));
  });

  it('keeps the events of two concurrent list actions apart by ActionID', async () => {
    const c = client();
    await c.start();
    fake.reply('QueueSummary', (req) =>
      amiFixture(req.queue === 'busy' ? 'queue-summary-waiting.txt' : 'queue-summary-idle.txt'),
    );
    const [a, b] = await Promise.all([
      c.listAction('QueueSummary', { Queue: 'busy' }, 'QueueSummaryComplete'),
      c.listAction('QueueSummary', { Queue: 'idle' }, 'QueueSummaryComplete'),
    ]);
    assert.equal(amiNumber(a[0]!.fields, 'Callers'), 1);
    assert.equal(amiNumber(b[0]!.fields, 'Callers'), 0);
    assert.equal(a.length, 1);
    assert.equal(b.length, 1);
  });

  it('resolves a plain action with its response', async () => {
    const c = client();
    await c.start();
    const res = await c.action('Ping');
    assert.equal(amiString(res, 'ping'), 'Pong');
  });

  it('rejects an action Asterisk answers with an error', async () => {
    const c = client();
    await c.start();
    await assert.rejects(c.action('NoSuchThing'), (e: unknown) => {
      assert.ok(isAmiError(e, 'AMI_ACTION_FAILED'));
      assert.match(e.message, /NoSuchThing failed: Invalid\/unknown command/);
      return true;
    });
  });

  it('times an action out when the server never answers, and stays usable', async () => {
    const c = client();
    await c.start();
    fake.ignore('QueueSummary');
    const t0 = Date.now();
    await assert.rejects(
      c.listAction('QueueSummary', {}, 'QueueSummaryComplete', { timeoutMs: 150 }),
      (e: unknown) => isAmiError(e, 'AMI_TIMEOUT') && /within 150 ms/.test(e.message),
    );
    assert.ok(Date.now() - t0 >= 140);
    assert.equal(c.isReady(), true);
    assert.equal(amiString(await c.action('Ping'), 'ping'), 'Pong');
  });

  it('times a list action out when the completion event never comes', async () => {
    const c = client();
    await c.start();
    // The answer and the figures, but no QueueSummaryComplete.
    fake.reply(
      'QueueSummary',
      amiFixture('queue-summary-idle.txt').split('Event: QueueSummaryComplete')[0]!,
    );
    await assert.rejects(
      c.listAction('QueueSummary', {}, 'QueueSummaryComplete', { timeoutMs: 150 }),
      (e: unknown) => isAmiError(e, 'AMI_TIMEOUT'),
    );
  });

  it('fails an action at once while not connected instead of holding it', async () => {
    const c = client();
    await assert.rejects(c.action('Ping'), (e: unknown) => isAmiError(e, 'AMI_NOT_CONNECTED'));
  });

  it('delivers pushed events to listeners', async () => {
    const c = client();
    await c.start();
    const seen: AmiEvent[] = [];
    c.on('event', (e) => seen.push(e));
    fake.push(amiFixture('call-agent1-events.txt'));
    await waitFor(() => seen.some((e) => e.name === 'Hangup'), 'the Hangup event');
    const states = seen
      .filter(
        (e) => e.name === 'DeviceStateChange' && amiString(e.fields, 'device') === 'PJSIP/agent1',
      )
      .map((e) => amiString(e.fields, 'state'));
    assert.deepEqual(states, ['RINGING', 'INUSE', 'NOT_INUSE']);
  });

  it('asks Asterisk after every login for only the events listened to, and gets only those', async () => {
    const c = client({ events: ['DeviceStateChange', 'ExtensionStatus'] });
    await c.start();
    await waitFor(() => fake.actionsNamed('Filter').length === 1, 'the filter');
    assert.deepEqual(
      fake.actionsNamed('Filter').map((f) => [f.operation, f.filter]),
      [['Add', 'Event: (DeviceStateChange|ExtensionStatus)']],
    );
    const seen: AmiEvent[] = [];
    c.on('event', (e) => seen.push(e));
    fake.push(amiFixture('call-agent1-events.txt'));
    await waitFor(
      () => seen.filter((e) => e.name === 'DeviceStateChange').length >= 3,
      'the device state changes',
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual([...new Set(seen.map((e) => e.name))], ['DeviceStateChange']);
    // A list action's events are replies: the filter lets them through.
    const summary = await c.listAction('QueueSummary', {}, 'QueueSummaryComplete');
    assert.equal(amiNumber(summary[0]!.fields, 'LoggedIn'), 4);
    fake.drop();
    await waitFor(() => fake.logins === 2 && c.isReady(), 'the reconnect');
    await waitFor(() => fake.actionsNamed('Filter').length === 2, 'the filter asked for again');
  });

  it('gets every event when Asterisk refuses the filter (no system permission)', async () => {
    fake.reply('Filter', 'Response: Error\nMessage: Permission denied');
    const c = client({ events: ['DeviceStateChange'] });
    await c.start();
    await waitFor(() => fake.actionsNamed('Filter').length === 1, 'the filter');
    assert.equal(c.isReady(), true);
    const seen: AmiEvent[] = [];
    c.on('event', (e) => seen.push(e));
    fake.push(amiFixture('call-agent1-events.txt'));
    await waitFor(() => seen.some((e) => e.name === 'Hangup'), 'the Hangup event');
    assert.equal(fake.actionsNamed('Filter').length, 1);
  });

  it('reconnects with backoff after the server drops the connection, and works again', async () => {
    const c = client();
    const log: string[] = [];
    c.on('up', () => log.push('up'));
    c.on('down', (why) => log.push(`down:${why}`));
    await c.start();
    fake.refuse(true);
    fake.drop();
    await waitFor(() => log.length === 2, 'the down event');
    assert.equal(c.isReady(), false);
    await assert.rejects(c.action('Ping'), (e: unknown) => isAmiError(e, 'AMI_NOT_CONNECTED'));
    await new Promise((r) => setTimeout(r, 250));
    fake.refuse(false);
    await waitFor(() => c.isReady(), 'the reconnect');
    assert.deepEqual(log, ['up', 'down:connection closed', 'up']);
    assert.equal(fake.logins, 2);
    const events = await c.listAction('QueueSummary', {}, 'QueueSummaryComplete');
    assert.equal(amiNumber(events[0]!.fields, 'LoggedIn'), 4);
  });

  it('rejects an action in flight when the connection drops', async () => {
    const c = client();
    await c.start();
    fake.ignore('QueueStatus');
    const p = c.listAction('QueueStatus', {}, 'QueueStatusComplete', { timeoutMs: 5_000 });
    await waitFor(() => fake.actionsNamed('QueueStatus').length === 1, 'the action to arrive');
    fake.drop();
    await assert.rejects(p, (e: unknown) => isAmiError(e, 'AMI_NOT_CONNECTED'));
  });

  it('keeps trying while Asterisk is down at start, and resolves once it is up', async () => {
    fake.refuse(true);
    const c = client();
    let started = false;
    const p = c.start().then(() => (started = true));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(started, false);
    assert.ok(fake.connections === 0);
    fake.refuse(false);
    await p;
    assert.equal(c.isReady(), true);
  });

  it('drops a connection whose pings go unanswered and reconnects', async () => {
    const c = client({ pingIntervalMs: 50, actionTimeoutMs: 100 });
    let downs = 0;
    c.on('down', () => downs++);
    await c.start();
    fake.ignore('Ping');
    await waitFor(() => downs === 1, 'the ping timeout');
    await waitFor(() => fake.logins === 2 && c.isReady(), 'the reconnect');
  });

  it('stops for good on close', async () => {
    const c = client();
    await c.start();
    await c.close();
    assert.equal(c.isReady(), false);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(fake.logins, 1);
    await assert.rejects(c.action('Ping'), (e: unknown) => isAmiError(e, 'AMI_NOT_CONNECTED'));
  });
});
