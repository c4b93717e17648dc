// Faults with a stated behaviour each: the telephony connection lost mid-call, a store that
// cannot write, wall-clock jumps, and a notification receiver that never answers. All run the
// real engine (actors, SQLite, simulator) on a virtual clock, so each takes well under a second.

import { strict as assert } from 'node:assert';
import http from 'node:http';
import type net from 'node:net';
import { resolveConfig } from '../../src/config';
import { Engine } from '../../src/actors/engine';
import { VirtualClock } from '../../src/clock';
import { buildApp } from '../../src/http/app';
import { silentLogger } from '../../src/logger';
import { HttpPostChannel, type DeliveryChannel } from '../../src/notify/delivery';
import { createOutboundDelivery } from '../../src/notify/outbound';
import { openSqliteStore } from '../../src/store/sqlite-store';
import { StoreUnavailableError, type Store } from '../../src/store/store';
import { SimulatorTelephony } from '../../src/telephony/simulator/simulator-adapter';
import { Harness, START } from '../actors/engine-harness';
import { RealHarness, createReq, iso, MONDAY_9 } from '../http/real-engine-harness';
import { advance, settle } from '../helpers/settle';

const HOUR = 3600_000;

describe('faults', function () {
  this.timeout(20_000);

  describe('the telephony connection drops mid-call', () => {
    // Outage moments chosen to land while ringing, during AMD, while the agent leg rings and
    // while talking (HUMAN answers at 3 s, AMD at 4.5 s; agents answer 1 s after their dial).
    // 5200 ms: the agent leg rings through the outage (its answer is among the lost events).
    for (const at of [1000, 4000, 5200, 20_000])
      it(`reconciles every session after an outage ${at} ms into the calls and finishes each once`, async () => {
        const h = await new Harness({
          service: { _max_dial_attempts: 3, _dial_retry_timeout: 5 },
          agents: [{ id: 'agent1' }, { id: 'agent2' }, { id: 'agent3' }],
        }).start();
        try {
          const ids = await Promise.all(
            ['+33612345671', '+33612345672', '+33612345673'].map((n) =>
              h.create({ _customer_number: n }),
            ),
          );
          await advance(h.clock, at);
          const phases = ids.map((id) => h.store.get(id)?.state.phase);
          h.telephony.setConnected(false);
          await advance(h.clock, 30_000); // far ends hang up, answer, finish: all events lost
          h.telephony.setConnected(true);
          await h.until(
            () => ids.every((id) => h.state(id) === 'COMPLETED'),
            `all completed (phases at the outage: ${phases.join(', ')})`,
          );
          for (const id of ids) {
            const dials = h.customerDials(id);
            assert.ok(dials.length >= 1 && dials.length <= 3, `${id}: ${dials.join(',')}`);
            for (const c of dials)
              assert.equal(h.telephony.dialRequests(c), 1, `${c} dialled once`);
            assert.ok(h.reason(id), 'a final reason');
          }
          assert.equal(h.telephony.isReady(), true);
        } finally {
          await h.stop();
        }
      });

    it('dials a callback booked during an outage once the connection is back, without spending its attempts', async () => {
      const h = await new Harness({ service: { _dial_retry_timeout: 5 } }).start();
      try {
        h.telephony.setConnected(false);
        await settle();
        const id = await h.create({});
        await advance(h.clock, 20_000);
        assert.equal(h.telephony.calls().length, 0, 'no call placed while down');
        assert.equal(h.state(id), 'QUEUED', 'still waiting, not failed');
        assert.equal(h.engine.get(id)?._dial_attempts, 0, 'a refused dial is no attempt');
        h.telephony.setConnected(true);
        assert.equal(await h.complete(id), 'AGENT_CONNECTED');
        const placed = h.telephony.calls().filter((c) => c.callbackId === id);
        assert.equal(placed.length, 2, 'one customer call and one agent call');
        const refused = h.store.get(id)!.state.unplacedDials ?? 0;
        assert.ok(refused >= 1, 'the first dial was refused');
        const customer = placed.find((c) => c.leg === 'customer')!;
        // Call ids are never reused: the dial placed comes after those refused.
        assert.equal(customer.callId, `${id}-c${refused + 1}`);
        assert.equal(h.engine.get(id)?._dial_attempts, 1);
      } finally {
        await h.stop();
      }
    });

    it('does not make an agent not ready whose leg rang through the outage, and connects the customer', async () => {
      const h = await new Harness({ agents: [{ id: 'agent1' }] }).start();
      try {
        const id = await h.create({});
        await advance(h.clock, 5200); // the agent leg rings (it answers at 5.5 s)
        assert.equal(h.store.get(id)?.state.phase, 'dialling-agent');
        h.telephony.setConnected(false);
        await advance(h.clock, 40_000); // past the agent-answer timeout
        assert.equal(h.store.get(id)?.state.phase, 'dialling-agent', 'not judged while down');
        assert.notEqual(h.engine.listAgents()[0]?.state, 'not-ready');
        h.telephony.setConnected(true);
        assert.equal(await h.complete(id), 'AGENT_CONNECTED');
        assert.equal(h.telephony.dialRequests(`${id}-a1`), 1, 'the same agent leg, reconciled');
      } finally {
        await h.stop();
      }
    });

    it('repeats on reconnect a hang-up refused during the outage', async () => {
      const h = await new Harness({ agents: [{ id: 'agent1' }] }).start();
      try {
        // No agent is ready: the customer answers and waits on the line in reserving-agent.
        await h.engine.agentCommand('agent1', 'not-ready');
        const id = await h.create({});
        await advance(h.clock, 10_000);
        assert.equal(h.store.get(id)?.state.phase, 'reserving-agent');
        const customer = `${id}-c1`;
        h.telephony.setConnected(false);
        await settle();
        await h.engine.cancel('svc', id); // its hang-up is refused: telephony is down
        await advance(h.clock, 5000);
        assert.equal(h.reason(id), 'CANCELLED');
        const live = () => h.telephony.calls().find((c) => c.callId === customer)?.status;
        assert.notEqual(live(), 'ended', 'still up while telephony is down');
        h.telephony.setConnected(true);
        await advance(h.clock, 1000);
        assert.equal(live(), 'ended', 'hung up once telephony is back');
      } finally {
        await h.stop();
      }
    });
  });

  describe('the store cannot write', () => {
    /** The real store behind a switch that makes every write fail as a full disk would. */
    function failingStore(inner: Store): { store: Store; fail: (on: boolean) => void } {
      let failing = false;
      const writes = new Set([
        'insertCallback',
        'saveSession',
        'moveBooking',
        'recordDial',
        'appendMessage',
      ]);
      const store = new Proxy(inner, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver) as unknown;
          if (prop === 'isHealthy') return () => !failing && inner.isHealthy();
          if (typeof v !== 'function') return v;
          if (typeof prop === 'string' && writes.has(prop))
            return (...args: unknown[]) => {
              if (failing)
                throw new StoreUnavailableError(`store ${prop} failed: disk full`, 'SQLITE_FULL');
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            };
          return (v as (...a: unknown[]) => unknown).bind(target);
        },
      });
      return { store, fail: (on) => (failing = on) };
    }

    async function setup() {
      const clock = new VirtualClock(MONDAY_9);
      const inner = openSqliteStore({ file: ':memory:' });
      const { store, fail } = failingStore(inner);
      const cfg = resolveConfig({
        services: {
          svc: {
            _call_direction: 'USERTERMINATED',
            _target: 'support',
            _allow_extensions: true,
            _request_time_bucket: 5,
            _max_request_by_time_bucket: 1,
          },
        },
        agents: [{ id: 'agent1', endpoint: 'SIM/agent1', groups: ['support'], state: 'ready' }],
      });
      const telephony = new SimulatorTelephony({
        clock,
        defaultCustomer: { kind: 'human', answerAfterMs: 1000, amdAfterMs: 500 },
        agents: [
          {
            id: 'agent1',
            endpoint: 'SIM/agent1',
            answerAfterMs: 500,
            answers: true,
            handleTimeMs: 5000,
          },
        ],
      });
      await telephony.start();
      const engine = new Engine({
        clock,
        store,
        telephony,
        logger: silentLogger(),
        services: cfg.services,
        agents: cfg.agents,
        nodeId: '440',
      });
      await engine.resume();
      const app = await buildApp({ engine, logger: silentLogger() });
      return {
        clock,
        inner,
        fail,
        app,
        telephony,
        engine,
        stop: async () => {
          await app.close();
          await engine.stop();
          await telephony.stop();
          inner.close();
        },
      };
    }

    const all = (s: Store) => s.query({ conditions: [], operand: 'AND', limit: 1000 });

    it('answers 503 CallbackExceptionStoreUnavailable, writes nothing, and books again once writes return', async () => {
      const t = await setup();
      try {
        const slot = iso(MONDAY_9 + HOUR);
        t.fail(true);
        for (const fields of [
          { _customer_number: '5115' },
          { _customer_number: '5115', _desired_time: slot },
        ]) {
          const res = await t.app.inject({
            method: 'POST',
            url: '/genesys/1/service/callback/svc',
            payload: fields,
          });
          assert.equal(res.statusCode, 503, res.body);
          assert.equal(res.json().exception, 'CallbackExceptionStoreUnavailable');
        }
        assert.equal(
          (await t.app.inject({ url: '/readyz' })).statusCode,
          503,
          'not ready while writes fail',
        );
        await advance(t.clock, 60_000);
        assert.deepEqual(all(t.inner), [], 'no callback row');
        assert.equal(
          t.inner.bookedCounts('svc', MONDAY_9, MONDAY_9 + 2 * HOUR).size,
          0,
          'no seat taken',
        );
        assert.equal(t.telephony.calls().length, 0, 'nothing dialled');

        t.fail(false);
        assert.equal((await t.app.inject({ url: '/readyz' })).statusCode, 200);
        // The slot holds one seat: the failed attempt must not have taken it.
        const res = await t.app.inject({
          method: 'POST',
          url: '/genesys/1/service/callback/svc',
          payload: { _customer_number: '5115', _desired_time: slot },
        });
        assert.equal(res.statusCode, 200, res.body);
        const now = await t.app.inject({
          method: 'POST',
          url: '/genesys/1/service/callback/svc',
          payload: { _customer_number: '+33612345678' },
        });
        assert.equal(now.statusCode, 200, now.body);
        const id = (now.json() as { _id: string })._id;
        await advance(t.clock, 60_000);
        assert.equal(t.engine.get(id)?._callback_reason, 'AGENT_CONNECTED');
      } finally {
        await t.stop();
      }
    });

    it('refuses a cancel with 503 and leaves the callback as it was; the retry succeeds', async () => {
      const t = await setup();
      try {
        const res = await t.app.inject({
          method: 'POST',
          url: '/genesys/1/service/callback/svc',
          payload: { _customer_number: '5115', _desired_time: iso(MONDAY_9 + HOUR) },
        });
        const id = (res.json() as { _id: string })._id;
        t.fail(true);
        const del = await t.app.inject({
          method: 'DELETE',
          url: `/genesys/1/service/callback/svc/${id}`,
        });
        assert.equal(del.statusCode, 503, del.body);
        assert.equal(del.json().exception, 'CallbackExceptionStoreUnavailable');
        const put = await t.app.inject({
          method: 'PUT',
          url: `/genesys/1/service/callback/svc/${id}`,
          payload: { _new_desired_time: iso(MONDAY_9 + 2 * HOUR) },
        });
        assert.equal(put.statusCode, 503, put.body);
        const row = t.inner.get(id)!;
        assert.equal(row.gms, 'SCHEDULED');
        assert.equal(row.desiredTime, MONDAY_9 + HOUR, 'the reschedule changed nothing');
        t.fail(false);
        const again = await t.app.inject({
          method: 'DELETE',
          url: `/genesys/1/service/callback/svc/${id}`,
        });
        assert.equal(again.statusCode, 200, again.body);
        assert.equal(t.inner.get(id)?.reason, 'CANCELLED');
      } finally {
        await t.stop();
      }
    });
  });

  describe('the wall clock jumps', () => {
    it('fires a start that a forward jump put in the past once, and dials once', async () => {
      const h = await new Harness({ service: { _desired_connect_time_threshold: 0 } }).start();
      try {
        const id = await h.create({ _desired_time: iso(START + HOUR) });
        await advance(h.clock, 60_000);
        assert.equal(h.customerDials(id).length, 0);
        h.clock.jump(START + 3 * HOUR); // e.g. NTP correcting a clock two hours slow
        assert.equal(await h.complete(id), 'AGENT_CONNECTED');
        assert.equal(h.customerDials(id).length, 1, 'dialled exactly once');
        assert.equal(h.statuses(id).filter((s) => s === 'PROCESSING').length, 1);
      } finally {
        await h.stop();
      }
    });

    it('fires nothing early or twice after a backward jump', async () => {
      const h = await new Harness({ service: { _desired_connect_time_threshold: 0 } }).start();
      try {
        const desired = START + HOUR;
        const id = await h.create({ _desired_time: iso(desired) });
        await advance(h.clock, 30 * 60_000);
        h.clock.jump(START - HOUR); // the clock is set back 90 minutes
        // Run to just before the desired time on the new clock: nothing may start.
        await advance(h.clock, desired - h.clock.now() - 1000);
        assert.equal(h.customerDials(id).length, 0, 'not dialled before its desired time');
        assert.equal(h.state(id), 'SCHEDULED');
        assert.equal(await h.complete(id), 'AGENT_CONNECTED');
        const first = h.telephony.calls().find((c) => c.callbackId === id)!;
        assert.ok(first.dialledAt >= desired, 'dialled at or after its desired time');
        assert.equal(h.customerDials(id).length, 1, 'dialled exactly once');
      } finally {
        await h.stop();
      }
    });
  });

  describe('a notification receiver that never answers', () => {
    let server: http.Server;
    let url: string;
    const hanging: http.ServerResponse[] = [];
    let received = 0;
    before(async () => {
      server = http.createServer((req, res) => {
        received++;
        req.resume();
        hanging.push(res); // never answered
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`;
    });
    after(async () => {
      for (const res of hanging) res.destroy();
      await new Promise((r) => server.close(r));
    });

    it('lets the session complete, and gives each delivery up after its timeout', async () => {
      let attempts = 0;
      let failed = 0;
      let delivered = 0;
      const inner = new HttpPostChannel();
      const channel: DeliveryChannel = {
        deliver: (m, o) => {
          attempts++;
          return inner.deliver(m, o).then(
            () => void delivered++,
            (e: unknown) => {
              failed++;
              throw e;
            },
          );
        },
      };
      const h = await RealHarness.start({
        services: {
          hooked: {
            _type: 'ors',
            _call_direction: 'USERTERMINATED',
            _wait_for_agent: true,
            _wait_for_user_confirm: true,
            _user_confirm_timeout: 10,
            _max_number_of_user_availability_confirmation_attempts: 1,
            _business_hours_service: '24x7',
            _target: 'support',
            _allow_extensions: true,
            _max_notify_delivery_attempts: 2,
            _enable_status_notification: true,
            _status_notification_target: url,
          },
        },
        outbound: createOutboundDelivery({
          logger: silentLogger(),
          channel,
          timeoutMs: 200,
          backoffMs: 20,
        }),
      });
      try {
        const res = await createReq(h, 'hooked', {
          _customer_number: '5115',
          _device_os: 'httpcb',
          _device_notification_id: url,
        });
        assert.equal(res.statusCode, 200, res.body);
        const id = (res.json() as { _id: string })._id;
        await h.until(() => h.state(id) === 'COMPLETED', 'completed', 6 * HOUR);
        assert.equal(h.reason(id), 'AGENT_CONNECTED', 'the session is not held up by the sink');
        const messages = h.messages.filter(
          (m) => m.callbackId === id && (m.kind === 'status' || m.kind === 'dialog'),
        ).length;
        assert.ok(messages >= 4, `a dialog and status changes were sent (${messages})`);
        const started = Date.now();
        // Every notification gets its two attempts, each cut at 200 ms; then nothing is pending.
        while (!(attempts === 2 * messages && failed === attempts)) {
          if (Date.now() - started > 5000)
            throw new Error(`deliveries pending: ${attempts} attempts, ${failed} failed`);
          await new Promise((r) => setTimeout(r, 20));
        }
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(delivered, 0);
        assert.equal(attempts, 2 * messages, 'two attempts per notification, then given up');
        assert.ok(received >= attempts, 'the sink did receive them');
        assert.ok(Date.now() - started < 3000, 'given up at the timeouts, not later');
      } finally {
        await h.stop();
      }
    });
  });
});
