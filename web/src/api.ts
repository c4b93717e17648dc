// The browser's side of the Callback API: one fetch wrapper that sends the API key where the
// service wants it and turns every error body `{exception, message}` into an ApiError with a
// sentence a customer or an operator can act on.

const KEY_STORAGE = 'dialback.apiKey';

export type CallbackView = Record<string, string | number | boolean | null>;

export interface Slot {
  utcTime: string;
  localTime?: string;
  capacity: number;
  total: number;
}

export interface AvailabilityV2 {
  durationMin: number;
  timezone: string;
  slots: Slot[];
}

export interface ServiceView {
  name: string;
  options: Record<string, unknown>;
  officeHours: { name: string | null; timezone: string; rules: Record<string, string> };
  capacity: { name: string | null };
}

export interface AgentView {
  id: string;
  endpoint: string;
  groups: string[];
  state: string;
  callbackId?: string;
  since: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly exception: string,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function getApiKey(): string {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    // Storage can be disabled (private modes, policies): the key then lives for the page only.
    return memoryKey;
  }
}

let memoryKey = '';

export function setApiKey(key: string): void {
  memoryKey = key;
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // See getApiKey: the in-memory copy is used instead.
  }
}

function needsKey(method: string, path: string): boolean {
  return method !== 'GET' || path.startsWith('/genesys/1/admin/');
}

/** Calls the API; resolves with the parsed JSON body or rejects with an ApiError. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const key = getApiKey();
  if (key && needsKey(method, path)) headers['x-api-key'] = key;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    throw new ApiError(0, 'NetworkError', 'The service cannot be reached.');
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!res.ok) {
    const b = (parsed && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
    const exception = typeof b.exception === 'string' ? b.exception : `HTTP${res.status}`;
    const message = typeof b.message === 'string' ? b.message : res.statusText || 'request failed';
    throw new ApiError(res.status, exception, message, b);
  }
  return parsed as T;
}

const EXPLANATIONS: Record<string, string> = {
  CallbackExceptionNumber: 'That phone number cannot be called. Check it and try again.',
  CallbackExceptionMissingField: 'Some information is missing.',
  CallbackExceptionInvalidField: 'Some information is not valid.',
  CallbackExceptionPastTime: 'That time has already passed. Pick a later slot.',
  CallbackExceptionTooFarInFuture: 'That time is too far ahead. Pick an earlier slot.',
  CallbackExceptionOutsideOfficeHours:
    'The office is closed at that time. Pick a slot inside office hours.',
  CallbackExceptionSlotFull: 'That slot was just taken. Please pick another one.',
  CallbackExceptionInvalidState: 'This callback can no longer be changed.',
  CallbackExceptionInvalidAction: 'That action is not possible.',
  CallbackExceptionServiceNotFound: 'This callback service does not exist.',
  CallbackExceptionNotFound: 'This callback was not found.',
  CallbackExceptionTooManyRequests: 'This number already has too many callbacks open.',
  CallbackExceptionServiceUnavailable: 'The service is busy right now. Please try again later.',
  CallbackExceptionStoreUnavailable:
    'The service cannot save requests right now. Nothing was booked; try again later.',
  CallbackExceptionUnsupportedMediaType: 'The request format was refused.',
  CallbackExceptionPayloadTooLarge: 'The request is too large.',
  CallbackExceptionUnauthorized: 'An API key is needed (or the one given is wrong).',
  NetworkError: 'The service cannot be reached. Check your connection and try again.',
};

/** A sentence for people, plus the service's own message as the detail. */
export function explain(err: unknown): { title: string; detail: string; exception: string } {
  if (err instanceof ApiError) {
    const title = EXPLANATIONS[err.exception] ?? `The request failed (${err.status}).`;
    return { title, detail: err.message, exception: err.exception };
  }
  return { title: 'Something went wrong.', detail: String(err), exception: 'Error' };
}
