// GMS Callback API routes: availability (v1 map and v2 slots), create, query, cancel,
// reschedule, device actions and queue position. Each one validates, calls the engine facade
// and shapes the reply; no business rule lives here.
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type {
  AvailabilityQuery,
  AvailabilityResult,
  CallbackEngine,
  QueryCondition,
} from '../../engine-api';
import { DialbackError } from '../../errors';
import { toFieldMap } from '../body';
import {
  ActionParams,
  ActionReply,
  AvailabilityV1Query,
  AvailabilityV1Reply,
  AvailabilityV2Query,
  AvailabilityV2Reply,
  CallbackViewSchema,
  CreateReply,
  EmptyReply,
  FieldsBody,
  IdParams,
  QueuePositionReply,
  SearchQuery,
  SearchReply,
  ServiceIdParams,
  ServiceParams,
  responses,
  type AvailabilityV1QueryT,
  type AvailabilityV2QueryT,
  type AvailabilityV2ReplyT,
  type FieldsBodyT,
} from '../schemas';
import { assertZone, localIso, parseOptionalInstant, utcIso } from '../time';

type ServiceP = Static<typeof ServiceParams>;
type IdP = Static<typeof IdParams>;
type ServiceIdP = Static<typeof ServiceIdParams>;
type ActionP = Static<typeof ActionParams>;
type SearchQ = Static<typeof SearchQuery>;

const TAGS = ['callback'];
const JSON_TYPE = 'application/json; charset=utf-8';

export function v1AvailabilityQuery(q: AvailabilityV1QueryT): AvailabilityQuery {
  return {
    timestamp: parseOptionalInstant(q.timestamp, 'timestamp'),
    start: parseOptionalInstant(q.start, 'start'),
    end: parseOptionalInstant(q.end, 'end'),
    numberOfDays: q['number-of-days'],
    maxTimeSlots: q['max-time-slots'],
  };
}

export function v2AvailabilityQuery(q: AvailabilityV2QueryT): AvailabilityQuery {
  if (q.timezone !== undefined) assertZone(q.timezone, 'timezone');
  if (q['start-ms'] !== undefined && q.start !== undefined) {
    throw new DialbackError('CallbackExceptionInvalidField', 'give start or start-ms, not both');
  }
  if (q['end-ms'] !== undefined && q.end !== undefined) {
    throw new DialbackError('CallbackExceptionInvalidField', 'give end or end-ms, not both');
  }
  return {
    start: q['start-ms'] ?? parseOptionalInstant(q.start, 'start'),
    end: q['end-ms'] ?? parseOptionalInstant(q.end, 'end'),
    numberOfDays: q['number-of-days'],
    maxTimeSlots: q['max-time-slots'],
    reportBusy: q['report-busy'],
  };
}

/** `key=value` conditions of a query route; `!value` negates, `operand` and `_` are not keys. */
export function searchConditions(q: SearchQ): {
  conditions: QueryCondition[];
  operand: 'AND' | 'OR';
} {
  let operand: 'AND' | 'OR' = 'AND';
  const conditions: QueryCondition[] = [];
  for (const [key, raw] of Object.entries(q)) {
    if (key === '_') continue; // jQuery's cache-buster
    if (key === 'operand') {
      const o = String(raw).toUpperCase();
      if (o !== 'AND' && o !== 'OR') {
        throw new DialbackError('CallbackExceptionInvalidField', 'operand must be AND or OR');
      }
      operand = o;
      continue;
    }
    for (const value of Array.isArray(raw) ? raw : [raw]) {
      const negate = value.startsWith('!');
      conditions.push({ key, value: negate ? value.slice(1) : value, negate });
    }
  }
  return { conditions, operand };
}

export function registerCallbackRoutes(app: FastifyInstance, engine: CallbackEngine): void {
  // The engine hands out the same result object while its answer holds (see
  // Engine.availability), so each result is serialised once.
  const v1Bodies = new WeakMap<AvailabilityResult, string>();
  const v2Bodies = new WeakMap<AvailabilityResult, Map<string, string>>();
  app.get<{ Params: ServiceP; Querystring: AvailabilityV1QueryT }>(
    '/genesys/1/service/callback/:service/availability',
    {
      schema: {
        tags: TAGS,
        summary: 'Slots with remaining capacity (GMS v1 map)',
        params: ServiceParams,
        querystring: AvailabilityV1Query,
        response: responses(AvailabilityV1Reply, 400, 404, 503),
      },
    },
    async (req, reply) => {
      const result = engine.availability(req.params.service, v1AvailabilityQuery(req.query));
      let body = v1Bodies.get(result);
      if (body === undefined) {
        const out: Record<string, number> = {};
        for (const s of result.slots) if (s.capacity > 0) out[utcIso(s.start)] = s.capacity;
        body = JSON.stringify(out);
        v1Bodies.set(result, body);
      }
      return reply.type(JSON_TYPE).send(body);
    },
  );

  app.get<{ Params: ServiceP; Querystring: AvailabilityV2QueryT }>(
    '/genesys/2/service/callback/:service/availability',
    {
      schema: {
        tags: TAGS,
        summary: 'Slots with remaining and total capacity (v2)',
        params: ServiceParams,
        querystring: AvailabilityV2Query,
        response: responses(AvailabilityV2Reply, 400, 404, 503),
      },
    },
    async (req, reply) => {
      const zone = req.query.timezone;
      const result = engine.availability(req.params.service, v2AvailabilityQuery(req.query));
      let byZone = v2Bodies.get(result);
      let body = byZone?.get(zone ?? '');
      if (body === undefined) {
        body = JSON.stringify({
          durationMin: result.durationMin,
          timezone: zone ?? result.timezone,
          slots: result.slots.map((s) => ({
            utcTime: utcIso(s.start),
            ...(zone !== undefined ? { localTime: localIso(s.start, zone) } : {}),
            capacity: s.capacity,
            total: s.total,
          })),
        } satisfies AvailabilityV2ReplyT);
        if (!byZone) v2Bodies.set(result, (byZone = new Map()));
        byZone.set(zone ?? '', body);
      }
      return reply.type(JSON_TYPE).send(body);
    },
  );

  app.post<{ Params: ServiceP; Body: FieldsBodyT }>(
    '/genesys/1/service/callback/:service',
    {
      schema: {
        tags: TAGS,
        summary: 'Create a callback',
        params: ServiceParams,
        body: FieldsBody,
        response: responses(CreateReply, 400, 401, 404, 409, 413, 415, 429, 503),
      },
    },
    async (req) => engine.create(req.params.service, toFieldMap(req.body)),
  );

  app.get<{ Params: ServiceP; Querystring: SearchQ }>(
    '/genesys/1/service/callback/:service',
    {
      schema: {
        tags: TAGS,
        summary: "Query a service's callbacks by any stored key",
        params: ServiceParams,
        querystring: SearchQuery,
        response: responses(SearchReply, 400, 404, 503),
      },
    },
    async (req) => {
      const { conditions, operand } = searchConditions(req.query);
      return engine.query(req.params.service, conditions, operand);
    },
  );

  app.get<{ Querystring: SearchQ }>(
    '/genesys/1/service/callback',
    {
      schema: {
        tags: TAGS,
        summary: 'Query callbacks across services',
        querystring: SearchQuery,
        response: responses(SearchReply, 400, 503),
      },
    },
    async (req) => {
      const { conditions, operand } = searchConditions(req.query);
      return engine.query(undefined, conditions, operand);
    },
  );

  // GMS answers a cancel with an empty body or `{}`; `{}` keeps every reply JSON.
  app.delete<{ Params: ServiceIdP }>(
    '/genesys/1/service/callback/:service/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Cancel a callback',
        params: ServiceIdParams,
        response: responses(EmptyReply, 400, 401, 404, 409, 503),
      },
    },
    async (req) => {
      await engine.cancel(req.params.service, req.params.id);
      return {};
    },
  );

  app.put<{ Params: ServiceIdP; Body: FieldsBodyT }>(
    '/genesys/1/service/callback/:service/:id',
    {
      schema: {
        tags: TAGS,
        summary: 'Reschedule (`_new_desired_time`) or update a callback',
        params: ServiceIdParams,
        body: FieldsBody,
        response: responses(CallbackViewSchema, 400, 401, 404, 409, 413, 415, 503),
      },
    },
    async (req) => engine.reschedule(req.params.service, req.params.id, toFieldMap(req.body)),
  );

  app.post<{ Params: ActionP; Body: FieldsBodyT }>(
    '/genesys/1/service/:id/:action',
    {
      schema: {
        tags: TAGS,
        summary: 'The device (or an agent) answering a notification, e.g. `connect`',
        params: ActionParams,
        body: FieldsBody,
        response: responses(ActionReply, 400, 401, 404, 409, 413, 415, 503),
      },
    },
    async (req) => engine.action(req.params.id, req.params.action, toFieldMap(req.body)),
  );

  app.get<{ Params: IdP }>(
    '/genesys/1/service/:id/check-queue-position',
    {
      schema: {
        tags: TAGS,
        summary: 'Position and estimated wait of a queued callback',
        params: IdParams,
        response: responses(QueuePositionReply, 400, 404, 409, 503),
      },
    },
    async (req) => engine.queuePosition(req.params.id),
  );
}
