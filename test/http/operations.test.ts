import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { createMetrics } from '../../src/metrics';
import {
  AgentViewSchema,
  AgentsReply,
  HealthReply,
  ReadyReply,
  ServiceViewSchema,
  ServicesReply,
} from '../../src/http/schemas';
import type { FakeEngine } from '../helpers/fake-engine';
import { SERVICE, assertError, parseAs, setup } from './helpers';

describe('operations, agents and services routes', () => {
  let app: FastifyInstance;
  let engine: FakeEngine;
  const metrics = createMetrics();

  beforeEach(async () => {
    ({ app, engine } = await setup({ metrics: metrics.registry }));
  });
  afterEach(() => app.close());

  it('answers /healthz with status ok', async () => {
    const res = await app.inject({ url: '/healthz' });
    assert.deepEqual(parseAs(HealthReply, res.body), { status: 'ok' });
  });

  it('answers /readyz 200 when store and telephony are up', async () => {
    const res = await app.inject({ url: '/readyz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(parseAs(ReadyReply, res.body), {
      status: 'ok',
      store: true,
      telephony: true,
      down: [],
    });
  });

  it('answers /readyz 503 naming the part that is down', async () => {
    engine.healthState = { store: true, telephony: false };
    const res = await app.inject({ url: '/readyz' });
    assert.equal(res.statusCode, 503);
    assert.deepEqual(parseAs<{ down: string[] }>(ReadyReply, res.body).down, ['telephony']);
  });

  it('serves the Prometheus registry at /metrics', async () => {
    metrics.bookings.inc({ service: SERVICE });
    const res = await app.inject({ url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.match(res.body, new RegExp(`dialback_bookings_total\\{service="${SERVICE}"\\} 1`));
  });

  it('has no /metrics route without a registry', async () => {
    const bare = await setup();
    try {
      assertError(
        await bare.app.inject({ url: '/metrics' }),
        404,
        'CallbackExceptionRouteNotFound',
      );
    } finally {
      await bare.app.close();
    }
  });

  it('serves the OpenAPI document at /docs/json listing the GMS routes, and the UI at /docs', async () => {
    const res = await app.inject({ url: '/docs/json' });
    const doc = JSON.parse(res.body) as { openapi: string; paths: Record<string, unknown> };
    assert.match(doc.openapi, /^3\./);
    assert.ok(doc.paths['/genesys/1/service/callback/{service}']);
    assert.ok(doc.paths['/genesys/1/service/{id}/events']);
    const ui = await app.inject({ url: '/docs' });
    assert.equal(ui.statusCode === 200 || ui.statusCode === 302, true);
  });

  it('lists agents and runs an agent command', async () => {
    const list = parseAs<{ id: string }[]>(
      AgentsReply,
      (await app.inject({ url: '/dialback/1/agents' })).body,
    );
    assert.deepEqual(
      list.map((a) => a.id),
      ['a1'],
    );
    const res = await app.inject({ method: 'POST', url: '/dialback/1/agents/a1/ready' });
    assert.equal(parseAs<{ state: string }>(AgentViewSchema, res.body).state, 'ready');
    assert.deepEqual(engine.callsOf('agentCommand')[0], ['a1', 'ready']);
  });

  it('refuses an unknown agent command with 400 and an unknown agent with 404', async () => {
    assertError(
      await app.inject({ method: 'POST', url: '/dialback/1/agents/a1/dance' }),
      400,
      'CallbackExceptionInvalidField',
    );
    assertError(
      await app.inject({ method: 'POST', url: '/dialback/1/agents/zz/sign-in' }),
      404,
      'CallbackExceptionAgentNotFound',
    );
  });

  it('lists services and reads one out with its office hours', async () => {
    const list = parseAs<{ name: string }[]>(
      ServicesReply,
      (await app.inject({ url: '/dialback/1/services' })).body,
    );
    assert.deepEqual(
      list.map((s) => s.name),
      [SERVICE, 'other'],
    );
    const one = parseAs<{ officeHours: { timezone: string }; options: Record<string, unknown> }>(
      ServiceViewSchema,
      (await app.inject({ url: `/dialback/1/services/${SERVICE}` })).body,
    );
    assert.equal(one.officeHours.timezone, 'Europe/Paris');
    assert.equal(one.options._target, 'sales');
    assertError(
      await app.inject({ url: '/dialback/1/services/nope' }),
      404,
      'CallbackExceptionServiceNotFound',
    );
  });
});

describe('API keys', () => {
  let app: FastifyInstance;

  beforeEach(async () => {
    ({ app } = await setup({ apiKeys: ['k-one', 'k-two'] }));
  });
  afterEach(() => app.close());

  const create = {
    method: 'POST' as const,
    url: `/genesys/1/service/callback/${SERVICE}`,
    payload: { _customer_number: '5115' },
  };

  it('refuses a create without x-api-key with 401', async () => {
    assertError(await app.inject(create), 401, 'CallbackExceptionUnauthorized');
  });

  it('refuses a create with a wrong key with 401', async () => {
    assertError(
      await app.inject({ ...create, headers: { 'x-api-key': 'k-one!' } }),
      401,
      'CallbackExceptionUnauthorized',
    );
  });

  it('accepts a create with any configured key', async () => {
    assert.equal(
      (await app.inject({ ...create, headers: { 'x-api-key': 'k-two' } })).statusCode,
      200,
    );
  });

  it('guards DELETE and admin GETs but leaves public GETs open', async () => {
    assertError(
      await app.inject({ method: 'DELETE', url: `/genesys/1/service/callback/${SERVICE}/x` }),
      401,
      'CallbackExceptionUnauthorized',
    );
    assertError(
      await app.inject({ url: '/genesys/1/admin/callback/queues' }),
      401,
      'CallbackExceptionUnauthorized',
    );
    const admin = await app.inject({
      url: '/genesys/1/admin/callback/queues',
      headers: { 'x-api-key': 'k-one' },
    });
    assert.equal(admin.statusCode, 200);
    const open = await app.inject({ url: `/genesys/1/service/callback/${SERVICE}/availability` });
    assert.equal(open.statusCode, 200);
  });
});
