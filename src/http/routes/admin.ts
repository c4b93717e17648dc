// GMS admin routes: callbacks per service in a window, and bulk cancel.
import type { FastifyInstance } from 'fastify';
import type { AdminQueueQuery, CallbackEngine } from '../../engine-api';
import type { GmsState } from '../../domain/session-types';
import { DialbackError } from '../../errors';
import {
  AdminQueuesQuery,
  AdminQueuesReply,
  BulkCancelBody,
  BulkCancelReply,
  responses,
  type AdminQueuesQueryT,
  type BulkCancelBodyT,
} from '../schemas';
import { parseOptionalInstant } from '../time';

const GMS_STATES: readonly GmsState[] = [
  'SCHEDULED',
  'QUEUED',
  'ROUTING',
  'PROCESSING',
  'COMPLETED',
];
const TAGS = ['admin'];

function isGmsState(s: string): s is GmsState {
  return (GMS_STATES as readonly string[]).includes(s);
}

export function adminQueueQuery(q: AdminQueuesQueryT): AdminQueueQuery {
  let states: GmsState[] | undefined;
  if (q.states !== undefined) {
    states = [];
    for (const raw of q.states.split(',')) {
      const s = raw.trim().toUpperCase();
      if (s === '') continue;
      if (!isGmsState(s)) {
        throw new DialbackError('CallbackExceptionInvalidField', `states: unknown state ${raw}`);
      }
      states.push(s);
    }
  }
  return {
    target: q.target,
    startTime: parseOptionalInstant(q.start_time, 'start_time'),
    endTime: parseOptionalInstant(q.end_time, 'end_time'),
    states,
    max: q.max,
  };
}

export function bulkCancelIds(ids: BulkCancelBodyT['ids']): string[] {
  const list = Array.isArray(ids) ? ids : ids.split(',');
  const out = [...new Set(list.map((s) => s.trim()).filter((s) => s !== ''))];
  if (out.length === 0) throw new DialbackError('CallbackExceptionMissingField', 'ids is empty');
  return out;
}

export function registerAdminRoutes(app: FastifyInstance, engine: CallbackEngine): void {
  app.get<{ Querystring: AdminQueuesQueryT }>(
    '/genesys/1/admin/callback/queues',
    {
      schema: {
        tags: TAGS,
        summary: 'Callbacks per service in a time window (default 15 min back to 24 h ahead)',
        querystring: AdminQueuesQuery,
        response: responses(AdminQueuesReply, 400, 401, 503),
      },
    },
    async (req) => engine.adminQueues(adminQueueQuery(req.query)),
  );

  app.post<{ Body: BulkCancelBodyT }>(
    '/genesys/1/admin/callback/cancel',
    {
      schema: {
        tags: TAGS,
        summary: 'Cancel callbacks by id (CANCELLED_BY_ADMIN)',
        body: BulkCancelBody,
        response: responses(BulkCancelReply, 400, 401, 413, 415, 503),
      },
    },
    async (req) => engine.bulkCancel(bulkCancelIds(req.body.ids), req.body.reason ?? ''),
  );
}
