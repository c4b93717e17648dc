// Every GMS route (and dialback's own) over the real engine on virtual time: each success and
// each error the engine can answer, replies checked against the routes' TypeBox schemas.

import assert from 'node:assert/strict';
import {
  AdminQueuesReply,
  AgentViewSchema,
  AgentsReply,
  AvailabilityV1Reply,
  AvailabilityV2Reply,
  BulkCancelReply,
  CallbackViewSchema,
  CreateReply,
  EmptyReply,
  QueuePositionReply,
  ReadyReply,
  SearchReply,
} from '../../src/http/schemas';
import { assertError, parseAs } from './helpers';
import { MONDAY_9, RealHarness, createReq, iso } from './real-engine-harness';

type View = Record<string, string | number | boolean | null>;

const UT = {
  _call_direction: 'USERTERMINATED',
  _target: 'support',
  _allow_extensions: true,
  _business_hours_service: '24x7',
};

const SERVICES: Record<string, Record<string, unknown>> = {
  office: { ...UT, _business_hours_service: 'weekdays' },
  'two-per-slot': { ...UT, _max_request_by_time_bucket: 2 },
  e164: { ...UT, _allow_extensions: false },
  'one-queued': { ...UT, _max_queued_callbacks_per_service: 1 },
  'one-per-window': { ...UT, _throttle_callbacks_per_service_1: 1 },
  'two-per-number': { ...UT, _throttle_request_parameters_limit: 2 },
  'one-day-ahead': { ...UT, _reject_future_desired_time: '1d' },
  immediate: { ...UT, _wait_for_agent: true, _wait_for_user_confirm: true },
};

const HOUR = 3600_000;
const SVC = '/genesys/1/service/callback';

describe('GMS routes over the real engine', function () {
  let h: RealHarness;
  beforeEach(async () => {
    h = await RealHarness.start({
      services: SERVICES,
      officeHours: { weekdays: { _timezone: 'UTC', _bh_regular1: 'Mon-Fri 9:00-17:00' } },
    });
  });
  afterEach(async () => {
    await h.stop();
  });

  async function create(service: string, fields: Record<string, string>): Promise<string> {
    const res = await createReq(h, service, { _customer_number: '5115', ...fields });
    assert.equal(res.statusCode, 200, res.body);
    return parseAs<{ _id: string }>(CreateReply, res.body)._id;
  }

  async function view(id: string): Promise<View> {
    const res = await h.inject({ url: `${SVC}?_id=${id}` });
    assert.equal(res.statusCode, 200, res.body);
    const rows = parseAs<View[]>(SearchReply, res.body);
    assert.equal(rows.length, 1, res.body);
    return rows[0];
  }

  describe('create', () => {
    it('books a scheduled callback and shows it SCHEDULED with its user data', async () => {
      const id = await create('user-scheduled', {
        _desired_time: iso(MONDAY_9 + HOUR),
        first_name: 'Ada',
      });
      assert.match(id, /^440-[0-9a-f-]{36}$/);
      const v = await view(id);
      assert.equal(v._callback_state, 'SCHEDULED');
      assert.equal(v._desired_time, iso(MONDAY_9 + HOUR));
      assert.equal(v.first_name, 'Ada');
      assert.equal(v._service_name, 'user-scheduled');
    });

    for (const [what, number] of [
      ['a number carrying a dial-string injection', '5115&PJSIP/other'],
      ['letters', 'call-me-maybe'],
    ] as const) {
      it(`refuses ${what} with 400 CallbackExceptionNumber`, async () => {
        const res = await createReq(h, 'user-scheduled', { _customer_number: number });
        assertError(res, 400, 'CallbackExceptionNumber');
        assert.equal(h.store.countOpen('user-scheduled'), 0);
      });
    }

    it('refuses a premium-rate number when only E.164 numbers are allowed', async () => {
      const res = await createReq(h, 'e164', { _customer_number: '+1 900 555 0100' });
      const body = assertError(res, 400, 'CallbackExceptionNumber');
      assert.match(String(body.message), /premium/);
    });

    it('refuses an extension on a service that allows only E.164 numbers', async () => {
      assertError(
        await createReq(h, 'e164', { _customer_number: '5115' }),
        400,
        'CallbackExceptionNumber',
      );
    });

    it('refuses a missing _customer_number with 400 CallbackExceptionMissingField', async () => {
      assertError(
        await createReq(h, 'user-scheduled', { first_name: 'x' }),
        400,
        'CallbackExceptionMissingField',
      );
    });

    it('refuses a desired time in the past with 400 CallbackExceptionPastTime', async () => {
      const res = await createReq(h, 'user-scheduled', {
        _customer_number: '5115',
        _desired_time: iso(MONDAY_9 - HOUR),
      });
      assertError(res, 400, 'CallbackExceptionPastTime');
    });

    it('refuses a local time without an offset with 400 CallbackExceptionInvalidField', async () => {
      const res = await createReq(h, 'user-scheduled', {
        _customer_number: '5115',
        _desired_time: '2030-01-07T11:00:00',
      });
      assertError(res, 400, 'CallbackExceptionInvalidField');
    });

    it('refuses a desired time beyond _reject_future_desired_time with 400 TooFarInFuture', async () => {
      const res = await createReq(h, 'one-day-ahead', {
        _customer_number: '5115',
        _desired_time: iso(MONDAY_9 + 2 * 24 * HOUR),
      });
      assertError(res, 400, 'CallbackExceptionTooFarInFuture');
      await create('one-day-ahead', { _desired_time: iso(MONDAY_9 + 12 * HOUR) });
    });

    it('refuses a desired time outside office hours with 400 OutsideOfficeHours', async () => {
      const saturday = MONDAY_9 + 5 * 24 * HOUR + HOUR;
      const res = await createReq(h, 'office', {
        _customer_number: '5115',
        _desired_time: iso(saturday),
      });
      assertError(res, 400, 'CallbackExceptionOutsideOfficeHours');
      const evening = MONDAY_9 + 9 * HOUR; // 18:00
      assertError(
        await createReq(h, 'office', { _customer_number: '5115', _desired_time: iso(evening) }),
        400,
        'CallbackExceptionOutsideOfficeHours',
      );
      await create('office', { _desired_time: iso(MONDAY_9 + 2 * HOUR) });
    });

    it('refuses the third booking of a slot limited to two with 409 SlotFull and the alternatives', async () => {
      const desired = iso(MONDAY_9 + HOUR);
      await create('two-per-slot', { _desired_time: desired });
      await create('two-per-slot', { _desired_time: desired, _customer_number: '5116' });
      const res = await createReq(h, 'two-per-slot', {
        _customer_number: '5117',
        _desired_time: desired,
      });
      const body = assertError(res, 409, 'CallbackExceptionSlotFull');
      const availability = body.availability as Record<string, number>;
      assert.ok(availability, 'carries availability');
      assert.ok(!(desired in availability), 'the full slot is not offered');
      assert.equal(availability[iso(MONDAY_9 + HOUR + 5 * 60_000)], 2);
    });

    it('answers 404 CallbackExceptionServiceNotFound for an unknown service', async () => {
      assertError(
        await createReq(h, 'nope', { _customer_number: '5115' }),
        404,
        'CallbackExceptionServiceNotFound',
      );
      assertError(
        await h.inject({ url: `${SVC}/nope/availability` }),
        404,
        'CallbackExceptionServiceNotFound',
      );
      assertError(
        await h.inject({ url: `${SVC}/nope?_id=x` }),
        404,
        'CallbackExceptionServiceNotFound',
      );
    });

    it('answers 503 when _max_queued_callbacks_per_service is reached', async () => {
      await create('one-queued', { _desired_time: iso(MONDAY_9 + HOUR) });
      const res = await createReq(h, 'one-queued', {
        _customer_number: '5116',
        _desired_time: iso(MONDAY_9 + HOUR),
      });
      const body = assertError(res, 503, 'CallbackExceptionServiceUnavailable');
      assert.equal(body.message, 'Limit of queued callbacks for one-queued is reached');
    });

    it('answers 503 for the interval when the throttle window allows one', async () => {
      const first = await create('one-per-window', { _desired_time: iso(MONDAY_9 + HOUR) });
      // Cancelled or not, a creation counts in the throttle window.
      await h.inject({ method: 'DELETE', url: `${SVC}/one-per-window/${first}` });
      const res = await createReq(h, 'one-per-window', {
        _customer_number: '5116',
        _desired_time: iso(MONDAY_9 + HOUR),
      });
      const body = assertError(res, 503, 'CallbackExceptionServiceUnavailable');
      assert.equal(
        body.message,
        'Limit of queued callbacks for one-per-window is reached for interval 300s.',
      );
      await h.advance(301_000);
      await create('one-per-window', { _desired_time: iso(MONDAY_9 + HOUR) });
    });

    it('answers 429 TooManyRequests for a third open callback to the same number', async () => {
      await create('two-per-number', { _desired_time: iso(MONDAY_9 + HOUR) });
      await create('two-per-number', { _desired_time: iso(MONDAY_9 + 2 * HOUR) });
      const res = await createReq(h, 'two-per-number', {
        _customer_number: '5115',
        _desired_time: iso(MONDAY_9 + 3 * HOUR),
      });
      assertError(res, 429, 'CallbackExceptionTooManyRequests');
      await create('two-per-number', {
        _customer_number: '5116',
        _desired_time: iso(MONDAY_9 + 3 * HOUR),
      });
    });
  });

  describe('cancel', () => {
    it('cancels with 200 {}, shows COMPLETED/CANCELLED, and a second cancel is 409', async () => {
      const id = await create('user-scheduled', { _desired_time: iso(MONDAY_9 + HOUR) });
      const res = await h.inject({ method: 'DELETE', url: `${SVC}/user-scheduled/${id}` });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(parseAs(EmptyReply, res.body), {});
      const v = await view(id);
      assert.equal(v._callback_state, 'COMPLETED');
      assert.equal(v._callback_reason, 'CANCELLED');
      assertError(
        await h.inject({ method: 'DELETE', url: `${SVC}/user-scheduled/${id}` }),
        409,
        'CallbackExceptionInvalidState',
      );
      // The slot is free again.
      const slots = await h.inject({
        url: `${SVC}/user-scheduled/availability?timestamp=${iso(MONDAY_9 + HOUR)}`,
      });
      assert.equal(
        parseAs<Record<string, number>>(AvailabilityV1Reply, slots.body)[iso(MONDAY_9 + HOUR)],
        100,
      );
    });

    it('answers 404 for an unknown id and for an id of another service', async () => {
      assertError(
        await h.inject({ method: 'DELETE', url: `${SVC}/user-scheduled/440-nope` }),
        404,
        'CallbackExceptionNotFound',
      );
      const id = await create('user-scheduled', { _desired_time: iso(MONDAY_9 + HOUR) });
      assertError(
        await h.inject({ method: 'DELETE', url: `${SVC}/office/${id}` }),
        404,
        'CallbackExceptionNotFound',
      );
    });
  });

  describe('reschedule', () => {
    it('moves a SCHEDULED callback to _new_desired_time and frees the old slot', async () => {
      const old = iso(MONDAY_9 + HOUR);
      const id = await create('two-per-slot', { _desired_time: old });
      const next = iso(MONDAY_9 + 2 * HOUR);
      const res = await h.inject({
        method: 'PUT',
        url: `${SVC}/two-per-slot/${id}`,
        payload: { _new_desired_time: next, note: 'moved' },
      });
      assert.equal(res.statusCode, 200, res.body);
      const v = parseAs<View>(CallbackViewSchema, res.body);
      assert.equal(v._desired_time, next);
      assert.equal(v.note, 'moved');
      assert.equal((await view(id))._desired_time, next);
      const slots = await h.inject({
        url: `${SVC}/two-per-slot/availability?timestamp=${old}`,
      });
      const map = parseAs<Record<string, number>>(AvailabilityV1Reply, slots.body);
      assert.equal(map[old], 2);
      assert.equal(map[next], 1);
    });

    it('refuses a full slot with 409 and the alternatives', async () => {
      const full = iso(MONDAY_9 + HOUR);
      await create('two-per-slot', { _desired_time: full });
      await create('two-per-slot', { _desired_time: full, _customer_number: '5116' });
      const id = await create('two-per-slot', {
        _desired_time: iso(MONDAY_9 + 2 * HOUR),
        _customer_number: '5117',
      });
      const res = await h.inject({
        method: 'PUT',
        url: `${SVC}/two-per-slot/${id}`,
        payload: { _new_desired_time: full },
      });
      const body = assertError(res, 409, 'CallbackExceptionSlotFull');
      assert.equal(typeof body.error, 'string');
      const availability = body.availability as Record<string, number>;
      assert.ok(!(full in availability), 'the full slot is not offered');
      assert.ok(Object.values(availability).some((c) => c > 0));
      assert.equal((await view(id))._desired_time, iso(MONDAY_9 + 2 * HOUR), 'unchanged');
    });

    it('refuses closed hours with 400 and the alternatives', async () => {
      const id = await create('office', { _desired_time: iso(MONDAY_9 + HOUR) });
      const res = await h.inject({
        method: 'PUT',
        url: `${SVC}/office/${id}`,
        payload: { _new_desired_time: iso(MONDAY_9 + 11 * HOUR) }, // 20:00
      });
      const body = assertError(res, 400, 'CallbackExceptionOutsideOfficeHours');
      const keys = Object.keys(body.availability as Record<string, number>);
      assert.ok(keys.length > 0, 'offers open slots');
      for (const k of keys) {
        const hour = new Date(k).getUTCHours();
        assert.ok(hour >= 9 && hour < 17, `${k} is inside office hours`);
      }
    });

    it('answers 404 for an unknown id and 409 for a callback that already started', async () => {
      assertError(
        await h.inject({
          method: 'PUT',
          url: `${SVC}/user-scheduled/440-nope`,
          payload: { _new_desired_time: iso(MONDAY_9 + HOUR) },
        }),
        404,
        'CallbackExceptionNotFound',
      );
      const id = await create('user-scheduled-now', {});
      assert.equal(h.state(id), 'QUEUED');
      assertError(
        await h.inject({
          method: 'PUT',
          url: `${SVC}/user-scheduled-now/${id}`,
          payload: { _new_desired_time: iso(MONDAY_9 + HOUR) },
        }),
        409,
        'CallbackExceptionInvalidState',
      );
    });
  });

  describe('device actions and queue position', () => {
    it('answers 404 for connect and check-queue-position on an unknown id', async () => {
      assertError(
        await h.inject({ method: 'POST', url: '/genesys/1/service/440-nope/connect' }),
        404,
        'CallbackExceptionNotFound',
      );
      assertError(
        await h.inject({ url: '/genesys/1/service/440-nope/check-queue-position' }),
        404,
        'CallbackExceptionNotFound',
      );
    });

    it('refuses a connect when no dialog is pending with 409 InvalidState', async () => {
      const id = await create('user-scheduled', { _desired_time: iso(MONDAY_9 + HOUR) });
      assertError(
        await h.inject({ method: 'POST', url: `/genesys/1/service/${id}/connect` }),
        409,
        'CallbackExceptionInvalidState',
      );
    });

    it('reports the queue position of callbacks waiting for an agent', async () => {
      for (const a of ['agent1', 'agent2', 'agent3'])
        await h.inject({ method: 'POST', url: `/dialback/1/agents/${a}/not-ready` });
      const first = await create('immediate', {});
      const second = await create('immediate', { _customer_number: '5116' });
      await h.advance(0);
      assert.equal(h.state(second), 'QUEUED');
      const res = await h.inject({ url: `/genesys/1/service/${second}/check-queue-position` });
      assert.equal(res.statusCode, 200, res.body);
      const pos = parseAs<Record<string, unknown>>(QueuePositionReply, res.body);
      assert.equal(pos._position, 2);
      assert.equal(pos._total_waiting, 2);
      assert.equal(typeof pos._eta, 'number');
      assert.equal(pos._agent_ready_threshold_passed, false);
      const p1 = parseAs<Record<string, unknown>>(
        QueuePositionReply,
        (await h.inject({ url: `/genesys/1/service/${first}/check-queue-position` })).body,
      );
      assert.equal(p1._position, 1);
    });
  });

  describe('admin', () => {
    it('lists callbacks per service in the default window and filters by state', async () => {
      const soon = await create('user-scheduled', { _desired_time: iso(MONDAY_9 + HOUR) });
      const later = await create('user-scheduled', { _desired_time: iso(MONDAY_9 + 48 * HOUR) });
      const other = await create('office', { _desired_time: iso(MONDAY_9 + 2 * HOUR) });
      const now = await create('user-scheduled-now', {});
      const res = await h.inject({ url: '/genesys/1/admin/callback/queues' });
      assert.equal(res.statusCode, 200, res.body);
      const q = parseAs<Record<string, View[]>>(AdminQueuesReply, res.body);
      const ids = (svc: string) => (q[svc] ?? []).map((v) => v._id);
      assert.deepEqual(ids('user-scheduled'), [soon], 'the day-after is outside the window');
      assert.deepEqual(ids('office'), [other]);
      assert.deepEqual(ids('user-scheduled-now'), [now]);
      assert.ok(!ids('user-scheduled').includes(later));

      const queued = await h.inject({ url: '/genesys/1/admin/callback/queues?states=QUEUED' });
      const qq = parseAs<Record<string, View[]>>(AdminQueuesReply, queued.body);
      assert.deepEqual(Object.keys(qq), ['user-scheduled-now']);

      const wide = await h.inject({
        url: `/genesys/1/admin/callback/queues?states=SCHEDULED&end_time=${iso(MONDAY_9 + 72 * HOUR)}`,
      });
      const qw = parseAs<Record<string, View[]>>(AdminQueuesReply, wide.body);
      assert.deepEqual(
        qw['user-scheduled'].map((v) => v._id),
        [soon, later],
      );
      assertError(
        await h.inject({ url: '/genesys/1/admin/callback/queues?states=SLEEPING' }),
        400,
        'CallbackExceptionInvalidField',
      );
    });

    it('bulk-cancels by id: CANCELLED_BY_ADMIN, unknown and completed ids reported', async () => {
      const a = await create('user-scheduled', { _desired_time: iso(MONDAY_9 + HOUR) });
      const b = await create('office', { _desired_time: iso(MONDAY_9 + HOUR) });
      const done = await create('user-scheduled', { _desired_time: iso(MONDAY_9 + 2 * HOUR) });
      await h.inject({ method: 'DELETE', url: `${SVC}/user-scheduled/${done}` });
      const res = await h.inject({
        method: 'POST',
        url: '/genesys/1/admin/callback/cancel',
        payload: { reason: 'storm', ids: [a, b, done, '440-nope'] },
      });
      assert.equal(res.statusCode, 200, res.body);
      const r = parseAs<{ cancelled: string[]; notFound: string[]; alreadyCompleted: string[] }>(
        BulkCancelReply,
        res.body,
      );
      assert.deepEqual([...r.cancelled].sort(), [a, b].sort());
      assert.deepEqual(r.notFound, ['440-nope']);
      assert.deepEqual(r.alreadyCompleted, [done]);
      for (const id of [a, b]) {
        const v = await view(id);
        assert.equal(v._callback_state, 'COMPLETED');
        assert.equal(v._callback_reason, 'CANCELLED_BY_ADMIN');
      }
    });
  });

  describe('availability and query', () => {
    it('answers v2 availability with localTime in the asked zone', async () => {
      const res = await h.inject({
        url: `/genesys/2/service/callback/office/availability?timezone=America/New_York&max-time-slots=3`,
      });
      assert.equal(res.statusCode, 200, res.body);
      const r = parseAs<{
        durationMin: number;
        timezone: string;
        slots: Array<{ utcTime: string; localTime?: string; capacity: number; total: number }>;
      }>(AvailabilityV2Reply, res.body);
      assert.equal(r.durationMin, 5);
      assert.equal(r.timezone, 'America/New_York');
      assert.equal(r.slots.length, 3);
      assert.equal(r.slots[0].utcTime, iso(MONDAY_9));
      assert.match(String(r.slots[0].localTime), /^2030-01-07T04:00:00(\.000)?$/);
      assert.equal(r.slots[0].capacity, 100);
      assert.equal(r.slots[0].total, 100);

      const noZone = await h.inject({
        url: `/genesys/2/service/callback/office/availability?max-time-slots=1`,
      });
      const r2 = parseAs<{ timezone: string; slots: Array<{ localTime?: string }> }>(
        AvailabilityV2Reply,
        noZone.body,
      );
      assert.equal(r2.timezone, 'UTC');
      assert.equal(r2.slots[0].localTime, undefined);
      assertError(
        await h.inject({
          url: `/genesys/2/service/callback/office/availability?timezone=Mars/Olympus`,
        }),
        400,
        'CallbackExceptionInvalidField',
      );
    });

    it('queries across services by _customer_number and _callback_state=!COMPLETED', async () => {
      const a = await create('user-scheduled', {
        _customer_number: '+33612345678',
        _desired_time: iso(MONDAY_9 + HOUR),
      });
      const b = await create('office', {
        _customer_number: '+33612345678',
        _desired_time: iso(MONDAY_9 + HOUR),
      });
      const c = await create('office', {
        _customer_number: '+33612345678',
        _desired_time: iso(MONDAY_9 + 2 * HOUR),
      });
      await create('office', { _customer_number: '5999', _desired_time: iso(MONDAY_9 + HOUR) });
      await h.inject({ method: 'DELETE', url: `${SVC}/office/${c}` });
      const res = await h.inject({
        url: `${SVC}?_customer_number=${encodeURIComponent('+33612345678')}&_callback_state=!COMPLETED`,
      });
      assert.equal(res.statusCode, 200, res.body);
      const rows = parseAs<View[]>(SearchReply, res.body);
      assert.deepEqual(rows.map((r) => r._id).sort(), [a, b].sort());

      const inOne = await h.inject({
        url: `${SVC}/office?_customer_number=${encodeURIComponent('+33612345678')}`,
      });
      assert.deepEqual(
        parseAs<View[]>(SearchReply, inOne.body)
          .map((r) => r._id)
          .sort(),
        [b, c].sort(),
      );
    });
  });

  describe('agents and operations', () => {
    it('lists agents and moves one through not-ready, ready, sign-out and sign-in', async () => {
      const list = parseAs<Array<{ id: string; state: string }>>(
        AgentsReply,
        (await h.inject({ url: '/dialback/1/agents' })).body,
      );
      assert.deepEqual(
        list.map((a) => [a.id, a.state]),
        [
          ['agent1', 'ready'],
          ['agent2', 'ready'],
          ['agent3', 'ready'],
        ],
      );
      for (const [command, state] of [
        ['not-ready', 'not-ready'],
        ['ready', 'ready'],
        ['sign-out', 'signed-out'],
        ['sign-in', 'not-ready'],
      ] as const) {
        const res = await h.inject({ method: 'POST', url: `/dialback/1/agents/agent1/${command}` });
        assert.equal(res.statusCode, 200, `${command}: ${res.body}`);
        assert.equal(parseAs<{ state: string }>(AgentViewSchema, res.body).state, state, command);
      }
      assertError(
        await h.inject({ method: 'POST', url: '/dialback/1/agents/nobody/ready' }),
        404,
        'CallbackExceptionAgentNotFound',
      );
    });

    it('is ready and counts bookings in /metrics', async () => {
      const ready = await h.inject({ url: '/readyz' });
      assert.equal(ready.statusCode, 200, ready.body);
      assert.deepEqual(parseAs(ReadyReply, ready.body), {
        status: 'ok',
        store: true,
        telephony: true,
        down: [],
      });
      await create('user-scheduled', { _desired_time: iso(MONDAY_9 + HOUR) });
      const metrics = await h.inject({ url: '/metrics' });
      assert.equal(metrics.statusCode, 200);
      assert.match(metrics.body, /dialback_bookings_total\{service="user-scheduled"\} 1/);
      assert.match(
        metrics.body,
        /dialback_callbacks\{service="user-scheduled",state="SCHEDULED"\} 1/,
      );
      // An hour ahead is within the harness's idle time: the booking has a live session.
      assert.match(metrics.body, /dialback_sessions_live 1\n/);
    });
  });
});
