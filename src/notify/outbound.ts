// The notifier's outbound side: httpcb and customhttp dialogs for devices, and status
// notifications, each delivered with the service's retry budget. Push services (fcm, ios,
// gcm) need networks this deployment does not reach: they are logged and skipped.

import type { DeviceAddress, OutboundDelivery } from '../actors/notifier-actor';
import type { Clock } from '../clock';
import type { ServiceOptions } from '../domain/options';
import type { Logger } from '../logger';
import {
  HttpPostChannel,
  customHttpMessage,
  deliverWithRetry,
  httpcbMessage,
  statusNotificationMessage,
  type DeliveryChannel,
  type DeliveryMessage,
} from './delivery';

export interface OutboundOptions {
  logger: Logger;
  clock?: Clock;
  channel?: DeliveryChannel;
  /** Deadline of one attempt (ms). */
  timeoutMs?: number;
  /** Wait before the 2nd attempt, doubled after (ms). */
  backoffMs?: number;
}

export function createOutboundDelivery(opts: OutboundOptions): OutboundDelivery {
  const channel = opts.channel ?? new HttpPostChannel();
  const send = async (msg: DeliveryMessage, options: ServiceOptions): Promise<void> => {
    const outcome = await deliverWithRetry(channel, msg, {
      attempts: options._max_notify_delivery_attempts,
      backoffMs: opts.backoffMs ?? 1000,
      timeoutMs: opts.timeoutMs ?? 5000,
      logger: opts.logger,
      ...(opts.clock ? { clock: opts.clock } : {}),
    });
    if (outcome.status === 'failed')
      opts.logger.warn(
        { url: msg.url, attempts: outcome.attempts, err: outcome.lastError },
        'notification given up',
      );
  };
  return {
    async toDevice(
      device: DeviceAddress,
      payload: unknown,
      options: ServiceOptions,
    ): Promise<void> {
      switch (device.os) {
        case 'httpcb':
          return send(httpcbMessage(device.notificationId, payload), options);
        case 'customhttp':
          return send(
            customHttpMessage(options._customhttp_url, device.notificationId, payload),
            options,
          );
        default:
          opts.logger.debug({ os: device.os }, 'no outbound channel for this device type');
      }
    },
    async status(payload: unknown, options: ServiceOptions): Promise<void> {
      if (!options._status_notification_target) return;
      return send(
        statusNotificationMessage(
          options._status_notification_target,
          payload as Record<string, unknown>,
        ),
        options,
      );
    },
  };
}
