import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { VirtualClock } from '../../src/clock';
import { DialbackError } from '../../src/errors';
import { silentLogger } from '../../src/logger';
import {
  HttpPostChannel,
  customHttpMessage,
  deliverWithRetry,
  httpcbMessage,
  isDeliverableUrl,
  statusNotificationMessage,
  type DeliveryChannel,
} from '../../src/notify/delivery';

type Behaviour = (n: number, res: http.ServerResponse) => void;

/** A local HTTP sink on 127.0.0.1 that records every request and answers per `behaviour`. */
async function startSink(behaviour: Behaviour) {
  const received: { body: unknown; contentType?: string }[] = [];
  const hanging: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      received.push({ body: JSON.parse(raw), contentType: req.headers['content-type'] });
      behaviour(received.length, res);
      if (!res.writableEnded) hanging.push(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    received,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const ok: Behaviour = (_n, res) => res.writeHead(200).end('ok');
const fail: Behaviour = (_n, res) => res.writeHead(500).end('nope');
const logger = silentLogger();
const dialog = {
  _id: '440-x',
  _action: 'ConfirmationDialog',
  _dialog_id: '0',
  _text: 'You will receive the call shortly',
  _ok_title: 'Ok',
};

describe('notification delivery', () => {
  describe('httpcb over HTTP', () => {
    let sink: Awaited<ReturnType<typeof startSink>> | undefined;
    afterEach(async () => {
      await sink?.close();
      sink = undefined;
    });

    it('POSTs the dialog as JSON and reports delivery on the first attempt', async () => {
      sink = await startSink(ok);
      const out = await deliverWithRetry(new HttpPostChannel(), httpcbMessage(sink.url, dialog), {
        attempts: 3,
        backoffMs: 10,
        timeoutMs: 1000,
        logger,
      });
      assert.deepEqual(out, { status: 'delivered', attempts: 1 });
      assert.deepEqual(sink.received, [{ body: dialog, contentType: 'application/json' }]);
    });

    it('is delivered on attempt 3 when the sink fails twice', async () => {
      sink = await startSink((n, res) => (n <= 2 ? fail(n, res) : ok(n, res)));
      const out = await deliverWithRetry(new HttpPostChannel(), httpcbMessage(sink.url, dialog), {
        attempts: 3,
        backoffMs: 10,
        timeoutMs: 1000,
        logger,
      });
      assert.deepEqual(out, { status: 'delivered', attempts: 3 });
      assert.equal(sink.received.length, 3);
    });

    it('fails after N attempts against a sink that always fails, without throwing', async () => {
      sink = await startSink(fail);
      const out = await deliverWithRetry(new HttpPostChannel(), httpcbMessage(sink.url, dialog), {
        attempts: 4,
        backoffMs: 5,
        timeoutMs: 1000,
        logger,
      });
      assert.equal(out.status, 'failed');
      assert.equal(out.attempts, 4);
      assert.equal(sink.received.length, 4);
      assert.match(out.status === 'failed' ? out.lastError : '', /500/);
    });

    it('gives up on a hanging sink at the per-attempt timeout', async () => {
      sink = await startSink(() => undefined);
      const started = Date.now();
      const out = await deliverWithRetry(new HttpPostChannel(), httpcbMessage(sink.url, dialog), {
        attempts: 2,
        backoffMs: 10,
        timeoutMs: 150,
        logger,
      });
      const took = Date.now() - started;
      assert.equal(out.status, 'failed');
      assert.equal(out.attempts, 2);
      assert.equal(sink.received.length, 2);
      assert.ok(took >= 300 && took < 2000, `took ${took} ms`);
    });

    it('counts a refused connection as a failed attempt', async () => {
      sink = await startSink(ok);
      const url = sink.url;
      await sink.close();
      sink = undefined;
      const out = await deliverWithRetry(new HttpPostChannel(), httpcbMessage(url, dialog), {
        attempts: 2,
        backoffMs: 5,
        timeoutMs: 1000,
        logger,
      });
      assert.deepEqual(
        { status: out.status, attempts: out.attempts },
        { status: 'failed', attempts: 2 },
      );
    });

    it('POSTs customhttp as { deviceId, message } and status notifications as the state', async () => {
      sink = await startSink(ok);
      const channel = new HttpPostChannel();
      const opts = { attempts: 1, backoffMs: 0, timeoutMs: 1000, logger };
      await deliverWithRetry(channel, customHttpMessage(sink.url, 'device-7', dialog), opts);
      const status = {
        _id: '440-x',
        _callback_state: 'COMPLETED',
        _callback_reason: 'AGENT_CONNECTED',
      };
      await deliverWithRetry(channel, statusNotificationMessage(sink.url, status), opts);
      assert.deepEqual(
        sink.received.map((r) => r.body),
        [{ deviceId: 'device-7', message: dialog }, status],
      );
    });
  });

  describe('retry timing on a virtual clock', () => {
    it('backs off exponentially between attempts', async () => {
      const clock = new VirtualClock(0);
      const attemptsAt: number[] = [];
      const channel: DeliveryChannel = {
        async deliver() {
          attemptsAt.push(clock.now());
          throw new Error('down');
        },
      };
      const done = deliverWithRetry(
        channel,
        { url: 'http://x', body: {} },
        {
          attempts: 4,
          backoffMs: 100,
          timeoutMs: 50,
          clock,
          logger,
        },
      );
      for (let i = 0; i < 20; i++) {
        await new Promise((r) => setImmediate(r));
        clock.advance(50);
      }
      const out = await done;
      assert.equal(out.status, 'failed');
      assert.deepEqual(attemptsAt, [0, 100, 300, 700]);
    });

    it('times out a channel that ignores the abort signal', async () => {
      const clock = new VirtualClock(0);
      const channel: DeliveryChannel = { deliver: () => new Promise<void>(() => undefined) };
      const done = deliverWithRetry(
        channel,
        { url: 'http://x', body: {} },
        {
          attempts: 1,
          backoffMs: 0,
          timeoutMs: 1000,
          clock,
          logger,
        },
      );
      await new Promise((r) => setImmediate(r));
      clock.advance(1000);
      const out = await done;
      assert.equal(out.status, 'failed');
      assert.match(out.status === 'failed' ? out.lastError : '', /1000 ms/);
    });
  });

  it('accepts only http(s) URLs as targets', () => {
    assert.equal(isDeliverableUrl('https://example.org/hook'), true);
    assert.equal(isDeliverableUrl('file:///etc/passwd'), false);
    assert.equal(isDeliverableUrl('fcm-token-123'), false);
    assert.throws(() => httpcbMessage('not a url', dialog), DialbackError);
  });
});
