// Wires AMI into a running engine: agent presence from device states, and the EWT of targets
// that live in an Asterisk queue from that queue's statistics. Boot never waits for AMI: the
// client keeps reconnecting in the background and the sources catch up when it logs in.

import type { Clock } from '../../clock';
import type { Logger } from '../../logger';
import { AmiClient } from './ami-client';
import { AmiPresence, PRESENCE_EVENTS } from './presence';
import { AmiQueueStats, type QueueTarget } from './queue-stats';

export interface AmiSourcesConfig {
  host: string;
  port: number;
  username: string;
  secret: string;
  queues?: QueueTarget[];
  pollMs?: number;
}

export interface AmiSink {
  setAgentPresence(agentId: string, available: boolean): void;
  setExternalEwt(target: string, ms: number | undefined): void;
}

export interface AmiSources {
  isReady(): boolean;
  stop(): Promise<void>;
}

export function startAmiSources(
  cfg: AmiSourcesConfig,
  agents: ReadonlyArray<{ id: string; endpoint: string }>,
  sink: AmiSink,
  deps: { clock: Clock; logger: Logger },
): AmiSources {
  const client = new AmiClient({
    host: cfg.host,
    port: cfg.port,
    username: cfg.username,
    secret: cfg.secret,
    clock: deps.clock,
    logger: deps.logger,
    // Queue figures come from polled list actions; no other unsolicited event is read.
    events: PRESENCE_EVENTS,
  });
  const presence = new AmiPresence({
    client,
    logger: deps.logger,
    agents,
    onPresence: (agentId, available) => sink.setAgentPresence(agentId, available),
  });
  const targets = cfg.queues ?? [];
  const stats =
    targets.length > 0
      ? new AmiQueueStats({
          client,
          clock: deps.clock,
          logger: deps.logger,
          targets,
          ...(cfg.pollMs !== undefined ? { pollIntervalMs: cfg.pollMs } : {}),
        })
      : undefined;
  const unsubscribe = stats?.subscribe((target, ms) => sink.setExternalEwt(target, ms));
  presence.start();
  stats?.start();
  client.start().catch((err: unknown) => {
    deps.logger.error({ err }, 'AMI refused the login: agent presence and queue EWT are off');
  });
  return {
    isReady: () => client.isReady(),
    stop: async () => {
      unsubscribe?.();
      stats?.stop();
      presence.stop();
      for (const t of targets) sink.setExternalEwt(t.target, undefined);
      await client.close();
    },
  };
}
