// The fastify application: body parsers, schemas, the error handler, API keys and every route,
// built from a CallbackEngine facade. It never listens; the CLI does.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { CallbackEngine } from '../engine-api';
import type { Logger } from '../logger';
import { createApiKeyCheck } from './auth';
import { DEFAULT_BODY_LIMIT, registerBodyParsers } from './body';
import { installErrorHandlers } from './error-handler';
import { registerAdminRoutes } from './routes/admin';
import { registerCallbackRoutes } from './routes/callbacks';
import { registerEventRoutes } from './routes/events';
import { registerOperationRoutes } from './routes/operations';
import { webRoutes } from './routes/web';
import { typeboxValidatorCompiler } from './validation';

export interface AppDeps {
  engine: CallbackEngine;
  logger: Logger;
  /** When non-empty, mutating and admin routes need one of these in `x-api-key`. */
  apiKeys?: string[];
  /** Served at `/metrics` when given. */
  metrics?: Registry;
  /** Bytes; default 64 KiB, for every body type. */
  bodyLimit?: number;
  /** SSE keep-alive interval; default 15 s. */
  sseHeartbeatMs?: number;
  /** The built browser UI (web/dist), served at `/` and `/ops` when given. */
  webRoot?: string;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const bodyLimit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit,
  });
  app.setValidatorCompiler(typeboxValidatorCompiler);

  installErrorHandlers(app, deps.logger);
  await registerBodyParsers(app, { bodyLimit });

  // Hooks in fastify's callback form: an async hook costs a promise per request on every route.
  if ((deps.apiKeys ?? []).length > 0) {
    const checkKey = createApiKeyCheck(deps.apiKeys ?? []);
    app.addHook('onRequest', (req, _reply, done) => {
      try {
        checkKey(req);
      } catch (e) {
        done(e as Error);
        return;
      }
      done();
    });
  }
  // GMS answers every API call uncacheable; browsers' jQuery clients rely on it.
  app.addHook('onSend', (req, reply, payload, done) => {
    if (!req.url.startsWith('/docs')) {
      reply.header('cache-control', 'no-cache, no-store');
      reply.header('pragma', 'no-cache');
    }
    done(null, payload);
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'dialback',
        description:
          'GMS-compatible Callback API plus dialback operations. Errors are ' +
          '`{ exception, message }`; a DELETE answers `{}`.',
        version: '1',
      },
      components: {
        securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  registerCallbackRoutes(app, deps.engine);
  registerAdminRoutes(app, deps.engine);
  registerEventRoutes(app, deps.engine, {
    heartbeatMs: deps.sseHeartbeatMs ?? 15_000,
    logger: deps.logger,
  });
  registerOperationRoutes(app, deps.engine, { metrics: deps.metrics, logger: deps.logger });
  if (deps.webRoot !== undefined) await app.register(webRoutes, { root: deps.webRoot });

  await app.ready();
  return app;
}
