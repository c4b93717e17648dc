// dialback's own routes beyond GMS: health, readiness, metrics, agents and services.
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { CallbackEngine, EngineHealth } from '../../engine-api';
import type { Logger } from '../../logger';
import {
  AgentCommandParams,
  AgentViewSchema,
  AgentsReply,
  HealthReply,
  ReadyReply,
  ServiceParams,
  ServiceViewSchema,
  ServicesReply,
  responses,
  type AgentCommandParamsT,
} from '../schemas';

export function registerOperationRoutes(
  app: FastifyInstance,
  engine: CallbackEngine,
  opts: { metrics?: Registry; logger: Logger },
): void {
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'Liveness', response: { 200: HealthReply } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the store and telephony are up',
        response: { 200: ReadyReply, 503: ReadyReply },
      },
    },
    async (_req, reply) => {
      let health: EngineHealth;
      try {
        health = engine.health();
      } catch (err) {
        opts.logger.error({ err }, 'engine health check threw');
        health = { store: false, telephony: false };
      }
      const down = (['store', 'telephony'] as const).filter((k) => !health[k]);
      return reply.status(down.length === 0 ? 200 : 503).send({
        status: down.length === 0 ? 'ok' : 'unavailable',
        store: health.store,
        telephony: health.telephony,
        down,
      });
    },
  );

  const registry = opts.metrics;
  if (registry) {
    app.get(
      '/metrics',
      { schema: { tags: ['operations'], summary: 'Prometheus metrics', hide: false } },
      async (_req, reply) => {
        const text = await registry.metrics();
        return reply.type(registry.contentType).send(text);
      },
    );
  }

  app.get(
    '/dialback/1/agents',
    {
      schema: {
        tags: ['agents'],
        summary: 'Agents and their states',
        response: { 200: AgentsReply },
      },
    },
    async () => engine.listAgents(),
  );

  app.post<{ Params: AgentCommandParamsT }>(
    '/dialback/1/agents/:id/:command',
    {
      schema: {
        tags: ['agents'],
        summary: 'sign-in, sign-out, ready or not-ready',
        params: AgentCommandParams,
        response: responses(AgentViewSchema, 400, 401, 404, 409, 503),
      },
    },
    async (req) => engine.agentCommand(req.params.id, req.params.command),
  );

  app.get(
    '/dialback/1/services',
    {
      schema: {
        tags: ['services'],
        summary: 'Callback services with options and office hours',
        response: { 200: ServicesReply },
      },
    },
    async () => engine.listServices(),
  );

  app.get<{ Params: { service: string } }>(
    '/dialback/1/services/:service',
    {
      schema: {
        tags: ['services'],
        summary: 'One callback service',
        params: ServiceParams,
        response: responses(ServiceViewSchema, 404),
      },
    },
    async (req) => engine.getService(req.params.service),
  );
}
