// The notifier: every dialog, agent preview and status change of a callback is appended to the
// store (so a device that connects late, or reconnects with Last-Event-ID, gets what it
// missed), fanned out to live subscribers (comet streams), and handed to the outbound channels
// (httpcb, customhttp, status webhooks). Outbound delivery runs detached: a slow or dead sink
// never blocks a session.

import { spawn, type Ref } from 'nact';
import type { Clock } from '../clock';
import type { ServiceOptions } from '../domain/options';
import type { StreamMessage } from '../engine-api';
import type { Logger } from '../logger';
import type { Store } from '../store/store';

export interface DeviceAddress {
  /** `_device_os` of the request: comet, httpcb, customhttp, fcm, ios, gcm. */
  os: string;
  /** `_device_notification_id`: a URL for httpcb, a token for push services. */
  notificationId: string;
}

export type NotifierMsg = {
  type: 'publish';
  kind: StreamMessage['kind'];
  callbackId: string;
  service: string;
  data: StreamMessage['data'];
  device?: DeviceAddress;
  options: ServiceOptions;
};

/** Outbound channels (webhooks, push services); implemented in src/notify. */
export interface OutboundDelivery {
  /** A dialog for the customer's device on a non-comet channel. */
  toDevice(device: DeviceAddress, payload: unknown, options: ServiceOptions): Promise<void>;
  /** A status change, when `_enable_status_notification` is on. */
  status(payload: unknown, options: ServiceOptions): Promise<void>;
}

type Listener = (m: StreamMessage) => void;

/** Live fan-out of stream messages to subscribers filtered by callback or service. */
export class MessageHub {
  private readonly listeners = new Set<{
    filter: { callbackId?: string; service?: string };
    fn: Listener;
  }>();

  subscribe(filter: { callbackId?: string; service?: string }, fn: Listener): () => void {
    const entry = { filter, fn };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  publish(m: StreamMessage): void {
    for (const l of this.listeners) {
      if (l.filter.callbackId && l.filter.callbackId !== m.callbackId) continue;
      if (l.filter.service && l.filter.service !== m.service) continue;
      l.fn(m);
    }
  }

  get size(): number {
    return this.listeners.size;
  }
}

export interface NotifierDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  hub: MessageHub;
  outbound?: OutboundDelivery;
}

export function spawnNotifier(parent: Ref<unknown>, deps: NotifierDeps): Ref<NotifierMsg> {
  return spawn(
    parent,
    (_state: undefined, msg: NotifierMsg): undefined => {
      const at = deps.clock.now();
      let seq: number;
      try {
        seq = deps.store.appendMessage({
          callbackId: msg.callbackId,
          service: msg.service,
          kind: msg.kind,
          data: msg.data,
          at,
        });
      } catch (err) {
        deps.logger.error({ err, callbackId: msg.callbackId }, 'could not record a notification');
        return undefined;
      }
      const m: StreamMessage = {
        seq,
        callbackId: msg.callbackId,
        service: msg.service,
        kind: msg.kind,
        data: msg.data,
        at,
      };
      // Published once committed, so a stream resumed by Last-Event-ID finds it again.
      deps.store.afterCommit((err) => {
        if (err) {
          deps.logger.error(
            { err, callbackId: msg.callbackId },
            'a notification was not committed',
          );
          return;
        }
        deliver(m, msg);
      });
      return undefined;
    },
    'notifier',
  );

  function deliver(m: StreamMessage, msg: NotifierMsg): void {
    deps.hub.publish(m);
    const out = deps.outbound;
    if (!out) return;
    if (msg.kind === 'dialog' && msg.device && msg.device.os !== 'comet') {
      out.toDevice(msg.device, msg.data, msg.options).catch((err: unknown) => {
        deps.logger.warn({ err, callbackId: msg.callbackId }, 'device notification failed');
      });
    }
    if (msg.kind === 'status' && msg.options._enable_status_notification) {
      out.status(msg.data, msg.options).catch((err: unknown) => {
        deps.logger.warn({ err, callbackId: msg.callbackId }, 'status notification failed');
      });
    }
  }
}
