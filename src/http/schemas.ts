// TypeBox schemas of every route: the single source of request validation, response
// serialization, the OpenAPI document and (via Static) the handler types.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

// ---------------------------------------------------------------------------------------------
// Shared pieces

export const ErrorBody = Type.Object(
  {
    exception: Type.String(),
    message: Type.String(),
    /** Reschedule failures: GMS's `error` and the alternative slots. */
    error: Type.Optional(Type.String()),
    availability: Type.Optional(Type.Record(Type.String(), Type.Integer())),
  },
  { additionalProperties: true },
);
export type ErrorBodyT = Static<typeof ErrorBody>;

/** A callback field value as clients send it; null means "not given" and is dropped. */
const FieldValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

/**
 * Body of create / reschedule / device actions: a flat map of fields. Multipart, url-encoded
 * and JSON bodies all end up here; nested objects and repeated fields fail validation.
 */
export const FieldsBody = Type.Record(Type.String({ maxLength: 256 }), FieldValue, {
  maxProperties: 200,
});
export type FieldsBodyT = Static<typeof FieldsBody>;

const ViewValue = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);
export const CallbackViewSchema = Type.Record(Type.String(), ViewValue);

const AnyObject = Type.Object({}, { additionalProperties: true });

/** Responses of a route: the success schema plus the error body for every listed status. */
export function responses(ok: TSchema, ...errorStatuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = { 200: ok };
  for (const s of errorStatuses) out[s] = ErrorBody;
  return out;
}

export const ServiceParams = Type.Object({
  service: Type.String({ minLength: 1, maxLength: 128 }),
});
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
export const ServiceIdParams = Type.Object({
  service: Type.String({ minLength: 1, maxLength: 128 }),
  id: Type.String({ minLength: 1, maxLength: 128 }),
});
export const ActionParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  action: Type.String({ minLength: 1, maxLength: 64 }),
});

// ---------------------------------------------------------------------------------------------
// Availability

const PositiveInt = (max: number) => Type.Integer({ minimum: 1, maximum: max });

export const AvailabilityV1Query = Type.Object({
  timestamp: Type.Optional(Type.String({ maxLength: 64 })),
  start: Type.Optional(Type.String({ maxLength: 64 })),
  end: Type.Optional(Type.String({ maxLength: 64 })),
  'number-of-days': Type.Optional(PositiveInt(366)),
  'max-time-slots': Type.Optional(PositiveInt(100000)),
});
export type AvailabilityV1QueryT = Static<typeof AvailabilityV1Query>;

/** `{ "<slot start, ISO UTC ms>": <remaining capacity> }`. */
export const AvailabilityV1Reply = Type.Record(Type.String(), Type.Integer());

export const AvailabilityV2Query = Type.Object({
  timezone: Type.Optional(Type.String({ maxLength: 64 })),
  'start-ms': Type.Optional(Type.Integer({ minimum: 0 })),
  'end-ms': Type.Optional(Type.Integer({ minimum: 0 })),
  start: Type.Optional(Type.String({ maxLength: 64 })),
  end: Type.Optional(Type.String({ maxLength: 64 })),
  'number-of-days': Type.Optional(PositiveInt(366)),
  'max-time-slots': Type.Optional(PositiveInt(100000)),
  'report-busy': Type.Optional(Type.Boolean()),
});
export type AvailabilityV2QueryT = Static<typeof AvailabilityV2Query>;

export const SlotV2 = Type.Object({
  utcTime: Type.String(),
  localTime: Type.Optional(Type.String()),
  capacity: Type.Integer(),
  total: Type.Integer(),
});
export const AvailabilityV2Reply = Type.Object({
  durationMin: Type.Integer(),
  timezone: Type.String(),
  slots: Type.Array(SlotV2),
});
export type AvailabilityV2ReplyT = Static<typeof AvailabilityV2Reply>;

// ---------------------------------------------------------------------------------------------
// Callbacks

export const CreateReply = Type.Object({
  _id: Type.String(),
  /** User Originated: the number to call, and the code to key in when asked for. */
  _tel_number: Type.Optional(Type.String()),
  _access_code: Type.Optional(Type.String()),
});

/** Query routes take any stored key; `operand` combines the conditions. */
export const SearchQuery = Type.Record(
  Type.String(),
  Type.Union([Type.String({ maxLength: 1024 }), Type.Array(Type.String({ maxLength: 1024 }))]),
);
export const SearchReply = Type.Array(CallbackViewSchema);

export const EmptyReply = Type.Object({});

export const ActionReply = AnyObject;

export const QueuePositionReply = Type.Object({
  _position: Type.Integer(),
  _eta: Type.Number(),
  _total_waiting: Type.Integer(),
  _agent_ready_threshold_passed: Type.Boolean(),
});

// ---------------------------------------------------------------------------------------------
// Admin

export const AdminQueuesQuery = Type.Object({
  target: Type.Optional(Type.String({ maxLength: 128 })),
  start_time: Type.Optional(Type.String({ maxLength: 64 })),
  end_time: Type.Optional(Type.String({ maxLength: 64 })),
  /** Comma-separated GMS states. */
  states: Type.Optional(Type.String({ maxLength: 256 })),
  max: Type.Optional(PositiveInt(100000)),
});
export type AdminQueuesQueryT = Static<typeof AdminQueuesQuery>;
export const AdminQueuesReply = Type.Record(Type.String(), Type.Array(CallbackViewSchema));

export const BulkCancelBody = Type.Object({
  reason: Type.Optional(Type.String({ maxLength: 256 })),
  /** An array (JSON, repeated form fields) or one comma-separated string. */
  ids: Type.Union([
    Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 10000 }),
    Type.String({ maxLength: 65536 }),
  ]),
});
export type BulkCancelBodyT = Static<typeof BulkCancelBody>;
export const BulkCancelReply = Type.Object({
  cancelled: Type.Array(Type.String()),
  notFound: Type.Array(Type.String()),
  alreadyCompleted: Type.Array(Type.String()),
});

// ---------------------------------------------------------------------------------------------
// Events (SSE and long-poll)

export const EventsQuery = Type.Object({
  mode: Type.Optional(Type.Union([Type.Literal('sse'), Type.Literal('poll')])),
  after: Type.Optional(Type.Integer({ minimum: 0 })),
  wait: Type.Optional(Type.Number({ minimum: 0, maximum: 30 })),
  lastEventId: Type.Optional(Type.Integer({ minimum: 0 })),
});
export type EventsQueryT = Static<typeof EventsQuery>;

export const StreamMessageSchema = Type.Object({
  seq: Type.Integer(),
  callbackId: Type.String(),
  service: Type.String(),
  kind: Type.Union([Type.Literal('dialog'), Type.Literal('status'), Type.Literal('preview')]),
  data: AnyObject,
  at: Type.Number(),
});
export const PollReply = Type.Object({
  messages: Type.Array(StreamMessageSchema),
  last: Type.Integer(),
});

// ---------------------------------------------------------------------------------------------
// Operations, agents, services

export const HealthReply = Type.Object({ status: Type.Literal('ok') });
export const ReadyReply = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  store: Type.Boolean(),
  telephony: Type.Boolean(),
  down: Type.Array(Type.String()),
});

export const AgentViewSchema = Type.Object({
  id: Type.String(),
  endpoint: Type.String(),
  groups: Type.Array(Type.String()),
  state: Type.Union([
    Type.Literal('signed-out'),
    Type.Literal('ready'),
    Type.Literal('reserved'),
    Type.Literal('busy'),
    Type.Literal('wrap-up'),
    Type.Literal('not-ready'),
  ]),
  callbackId: Type.Optional(Type.String()),
  since: Type.Number(),
});
export const AgentsReply = Type.Array(AgentViewSchema);
export const AgentCommandParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 128 }),
  command: Type.Union([
    Type.Literal('sign-in'),
    Type.Literal('sign-out'),
    Type.Literal('ready'),
    Type.Literal('not-ready'),
  ]),
});
export type AgentCommandParamsT = Static<typeof AgentCommandParams>;

export const ServiceViewSchema = Type.Object({
  name: Type.String(),
  options: AnyObject,
  officeHours: Type.Object({
    name: Type.Union([Type.String(), Type.Null()]),
    timezone: Type.String(),
    rules: Type.Record(Type.String(), Type.String()),
  }),
  capacity: Type.Object({ name: Type.Union([Type.String(), Type.Null()]) }),
});
export const ServicesReply = Type.Array(ServiceViewSchema);
