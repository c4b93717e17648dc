import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { PollReply } from '../../src/http/schemas';
import type { FakeEngine } from '../helpers/fake-engine';
import { SERVICE, assertError, parseAs, setup } from './helpers';

interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** A minimal EventSource over node:http: collects parsed events until closed. */
function openSse(url: string, headers: Record<string, string> = {}) {
  const events: SseEvent[] = [];
  let waiter: (() => void) | undefined;
  let buffer = '';
  let status = 0;
  let contentType = '';
  const req = http.get(url, { headers: { accept: 'text/event-stream', ...headers } });
  const ready = new Promise<void>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      contentType = String(res.headers['content-type']);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let i: number;
        while ((i = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const ev: SseEvent = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) ev.comment = line.slice(1).trim();
            else {
              const [k, ...rest] = line.split(': ');
              (ev as Record<string, string>)[k] = rest.join(': ');
            }
          }
          events.push(ev);
          waiter?.();
        }
      });
      resolve();
    });
  });
  return {
    ready,
    events,
    status: () => status,
    contentType: () => contentType,
    /** Data events only (no comments). */
    messages: () => events.filter((e) => e.data !== undefined),
    async until(pred: () => boolean, ms = 2000): Promise<void> {
      const deadline = Date.now() + ms;
      while (!pred()) {
        if (Date.now() > deadline) assert.fail(`timed out; got ${JSON.stringify(events)}`);
        await new Promise<void>((r) => {
          waiter = r;
          setTimeout(r, 20);
        });
      }
    },
    close: () => req.destroy(),
  };
}

describe('event stream (SSE and long-poll)', () => {
  let app: FastifyInstance;
  let engine: FakeEngine;
  let base: string;
  let id: string;

  beforeEach(async () => {
    ({ app, engine } = await setup({ sseHeartbeatMs: 50 }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const res = await app.inject({
      method: 'POST',
      url: `/genesys/1/service/callback/${SERVICE}`,
      payload: { _customer_number: '5115' },
    });
    id = JSON.parse(res.body)._id;
  });
  afterEach(() => app.close());

  it('replays a dialog sent before the client connected, then streams live messages', async () => {
    const early = engine.publishDialog(id);
    const sse = openSse(`${base}/genesys/1/service/${id}/events`);
    await sse.ready;
    assert.equal(sse.status(), 200);
    assert.match(sse.contentType(), /^text\/event-stream/);
    await sse.until(() => sse.messages().length >= 1);
    const first = sse.messages()[0];
    assert.equal(first.id, String(early.seq));
    assert.equal(first.event, 'dialog');
    assert.equal(JSON.parse(first.data ?? '{}')._action, 'ConfirmationDialog');

    engine.publish({
      callbackId: id,
      service: SERVICE,
      kind: 'status',
      data: { _id: id, _callback_state: 'QUEUED' },
    });
    engine.publish({
      callbackId: 'someone-else',
      service: SERVICE,
      kind: 'status',
      data: { _id: 'x', _callback_state: 'QUEUED' },
    });
    engine.publish({
      callbackId: id,
      service: SERVICE,
      kind: 'status',
      data: { _id: id, _callback_state: 'ROUTING' },
    });
    await sse.until(() => sse.messages().length >= 3);
    const msgs = sse.messages();
    assert.deepEqual(
      msgs.map((m) => [m.event, JSON.parse(m.data ?? '{}')._callback_state ?? null]),
      [
        ['dialog', null],
        ['status', 'QUEUED'],
        ['status', 'ROUTING'],
      ],
    );
    sse.close();
  });

  it('resumes after Last-Event-ID without repeating anything', async () => {
    const m1 = engine.publishDialog(id);
    const m2 = engine.publish({
      callbackId: id,
      service: SERVICE,
      kind: 'status',
      data: { _id: id, _callback_state: 'QUEUED' },
    });
    const sse = openSse(`${base}/genesys/1/service/${id}/events`, {
      'last-event-id': String(m1.seq),
    });
    await sse.ready;
    await sse.until(() => sse.messages().length >= 1);
    const m3 = engine.publish({
      callbackId: id,
      service: SERVICE,
      kind: 'status',
      data: { _id: id, _callback_state: 'ROUTING' },
    });
    await sse.until(() => sse.messages().length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      sse.messages().map((m) => Number(m.id)),
      [m2.seq, m3.seq],
    );
    sse.close();
  });

  it('accepts the resume point as ?lastEventId too', async () => {
    engine.publishDialog(id);
    const m2 = engine.publishDialog(id);
    const sse = openSse(`${base}/genesys/1/service/${id}/events?lastEventId=${m2.seq - 1}`);
    await sse.until(() => sse.messages().length >= 1);
    assert.deepEqual(
      sse.messages().map((m) => Number(m.id)),
      [m2.seq],
    );
    sse.close();
  });

  it('does not lose or repeat a message published while the log is being replayed', async () => {
    engine.publishDialog(id);
    // The first read of the log publishes another message: it reaches the client once.
    const original = engine.messagesAfter.bind(engine);
    let injected = false;
    engine.messagesAfter = (filter, after) => {
      const out = original(filter, after);
      if (!injected) {
        injected = true;
        engine.publish({
          callbackId: id,
          service: SERVICE,
          kind: 'status',
          data: { _id: id, _callback_state: 'QUEUED' },
        });
      }
      return out;
    };
    const sse = openSse(`${base}/genesys/1/service/${id}/events`);
    await sse.until(() => sse.messages().length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      sse.messages().map((m) => Number(m.id)),
      [1, 2],
    );
    sse.close();
  });

  it('sends heartbeat comments and unsubscribes when the client goes away', async () => {
    const sse = openSse(`${base}/genesys/1/service/${id}/events`);
    await sse.until(() => sse.events.some((e) => e.comment === 'heartbeat'));
    assert.equal(engine.listenerCount(), 1);
    sse.close();
    const deadline = Date.now() + 2000;
    while (engine.listenerCount() > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal(engine.listenerCount(), 0);
  });

  it("streams a whole service's messages", async () => {
    const sse = openSse(`${base}/genesys/1/service/callback/${SERVICE}/events`);
    await sse.until(() => sse.events.length >= 1);
    engine.publishDialog(id);
    engine.publish({
      callbackId: 'o1',
      service: 'other',
      kind: 'status',
      data: { _id: 'o1', _callback_state: 'QUEUED' },
    });
    engine.publishDialog('another-id');
    await sse.until(() => sse.messages().length >= 2);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      sse.messages().map((m) => JSON.parse(m.data ?? '{}')._id),
      [id, 'another-id'],
    );
    sse.close();
  });

  it('answers 404 for the stream of an unknown callback or service', async () => {
    assertError(
      await app.inject({ url: '/genesys/1/service/440-nope/events' }),
      404,
      'CallbackExceptionNotFound',
    );
    assertError(
      await app.inject({ url: '/genesys/1/service/callback/nope/events' }),
      404,
      'CallbackExceptionServiceNotFound',
    );
  });

  it('refuses a malformed Last-Event-ID with 400', async () => {
    const res = await app.inject({
      url: `/genesys/1/service/${id}/events`,
      headers: { 'last-event-id': 'abc' },
    });
    assertError(res, 400, 'CallbackExceptionInvalidField');
  });

  it('closes open streams when the app closes', async () => {
    const sse = openSse(`${base}/genesys/1/service/${id}/events`);
    await sse.until(() => sse.events.length >= 1);
    await app.close();
    assert.equal(engine.listenerCount(), 0);
  });

  describe('long-poll', () => {
    it('answers at once with what is already there', async () => {
      const m1 = engine.publishDialog(id);
      const res = await app.inject({
        url: `/genesys/1/service/${id}/events?mode=poll&after=0&wait=10`,
      });
      const body = parseAs<{ messages: { seq: number }[]; last: number }>(PollReply, res.body);
      assert.deepEqual(
        body.messages.map((m) => m.seq),
        [m1.seq],
      );
      assert.equal(body.last, m1.seq);
    });

    it('waits for the first new message', async () => {
      const m1 = engine.publishDialog(id);
      const started = Date.now();
      const pending = app.inject({
        url: `/genesys/1/service/${id}/events?mode=poll&after=${m1.seq}&wait=5`,
      });
      setTimeout(
        () =>
          engine.publish({
            callbackId: id,
            service: SERVICE,
            kind: 'status',
            data: { _id: id, _callback_state: 'QUEUED' },
          }),
        100,
      );
      const body = parseAs<{ messages: { seq: number; kind: string }[]; last: number }>(
        PollReply,
        (await pending).body,
      );
      assert.deepEqual(
        body.messages.map((m) => m.kind),
        ['status'],
      );
      assert.equal(body.last, m1.seq + 1);
      assert.ok(Date.now() - started < 2000);
      assert.equal(engine.listenerCount(), 0);
    });

    it('answers an empty list after the wait, keeping the position', async () => {
      const started = Date.now();
      const res = await app.inject({
        url: `/genesys/1/service/${id}/events?mode=poll&after=7&wait=0.2`,
      });
      assert.deepEqual(parseAs(PollReply, res.body), { messages: [], last: 7 });
      assert.ok(Date.now() - started >= 190);
      assert.equal(engine.listenerCount(), 0);
    });

    it('refuses a wait over 30 seconds with 400', async () => {
      const res = await app.inject({ url: `/genesys/1/service/${id}/events?mode=poll&wait=31` });
      assertError(res, 400, 'CallbackExceptionInvalidField');
    });
  });
});
