// The comet channel: a callback's (or a whole service's) messages as Server-Sent Events, or as
// a long-poll for clients without EventSource. A client that connects late first gets what it
// missed (replay from the engine's log), then live messages, never one twice.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { CallbackEngine, StreamMessage } from '../../engine-api';
import { DialbackError } from '../../errors';
import type { Logger } from '../../logger';
import {
  EventsQuery,
  IdParams,
  PollReply,
  ServiceParams,
  responses,
  type EventsQueryT,
} from '../schemas';

type Filter = { callbackId?: string; service?: string };

export interface EventRouteOptions {
  /** Interval of the SSE keep-alive comment. */
  heartbeatMs: number;
  logger: Logger;
}

/** A client that reads slower than this much buffered output is cut; it resumes by id. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
const TAGS = ['events'];

export function formatSse(m: StreamMessage): string {
  // JSON.stringify never emits a raw newline, so one `data:` line is always enough.
  return `id: ${m.seq}\nevent: ${m.kind}\ndata: ${JSON.stringify(m.data)}\n\n`;
}

function lastEventId(req: FastifyRequest<{ Querystring: EventsQueryT }>): number {
  const header = req.headers['last-event-id'];
  if (typeof header === 'string' && header.trim() !== '') {
    const n = Number(header.trim());
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new DialbackError('CallbackExceptionInvalidField', 'Last-Event-ID must be a sequence');
    }
    return n;
  }
  return req.query.lastEventId ?? 0;
}

/** Merges replayed and live messages: ascending, after `after`, each seq once. */
export function mergeMessages(after: number, ...lists: StreamMessage[][]): StreamMessage[] {
  const bySeq = new Map<number, StreamMessage>();
  for (const list of lists) for (const m of list) if (m.seq > after) bySeq.set(m.seq, m);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

export class EventStreams {
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly engine: CallbackEngine,
    private readonly opts: EventRouteOptions,
  ) {}

  /** Ends every open stream (server shutdown): EventSource clients reconnect elsewhere. */
  closeAll(): void {
    for (const res of this.open) res.end();
    this.open.clear();
  }

  stream(reply: FastifyReply, filter: Filter, after: number): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.open.add(res);

    let last = after;
    let replaying = true;
    const buffered: StreamMessage[] = [];
    const send = (m: StreamMessage): void => {
      if (m.seq <= last || res.writableEnded || res.destroyed) return;
      last = m.seq;
      res.write(formatSse(m));
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        this.opts.logger.warn({ filter }, 'event stream client too slow, closing it');
        res.end();
      }
    };
    // Subscribe before reading the log: a message published in between is buffered, not lost,
    // and the seq check drops the copy the replay already sent.
    const unsubscribe = this.engine.subscribe(filter, (m) => {
      if (replaying) buffered.push(m);
      else send(m);
    });
    const heartbeat = setInterval(() => {
      if (!res.writableEnded && !res.destroyed) res.write(': heartbeat\n\n');
    }, this.opts.heartbeatMs);
    // A write racing a client disconnect must not become an uncaught 'error' event.
    res.on('error', (err) => this.opts.logger.debug({ err, filter }, 'event stream write failed'));
    res.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      this.open.delete(res);
    });

    res.write(': connected\n\n');
    try {
      for (const m of mergeMessages(after, this.engine.messagesAfter(filter, after))) send(m);
    } catch (err) {
      this.opts.logger.error({ err, filter }, 'replaying the event log failed, closing stream');
      res.end();
      return;
    }
    replaying = false;
    for (const m of mergeMessages(last, buffered)) send(m);
  }

  /** Resolves with the messages after `after`, waiting up to `waitS` for the first new one. */
  poll(
    reply: FastifyReply,
    filter: Filter,
    after: number,
    waitS: number,
  ): Promise<{ messages: StreamMessage[]; last: number }> {
    const result = (msgs: StreamMessage[]) => ({
      messages: msgs,
      last: msgs.length > 0 ? msgs[msgs.length - 1].seq : after,
    });
    const now = mergeMessages(after, this.engine.messagesAfter(filter, after));
    if (now.length > 0 || waitS === 0) return Promise.resolve(result(now));

    return new Promise((resolve) => {
      const live: StreamMessage[] = [];
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        reply.raw.off('close', finish);
        resolve(result(mergeMessages(after, this.engine.messagesAfter(filter, after), live)));
      };
      const unsubscribe = this.engine.subscribe(filter, (m) => {
        live.push(m);
        // Let messages published in the same tick ride along in this answer.
        setImmediate(finish);
      });
      const timer = setTimeout(finish, waitS * 1000);
      // The client went away: stop waiting and drop the subscription.
      reply.raw.on('close', finish);
      // A message may have been published between the first read and subscribing.
      if (this.engine.messagesAfter(filter, after).length > 0) finish();
    });
  }
}

export function registerEventRoutes(
  app: FastifyInstance,
  engine: CallbackEngine,
  opts: EventRouteOptions,
): void {
  const streams = new EventStreams(engine, opts);
  app.addHook('preClose', (done) => {
    streams.closeAll();
    done();
  });

  const handle = async (
    req: FastifyRequest<{ Querystring: EventsQueryT }>,
    reply: FastifyReply,
    filter: Filter,
  ) => {
    if (req.query.mode === 'poll') {
      return streams.poll(reply, filter, req.query.after ?? 0, req.query.wait ?? 0);
    }
    streams.stream(reply, filter, lastEventId(req));
    return reply;
  };

  const description =
    'Server-Sent Events (`id: <seq>`, `event: dialog|status|preview`, `data: <json>`); resumes ' +
    'after `Last-Event-ID` / `lastEventId`. With `mode=poll`: long-poll answering ' +
    '`{ messages, last }` after `after`, waiting up to `wait` seconds (max 30).';

  app.get<{ Params: { id: string }; Querystring: EventsQueryT }>(
    '/genesys/1/service/:id/events',
    {
      schema: {
        tags: TAGS,
        summary: "A callback's notifications (comet)",
        description,
        params: IdParams,
        querystring: EventsQuery,
        response: responses(PollReply, 400, 404),
      },
    },
    async (req, reply) => {
      if (engine.get(req.params.id) === undefined) {
        throw new DialbackError('CallbackExceptionNotFound', `callback ${req.params.id} not found`);
      }
      return handle(req, reply, { callbackId: req.params.id });
    },
  );

  app.get<{ Params: { service: string }; Querystring: EventsQueryT }>(
    '/genesys/1/service/callback/:service/events',
    {
      schema: {
        tags: TAGS,
        summary: "All notifications of a service's callbacks",
        description,
        params: ServiceParams,
        querystring: EventsQuery,
        response: responses(PollReply, 400, 404),
      },
    },
    async (req, reply) => {
      engine.getService(req.params.service);
      return handle(req, reply, { service: req.params.service });
    },
  );
}
