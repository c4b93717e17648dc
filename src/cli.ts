// `dialback start` runs the service; the config comes from --config / DIALBACK_CONFIG or the
// built-in demo. This is the only place that listens on a port.

import fs from 'node:fs';
import path from 'node:path';
import { SystemClock } from './clock';
import { ConfigError, loadConfig, type AppConfig } from './config';
import { createEngine, type Engine } from './actors/engine';
import { buildApp } from './http/app';
import { defaultWebRoot } from './http/routes/web';
import { createLogger, type Logger } from './logger';
import { createMetrics } from './metrics';
import { createOutboundDelivery } from './notify/outbound';
import { openSqliteStore } from './store/sqlite-store';
import type { Store } from './store/store';
import { AriTelephony } from './telephony/ari/ari-adapter';
import type { TelephonyPort } from './telephony/port';
import { simulatorOptionsFromConfig } from './telephony/simulator/from-config';
import { startAmiSources } from './telephony/ami/ami-sources';
import { SimulatorTelephony } from './telephony/simulator/simulator-adapter';
import { simulateCommand } from './simulate/command';

const USAGE = `usage: dialback <command> [options]

commands:
  start [--config FILE]   run the callback service (default: the built-in demo config)
  simulate [options]      a what-if day on virtual time, with an HTML report (simulate --help)
  help                    show this text

environment:
  DIALBACK_CONFIG     config file (YAML or JSON), like --config
  DIALBACK_DATA_DIR   where the SQLite store lives (default ./data)
  PORT, HOST          where to listen (default 8080 on 127.0.0.1)
  DIALBACK_API_KEYS   comma-separated API keys for mutating and admin routes
  DIALBACK_LOG_LEVEL  fatal, error, warn, info, debug, trace or silent
`;

export interface RunningService {
  url: string;
  engine: Engine;
  close(): Promise<void>;
}

function makeTelephony(cfg: AppConfig, clock: SystemClock, logger: Logger): TelephonyPort {
  switch (cfg.telephony.kind) {
    case 'simulator':
      return new SimulatorTelephony(
        simulatorOptionsFromConfig(cfg.telephony.simulator, cfg.agents, {
          clock,
          logger: logger.child({ adapter: 'simulator' }),
          ...(process.env.DIALBACK_DIAL_LOG ? { dialLogPath: process.env.DIALBACK_DIAL_LOG } : {}),
        }),
      );
    case 'ari': {
      const ari = cfg.telephony.ari;
      if (!ari) throw new ConfigError('telephony.ari', 'is required when telephony.kind is ari');
      return new AriTelephony({
        url: ari.url,
        username: ari.username,
        password: ari.password,
        app: ari.app ?? 'dialback',
        amdContext: ari.amd_context ?? 'dialback-amd',
        amdExtension: ari.amd_extension ?? 's',
        customerEndpoint: ari.customer_endpoint ?? 'PJSIP/{number}',
        requestTimeoutMs: ari.request_timeout_ms ?? 5000,
        reconnect: {
          initialMs: ari.reconnect_initial_ms ?? 250,
          maxMs: ari.reconnect_max_ms ?? 10_000,
        },
        agents: cfg.agents.map((a) => ({ id: a.id, endpoint: a.endpoint })),
        clock,
        logger: ari.log_level ? logger.child({}, { level: ari.log_level }) : logger,
      });
    }
  }
}

/** Boots store, telephony, engine and HTTP from a validated config, and listens. */
export async function startService(
  cfg: AppConfig,
  logger: Logger,
  opts: { webRoot?: string } = {},
): Promise<RunningService> {
  const clock = new SystemClock();
  fs.mkdirSync(cfg.dataDir, { recursive: true });
  const store: Store = openSqliteStore({
    dir: cfg.dataDir,
    logger: logger.child({ part: 'store' }),
  });
  const telephony = makeTelephony(cfg, clock, logger);
  await telephony.start();
  // The metrics come before the engine, which reads them: the gauge finds it here.
  const made: { engine?: Engine } = {};
  const metrics = createMetrics({
    defaultMetrics: true,
    countByState: () => store.countByState(),
    liveSessions: () => made.engine?.liveSessions() ?? 0,
  });
  const engine = await createEngine({
    clock,
    store,
    telephony,
    logger,
    services: cfg.services,
    agents: cfg.agents,
    nodeId: cfg.nodeId,
    metrics,
    outbound: createOutboundDelivery({ logger: logger.child({ part: 'notify' }), clock }),
    ...(cfg.engine.idle_ms !== undefined ? { idleMs: cfg.engine.idle_ms } : {}),
    ...(cfg.engine.horizon_ms !== undefined ? { horizonMs: cfg.engine.horizon_ms } : {}),
    ...(cfg.engine.reservation_timeout_ms !== undefined
      ? { reservationTimeoutMs: cfg.engine.reservation_timeout_ms }
      : {}),
    ...(cfg.engine.wrap_up_ms !== undefined ? { wrapUpMs: cfg.engine.wrap_up_ms } : {}),
    ...(cfg.engine.default_handle_ms !== undefined
      ? { defaultHandleMs: cfg.engine.default_handle_ms }
      : {}),
  });
  made.engine = engine;
  const ami = cfg.telephony.ami
    ? startAmiSources(
        {
          host: cfg.telephony.ami.host,
          port: cfg.telephony.ami.port,
          username: cfg.telephony.ami.username,
          secret: cfg.telephony.ami.secret,
          ...(cfg.telephony.ami.queues ? { queues: cfg.telephony.ami.queues } : {}),
          ...(cfg.telephony.ami.poll_ms !== undefined ? { pollMs: cfg.telephony.ami.poll_ms } : {}),
        },
        cfg.agents,
        engine,
        { clock, logger: logger.child({ part: 'ami' }) },
      )
    : undefined;
  const app = await buildApp({
    engine,
    logger,
    apiKeys: cfg.apiKeys,
    metrics: metrics.registry,
    bodyLimit: cfg.bodyLimit,
    webRoot: opts.webRoot ?? defaultWebRoot(),
  });
  const address = await app.listen({ host: cfg.host, port: cfg.port });
  const url = address.replace('[::1]', 'localhost');
  let closed = false;
  return {
    url,
    engine,
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
      await ami?.stop();
      await engine.stop();
      await telephony.stop();
      store.close();
    },
  };
}

async function main(argv: string[]): Promise<number> {
  const [command = 'help', ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (command === 'simulate') return simulateCommand(rest);
  if (command !== 'start') {
    process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
    return 2;
  }
  let configFile: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--config') configFile = rest[++i];
    else if (rest[i].startsWith('--config=')) configFile = rest[i].slice('--config='.length);
    else {
      process.stderr.write(`unknown option: ${rest[i]}\n\n${USAGE}`);
      return 2;
    }
  }
  let cfg: AppConfig;
  try {
    cfg = loadConfig(configFile ? path.resolve(configFile) : undefined, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`dialback: ${err.message}\n`);
      return 78;
    }
    throw err;
  }
  const logger = createLogger({ level: cfg.logLevel });
  let svc: RunningService;
  try {
    svc = await startService(cfg, logger);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      process.stderr.write(
        `dialback: cannot listen on ${cfg.host}:${cfg.port} (${code}); set PORT\n`,
      );
      return 1;
    }
    throw err;
  }
  logger.info(
    { config: cfg.source, dataDir: cfg.dataDir, services: cfg.services.map((s) => s.name) },
    'dialback started',
  );
  process.stdout.write(
    `dialback listening on ${svc.url} (config: ${cfg.source}, data: ${cfg.dataDir})\n`,
  );
  const shutdown = (signal: string): void => {
    logger.info({ signal }, 'shutting down');
    svc.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  return -1;
}

if (require.main === module || process.argv[1]?.endsWith('dialback.js')) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (err: unknown) => {
      process.stderr.write(`dialback: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
