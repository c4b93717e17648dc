// The options of a callback service, with GMS's names and defaults. A service's config and a
// request's overrides (where `_overwritable_options` allows) are parsed into ServiceOptions.

export type CallDirection = 'USERTERMINATED' | 'USERORIGINATED';
export type FirstConnectParty = 'CUSTOMER' | 'AGENT';
export type DeviceOs = 'comet' | 'httpcb' | 'customhttp' | 'fcm' | 'ios' | 'gcm';

export interface ServiceOptions {
  _type: string;
  _call_direction: CallDirection;
  _media_type: string;
  _wait_for_agent: boolean;
  _wait_for_user_confirm: boolean;
  /** Seconds a callback may stay open before FAIL_TIMEOUT_TTL. */
  _ttl: number;
  _business_hours_service: string | null;
  _capacity_service: string | null;
  _target: string;
  _overwritable_options: string[];
  _attach_udata: string;
  // Scheduling
  /** Minutes per slot: 5, 10, 15, 20, 30, 60 or 120. */
  _request_time_bucket: number;
  _max_request_by_time_bucket: number;
  /** As written: `1M`, `2w`, `1y`, `3d`, `12h`, `30m`. */
  _reject_future_desired_time: string;
  /** Seconds. */
  _request_execution_time_buffer: number;
  /** Seconds: never dial earlier than this before the desired time. */
  _desired_connect_time_threshold: number;
  _request_ewt_service: string | null;
  // Dialling
  _max_dial_attempts: number;
  /** Seconds between dial attempts. */
  _dial_retry_timeout: number;
  _cpd_enable: boolean;
  /** Milliseconds a customer call may ring. */
  _call_timeguard_timeout: number;
  _userterminated_first_connect_party: FirstConnectParty;
  _calling_party_number: string;
  /** User Originated: the number customers call (returned as `_tel_number`). */
  _access_number: string;
  _calling_party_display_name: string;
  _prefix_dial_out: string;
  /** Seconds an agent has to answer once reserved. */
  _agent_reserve_timeout: number;
  _max_transfer_to_agent_attempts: number;
  _treatment_waiting_for_agent: string;
  _treatment_customer_connect: string;
  _treatment_call_failure_answering_machine: string;
  // Agent preview
  _agent_preview: boolean;
  /** Seconds. */
  _agent_preview_timeout: number;
  _agent_preview_allow_reject: boolean;
  /** Seconds before the next agent is offered the preview after a reject. */
  _agent_reject_retry_timeout: number;
  // Notifications
  /** Seconds each confirmation push waits. */
  _user_confirm_timeout: number;
  _max_number_of_user_availability_confirmation_attempts: number;
  /** `CONNECT-ANYWAY` dials when confirmation never came; anything else fails the callback. */
  _on_user_confirm_timeout: string;
  /** Seconds. */
  _snooze_duration: number;
  _max_notify_delivery_attempts: number;
  _enable_status_notification: boolean;
  _status_notification_type: string;
  _status_notification_target: string;
  _customhttp_url: string;
  // Protection
  _max_queued_callbacks_per_service: number;
  _throttle_callbacks_per_service_1: number;
  /** Seconds. */
  _throttle_ttl_1: number;
  _throttle_callbacks_per_service_2: number;
  /** Seconds. */
  _throttle_ttl_2: number;
  _throttle_request_parameters: string[];
  _throttle_request_parameters_limit: number;
  _enable_in_queue_checking: boolean;
  _default_country: string;
  _disallow_premium_phone_numbers: boolean;
  _disallow_impossible_phone_numbers: boolean;
  /** Accept internal extensions (digits only, up to `_max_extension_length`) besides E.164 numbers. */
  _allow_extensions: boolean;
  _max_extension_length: number;
}

export const DEFAULT_OPTIONS: ServiceOptions = {
  _type: 'ors',
  _call_direction: 'USERORIGINATED',
  _media_type: 'voice',
  _wait_for_agent: false,
  _wait_for_user_confirm: false,
  _ttl: 86400,
  _business_hours_service: null,
  _capacity_service: null,
  _target: '',
  _overwritable_options: [],
  _attach_udata: 'separate_keys',
  _request_time_bucket: 5,
  _max_request_by_time_bucket: 100,
  _reject_future_desired_time: '1M',
  _request_execution_time_buffer: 120,
  _desired_connect_time_threshold: 180,
  _request_ewt_service: null,
  _max_dial_attempts: 3,
  _dial_retry_timeout: 300,
  _cpd_enable: true,
  _call_timeguard_timeout: 15000,
  _userterminated_first_connect_party: 'CUSTOMER',
  _calling_party_number: '',
  _access_number: '',
  _calling_party_display_name: '',
  _prefix_dial_out: '',
  _agent_reserve_timeout: 30,
  _max_transfer_to_agent_attempts: 5,
  _treatment_waiting_for_agent: 'sound:queue-periodic-announce',
  _treatment_customer_connect: '',
  _treatment_call_failure_answering_machine: '',
  _agent_preview: false,
  _agent_preview_timeout: 30,
  _agent_preview_allow_reject: true,
  _agent_reject_retry_timeout: 10,
  _user_confirm_timeout: 30,
  _max_number_of_user_availability_confirmation_attempts: 3,
  _on_user_confirm_timeout: 'CONNECT-ANYWAY',
  _snooze_duration: 300,
  _max_notify_delivery_attempts: 3,
  _enable_status_notification: false,
  _status_notification_type: 'httpcb',
  _status_notification_target: '',
  _customhttp_url: '',
  _max_queued_callbacks_per_service: 1000,
  _throttle_callbacks_per_service_1: 500,
  _throttle_ttl_1: 300,
  _throttle_callbacks_per_service_2: 1000,
  _throttle_ttl_2: 3600,
  _throttle_request_parameters: ['_customer_number'],
  _throttle_request_parameters_limit: 6,
  _enable_in_queue_checking: true,
  _default_country: 'US',
  _disallow_premium_phone_numbers: true,
  _disallow_impossible_phone_numbers: true,
  _allow_extensions: false,
  _max_extension_length: 6,
};

export type OptionName = keyof ServiceOptions;

export function isOptionName(key: string): key is OptionName {
  return Object.prototype.hasOwnProperty.call(DEFAULT_OPTIONS, key);
}

export type OptionParseResult =
  { ok: true; options: ServiceOptions } | { ok: false; key: string; message: string };

const ENUMS: Partial<Record<OptionName, readonly string[]>> = {
  _call_direction: ['USERTERMINATED', 'USERORIGINATED'],
  _userterminated_first_connect_party: ['CUSTOMER', 'AGENT'],
};

const BUCKETS = [5, 10, 15, 20, 30, 60, 120];

/**
 * String options that reach a dial string (the caller id): only characters that are safe
 * there, since a service may let requests override them. Empty means "not set".
 */
const SAFE_STRINGS: Partial<
  Record<OptionName, { valid: (s: string) => boolean; message: string }>
> = {
  _calling_party_number: {
    valid: (s) => s === '' || (/^\+?[0-9]+$/.test(s) && s.length <= 20),
    message: 'must be digits with an optional leading +, at most 20 characters',
  },
  _calling_party_display_name: {
    // \p{C}: control (newline included), format, private-use and unassigned characters.
    valid: (s) => /^[^\p{C}"<>;&,]*$/u.test(s) && [...s].length <= 64,
    message: 'must be printable text without " < > ; & , or line breaks, at most 64 characters',
  },
};

/**
 * Applies raw values (strings from a form, or typed values from YAML/JSON) on top of `base`.
 * Returns the first invalid key with a reason.
 */
export function applyOptions(
  base: ServiceOptions,
  raw: Record<string, unknown>,
): OptionParseResult {
  const out: ServiceOptions = { ...base };
  const target = out as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(raw)) {
    if (!isOptionName(key)) continue;
    const def = DEFAULT_OPTIONS[key];
    const parsed = parseValue(key, def, value);
    if (!parsed.ok) return { ok: false, key, message: parsed.message };
    target[key] = parsed.value;
  }
  if (!BUCKETS.includes(out._request_time_bucket))
    return {
      ok: false,
      key: '_request_time_bucket',
      message: `must be one of ${BUCKETS.join(', ')}`,
    };
  return { ok: true, options: out };
}

function parseValue(
  key: OptionName,
  def: unknown,
  value: unknown,
): { ok: true; value: unknown } | { ok: false; message: string } {
  if (typeof def === 'boolean') {
    if (typeof value === 'boolean') return { ok: true, value };
    if (typeof value === 'string' && /^(true|false)$/i.test(value.trim()))
      return { ok: true, value: value.trim().toLowerCase() === 'true' };
    return { ok: false, message: 'must be true or false' };
  }
  if (typeof def === 'number') {
    const n =
      typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : NaN;
    if (typeof value === 'string' && value.trim() === '')
      return { ok: false, message: 'must be a number' };
    if (!Number.isFinite(n) || n < 0)
      return { ok: false, message: 'must be a non-negative number' };
    return { ok: true, value: n };
  }
  if (Array.isArray(def)) {
    if (Array.isArray(value) && value.every((v) => typeof v === 'string'))
      return { ok: true, value };
    if (typeof value === 'string')
      return {
        ok: true,
        value: value
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      };
    return { ok: false, message: 'must be a list of names' };
  }
  if (value === null && def === null) return { ok: true, value: null };
  if (typeof value !== 'string' && typeof value !== 'number')
    return { ok: false, message: 'must be a string' };
  const s = String(value);
  const allowed = ENUMS[key];
  if (allowed) {
    const up = s.trim().toUpperCase();
    if (!allowed.includes(up))
      return { ok: false, message: `must be one of ${allowed.join(', ')}` };
    return { ok: true, value: up };
  }
  if (key === '_reject_future_desired_time' && !/^\d+[yMwdhm]$/.test(s.trim()))
    return { ok: false, message: 'must look like 1y, 1M, 1w, 1d, 1h or 1m' };
  const rule = SAFE_STRINGS[key];
  if (rule && !rule.valid(s)) return { ok: false, message: rule.message };
  return { ok: true, value: s };
}
