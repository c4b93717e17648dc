// Abuse limits over HTTP on the real engine: the per-number limit, the per-service queued
// limit, both throttle windows with GMS's messages, API keys, and ~200 parallel requests over
// a real socket racing for the last seats of a slot.

import { strict as assert } from 'node:assert';
import type net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app';
import { silentLogger } from '../../src/logger';
import { RealHarness, createReq, iso, MONDAY_9 } from '../http/real-engine-harness';

const base = {
  _type: 'ors',
  _call_direction: 'USERTERMINATED',
  _business_hours_service: '24x7',
  _target: 'support',
  _allow_extensions: true,
  _max_queued_callbacks_per_service: 0,
  _throttle_callbacks_per_service_1: 0,
  _throttle_callbacks_per_service_2: 0,
  _throttle_request_parameters_limit: 0,
  _request_time_bucket: 5,
  _max_request_by_time_bucket: 100,
};
const LATER = iso(MONDAY_9 + 3600_000);
const SEATS = 7;

describe('abuse limits over HTTP (real engine)', function () {
  this.timeout(30_000);
  let h: RealHarness;
  beforeEach(async () => {
    h = await RealHarness.start({
      services: {
        'per-number': { ...base, _throttle_request_parameters_limit: 2 },
        queued: { ...base, _max_queued_callbacks_per_service: 3 },
        window1: { ...base, _throttle_callbacks_per_service_1: 3, _throttle_ttl_1: 300 },
        window2: {
          ...base,
          _throttle_callbacks_per_service_1: 100,
          _throttle_ttl_1: 300,
          _throttle_callbacks_per_service_2: 4,
          _throttle_ttl_2: 3600,
        },
        race: { ...base, _max_request_by_time_bucket: SEATS },
      },
    });
  });
  afterEach(() => h.stop());

  const book = (svc: string, number: string) =>
    createReq(h, svc, { _customer_number: number, _desired_time: LATER });
  const idOf = (r: { json: () => unknown }) => (r.json() as { _id: string })._id;

  it('answers 429 past the per-number limit of open callbacks, and lets the number in again after a cancel', async () => {
    const a = await book('per-number', '+33612345678');
    const b = await book('per-number', '+33612345678');
    assert.deepEqual([a.statusCode, b.statusCode], [200, 200]);
    const c = await book('per-number', '+33612345678');
    assert.equal(c.statusCode, 429, c.body);
    assert.equal(c.json().exception, 'CallbackExceptionTooManyRequests');
    // The same number written differently is the same number.
    assert.equal((await book('per-number', '+33 6 12 34 56 78')).statusCode, 429);
    assert.equal((await book('per-number', '+33612345679')).statusCode, 200, 'another number');
    const del = await h.inject({
      method: 'DELETE',
      url: `/genesys/1/service/callback/per-number/${idOf(a)}`,
    });
    assert.equal(del.statusCode, 200);
    assert.equal((await book('per-number', '+33612345678')).statusCode, 200);
  });

  it("answers 503 with GMS's message past the per-service queued limit", async () => {
    for (let i = 0; i < 3; i++)
      assert.equal((await book('queued', `+3361234560${i}`)).statusCode, 200);
    const r = await book('queued', '+33612345699');
    assert.equal(r.statusCode, 503, r.body);
    assert.deepEqual(r.json(), {
      exception: 'CallbackExceptionServiceUnavailable',
      message: 'Limit of queued callbacks for queued is reached',
    });
  });

  it("answers 503 'for interval 300s.' in the first throttle window, and books again once it has passed", async () => {
    for (let i = 0; i < 3; i++)
      assert.equal((await book('window1', `+3361234560${i}`)).statusCode, 200);
    const r = await book('window1', '+33612345699');
    assert.equal(r.statusCode, 503, r.body);
    assert.equal(
      r.json().message,
      'Limit of queued callbacks for window1 is reached for interval 300s.',
    );
    await h.advance(301_000);
    assert.equal((await book('window1', '+33612345699')).statusCode, 200);
  });

  it("answers 503 'for interval 3600s.' in the second throttle window", async () => {
    for (let i = 0; i < 4; i++) {
      assert.equal((await book('window2', `+3361234560${i}`)).statusCode, 200);
      await h.advance(301_000); // past window 1 each time
    }
    const r = await book('window2', '+33612345699');
    assert.equal(r.statusCode, 503, r.body);
    assert.equal(
      r.json().message,
      'Limit of queued callbacks for window2 is reached for interval 3600s.',
    );
  });

  describe('API keys', () => {
    let app: FastifyInstance;
    const KEY = 'k-0123456789abcdef';
    beforeEach(async () => {
      app = await buildApp({ engine: h.engine, logger: silentLogger(), apiKeys: [KEY] });
    });
    afterEach(() => app.close());

    const create = (headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/genesys/1/service/callback/race',
        headers,
        payload: { _customer_number: '5115', _desired_time: LATER },
      });

    it('answers 401 to a mutating or admin request without the key or with a wrong one, 200 with it', async () => {
      for (const headers of [{}, { 'x-api-key': 'wrong-key-000000' }, { 'x-api-key': '' }] as Array<
        Record<string, string>
      >) {
        const r = await create(headers);
        assert.equal(r.statusCode, 401, r.body);
        assert.equal(r.json().exception, 'CallbackExceptionUnauthorized');
      }
      assert.equal((await app.inject({ url: '/genesys/1/admin/callback/queues' })).statusCode, 401);
      assert.equal(
        h.store.query({ conditions: [], operand: 'AND', limit: 10 }).length,
        0,
        'nothing booked',
      );
      const ok = await create({ 'x-api-key': KEY });
      assert.equal(ok.statusCode, 200, ok.body);
      const admin = await app.inject({
        url: '/genesys/1/admin/callback/queues',
        headers: { 'x-api-key': KEY },
      });
      assert.equal(admin.statusCode, 200);
      const read = await app.inject({ url: `/genesys/1/service/callback/race?_id=${idOf(ok)}` });
      assert.equal(read.statusCode, 200, 'reads need no key');
    });
  });

  it(`never sells more than the ${SEATS} seats of a slot to 200 parallel requests over a real socket`, async () => {
    const app = await buildApp({ engine: h.engine, logger: silentLogger() });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const port = (app.server.address() as net.AddressInfo).port;
      const replies = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          fetch(`http://127.0.0.1:${port}/genesys/1/service/callback/race`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              _customer_number: `+336${String(10_000_000 + i)}`,
              _desired_time: LATER,
            }),
          }).then(async (r) => ({
            status: r.status,
            body: (await r.json()) as Record<string, unknown>,
          })),
        ),
      );
      const ok = replies.filter((r) => r.status === 200);
      const full = replies.filter((r) => r.status === 409);
      assert.equal(ok.length, SEATS, 'exactly the capacity was sold');
      assert.equal(full.length, 200 - SEATS, 'every other request was told the slot is full');
      assert.ok(full.every((r) => r.body.exception === 'CallbackExceptionSlotFull'));
      const seats = [...h.store.bookedCounts('race', MONDAY_9, MONDAY_9 + 2 * 3600_000).values()];
      assert.deepEqual(seats, [SEATS], 'the store holds the capacity, not more');
      const rows = h.store.query({ service: 'race', conditions: [], operand: 'AND', limit: 1000 });
      assert.equal(rows.length, SEATS);
    } finally {
      await app.close();
    }
  });
});
