// One catalogue of the errors dialback reports: a stable name (the `exception` of the GMS error
// body), an HTTP status, and whether retrying the same request can succeed.

export const ERRORS = {
  CallbackExceptionNumber: { status: 400, retryable: false },
  CallbackExceptionInvalidField: { status: 400, retryable: false },
  CallbackExceptionMissingField: { status: 400, retryable: false },
  CallbackExceptionPastTime: { status: 400, retryable: false },
  CallbackExceptionTooFarInFuture: { status: 400, retryable: false },
  CallbackExceptionOutsideOfficeHours: { status: 400, retryable: false },
  CallbackExceptionSlotFull: { status: 409, retryable: false },
  CallbackExceptionInvalidState: { status: 409, retryable: false },
  CallbackExceptionInvalidAction: { status: 400, retryable: false },
  CallbackExceptionOptionNotOverwritable: { status: 400, retryable: false },
  CallbackExceptionServiceNotFound: { status: 404, retryable: false },
  CallbackExceptionNotFound: { status: 404, retryable: false },
  CallbackExceptionAgentNotFound: { status: 404, retryable: false },
  CallbackExceptionTooManyRequests: { status: 429, retryable: true },
  CallbackExceptionServiceUnavailable: { status: 503, retryable: true },
  CallbackExceptionStoreUnavailable: { status: 503, retryable: true },
  CallbackExceptionUnsupportedMediaType: { status: 415, retryable: false },
  CallbackExceptionPayloadTooLarge: { status: 413, retryable: false },
  CallbackExceptionUnauthorized: { status: 401, retryable: false },
  CallbackExceptionRouteNotFound: { status: 404, retryable: false },
  CallbackExceptionInternal: { status: 500, retryable: true },
} as const;

export type ErrorName = keyof typeof ERRORS;

export class DialbackError extends Error {
  readonly status: number;
  readonly retryable: boolean;
  constructor(
    readonly exception: ErrorName,
    message: string,
    /** Extra fields of the error body (e.g. `availability` on a failed reschedule). */
    readonly extra: Record<string, unknown> = {},
  ) {
    // A refusal (a 4xx: bad input, a full slot, an unknown callback) is an answer to the
    // client, not a fault of dialback, and is made without a stack trace: capturing one cost
    // more than the rest of the refusal (7.5 µs against 1.3 µs, 20 frames deep), and a
    // simulated day refuses tens of thousands of bookings for full slots. Faults (5xx) keep
    // theirs. Error's constructor captures as many frames as the limit allows at that moment.
    const limit = Error.stackTraceLimit;
    if (ERRORS[exception].status < 500) Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = exception;
    this.status = ERRORS[exception].status;
    this.retryable = ERRORS[exception].retryable;
  }

  toBody(): Record<string, unknown> {
    return { exception: this.exception, message: this.message, ...this.extra };
  }
}

export function isDialbackError(e: unknown): e is DialbackError {
  return e instanceof DialbackError;
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
