// Outgoing notification delivery: one channel interface (httpcb, customhttp and status
// notifications are all JSON POSTs), and a retry loop that never throws and never lets a
// hanging receiver hold anything up (each attempt has its own deadline).
import { SystemClock, type Clock } from '../clock';
import { DialbackError } from '../errors';
import type { Logger } from '../logger';

export interface DeliveryMessage {
  url: string;
  body: unknown;
}

export interface DeliveryChannel {
  /** Resolves when the receiver accepted the message; rejects otherwise. */
  deliver(msg: DeliveryMessage, opts?: { signal?: AbortSignal }): Promise<void>;
}

export type DeliveryOutcome =
  | { status: 'delivered'; attempts: number }
  | { status: 'failed'; attempts: number; lastError: string };

export interface RetryOptions {
  /** Total attempts, at least 1 (`_max_notify_delivery_attempts`). */
  attempts: number;
  /** Wait before the 2nd attempt; doubled for each further one. */
  backoffMs: number;
  /** Deadline of one attempt. */
  timeoutMs: number;
  clock?: Clock;
  logger: Logger;
}

/** POSTs the body as JSON; any non-2xx answer or network error is a failed delivery. */
export class HttpPostChannel implements DeliveryChannel {
  constructor(
    private readonly opts: { timeoutMs?: number; headers?: Record<string, string> } = {},
  ) {}

  async deliver(msg: DeliveryMessage, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const signals = [AbortSignal.timeout(this.opts.timeoutMs ?? 10_000)];
    if (opts.signal) signals.push(opts.signal);
    const res = await fetch(msg.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.opts.headers },
      body: JSON.stringify(msg.body),
      signal: AbortSignal.any(signals),
      redirect: 'error',
    });
    // Drain the body so the connection goes back to the pool.
    await res.arrayBuffer();
    if (res.status < 200 || res.status > 299) throw new Error(`receiver answered ${res.status}`);
  }
}

class AttemptTimeout extends Error {}

function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimer(clock.now() + ms, resolve));
}

/** One attempt with its own deadline, even if the channel ignores the abort signal. */
async function attempt(
  channel: DeliveryChannel,
  msg: DeliveryMessage,
  timeoutMs: number,
  clock: Clock,
) {
  const ac = new AbortController();
  let timer: ReturnType<Clock['setTimer']> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = clock.setTimer(clock.now() + timeoutMs, () => {
      const err = new AttemptTimeout(`no answer within ${timeoutMs} ms`);
      ac.abort(err);
      reject(err);
    });
  });
  const delivery = channel.deliver(msg, { signal: ac.signal });
  try {
    await Promise.race([delivery, deadline]);
  } finally {
    // Promise.race has subscribed to both, so the loser's rejection is never unhandled.
    if (timer) clock.clearTimer(timer);
  }
}

export async function deliverWithRetry(
  channel: DeliveryChannel,
  msg: DeliveryMessage,
  opts: RetryOptions,
): Promise<DeliveryOutcome> {
  const clock = opts.clock ?? new SystemClock();
  const attempts = Math.max(1, Math.floor(opts.attempts));
  let lastError = 'not attempted';
  for (let n = 1; n <= attempts; n++) {
    try {
      await attempt(channel, msg, opts.timeoutMs, clock);
      if (n > 1)
        opts.logger.info({ url: msg.url, attempts: n }, 'notification delivered after retry');
      return { status: 'delivered', attempts: n };
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      opts.logger.warn(
        { url: msg.url, attempt: n, of: attempts, err: lastError },
        'notification delivery failed',
      );
    }
    if (n < attempts) await sleep(clock, opts.backoffMs * 2 ** (n - 1));
  }
  return { status: 'failed', attempts, lastError };
}

/** Only http(s) URLs are delivery targets. */
export function isDeliverableUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function requireUrl(url: string, field: string): string {
  if (!isDeliverableUrl(url)) {
    throw new DialbackError('CallbackExceptionInvalidField', `${field} must be an http(s) URL`);
  }
  return url;
}

/** httpcb: the push payload POSTed to the URL the device gave as `_device_notification_id`. */
export function httpcbMessage(deviceNotificationId: string, payload: unknown): DeliveryMessage {
  return { url: requireUrl(deviceNotificationId, '_device_notification_id'), body: payload };
}

/** customhttp: `{ deviceId, message }` POSTed to the service's configured URL. */
export function customHttpMessage(
  targetUrl: string,
  deviceId: string,
  message: unknown,
): DeliveryMessage {
  return { url: requireUrl(targetUrl, 'customhttp target'), body: { deviceId, message } };
}

/** Status notification: the state change POSTed to `_status_notification_target`. */
export function statusNotificationMessage(
  target: string,
  status: Record<string, unknown>,
): DeliveryMessage {
  return { url: requireUrl(target, '_status_notification_target'), body: status };
}
