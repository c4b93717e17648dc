// The only reader of environment variables and config files. The config is read once at boot
// and validated; a bad value stops boot with an error naming the key.

import fs from 'node:fs';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import YAML from 'yaml';
import { DEFAULT_OPTIONS, applyOptions, type ServiceOptions } from './domain/options';
import { parseOfficeHours } from './domain/office-hours';
import { parseCapacity } from './domain/slots';
import type { ServiceDefinition } from './actors/engine';
import type { AgentConfig } from './domain/agent-pool';

const LogLevel = Type.Union(
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
);

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`invalid config: ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

const Behaviour = Type.Union([
  Type.Literal('human'),
  Type.Literal('machine'),
  Type.Literal('notsure'),
  Type.Literal('busy'),
  Type.Literal('no-answer'),
  Type.Literal('rejected'),
  Type.Literal('unreachable'),
  Type.Literal('congestion'),
]);

const ConfigSchema = Type.Object(
  {
    node_id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9]{1,16}$' })),
    host: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    data_dir: Type.Optional(Type.String({ minLength: 1 })),
    log_level: Type.Optional(LogLevel),
    api_keys: Type.Optional(Type.Array(Type.String({ minLength: 8 }))),
    body_limit: Type.Optional(Type.Integer({ minimum: 1024, maximum: 10 * 1024 * 1024 })),
    telephony: Type.Optional(
      Type.Object(
        {
          kind: Type.Union([Type.Literal('simulator'), Type.Literal('ari')]),
          simulator: Type.Optional(
            Type.Object(
              {
                answer_delay_ms: Type.Optional(Type.Integer({ minimum: 0 })),
                amd_delay_ms: Type.Optional(Type.Integer({ minimum: 0 })),
                agent_answer_delay_ms: Type.Optional(Type.Integer({ minimum: 0 })),
                handle_time_ms: Type.Optional(Type.Integer({ minimum: 0 })),
                default_behaviour: Type.Optional(Behaviour),
                numbers: Type.Optional(Type.Record(Type.String(), Behaviour)),
                seed: Type.Optional(Type.Integer()),
              },
              { additionalProperties: false },
            ),
          ),
          ari: Type.Optional(
            Type.Object(
              {
                url: Type.String({ minLength: 1 }),
                username: Type.String({ minLength: 1 }),
                password: Type.String(),
                app: Type.Optional(Type.String({ minLength: 1 })),
                amd_context: Type.Optional(Type.String({ minLength: 1 })),
                amd_extension: Type.Optional(Type.String({ minLength: 1 })),
                customer_endpoint: Type.Optional(
                  Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_-]+/.*\\{number\\}' }),
                ),
                request_timeout_ms: Type.Optional(Type.Integer({ minimum: 100 })),
                reconnect_initial_ms: Type.Optional(Type.Integer({ minimum: 10 })),
                reconnect_max_ms: Type.Optional(Type.Integer({ minimum: 10 })),
                /** The adapter's own level; at debug it traces each call's events and commands. */
                log_level: Type.Optional(LogLevel),
              },
              { additionalProperties: false },
            ),
          ),
          ami: Type.Optional(
            Type.Object(
              {
                host: Type.String({ minLength: 1 }),
                port: Type.Integer({ minimum: 1, maximum: 65535 }),
                username: Type.String({ minLength: 1 }),
                secret: Type.String(),
                /** Targets whose EWT comes from an Asterisk queue's statistics. */
                queues: Type.Optional(
                  Type.Array(
                    Type.Object(
                      {
                        target: Type.String({ minLength: 1 }),
                        queue: Type.String({ minLength: 1 }),
                      },
                      { additionalProperties: false },
                    ),
                  ),
                ),
                poll_ms: Type.Optional(Type.Integer({ minimum: 500 })),
              },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    office_hours: Type.Optional(
      Type.Record(Type.String(), Type.Record(Type.String(), Type.String())),
    ),
    capacity: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    services: Type.Record(
      Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
      Type.Record(Type.String(), Type.Unknown()),
    ),
    agents: Type.Optional(
      Type.Array(
        Type.Object(
          {
            id: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
            endpoint: Type.String({ minLength: 1 }),
            groups: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
            state: Type.Optional(
              Type.Union([
                Type.Literal('signed-out'),
                Type.Literal('ready'),
                Type.Literal('not-ready'),
              ]),
            ),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    engine: Type.Optional(
      Type.Object(
        {
          idle_ms: Type.Optional(Type.Integer({ minimum: 100 })),
          horizon_ms: Type.Optional(Type.Integer({ minimum: 1000 })),
          reservation_timeout_ms: Type.Optional(Type.Integer({ minimum: 1000 })),
          wrap_up_ms: Type.Optional(Type.Integer({ minimum: 0 })),
          default_handle_ms: Type.Optional(Type.Integer({ minimum: 1000 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type RawConfig = Static<typeof ConfigSchema>;

export interface AppConfig {
  nodeId: string;
  host: string;
  port: number;
  dataDir: string;
  logLevel: string;
  apiKeys: string[];
  bodyLimit: number;
  telephony: NonNullable<RawConfig['telephony']>;
  services: ServiceDefinition[];
  agents: Array<AgentConfig & { initialState?: 'signed-out' | 'ready' | 'not-ready' }>;
  engine: NonNullable<RawConfig['engine']>;
  /** Where the config came from, for the boot log. */
  source: string;
}

/** The demo config `npm start` runs when no file is given. */
export const DEMO_CONFIG: RawConfig = {
  node_id: '440',
  telephony: {
    kind: 'simulator',
    simulator: {
      answer_delay_ms: 2000,
      amd_delay_ms: 1500,
      agent_answer_delay_ms: 1000,
      handle_time_ms: 20000,
    },
  },
  office_hours: {
    '24x7': { _timezone: 'UTC', _bh_regular1: 'Mon-Sun 00:00-24:00' },
  },
  services: {
    'user-scheduled': {
      _type: 'ors',
      _call_direction: 'USERTERMINATED',
      _wait_for_agent: true,
      _wait_for_user_confirm: true,
      _business_hours_service: '24x7',
      _request_time_bucket: 5,
      _max_request_by_time_bucket: 100,
      _target: 'support',
      _allow_extensions: true,
      _overwritable_options: ['_wait_for_agent', '_wait_for_user_confirm', '_media_type'],
    },
    'user-scheduled-now': {
      _type: 'ors',
      _call_direction: 'USERTERMINATED',
      _wait_for_agent: false,
      _wait_for_user_confirm: false,
      _business_hours_service: '24x7',
      _request_time_bucket: 5,
      _max_request_by_time_bucket: 100,
      _target: 'support',
      _allow_extensions: true,
      _overwritable_options: ['_media_type'],
    },
  },
  agents: [
    { id: 'agent1', endpoint: 'SIM/agent1', groups: ['support'], state: 'ready' },
    { id: 'agent2', endpoint: 'SIM/agent2', groups: ['support'], state: 'ready' },
    { id: 'agent3', endpoint: 'SIM/agent3', groups: ['support'], state: 'ready' },
  ],
};

function fail(key: string, message: string): never {
  throw new ConfigError(key, message);
}

/** Validates a raw config object (from YAML, JSON or code) into the engine's config. */
export function resolveConfig(
  raw: unknown,
  env: NodeJS.ProcessEnv = {},
  source = 'built-in demo',
): AppConfig {
  if (raw === null || typeof raw !== 'object') fail('(root)', 'must be a mapping');
  const first = Value.Errors(ConfigSchema, raw).First();
  if (first) fail(first.path.replace(/^\//, '').replace(/\//g, '.') || '(root)', first.message);
  const c = raw as RawConfig;

  const officeHours = new Map<string, ReturnType<typeof parseOfficeHours>>();
  for (const [name, rules] of Object.entries(c.office_hours ?? {})) {
    try {
      officeHours.set(name, parseOfficeHours(name, rules));
    } catch (err) {
      const e = err as { key?: string; message: string };
      fail(`office_hours.${name}${e.key ? `.${e.key}` : ''}`, e.message);
    }
  }
  const capacities = new Map<string, ReturnType<typeof parseCapacity>>();
  for (const [name, rules] of Object.entries(c.capacity ?? {})) {
    try {
      capacities.set(name, parseCapacity(name, rules as Record<string, unknown>));
    } catch (err) {
      const e = err as { key?: string; message: string };
      fail(`capacity.${name}${e.key ? `.${e.key}` : ''}`, e.message);
    }
  }

  const services: ServiceDefinition[] = [];
  for (const [name, raw] of Object.entries(c.services)) {
    for (const key of Object.keys(raw))
      if (!(key in DEFAULT_OPTIONS)) fail(`services.${name}.${key}`, 'is not a known option');
    const r = applyOptions(DEFAULT_OPTIONS, raw);
    if (!r.ok) fail(`services.${name}.${r.key}`, r.message);
    const options: ServiceOptions = r.options;
    if (!options._target)
      fail(`services.${name}._target`, 'is mandatory (the agent group to route to)');
    for (const o of options._overwritable_options)
      if (!(o in DEFAULT_OPTIONS))
        fail(`services.${name}._overwritable_options`, `${o} is not a known option`);
    const ohName = options._business_hours_service;
    let oh = ohName ? officeHours.get(ohName) : undefined;
    if (ohName && !oh)
      fail(`services.${name}._business_hours_service`, `office hours ${ohName} are not defined`);
    if (!oh)
      oh = parseOfficeHours('always', { _timezone: 'UTC', _bh_regular1: 'Mon-Sun 00:00-24:00' });
    const capName = options._capacity_service;
    const cap = capName ? capacities.get(capName) : undefined;
    if (capName && !cap)
      fail(`services.${name}._capacity_service`, `capacity ${capName} is not defined`);
    services.push({
      name,
      options,
      officeHoursName: ohName,
      officeHours: oh,
      capacityName: capName,
      ...(cap ? { capacity: cap } : {}),
    });
  }

  const agents = (c.agents ?? []).map((a) => ({
    id: a.id,
    endpoint: a.endpoint,
    groups: a.groups,
    ...(a.state ? { initialState: a.state } : {}),
  }));
  const seen = new Set<string>();
  agents.forEach((a, i) => {
    if (seen.has(a.id)) fail(`agents.${i}.id`, `duplicate agent ${a.id}`);
    seen.add(a.id);
  });

  const telephony = c.telephony ?? { kind: 'simulator' };
  if (telephony.kind === 'ari' && !telephony.ari)
    fail('telephony.ari', 'is required when telephony.kind is ari');

  const port = env.PORT !== undefined ? Number(env.PORT) : (c.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('PORT', 'must be a port number');
  const apiKeys = env.DIALBACK_API_KEYS
    ? env.DIALBACK_API_KEYS.split(',')
        .map((k) => k.trim())
        .filter(Boolean)
    : (c.api_keys ?? []);
  if (apiKeys.some((k) => k.length < 8))
    fail('DIALBACK_API_KEYS', 'every key needs at least 8 characters');

  return {
    nodeId: c.node_id ?? '440',
    host: env.HOST ?? c.host ?? '127.0.0.1',
    port,
    dataDir: path.resolve(env.DIALBACK_DATA_DIR ?? c.data_dir ?? './data'),
    logLevel: env.DIALBACK_LOG_LEVEL ?? c.log_level ?? 'info',
    apiKeys,
    bodyLimit: c.body_limit ?? 64 * 1024,
    telephony,
    services,
    agents,
    engine: c.engine ?? {},
    source,
  };
}

/** Reads the config named by `--config` or DIALBACK_CONFIG (YAML or JSON), else the demo. */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv): AppConfig {
  const name = file ?? env.DIALBACK_CONFIG;
  if (!name) return resolveConfig(DEMO_CONFIG, env);
  let text: string;
  try {
    text = fs.readFileSync(name, 'utf8');
  } catch (err) {
    throw new ConfigError('DIALBACK_CONFIG', `cannot read ${name}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(
      'DIALBACK_CONFIG',
      `${name} is not valid YAML: ${(err as Error).message}`,
    );
  }
  return resolveConfig(raw, env, name);
}
