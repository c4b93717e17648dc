// Errors telephony adapters reject commands with. Each carries a stable `code` so callers (and
// the contract suite) can tell "telephony is down, retry later" from "that call is gone".

export type TelephonyErrorCode =
  | 'TELEPHONY_DOWN'
  | 'CALL_NOT_FOUND'
  | 'CALL_NOT_ANSWERED'
  /** A number or endpoint that would not be a safe dial string. */
  | 'INVALID_DIAL_STRING';

export class TelephonyError extends Error {
  constructor(
    readonly code: TelephonyErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TelephonyError';
  }
}

export function isTelephonyError(e: unknown, code?: TelephonyErrorCode): e is TelephonyError {
  return e instanceof TelephonyError && (code === undefined || e.code === code);
}
