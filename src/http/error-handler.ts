// The one error handler: engine errors (DialbackError) keep their name and status, fastify's
// own errors are mapped to the catalogue, and anything else is a logged generic 500.
import type { FastifyError, FastifyInstance } from 'fastify';
import { DialbackError, ERRORS, type ErrorName } from '../errors';
import type { Logger } from '../logger';
import type { ErrorBodyT } from './schemas';

export interface ErrorReply {
  status: number;
  body: ErrorBodyT;
}

const TOO_LARGE_CODES = new Set([
  'FST_ERR_CTP_BODY_TOO_LARGE',
  'FST_PARTS_LIMIT',
  'FST_FIELDS_LIMIT',
  'FST_REQ_FILE_TOO_LARGE',
]);

function named(exception: ErrorName, message: string): ErrorReply {
  return { status: ERRORS[exception].status, body: { exception, message } };
}

export function toErrorReply(err: unknown, log: Logger): ErrorReply {
  if (err instanceof DialbackError) {
    const body = err.toBody() as ErrorBodyT;
    // GMS's failed reschedule carries `error` beside `availability`; engines may omit it.
    if (body.availability !== undefined && body.error === undefined) body.error = err.message;
    return { status: err.status, body };
  }
  const fe = err as Partial<FastifyError>;
  if (fe.validation || fe.code === 'FST_ERR_VALIDATION')
    return named('CallbackExceptionInvalidField', fe.message ?? 'invalid field');
  const code = typeof fe.code === 'string' ? fe.code : '';
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return named('CallbackExceptionUnsupportedMediaType', fe.message ?? 'unsupported media type');
  }
  if (TOO_LARGE_CODES.has(code)) {
    return named('CallbackExceptionPayloadTooLarge', 'request body too large');
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    // Client errors fastify raises itself: malformed JSON, bad content length, proto poisoning.
    switch (status) {
      case 401:
        return named('CallbackExceptionUnauthorized', fe.message ?? 'unauthorized');
      case 404:
        return named('CallbackExceptionRouteNotFound', fe.message ?? 'not found');
      case 413:
        return named('CallbackExceptionPayloadTooLarge', 'request body too large');
      case 415:
        return named('CallbackExceptionUnsupportedMediaType', fe.message ?? 'unsupported');
      case 429:
        return named('CallbackExceptionTooManyRequests', fe.message ?? 'too many requests');
      default:
        return named('CallbackExceptionInvalidField', fe.message ?? 'bad request');
    }
  }
  log.error({ err }, 'unexpected error while handling a request');
  return named('CallbackExceptionInternal', 'internal error');
}

export function installErrorHandlers(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err, req, reply) => {
    const { status, body } = toErrorReply(err, log);
    if (status >= 500) req.log.warn({ exception: body.exception, url: req.url }, 'request failed');
    return reply.status(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    return reply.status(404).send({
      exception: 'CallbackExceptionRouteNotFound',
      message: `no route ${req.method} ${req.url.split('?')[0]}`,
    });
  });
}
