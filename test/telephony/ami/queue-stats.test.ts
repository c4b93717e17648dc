import assert from 'node:assert/strict';
import { SystemClock, VirtualClock } from '../../../src/clock';
import { silentLogger } from '../../../src/logger';
import { AmiClient } from '../../../src/telephony/ami/ami-client';
import {
  AmiQueueStats,
  type QueueFigures,
  queueEwtMs,
} from '../../../src/telephony/ami/queue-stats';
import { FakeAmi, amiFixture } from '../../helpers/fake-ami';
import { waitFor } from './wait-for';

function figures(over: Partial<QueueFigures>): QueueFigures {
  return {
    queue: 'support',
    available: 0,
    callers: 0,
    holdTimeSec: 0,
    talkTimeSec: 0,
    loggedIn: 4,
    longestHoldSec: 0,
    at: 0,
    ...over,
  };
}

describe('queue EWT formula', () => {
  const opts = { defaultTalkTimeSec: 120, capMs: 3_600_000 };

  it('is 0 while more members are free than callers wait', () => {
    assert.equal(queueEwtMs(figures({ available: 2, callers: 1, talkTimeSec: 300 }), opts), 0);
  });

  it('is half a talk time for the first caller who must wait', () => {
    assert.equal(queueEwtMs(figures({ available: 1, callers: 1, talkTimeSec: 100 }), opts), 50_000);
  });

  it('adds a full talk time for each further round of members', () => {
    // 4 members busy, 5 callers ahead: this caller is the 6th → second round.
    assert.equal(queueEwtMs(figures({ callers: 5, talkTimeSec: 100 }), opts), 150_000);
    assert.equal(queueEwtMs(figures({ callers: 9, talkTimeSec: 100 }), opts), 250_000);
  });

  it('uses the configured talk time until Asterisk has measured one', () => {
    assert.equal(queueEwtMs(figures({ callers: 1 }), opts), 60_000);
  });

  it('never estimates less than what answered callers really waited', () => {
    assert.equal(
      queueEwtMs(figures({ callers: 1, talkTimeSec: 10, holdTimeSec: 90 }), opts),
      90_000,
    );
  });

  it('is the cap when no member is logged in, and never more than the cap', () => {
    assert.equal(queueEwtMs(figures({ loggedIn: 0, callers: 3 }), opts), 3_600_000);
    assert.equal(queueEwtMs(figures({ callers: 1_000, talkTimeSec: 600 }), opts), 3_600_000);
  });
});

describe('AMI queue statistics (against a fake AMI replaying recorded Asterisk answers)', () => {
  let fake: FakeAmi;
  let client: AmiClient;
  let clock: VirtualClock;
  let stats: AmiQueueStats;

  beforeEach(async () => {
    fake = await FakeAmi.start();
    client = new AmiClient({
      host: '127.0.0.1',
      port: fake.port,
      username: 'dialback',
      secret: 'dialback',
      clock: new SystemClock(),
      logger: silentLogger(),
      actionTimeoutMs: 1_000,
      backoffInitialMs: 20,
      backoffMaxMs: 50,
      pingIntervalMs: 0,
    });
    clock = new VirtualClock();
    stats = new AmiQueueStats({
      client,
      clock,
      logger: silentLogger(),
      targets: [{ target: 'Support', queue: 'support' }],
      pollIntervalMs: 5_000,
      ewt: { defaultTalkTimeSec: 120 },
    });
  });

  afterEach(async () => {
    stats.stop();
    await client.close();
    await fake.close();
  });

  it('reads the recorded QueueSummary of an idle queue: 4 members free, EWT 0', async () => {
    await client.start();
    await stats.poll();
    assert.deepEqual(stats.figures('support'), {
      queue: 'support',
      available: 4,
      callers: 0,
      holdTimeSec: 0,
      talkTimeSec: 0,
      loggedIn: 4,
      longestHoldSec: 0,
      at: clock.now(),
    });
    assert.equal(stats.ewtMs('Support'), 0);
    assert.equal(fake.actionsNamed('QueueSummary')[0]?.queue, 'support');
  });

  it('reads a waiting caller with every member busy, and estimates from the default talk time', async () => {
    fake.reply('QueueSummary', amiFixture('queue-summary-waiting.txt'));
    await client.start();
    await stats.poll();
    const f = stats.figures('support');
    assert.equal(f?.available, 0);
    assert.equal(f?.callers, 1);
    assert.equal(f?.longestHoldSec, 3);
    // need = 1 − 0 + 1 = 2 over 4 members: first round, half of 120 s.
    assert.equal(stats.ewtMs('Support'), 60_000);
  });

  it('uses the hold and talk times Asterisk measured', async () => {
    fake.reply('QueueSummary', amiFixture('queue-summary-after-calls.txt'));
    await client.start();
    await stats.poll();
    const f = stats.figures('support');
    assert.equal(f?.holdTimeSec, 6);
    assert.equal(f?.talkTimeSec, 3);
    assert.equal(stats.ewtMs('Support'), 0, 'all 4 members free');
  });

  it('polls on the injected clock and tells subscribers when the estimate changes', async () => {
    await client.start();
    const seen: Array<[string, number]> = [];
    stats.subscribe((t, ms) => seen.push([t, ms]));
    stats.start();
    await waitFor(() => seen.length === 1, 'the first poll at start');
    assert.deepEqual(seen, [['Support', 0]]);

    fake.reply('QueueSummary', amiFixture('queue-summary-waiting.txt'));
    clock.advance(4_999);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fake.actionsNamed('QueueSummary').length, 1, 'not before the interval');
    clock.advance(1);
    await waitFor(() => seen.length === 2, 'the second poll');
    assert.deepEqual(seen[1], ['Support', 60_000]);

    // Same figures again: no new notification.
    clock.advance(5_000);
    await waitFor(() => fake.actionsNamed('QueueSummary').length === 3, 'the third poll');
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(seen.length, 2);
  });

  it('gives no estimate for an unknown target or a queue Asterisk does not have', async () => {
    fake.reply(
      'QueueSummary',
      'Response: Success\nActionID: x\nEventList: start\nMessage: Queue summary will follow\n\nEvent: QueueSummaryComplete\nActionID: x\nEventList: Complete\nListItems: 0\n',
    );
    await client.start();
    await stats.poll();
    assert.equal(stats.ewtMs('Support'), undefined);
    assert.equal(stats.ewtMs('Sales'), undefined);
  });

  it('forgets figures that went stale while polls fail', async () => {
    await client.start();
    stats.start();
    await waitFor(() => stats.ewtMs('Support') === 0, 'the first poll');
    fake.ignore('QueueSummary');
    clock.advance(15_000);
    assert.equal(stats.ewtMs('Support'), 0, 'still fresh at three intervals');
    clock.advance(1);
    assert.equal(stats.ewtMs('Support'), undefined);
    assert.equal(stats.figures('support'), undefined);
  });

  it('resumes the figures after the server drops the connection', async () => {
    await client.start();
    stats.start();
    await waitFor(() => stats.figures('support')?.callers === 0, 'the first poll');
    fake.reply('QueueSummary', amiFixture('queue-summary-waiting.txt'));
    fake.drop();
    // The poller reads again as soon as the client is back, without waiting for its interval.
    await waitFor(() => stats.figures('support')?.callers === 1, 'figures after the reconnect');
    assert.equal(fake.logins, 2);
    assert.equal(stats.ewtMs('Support'), 60_000);
  });
});
