// A property-based fuzzer against every route of the real app: buildApp over the real engine
// (actors, in-memory SQLite, the simulator, a virtual clock). Requests are random bytes, wrong
// types, huge and deep bodies, bad dates and zones, unknown options, over-long ids, header
// abuse and dial-string injection. Used by the quick run in `npm test` and the long one in the
// chaos suite; the caller asserts on what it returns.

import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { VirtualClock } from '../../src/clock';
import { resolveConfig } from '../../src/config';
import { Engine } from '../../src/actors/engine';
import { buildApp } from '../../src/http/app';
import { silentLogger } from '../../src/logger';
import { openSqliteStore } from '../../src/store/sqlite-store';
import type { Store } from '../../src/store/store';
import type { DialCustomerRequest } from '../../src/telephony/port';
import { SimulatorTelephony } from '../../src/telephony/simulator/simulator-adapter';
import { advance, settle } from '../helpers/settle';

export const FUZZ_START = Date.UTC(2030, 0, 7, 9, 0, 0);
/** What may be stored and dialled: E.164, or a plain-digit extension. */
export const DIALABLE = /^(\+[1-9][0-9]{1,14}|[0-9]{2,16})$/;
/** What a caller id may be on the wire to Asterisk. */
export const SAFE_CALLER_ID = /^\+?[0-9]*$/;

const SERVICES = ['open', 'guarded', 'overwrites'] as const;

export interface FuzzTarget {
  app: FastifyInstance;
  engine: Engine;
  store: Store;
  clock: VirtualClock;
  telephony: SimulatorTelephony;
  /** Every dialCustomer request the engine made. */
  dials: DialCustomerRequest[];
  /** Ids of real callbacks, so id routes are hit with ids that exist. */
  ids: string[];
  stop(): Promise<void>;
}

export async function startFuzzTarget(): Promise<FuzzTarget> {
  const clock = new VirtualClock(FUZZ_START);
  const store = openSqliteStore({ file: ':memory:' });
  const base = {
    _call_direction: 'USERTERMINATED',
    _business_hours_service: 'office',
    _target: 'support',
    _allow_extensions: true,
  };
  const cfg = resolveConfig({
    office_hours: {
      office: { _timezone: 'Europe/Paris', _bh_regular1: 'Mon-Fri 08:00-20:00' },
    },
    services: {
      // No protection: the fuzzer reaches the booking path as often as possible.
      open: {
        ...base,
        _max_queued_callbacks_per_service: 0,
        _throttle_callbacks_per_service_1: 0,
        _throttle_callbacks_per_service_2: 0,
        _throttle_request_parameters_limit: 0,
        _max_request_by_time_bucket: 1000,
      },
      // GMS defaults for protection.
      guarded: { ...base, _wait_for_agent: true, _wait_for_user_confirm: true },
      // Every option a request may change, the caller-id ones included.
      overwrites: {
        ...base,
        _max_queued_callbacks_per_service: 0,
        _throttle_callbacks_per_service_1: 0,
        _throttle_callbacks_per_service_2: 0,
        _throttle_request_parameters_limit: 0,
        _overwritable_options: [
          '_calling_party_number',
          '_calling_party_display_name',
          '_wait_for_agent',
          '_wait_for_user_confirm',
          '_media_type',
          '_max_dial_attempts',
          '_ttl',
          '_default_country',
        ],
      },
    },
    agents: [
      { id: 'agent1', endpoint: 'SIM/agent1', groups: ['support'], state: 'ready' },
      { id: 'agent2', endpoint: 'SIM/agent2', groups: ['support'], state: 'ready' },
    ],
  });
  const telephony = new SimulatorTelephony({
    clock,
    defaultCustomer: { kind: 'human', answerAfterMs: 2000, amdAfterMs: 1000 },
    agents: cfg.agents.map((a) => ({
      id: a.id,
      endpoint: a.endpoint,
      answerAfterMs: 500,
      answers: true,
      handleTimeMs: 5000,
    })),
  });
  const dials: DialCustomerRequest[] = [];
  const dialCustomer = telephony.dialCustomer.bind(telephony);
  telephony.dialCustomer = (req) => {
    dials.push(req);
    return dialCustomer(req);
  };
  await telephony.start();
  const engine = new Engine({
    clock,
    store,
    telephony,
    logger: silentLogger(),
    services: cfg.services,
    agents: cfg.agents,
    nodeId: '440',
    // Short-lived actors: memory must reflect leaks, not sessions kept warm on purpose.
    idleMs: 200,
  });
  await engine.resume();
  const app = await buildApp({ engine, logger: silentLogger() });
  const ids: string[] = [];
  for (const svc of SERVICES) {
    for (const fields of [
      { _customer_number: '+33612345678' },
      { _customer_number: '5115', _desired_time: new Date(FUZZ_START + 3600_000).toISOString() },
    ]) {
      const res = await app.inject({
        method: 'POST',
        url: `/genesys/1/service/callback/${svc}`,
        payload: fields,
      });
      if (res.statusCode !== 200) throw new Error(`seed booking failed: ${res.body}`);
      ids.push((res.json() as { _id: string })._id);
    }
  }
  await settle();
  return {
    app,
    engine,
    store,
    clock,
    telephony,
    dials,
    ids,
    stop: async () => {
      await app.close();
      await engine.stop();
      await telephony.stop();
      store.close();
    },
  };
}

// ---- generators ------------------------------------------------------------------------------

const injections = [
  '5115&PJSIP/other',
  '5115,PJSIP/other',
  '5115;x=1',
  '5115\nChannel: PJSIP/evil',
  '5115\r\nAction: Originate',
  '5115|Dial(PJSIP/x)',
  '５１１５', // fullwidth digits
  '+３３６１２３４５６７８',
  '٥١١٥', // Arabic-Indic digits
  '+33 6 12 34 56 78',
  '+33612345678 ext. 12',
  '00336123456789',
  '+336123456789012345',
  '1'.repeat(300),
  '+',
  '++33612345678',
  '5115\u0000',
  '5115\u202e',
  '${EXTEN}',
  'PJSIP/agent1',
  'SIP/5115@evil.example',
  '5115)',
  '(5115',
  '-5115',
  '5.1.1.5',
  ' 5115 ',
  '0',
  '+0123456789',
];

const badDates = [
  '2030-13-45T25:61:00Z',
  '2030-01-07T10:00:00+25:00',
  '2030-01-07T10:00:00',
  '2030-01-07',
  'tomorrow',
  '1e400',
  '1893456000000',
  '-1',
  '2030-01-07T10:00:00.000Z\n',
  '2030-01-07T10:00:00Z[Mars/Olympus]',
  '2030-02-30T10:00:00Z',
  '9999-12-31T23:59:59Z',
  '0000-01-01T00:00:00Z',
  '2029-01-07T10:00:00Z',
  '2030-01-07T10:00:00.000+01:00',
  '2030-01-07T10:00:00.000-12:00',
  '2030-01-08T09:00:00.000Z',
  '2030-01-12T09:00:00.000Z', // a Saturday: closed
  '2030-03-31T01:30:00+01:00', // DST gap in Paris
  '+275760-09-13T00:00:00.000Z',
];

const zones = [
  'UTC',
  'Europe/Paris',
  'Mars/Olympus',
  '../../etc/passwd',
  'UTC+99',
  'Etc/GMT+14',
  'America/Argentina/ComodRivadavia',
  '',
  '%00',
  'x'.repeat(5000),
];

const optionNames = [
  '_wait_for_agent',
  '_wait_for_user_confirm',
  '_media_type',
  '_max_dial_attempts',
  '_ttl',
  '_default_country',
  '_calling_party_number',
  '_calling_party_display_name',
  '_target',
  '_request_time_bucket',
  '_unknown_option',
  '__proto__',
  'constructor',
  'prototype',
  '_id',
  '_new_desired_time',
  '_agent_id',
  '_dialog_id',
  '_device_os',
  '_device_notification_id',
];

const unicodeText = fc.string({ unit: 'grapheme', maxLength: 40 });
const anyText = fc.oneof(
  fc.string({ maxLength: 40 }),
  unicodeText,
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(...injections, ...badDates, ...zones),
  fc.integer({ min: 1, max: 70_000 }).map((n) => 'x'.repeat(n)),
);

/** A field value: mostly strings, sometimes the wrong JSON type. */
const fieldValue = fc.oneof(
  { weight: 6, arbitrary: anyText },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)) },
  { weight: 1, arbitrary: fc.oneof(fc.array(fc.string(), { maxLength: 3 }), fc.object()) },
);

const fieldName = fc.oneof(
  fc.constantFrom('_customer_number', '_desired_time', '_new_desired_time', ...optionNames),
  fc.string({ maxLength: 20 }),
  fc.integer({ min: 250, max: 300 }).map((n) => 'k'.repeat(n)),
);

/** A callback body that usually looks like a real request, with one or two hostile parts. */
const fields = fc
  .record(
    {
      _customer_number: fc.oneof(
        fc.constantFrom(...injections),
        fc.constantFrom('+33612345678', '+14155550123', '5115', '+447700900123'),
        anyText,
      ),
      _desired_time: fc.oneof(
        fc.constantFrom(...badDates),
        fc
          .integer({ min: -3600_000, max: 40 * 86_400_000 })
          .map((d) => new Date(FUZZ_START + d).toISOString()),
        anyText,
      ),
      extra: fc.dictionary(fieldName, fieldValue, { maxKeys: 6 }),
    },
    { requiredKeys: [] },
  )
  .map(({ extra, ...core }) => ({ ...extra, ...core }) as Record<string, unknown>);

function deepJson(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

function multipart(obj: Record<string, unknown>, boundary: string): string {
  return (
    Object.entries(obj)
      .map(
        ([k, v]) =>
          `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${typeof v === 'string' ? v : JSON.stringify(v)}\r\n`,
      )
      .join('') + `--${boundary}--\r\n`
  );
}

function urlencoded(obj: Record<string, unknown>): string {
  return Object.entries(obj)
    .map(
      ([k, v]) =>
        `${encodeURIComponent(k)}=${encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v))}`,
    )
    .join('&');
}

type Body = { payload?: string | Buffer; contentType?: string };

const body: fc.Arbitrary<Body> = fc.oneof(
  {
    weight: 5,
    arbitrary: fields.map((f) => ({ payload: JSON.stringify(f), contentType: 'application/json' })),
  },
  {
    weight: 2,
    arbitrary: fields.map((f) => ({
      payload: urlencoded(f),
      contentType: 'application/x-www-form-urlencoded',
    })),
  },
  {
    weight: 2,
    arbitrary: fields.map((f) => ({
      payload: multipart(f, 'xyz'),
      contentType: 'multipart/form-data; boundary=xyz',
    })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 10, max: 20_000 }).map((d) => ({
      payload: deepJson(d),
      contentType: 'application/json',
    })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 60_000, max: 300_000 }).map((n) => ({
      payload: JSON.stringify({ _customer_number: '5115', big: 'x'.repeat(n) }),
      contentType: 'application/json',
    })),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      payload: fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
      contentType: fc.constantFrom(
        'application/json',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=xyz',
        'multipart/form-data',
        'multipart/form-data; boundary=',
        'text/plain',
        'application/octet-stream',
        'application/json; charset=utf-16',
        'application/json; charset=\u0000',
        'APPLICATION/JSON',
        'application/json, text/html',
        'x'.repeat(3000),
        ';;;',
      ),
    }),
  },
  { weight: 1, arbitrary: fc.constant({}) },
  {
    weight: 1,
    arbitrary: fc
      .json({ maxDepth: 4 })
      .map((j) => ({ payload: j, contentType: 'application/json' })),
  },
);

const headers: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Record<string, string>>({}) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1000, max: 60_000 }).map((n) => ({ 'x-junk': 'h'.repeat(n) })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Record<string, string>>(
      { 'last-event-id': 'abc' },
      { 'last-event-id': '-1' },
      { 'last-event-id': '9'.repeat(400) },
      { 'x-api-key': '\u00ff'.repeat(100) },
      { 'content-encoding': 'gzip' },
      { 'content-encoding': 'br, deflate, x' },
      { 'transfer-encoding': 'chunked' },
      { 'content-length': '-1' },
      { 'content-length': '99999999999999999999' },
      { accept: 'text/event-stream' },
      { 'accept-charset': 'ebcdic' },
      { 'x-forwarded-for': '1.1.1.1, ' + '2.2.2.2, '.repeat(500) },
    ),
  },
);

type Route = (
  ids: string[],
) => fc.Arbitrary<Omit<InjectOptions, 'payload' | 'headers'> & { hasBody: boolean }>;

const svc = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...SERVICES) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom('..', '%2e%2e', 'a'.repeat(200), '%00', 'open%2Fx', '__proto__'),
    ),
  },
);

function idArb(ids: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...ids) },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.constantFrom('440-x', '440-' + 'f'.repeat(300), '%00', '..%2F..', '*', '%'),
      ),
    },
  );
}

const enc = (s: string): string => encodeURIComponent(s);

function query(pairs: Array<[string, string]>): string {
  return pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
}

const qv = fc.oneof(
  anyText,
  fc.integer().map(String),
  fc.constantFrom('', '0', '-1', '1e99', 'NaN'),
);

const routes: Route[] = [
  () =>
    fc
      .tuple(
        svc,
        fc.constantFrom('timestamp', 'start', 'end', 'number-of-days', 'max-time-slots', '_'),
        fc.oneof(qv, fc.constantFrom(...badDates)),
        fc.boolean(),
      )
      .map(([s, k, v, two]) => ({
        method: 'GET' as const,
        url: `/genesys/1/service/callback/${enc(s)}/availability?${query([[k, v], ...(two ? ([['timestamp', new Date(FUZZ_START).toISOString()]] as Array<[string, string]>) : [])])}`,
        hasBody: false,
      })),
  () =>
    fc
      .tuple(
        svc,
        fc.constantFrom('timezone', 'start-ms', 'end-ms', 'report-busy', 'max-time-slots'),
        fc.oneof(qv, fc.constantFrom(...zones)),
      )
      .map(([s, k, v]) => ({
        method: 'GET' as const,
        url: `/genesys/2/service/callback/${enc(s)}/availability?${query([[k, v]])}`,
        hasBody: false,
      })),
  () =>
    svc.map((s) => ({
      method: 'POST' as const,
      url: `/genesys/1/service/callback/${enc(s)}`,
      hasBody: true,
    })),
  () =>
    fc
      .tuple(
        svc,
        fc.array(fc.tuple(fieldName, qv), { maxLength: 4 }),
        fc.constantFrom('AND', 'OR', 'XOR', ''),
      )
      .map(([s, pairs, op]) => ({
        method: 'GET' as const,
        url: `/genesys/1/service/callback/${enc(s)}?${query([...pairs.map(([k, v]) => [k, v] as [string, string]), ['operand', op]])}`,
        hasBody: false,
      })),
  (ids) =>
    fc
      .tuple(
        fc.constantFrom('_id', '_customer_number', '_callback_state', 'x'),
        fc.oneof(idArb(ids), qv),
      )
      .map(([k, v]) => ({
        method: 'GET' as const,
        url: `/genesys/1/service/callback?${query([[k, v]])}`,
        hasBody: false,
      })),
  (ids) =>
    fc.tuple(svc, idArb(ids)).map(([s, id]) => ({
      method: 'DELETE' as const,
      url: `/genesys/1/service/callback/${enc(s)}/${enc(id)}`,
      hasBody: false,
    })),
  (ids) =>
    fc.tuple(svc, idArb(ids)).map(([s, id]) => ({
      method: 'PUT' as const,
      url: `/genesys/1/service/callback/${enc(s)}/${enc(id)}`,
      hasBody: true,
    })),
  (ids) =>
    fc
      .tuple(
        idArb(ids),
        fc.oneof(
          fc.constantFrom('connect', 'snooze', 'cancel', 'accept', 'reject'),
          fc.string({ maxLength: 70 }),
        ),
      )
      .map(([id, a]) => ({
        method: 'POST' as const,
        url: `/genesys/1/service/${enc(id)}/${enc(a)}`,
        hasBody: true,
      })),
  (ids) =>
    idArb(ids).map((id) => ({
      method: 'GET' as const,
      url: `/genesys/1/service/${enc(id)}/check-queue-position`,
      hasBody: false,
    })),
  (ids) =>
    // Always long-poll with no wait: a stream or a wait would hold the fuzzer, not test input.
    fc
      .tuple(
        idArb(ids),
        fc.oneof(qv, fc.constant('3')),
        fc.constantFrom('0', 'abc', '-1', '31', '1e9'),
      )
      .map(([id, after, wait]) => ({
        method: 'GET' as const,
        url: `/genesys/1/service/${enc(id)}/events?${query([
          ['mode', 'poll'],
          ['after', after],
          ['wait', wait],
        ])}`,
        hasBody: false,
      })),
  () =>
    fc.tuple(svc, qv).map(([s, after]) => ({
      method: 'GET' as const,
      url: `/genesys/1/service/callback/${enc(s)}/events?${query([
        ['mode', 'poll'],
        ['after', after],
        ['wait', '0'],
      ])}`,
      hasBody: false,
    })),
  () =>
    fc
      .array(
        fc.tuple(
          fc.constantFrom('target', 'start_time', 'end_time', 'states', 'max'),
          fc.oneof(qv, fc.constantFrom(...badDates)),
        ),
        { maxLength: 4 },
      )
      .map((pairs) => ({
        method: 'GET' as const,
        url: `/genesys/1/admin/callback/queues?${query(pairs)}`,
        hasBody: false,
      })),
  () =>
    fc.constant({
      method: 'POST' as const,
      url: '/genesys/1/admin/callback/cancel',
      hasBody: true,
    }),
  () =>
    fc
      .constantFrom(
        '/healthz',
        '/readyz',
        '/metrics',
        '/dialback/1/agents',
        '/dialback/1/services',
        '/docs/json',
      )
      .map((url) => ({
        method: 'GET' as const,
        url,
        hasBody: false,
      })),
  () =>
    fc
      .tuple(
        fc.oneof(fc.constantFrom('agent1', 'agent2'), fc.string({ maxLength: 20 })),
        fc.oneof(
          fc.constantFrom('sign-in', 'sign-out', 'ready', 'not-ready'),
          fc.string({ maxLength: 12 }),
        ),
      )
      .map(([a, c]) => ({
        method: 'POST' as const,
        url: `/dialback/1/agents/${enc(a)}/${enc(c)}`,
        hasBody: true,
      })),
  () =>
    svc.map((s) => ({
      method: 'GET' as const,
      url: `/dialback/1/services/${enc(s)}`,
      hasBody: false,
    })),
  () =>
    // Raw URL abuse: unencoded junk, over-long paths, odd methods.
    fc
      .tuple(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
        fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.integer({ min: 1000, max: 20_000 }).map((n) => 'a/'.repeat(n)),
        ),
      )
      .map(([m, p]) => ({
        method: m as 'GET',
        url: `/genesys/1/service/${p.replace(/[#?\s]/g, '_')}`,
        hasBody: m !== 'GET' && m !== 'HEAD',
      })),
];

/** The admin bulk-cancel body has its own shape: ids and a reason, of any type. */
const adminBody: fc.Arbitrary<Body> = fc
  .record({
    ids: fc.oneof(
      fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 5 }),
      fc.string(),
      fc.constant(null),
    ),
    reason: fieldValue,
  })
  .map((b) => ({ payload: JSON.stringify(b), contentType: 'application/json' }));

export function requestArb(ids: string[]): fc.Arbitrary<InjectOptions> {
  return fc
    .tuple(fc.oneof(...routes.map((r) => r(ids))), body, adminBody, headers)
    .map(([route, b, ab, h]) => {
      const { hasBody, ...rest } = route;
      const chosen = route.url === '/genesys/1/admin/callback/cancel' ? ab : b;
      const opts: InjectOptions = { ...rest, headers: { ...h } };
      if (hasBody && chosen.payload !== undefined) {
        opts.payload = chosen.payload;
        if (chosen.contentType !== undefined)
          (opts.headers as Record<string, string>)['content-type'] = chosen.contentType;
      }
      return opts;
    });
}

export interface FuzzFigures {
  requests: number;
  byStatus: Record<number, number>;
  fiveXx: Array<{ request: string; status: number; body: string }>;
  bookingsCreated: number;
  undialableStored: string[];
  undialableDialled: string[];
  unsafeCallerIds: string[];
  heapStartMiB: number;
  heapEndMiB: number;
  heapGrowthMiB: number;
  healthzAfter: number;
  seconds: number;
}

function heapMiB(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed / 2 ** 20;
}

function describeRequest(r: InjectOptions): string {
  const p = r.payload === undefined ? '' : String(r.payload);
  return `${r.method} ${String(r.url).slice(0, 200)} ${JSON.stringify(r.headers).slice(0, 200)} ${p.slice(0, 300)}`;
}

/** Fires `numRuns` random requests at a fresh target and reports what happened. */
export async function runHostileFuzz(numRuns: number, seed?: number): Promise<FuzzFigures> {
  const t0 = Date.now();
  const target = await startFuzzTarget();
  const byStatus: Record<number, number> = {};
  const fiveXx: FuzzFigures['fiveXx'] = [];
  let n = 0;
  try {
    // Warm up (JIT, schema compilation, lazy modules) before the first heap reading.
    const warm = fc.sample(requestArb(target.ids), { numRuns: 200, seed: 1 });
    for (const r of warm) await target.app.inject(r);
    await advance(target.clock, 60_000);
    const heapStart = heapMiB();
    await fc.assert(
      fc.asyncProperty(requestArb(target.ids), async (req) => {
        const res = await target.app.inject(req);
        n++;
        byStatus[res.statusCode] = (byStatus[res.statusCode] ?? 0) + 1;
        if (res.statusCode >= 500 && fiveXx.length < 20)
          fiveXx.push({
            request: describeRequest(req),
            status: res.statusCode,
            body: res.body.slice(0, 300),
          });
        // Let sessions move on now and then, so later requests meet callbacks in every state.
        if (n % 250 === 0) await advance(target.clock, 30_000);
      }),
      { numRuns, ...(seed !== undefined ? { seed } : {}), endOnFailure: true },
    );
    await advance(target.clock, 60_000);
    const heapEnd = heapMiB();
    const health = await target.app.inject({ method: 'GET', url: '/healthz' });
    const rows = target.store.query({ conditions: [], operand: 'AND', limit: 1_000_000 });
    return {
      requests: n,
      byStatus,
      fiveXx,
      bookingsCreated: rows.length,
      undialableStored: rows.map((r) => r.customerNumber).filter((x) => !DIALABLE.test(x)),
      undialableDialled: target.dials.map((d) => d.number).filter((x) => !DIALABLE.test(x)),
      unsafeCallerIds: target.dials
        .map((d) => d.callerId ?? '')
        .filter((x) => !SAFE_CALLER_ID.test(x)),
      heapStartMiB: Math.round(heapStart * 10) / 10,
      heapEndMiB: Math.round(heapEnd * 10) / 10,
      heapGrowthMiB: Math.round((heapEnd - heapStart) * 10) / 10,
      healthzAfter: health.statusCode,
      seconds: Math.round((Date.now() - t0) / 100) / 10,
    };
  } finally {
    await target.stop();
  }
}
