import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { DialbackError } from '../../src/errors';
import {
  ActionReply,
  AdminQueuesReply,
  AvailabilityV1Reply,
  AvailabilityV2Reply,
  BulkCancelReply,
  CallbackViewSchema,
  CreateReply,
  EmptyReply,
  QueuePositionReply,
  SearchReply,
} from '../../src/http/schemas';
import type { FakeEngine } from '../helpers/fake-engine';
import { SERVICE, assertError, parseAs, setup } from './helpers';

const BASE = `/genesys/1/service/callback/${SERVICE}`;

describe('GMS callback routes', () => {
  let app: FastifyInstance;
  let engine: FakeEngine;

  beforeEach(async () => {
    ({ app, engine } = await setup());
    engine.slots = [
      { start: Date.UTC(2014, 6, 30, 6), capacity: 100, total: 100 },
      { start: Date.UTC(2014, 6, 30, 7), capacity: 0, total: 100 },
      { start: Date.UTC(2014, 6, 30, 8), capacity: 7, total: 10 },
    ];
  });
  afterEach(() => app.close());

  async function create(
    fields: Record<string, unknown> = { _customer_number: '5115' },
  ): Promise<string> {
    const res = await app.inject({ method: 'POST', url: BASE, payload: fields });
    assert.equal(res.statusCode, 200, res.body);
    return parseAs<{ _id: string }>(CreateReply, res.body)._id;
  }

  describe('availability v1', () => {
    it('answers the seed request with a map of slot start to remaining capacity, skipping full slots', async () => {
      const res = await app.inject({
        url: `${BASE}/availability?timestamp=2014-07-30T14:00:00.000Z&_=1406647599350`,
      });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(parseAs(AvailabilityV1Reply, res.body), {
        '2014-07-30T06:00:00.000Z': 100,
        '2014-07-30T08:00:00.000Z': 7,
      });
      assert.match(String(res.headers['cache-control']), /no-cache, no-store/);
      assert.deepEqual(engine.callsOf('availability')[0], [
        SERVICE,
        {
          timestamp: Date.UTC(2014, 6, 30, 14),
          start: undefined,
          end: undefined,
          numberOfDays: undefined,
          maxTimeSlots: undefined,
        },
      ]);
    });

    it('passes start, end, number-of-days and max-time-slots, honouring explicit offsets', async () => {
      const res = await app.inject({
        url: `${BASE}/availability?start=2014-07-30T10:00:00%2B02:00&end=2014-07-31T00:00:00Z&number-of-days=2&max-time-slots=5`,
      });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(engine.callsOf('availability')[0][1], {
        timestamp: undefined,
        start: Date.UTC(2014, 6, 30, 8),
        end: Date.UTC(2014, 6, 31),
        numberOfDays: 2,
        maxTimeSlots: 5,
      });
    });

    it('refuses a local time without an offset with 400 CallbackExceptionInvalidField', async () => {
      const res = await app.inject({ url: `${BASE}/availability?timestamp=2014-07-30T14:00:00` });
      assertError(res, 400, 'CallbackExceptionInvalidField');
      assert.equal(engine.callsOf('availability').length, 0);
    });

    it('refuses a non-numeric number-of-days with 400', async () => {
      const res = await app.inject({ url: `${BASE}/availability?number-of-days=abc` });
      assertError(res, 400, 'CallbackExceptionInvalidField');
    });

    it('answers 404 CallbackExceptionServiceNotFound for an unknown service', async () => {
      const res = await app.inject({ url: '/genesys/1/service/callback/nope/availability' });
      assertError(res, 404, 'CallbackExceptionServiceNotFound');
    });
  });

  describe('availability v2', () => {
    it('gives local times in the requested zone and includes busy slots when asked', async () => {
      const res = await app.inject({
        url: `/genesys/2/service/callback/${SERVICE}/availability?timezone=America/New_York&start-ms=1406700000000&report-busy=true`,
      });
      assert.equal(res.statusCode, 200, res.body);
      const body = parseAs<{
        timezone: string;
        slots: { utcTime: string; localTime?: string; capacity: number }[];
      }>(AvailabilityV2Reply, res.body);
      assert.equal(body.timezone, 'America/New_York');
      assert.equal(body.slots.length, 3);
      assert.deepEqual(body.slots[0], {
        utcTime: '2014-07-30T06:00:00.000Z',
        localTime: '2014-07-30T02:00:00.000',
        capacity: 100,
        total: 100,
      });
      assert.deepEqual(engine.callsOf('availability')[0][1], {
        start: 1406700000000,
        end: undefined,
        numberOfDays: undefined,
        maxTimeSlots: undefined,
        reportBusy: true,
      });
    });

    it("omits localTime without a timezone and reports the office's zone", async () => {
      const res = await app.inject({ url: `/genesys/2/service/callback/${SERVICE}/availability` });
      const body = parseAs<{
        timezone: string;
        durationMin: number;
        slots: Record<string, unknown>[];
      }>(AvailabilityV2Reply, res.body);
      assert.equal(body.timezone, 'Europe/Paris');
      assert.equal(body.durationMin, 60);
      assert.ok(body.slots.every((s) => !('localTime' in s)));
    });

    it('refuses an unknown IANA zone with 400', async () => {
      const res = await app.inject({
        url: `/genesys/2/service/callback/${SERVICE}/availability?timezone=Mars/Olympus`,
      });
      assertError(res, 400, 'CallbackExceptionInvalidField');
    });
  });

  describe('create', () => {
    it('answers { _id } and hands the engine every field as a string', async () => {
      const id = await create({
        _customer_number: '5115',
        n: 3,
        b: true,
        gone: null,
        first_name: 'John',
      });
      assert.match(id, /^440-/);
      assert.deepEqual(engine.callsOf('create')[0], [
        SERVICE,
        { _customer_number: '5115', n: '3', b: 'true', first_name: 'John' },
      ]);
    });

    it('rejects a nested object with 400 before reaching the engine', async () => {
      const res = await app.inject({
        method: 'POST',
        url: BASE,
        payload: { _customer_number: { x: 1 } },
      });
      assertError(res, 400, 'CallbackExceptionInvalidField');
      assert.equal(engine.callsOf('create').length, 0);
    });

    it('rejects a JSON array field and a top-level array with 400', async () => {
      assertError(
        await app.inject({ method: 'POST', url: BASE, payload: { _customer_number: ['5115'] } }),
        400,
        'CallbackExceptionInvalidField',
      );
      assertError(
        await app.inject({ method: 'POST', url: BASE, payload: [1, 2] }),
        400,
        'CallbackExceptionInvalidField',
      );
    });

    it('rejects malformed JSON with 400', async () => {
      const res = await app.inject({
        method: 'POST',
        url: BASE,
        headers: { 'content-type': 'application/json' },
        payload: '{"_customer_number": ',
      });
      assertError(res, 400, 'CallbackExceptionInvalidField');
    });

    for (const [exception, status] of [
      ['CallbackExceptionNumber', 400],
      ['CallbackExceptionPastTime', 400],
      ['CallbackExceptionSlotFull', 409],
      ['CallbackExceptionTooManyRequests', 429],
    ] as const) {
      it(`passes the engine's ${exception} through as ${status}`, async () => {
        engine.failNext('create', new DialbackError(exception, 'engine says no'));
        const res = await app.inject({
          method: 'POST',
          url: BASE,
          payload: { _customer_number: '5115' },
        });
        const body = assertError(res, status, exception);
        assert.equal(body.message, 'engine says no');
      });
    }

    it("passes GMS's 503 queue-limit message through unchanged", async () => {
      const message = `Limit of queued callbacks for ${SERVICE} is reached for interval 300s.`;
      engine.failNext('create', new DialbackError('CallbackExceptionServiceUnavailable', message));
      const res = await app.inject({
        method: 'POST',
        url: BASE,
        payload: { _customer_number: '5115' },
      });
      assert.equal(assertError(res, 503, 'CallbackExceptionServiceUnavailable').message, message);
    });

    it('answers 404 for an unknown service', async () => {
      const res = await app.inject({
        method: 'POST',
        url: '/genesys/1/service/callback/nope',
        payload: { _customer_number: '5115' },
      });
      assertError(res, 404, 'CallbackExceptionServiceNotFound');
    });

    it('turns an unexpected engine failure into a generic 500 without leaking its text', async () => {
      engine.failNext('create', new TypeError('secret internals at line 12'));
      const res = await app.inject({
        method: 'POST',
        url: BASE,
        payload: { _customer_number: '5115' },
      });
      const body = assertError(res, 500, 'CallbackExceptionInternal');
      assert.doesNotMatch(String(body.message), /secret/);
    });
  });

  describe('query', () => {
    it('matches by any key, negates with !value and ignores the cache-buster', async () => {
      const a = await create({ _customer_number: '5115', first_name: 'John' });
      await create({ _customer_number: '6000' });
      await app.inject({ method: 'DELETE', url: `${BASE}/${a}` });
      const res = await app.inject({
        url: `${BASE}?_customer_number=6000&_callback_state=!COMPLETED&_=123`,
      });
      const list = parseAs<Record<string, unknown>[]>(SearchReply, res.body);
      assert.equal(list.length, 1);
      assert.equal(list[0]._customer_number, '6000');
      assert.deepEqual(engine.callsOf('query')[0], [
        SERVICE,
        [
          { key: '_customer_number', value: '6000', negate: false },
          { key: '_callback_state', value: 'COMPLETED', negate: true },
        ],
        'AND',
      ]);
    });

    it('combines conditions with operand=OR', async () => {
      await create({ _customer_number: '5115' });
      await create({ _customer_number: '6000' });
      const res = await app.inject({
        url: `${BASE}?_customer_number=5115&_customer_number=6000&operand=OR`,
      });
      assert.equal(parseAs<unknown[]>(SearchReply, res.body).length, 2);
    });

    it('refuses an operand other than AND or OR', async () => {
      assertError(
        await app.inject({ url: `${BASE}?operand=XOR` }),
        400,
        'CallbackExceptionInvalidField',
      );
    });

    it('finds a callback by _id across services', async () => {
      const id = await create();
      const res = await app.inject({ url: `/genesys/1/service/callback?_id=${id}` });
      const list = parseAs<Record<string, unknown>[]>(SearchReply, res.body);
      assert.equal(list[0]._id, id);
      assert.equal(engine.callsOf('query')[0][0], undefined);
    });
  });

  describe('cancel and reschedule', () => {
    it('cancels with 200 {}', async () => {
      const id = await create();
      const res = await app.inject({ method: 'DELETE', url: `${BASE}/${id}` });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(parseAs(EmptyReply, res.body), {});
      assert.equal(engine.callbacks.get(id)?._callback_reason, 'CANCELLED');
    });

    it('answers 404 CallbackExceptionNotFound for an unknown id', async () => {
      const res = await app.inject({ method: 'DELETE', url: `${BASE}/440-nope` });
      assertError(res, 404, 'CallbackExceptionNotFound');
    });

    it('reschedules and answers the updated view', async () => {
      const id = await create({
        _customer_number: '5115',
        _desired_time: '2014-07-30T15:00:00.000Z',
      });
      const res = await app.inject({
        method: 'PUT',
        url: `${BASE}/${id}`,
        payload: { _new_desired_time: '2014-07-30T16:00:00.000Z', note: 'later' },
      });
      const view = parseAs<Record<string, unknown>>(CallbackViewSchema, res.body);
      assert.equal(view._desired_time, '2014-07-30T16:00:00.000Z');
      assert.equal(view.note, 'later');
    });

    it('carries error and availability when the new slot is full', async () => {
      const id = await create();
      engine.failNext(
        'reschedule',
        new DialbackError('CallbackExceptionSlotFull', 'slot is full', {
          availability: { '2014-07-30T17:00:00.000Z': 3 },
        }),
      );
      const res = await app.inject({
        method: 'PUT',
        url: `${BASE}/${id}`,
        payload: { _new_desired_time: '2014-07-30T16:00:00.000Z' },
      });
      const body = assertError(res, 409, 'CallbackExceptionSlotFull');
      assert.equal(body.error, 'slot is full');
      assert.deepEqual(body.availability, { '2014-07-30T17:00:00.000Z': 3 });
    });
  });

  describe('device actions and queue position', () => {
    it('answers a connect with the engine reply', async () => {
      const id = await create();
      const res = await app.inject({ method: 'POST', url: `/genesys/1/service/${id}/connect` });
      const body = parseAs<Record<string, unknown>>(ActionReply, res.body);
      assert.equal(body._action, 'ConfirmationDialog');
      assert.deepEqual(engine.callsOf('action')[0], [id, 'connect', {}]);
    });

    it('passes an invalid action error through as 400', async () => {
      const id = await create();
      const res = await app.inject({
        method: 'POST',
        url: `/genesys/1/service/${id}/dance`,
        payload: {},
      });
      assertError(res, 400, 'CallbackExceptionInvalidAction');
    });

    it('answers the queue position', async () => {
      const id = await create();
      const res = await app.inject({ url: `/genesys/1/service/${id}/check-queue-position` });
      assert.deepEqual(parseAs(QueuePositionReply, res.body), {
        _position: 1,
        _eta: 42,
        _total_waiting: 3,
        _agent_ready_threshold_passed: false,
      });
    });

    it('answers 404 for the queue position of an unknown id', async () => {
      assertError(
        await app.inject({ url: '/genesys/1/service/440-nope/check-queue-position' }),
        404,
        'CallbackExceptionNotFound',
      );
    });
  });

  describe('admin', () => {
    it('lists queues with parsed window and states', async () => {
      await create();
      const res = await app.inject({
        url: '/genesys/1/admin/callback/queues?target=sales&start_time=2014-07-30T14:00:00Z&end_time=2014-07-31T14:00:00Z&states=SCHEDULED,queued&max=10',
      });
      const body = parseAs<Record<string, unknown[]>>(AdminQueuesReply, res.body);
      assert.equal(body[SERVICE].length, 1);
      assert.deepEqual(engine.callsOf('adminQueues')[0][0], {
        target: 'sales',
        startTime: Date.UTC(2014, 6, 30, 14),
        endTime: Date.UTC(2014, 6, 31, 14),
        states: ['SCHEDULED', 'QUEUED'],
        max: 10,
      });
    });

    it('refuses an unknown state with 400', async () => {
      assertError(
        await app.inject({ url: '/genesys/1/admin/callback/queues?states=SLEEPING' }),
        400,
        'CallbackExceptionInvalidField',
      );
    });

    it('bulk-cancels from a JSON array and from a comma-separated form field alike', async () => {
      const a = await create();
      const b = await create();
      const res = await app.inject({
        method: 'POST',
        url: '/genesys/1/admin/callback/cancel',
        payload: { reason: 'storm', ids: [a, 'x'] },
      });
      assert.deepEqual(parseAs(BulkCancelReply, res.body), {
        cancelled: [a],
        notFound: ['x'],
        alreadyCompleted: [],
      });
      const res2 = await app.inject({
        method: 'POST',
        url: '/genesys/1/admin/callback/cancel',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `reason=storm&ids=${a},${b}`,
      });
      assert.deepEqual(parseAs(BulkCancelReply, res2.body), {
        cancelled: [b],
        notFound: [],
        alreadyCompleted: [a],
      });
      assert.deepEqual(engine.callsOf('bulkCancel')[1], [[a, b], 'storm']);
    });

    it('refuses a bulk cancel without ids', async () => {
      assertError(
        await app.inject({
          method: 'POST',
          url: '/genesys/1/admin/callback/cancel',
          payload: { ids: [] },
        }),
        400,
        'CallbackExceptionMissingField',
      );
    });
  });

  it('answers an unknown route with 404 CallbackExceptionRouteNotFound', async () => {
    assertError(
      await app.inject({ url: '/genesys/9/nothing' }),
      404,
      'CallbackExceptionRouteNotFound',
    );
  });
});
